# FairMOT with DLA-34 + deformable (DCNv2) up-sampling, stride 4; heads, losses and tracker with
# the defaults of the official code (src/lib/opts.py, src/lib/tracker/multitracker.py).
model = dict(
    type='FairMOT',
    data_preprocessor=dict(
        type='TrackDataPreprocessor',
        # FairMOT feeds RGB images scaled to [0, 1], without mean subtraction.
        mean=[0.0, 0.0, 0.0],
        std=[255.0, 255.0, 255.0],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(type='DLASeg', depth=34, conv_cfg=dict(type='DCNv2', deform_groups=1)),
    head=dict(
        type='FairMOTHead',
        in_channels=64,
        num_ids=2,  # set to the number of training identities
        num_classes=1,
        feat_channels=256,
        embed_channels=128,
        stride=4,
        min_overlap=0.7,
        radius_formula='centernet',
        loss_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0),
        loss_ltrb=dict(type='L1Loss', loss_weight=0.1),
        loss_offset=dict(type='L1Loss', loss_weight=1.0),
        s_det_init=-1.85,
        s_id_init=-1.05,
        test_cfg=dict(topk=500, score_thr=0.01)),
    tracker=dict(
        type='JDETracker',
        motion=dict(type='KalmanFilter'),
        conf_thr=0.4,
        init_track_thr=0.4,
        match_thr_embed=0.4,
        match_thr_iou=0.5,
        match_thr_unconfirmed=0.7,
        embed_momentum=0.9,
        motion_lambda=0.98,
        track_buffer=30,
        frame_rate=30))
