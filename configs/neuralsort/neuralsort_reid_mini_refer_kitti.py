# NeuralSORT with appearance, as in the iKUN paper (DeepSORT's matching with the NKF): the
# motion-only neuralsort_mini_refer_kitti.py plus, as model.reid, the ReID trained with
# configs/reid/reid_r18_1xb32-2e_mini-refer-kitti.py:
#
#   python tools/data/refer_kitti_to_reid.py data/mini_refer_kitti data/mini_refer_kitti_reid \
#       --frame-stride 4
#   python tools/train.py configs/reid/reid_r18_1xb32-2e_mini-refer-kitti.py
#   (then set reid_checkpoint below, or --cfg-options model.reid.checkpoint=<its .pth>)
#
# As in mmdet's DeepSORT configs, the ReID architecture is repeated here (a config has one chain
# of bases, and the motion-only config and the ReID config both define `model`);
# tests/models/trackers/test_neuralsort_appearance.py checks that it equals the ReID config's.
# Appearance needs the frames: track with img_paths (ikun_mm.models.trackers.track_video).
# Without pixels the tracker logs one line and tracks by motion only.
_base_ = ['./neuralsort_mini_refer_kitti.py']

# weights from tools/train.py with the ReID config; None = random weights (logged)
reid_checkpoint = None
reid_crop_size = (64, 32)  # (h, w): the ReID config's crop_size
# the ReID's training normalisation (its ReIDDataPreprocessor), as mmdet's trackers name it
reid_img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)

model = dict(
    # the frames reach the tracker as read (BGR, 0..255: detections from file need no detector
    # normalisation); trackers read this to know what normalisation the pixels went through
    data_preprocessor=dict(
        type='TrackDataPreprocessor', mean=[0., 0., 0.], std=[1., 1., 1.], bgr_to_rgb=False,
        rgb_to_bgr=False),
    tracker=dict(
        # DeepSORT's matching: nearest-neighbour cosine distance to the last 100 features.
        # DeepSORT's largest accepted distance, 0.2, suits its cosine-softmax features; for this
        # ReID (CE + triplet) 0.7 was chosen on the generated data's val videos (0000 0017 0019;
        # HOTA 73.7 at 0.2, 77.2 at 0.5, 77.3 at 0.7 and 1.0, motion only 76.1)
        reid=dict(_delete_=True, num_samples=100, img_scale=reid_crop_size,
                  max_appearance_dist=0.7)),
    reid=dict(
        type='CheckpointReID',  # mmdet's BaseReID, loading `checkpoint` when built
        checkpoint=reid_checkpoint,
        data_preprocessor=dict(type='ReIDDataPreprocessor', **reid_img_norm_cfg),
        backbone=dict(
            type='mmpretrain.ResNet',
            depth=18,
            num_stages=4,
            out_indices=(3, ),
            style='pytorch',
            base_channels=32,
            strides=(1, 2, 2, 1)),
        neck=dict(type='GlobalAveragePooling', kernel_size=None, stride=None),
        head=dict(
            type='LinearReIDHead',
            num_fcs=1,
            in_channels=256,
            fc_channels=256,
            out_channels=128,
            num_classes=140,
            loss_cls=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
            loss_triplet=dict(type='TripletLoss', margin=0.3, loss_weight=1.0),
            norm_cfg=dict(type='BN1d'),
            act_cfg=dict(type='ReLU'))))
