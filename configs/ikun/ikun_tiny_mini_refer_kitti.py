# A TINY iKUN for smoke tests of the training entry points (`mim train`, tools/train.py,
# tools/dist_train.sh): a few iterations on 16 track windows, seconds on a CPU.
_base_ = ['./ikun_cascade_mini_refer_kitti.py']

local_size = 32
global_size = 64

model = dict(
    visual_encoder=dict(
        backbone=dict(channels=(8, 8, 16, 16, 32), strides=(2, 2, 2, 2, 2)),
        local_size=local_size,
        global_size=global_size),
    text_encoder=dict(text_cfg=dict(width=32, heads=2, layers=1, context_length=16), embed_dim=32))

train_pipeline = [
    dict(type='LoadTrackWindowFrames'),
    dict(type='CropLocalGlobal', local_size=local_size, global_size=global_size,
         random_resized_crop=dict(scale=(0.8, 1.0), ratio=(0.8, 1.0))),
    dict(type='PackIKUNInputs'),
]
test_pipeline = [
    dict(type='LoadTrackWindowFrames'),
    dict(type='CropLocalGlobal', local_size=local_size, global_size=global_size),
    dict(type='PackIKUNInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline, indices=16))
# validates on the test videos: small generated sets (`--videos N`) have no validation split
val_dataloader = dict(batch_size=4, dataset=dict(pipeline=test_pipeline, indices=8, split='test'))
test_dataloader = val_dataloader

max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, begin=0, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=1))
