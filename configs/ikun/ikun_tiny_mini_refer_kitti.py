# A TINY iKUN for smoke tests of the training entry points (`mim train`, tools/train.py,
# tools/dist_train.sh): a few iterations on 16 track windows, seconds on a CPU.
_base_ = ['./ikun_cascade_mini_refer_kitti.py']

model = dict(
    visual_encoder=dict(
        backbone=dict(channels=(8, 8, 16, 16, 32), strides=(2, 2, 2, 2, 2)),
        local_size=32, global_size=64),  # the pipelines' crops follow (CropSizeFromModelHook)
    text_encoder=dict(text_cfg=dict(width=32, heads=2, layers=1, context_length=16), embed_dim=32))

train_dataloader = dict(batch_size=4, dataset=dict(indices=16))
# validates on the test videos: small generated sets (`--videos N`) have no validation split
val_dataloader = dict(batch_size=4, dataset=dict(indices=8, split='test'))
test_dataloader = val_dataloader

max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, begin=0, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=1))
