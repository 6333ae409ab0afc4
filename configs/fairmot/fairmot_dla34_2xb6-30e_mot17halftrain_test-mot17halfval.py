# FairMOT, DLA-34 + deformable up-sampling, on MOT17 (half-train / half-val split of mmdet's
# tools/dataset_converters/mot2coco.py --split-train). The original setting: 1088x608 inputs,
# Adam lr 1e-4 for a total batch of 12 (here 2 GPUs x 6), 30 epochs, lr x0.1 at epoch 20.
# Published (MIX + CrowdHuman pre-training, MOT17 test): MOTA 73.7, IDF1 72.3.
#
# Differences from the original recipe: trains on MOT17 only, from scratch (no ImageNet/COCO
# weights offline; set model.backbone.init_cfg to a local checkpoint), and on all three detector
# copies of each MOT17 video (mot2coco keeps them apart, with distinct identities).
_base_ = [
    '../_base_/models/fairmot_dla34.py', '../_base_/default_runtime.py',
    'mmdet::_base_/datasets/mot_challenge.py'
]

img_scale = (1088, 608)  # (w, h)
# Identity classes: at least the "num_instances" printed by mot2coco for the training json.
# 1638 bounds MOT17 train (546 identities x 3 detector copies); the head raises if too small.
num_ids = 1638

model = dict(head=dict(num_ids=num_ids))

train_pipeline = [
    dict(type='BaseFrameSample'),  # one key frame per sample: FairMOT trains on images
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadTrackAnnotations'),
            dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 1.2), keep_ratio=True),
            dict(type='RandomCrop', crop_size=(img_scale[1], img_scale[0]),
                 bbox_clip_border=True, allow_negative_crop=True),
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
            dict(type='Resize', scale=img_scale, keep_ratio=True),
            dict(type='LoadTrackAnnotations')
        ]),
    dict(type='PackTrackInputs')
]

train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
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
