# FairMOT, small CPU variant, trained from scratch on the generated mini Refer-KITTI (384x128
# frames; cars and pedestrians as one class). Same model, losses and tracker as the MOT17 config
# (without its pedestrian output filter: area > 100, w / h <= 1.6 would drop the cars);
# a smaller DLA (one block per level, 8..64 channels, 16 at stride 4), narrow head branches, and
# plain 3x3 convs in the up-sampling path: mmcv's CPU deformable convolution works but makes a
# training step about 5x slower (set model.backbone.conv_cfg=dict(type='DCNv2') to use it anyway).
_base_ = [
    '../_base_/models/fairmot_dla34.py', '../_base_/default_runtime.py',
    '../_base_/datasets/mini_refer_kitti_mot.py'
]

# identities of the training split, printed by tools/data/refer_kitti_to_cocovid.py (seed 0)
num_ids = 173

model = dict(
    backbone=dict(depth=None, levels=(1, 1, 1, 1, 1, 1), channels=(8, 8, 16, 32, 64, 64),
                  conv_cfg=None),
    head=dict(in_channels=16, num_ids=num_ids, feat_channels=32, test_cfg=dict(topk=128)),
    tracker=dict(frame_rate=10))  # KITTI is 10 fps: the lost-track buffer is 10 frames

img_scale = (384, 128)  # (w, h), the generated frame size
# boxes stay unclipped as in FairMOT (its targets clip only the centre; see fairmot_targets.py)
train_pipeline = [
    dict(type='BaseFrameSample'),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadTrackAnnotations'),
            dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.2),
                 keep_ratio=True, clip_object_border=False),
            dict(type='RandomCrop', crop_size=(img_scale[1], img_scale[0]),
                 bbox_clip_border=False, allow_negative_crop=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackTrackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

max_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[4], gamma=0.1, begin=0, end=max_epochs)
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    visualization=dict(type='TrackVisualizationHook', draw=False))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='TrackLocalVisualizer', vis_backends=vis_backends, name='visualizer')
randomness = dict(seed=0)
