# OSTrack-tiny on the synthetic sequences (CPU, minutes): same architecture and losses as
# OSTrack-256, scaled down: template 32 / search 64 crops, 8 px patches, a 4-block 64-d ViT with
# CE at blocks 1 and 2 (keep 70 %), a 32-channel centre head.
#   python tools/data/generate_sot.py data/synthetic_sot
#   python tools/train.py configs/ostrack/ostrack_vit-tiny_1xb16-150e_synthetic.py
#   python tools/test.py configs/ostrack/ostrack_vit-tiny_1xb16-150e_synthetic.py \
#       work_dirs/ostrack_vit-tiny_1xb16-150e_synthetic/epoch_150.pth
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/synthetic_sot.py']

template_size = 32
search_size = 64

model = dict(
    type='OSTrack',
    data_preprocessor=dict(type='SOTDataPreprocessor'),
    backbone=dict(type='OSTrackViT', template_size=template_size, search_size=search_size,
                  patch_size=8, embed_dims=64, depth=4, num_heads=4, mlp_ratio=2.,
                  ce_layers=(1, 2), ce_keep_ratio=0.7, drop_path_rate=0.),
    head=dict(type='OSTrackCenterHead', in_channels=64, channels=32),
    template_factor=2.0,
    search_factor=4.0,
    test_cfg=dict(window=True))

# official causal sampling; the sequence filter relaxed for short generated sequences (official:
# at least 20 frames); augmentations off (see the full-size configs for the official ones)
train_dataloader = dict(
    dataset=dict(frame_sampler=dict(mode='causal', min_sequence_length=2, min_visible_frames=2)))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=150, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[130], gamma=0.1)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=1),
                     logger=dict(type='LoggerHook', interval=8))
custom_hooks = [dict(type='CEKeepRatioWarmupHook', start_epoch=4, warmup_epochs=16)]
randomness = dict(seed=0)
