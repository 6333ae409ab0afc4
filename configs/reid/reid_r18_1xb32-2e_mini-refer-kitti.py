# A small ReID for NeuralSORT's appearance, trained from scratch on CPU on the ground-truth crops
# of the generated mini Refer-KITTI's training videos. It is mmdet's MOT17 ReID recipe (BaseReID:
# an mmpretrain ResNet, mmdet's GlobalAveragePooling neck and LinearReIDHead with cross-entropy
# and triplet losses; ReIDDataset with its triplet sampler; PackReIDInputs) at a CPU size:
# ResNet-18 at half width (base_channels=32) with a last stride of 1, 64x32 crops, 128-d features.
#
#   python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0
#   python tools/data/refer_kitti_to_reid.py data/mini_refer_kitti data/mini_refer_kitti_reid \
#       --frame-stride 4
#   python tools/train.py configs/reid/reid_r18_1xb32-2e_mini-refer-kitti.py
#
# then track with configs/neuralsort/neuralsort_reid_mini_refer_kitti.py (its reid_checkpoint).
# The crops and identities come from the training split only; 20% of each video's identities are
# held out as the validation set (mAP / CMC with mmdet's ReIDMetrics).
_base_ = ['mmdet::reid/reid_r50_8xb32-6e_mot17train80_test-mot17val20.py']
# mmdet's runtime comes with the base; ikun_mm's scope, as in configs/_base_/default_runtime.py
# (which cannot be a second base: both carry mmdet's runtime keys)
default_scope = 'ikun_mm'

data_root = 'data/mini_refer_kitti_reid/'
crop_size = (64, 32)  # (h, w); the tracker's reid.img_scale
# training identities of the exported crops (printed by refer_kitti_to_reid.py; seed-0 data)
num_classes = 140

model = dict(
    backbone=dict(depth=18, base_channels=32, strides=(1, 2, 2, 1)),
    neck=dict(kernel_size=None, stride=None),  # adaptive: any crop size
    head=dict(in_channels=256, fc_channels=256, out_channels=128, num_classes=num_classes),
    init_cfg=None)  # no ImageNet weights offline: trained from scratch

train_pipeline = [
    dict(
        type='TransformBroadcaster',
        share_random_params=False,
        transforms=[
            dict(type='LoadImageFromFile', to_float32=True),
            dict(type='Resize', scale=crop_size[::-1], keep_ratio=False,
                 clip_object_border=False),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
    dict(type='PackReIDInputs', meta_keys=('flip', 'flip_direction'))
]
test_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='Resize', scale=crop_size[::-1], keep_ratio=False),
    dict(type='PackReIDInputs')
]
train_dataloader = dict(
    batch_size=1,  # one item = num_ids x ins_per_id crops of the triplet sampler
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        triplet_sampler=dict(num_ids=8, ins_per_id=4),
        data_prefix=dict(img_path='imgs'),
        ann_file='meta/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,  # PackReIDInputs packs one crop as a batch of one; BaseReID takes one such
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        data_prefix=dict(img_path='imgs'),
        ann_file='meta/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# one epoch = one triplet batch per exported crop (1640 batches with --frame-stride 4, about
# 3 minutes on one CPU core)
max_epochs = 2
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[1], gamma=0.1)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
randomness = dict(seed=0)
