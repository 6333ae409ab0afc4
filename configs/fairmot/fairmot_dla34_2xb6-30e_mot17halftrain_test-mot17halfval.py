# FairMOT, DLA-34 + deformable up-sampling, on MOT17 (half-train / half-val split of mmdet's
# tools/dataset_converters/mot2coco.py --split-train), as the official
# experiments/mot17_half_dla34.sh: CenterNet COCO init (ctdet_coco_dla_2x.pth), 1088x608 inputs,
# Adam lr 1e-4 for a total batch of 12 (here 2 GPUs x 6), 30 epochs, lr x0.1 at epoch 20, one
# detector copy of each video (src/data/mot17.half lists the -SDP folders).
# Published (MIX + CrowdHuman pre-training, MOT17 test): MOTA 73.7, IDF1 72.3.
#
# Init: put the official CenterNet file at checkpoints/ctdet_coco_dla_2x.pth (converted on load,
# see ikun_mm/models/mot/fairmot_pretrained.py), or override model.init_from (source 'imagenet'
# for dla34-ba72cf86.pth, 'fairmot' for a released fairmot_dla34.pth), or set
# model.init_from=None to train from scratch.
#
# Differences from the official recipe: MOT17 only (no MIX / CrowdHuman); mmdet's half split
# (train = frames 1 .. N // 2 + 1, official 1 .. N // 2); augmentation is mmdet's random resize
# (0.5-1.2) + crop + YOLOX HSV + flip instead of FairMOT's letterbox + random affine (rotation
# +-5 deg, translation 0.1, scale 0.5-1.2, shear +-2 deg) + S/V jitter (mmdet's RandomAffine
# drops boxes without dropping their identities). Boxes are never clipped, as in FairMOT: its
# targets clip only the box centre (see ikun_mm/models/mot/fairmot_targets.py).
_base_ = [
    '../_base_/models/fairmot_dla34.py', '../_base_/default_runtime.py',
    'mmdet::_base_/datasets/mot_challenge.py'
]

img_scale = (1088, 608)  # (w, h)
# Identity classes: MOT17 train has 546 pedestrian tracks per detector copy (motchallenge.net:
# 62 + 83 + 133 + 26 + 57 + 75 + 110 over MOT17-02/04/05/09/10/11/13); the half-train split holds
# at most those. MOTChallengeOneCopyDataset renumbers the kept identities 0 .. n-1, logs n and
# raises if n > max_ids (= num_ids). FairMOT's own classifier for mot17.half has max id + 2.
num_ids = 546
detector_copy = 'SDP'

model = dict(
    head=dict(num_ids=num_ids),
    # src/track.py eval_seq writes tracks with w * h > 100 (--min-box-area) and w / h <= 1.6
    tracker=dict(min_box_area=100, max_aspect_ratio=1.6),
    init_from=dict(checkpoint='checkpoints/ctdet_coco_dla_2x.pth', source='centernet_coco'))

train_pipeline = [
    dict(type='BaseFrameSample'),  # one key frame per sample: FairMOT trains on images
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadTrackAnnotations'),
            dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 1.2), keep_ratio=True,
                 clip_object_border=False),
            dict(type='RandomCrop', crop_size=(img_scale[1], img_scale[0]),
                 bbox_clip_border=False, allow_negative_crop=True),
            dict(type='YOLOXHSVRandomAug'),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackTrackInputs')
]
test_pipeline = [
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=img_scale, keep_ratio=True, clip_object_border=False),
            dict(type='LoadTrackAnnotations')
        ]),
    dict(type='PackTrackInputs')
]

train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    sampler=dict(type='TrackImgSampler'),
    # _scope_: the inherited mmdet dataset dict is scoped to mmdet; this type is ikun_mm's
    dataset=dict(type='MOTChallengeOneCopyDataset', _scope_='ikun_mm',
                 video_name_contains=detector_copy, max_ids=num_ids, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='MOTChallengeOneCopyDataset', _scope_='ikun_mm',
                                   video_name_contains=detector_copy, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='MOTChallengeMetric', metric=['HOTA', 'CLEAR', 'Identity'])
test_evaluator = val_evaluator

max_epochs = 30
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=max_epochs,
                 val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[20], gamma=0.1, begin=0, end=max_epochs)
]
auto_scale_lr = dict(enable=False, base_batch_size=12)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3),
    visualization=dict(type='TrackVisualizationHook', draw=False))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='TrackLocalVisualizer', vis_backends=vis_backends, name='visualizer')
