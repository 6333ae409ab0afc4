# OSTrack-256 (ViT-B/16, CE at blocks 3/6/9 keeping 70 %): template 128 (factor 2),
# search 256 (factor 4); AdamW 4e-4 (backbone x0.1), weight decay 1e-4, 300 epochs of 60k pairs,
# lr x0.1 at epoch 240, grad clip 0.1, batch 32 x 4 GPUs. Paper: LaSOT AUC 69.1, GOT-10k AO 71.0.
# The backbone starts from MAE ViT-B/16 weights as the official one: put mae_pretrain_vit_base.pth
# (facebookresearch/mae; a timm vit_base_patch16_224 state dict also works) at
# checkpoints/pretrained/; it is converted on load (position embedding split and resized to the
# template and search grids). Released OSTrack checkpoints convert with
#   python tools/model_converters/sot_official_to_ikun.py CONFIG OSTrack_ep0300.pth.tar OUT.pth \
#       --arch ostrack
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/lasot_got10k_sot.py']

template_size = 128
search_size = 256
template_factor = 2.0
search_factor = 4.0

model = dict(
    type='OSTrack',
    data_preprocessor=dict(type='SOTDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='OSTrackViT', template_size=template_size, search_size=search_size,
                  patch_size=16, embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.,
                  ce_layers=(3, 6, 9), ce_keep_ratio=0.7, drop_path_rate=0.1,
                  init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/pretrained/mae_pretrain_vit_base.pth')),
    head=dict(type='OSTrackCenterHead', in_channels=768, channels=256),
    template_factor=template_factor,
    search_factor=search_factor,
    loss_focal=dict(type='mmdet.GaussianFocalLoss', reduction='mean', loss_weight=1.0),
    loss_l1=dict(type='mmdet.L1Loss', loss_weight=5.0),
    loss_giou=dict(type='mmdet.GIoULoss', loss_weight=2.0),
    test_cfg=dict(window=True, clip_margin=10.))

# Data as the official experiments/ostrack/vitb_256_mae_ce_32x4_ep300.yaml and
# lib/train/base_functions.py: LASOT, GOT10K_vottrain, COCO17, TRACKINGNET drawn with ratios
# 1:1:1:1, SAMPLE_PER_EPOCH 60000, causal sampling with MAX_SAMPLE_INTERVAL 200; template 128 at
# factor 2 without jitter, search 256 at factor 4 with CENTER_JITTER 3 and SCALE_JITTER 0.25;
# joint grayscale p=0.05 and horizontal flip p=0.5, then per crop brightness jitter 0.2 and
# horizontal flip p=0.5. GOT10K_vottrain reads pytracking's
# ltr/data_specs/got10k_vot_train_split.txt, to be put in data/got10k/.
_crop = dict(type='SOTTemplateSearchCrop', template_factor=template_factor,
             template_size=template_size, search_factor=search_factor, search_size=search_size,
             template_jitter=(0., 0.), search_jitter=(3., 0.25), crop_mode='ostrack')
train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTGrayscale', prob=0.05),
    dict(type='SOTJointFlip', prob=0.5),
    _crop,
    dict(type='SOTBrightnessJitter', jitter=0.2),
    dict(type='SOTCropFlip', prob=0.5),
    dict(type='PackSOTInputs'),
]
frame_sampler = dict(type='SOTFrameSampler', mode='causal', num_template_frames=1,
                     num_search_frames=1, max_frame_gap=200)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline, frame_sampler=frame_sampler))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[240], gamma=0.1)]
auto_scale_lr = dict(enable=False, base_batch_size=128)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=3))
# CE keep ratio 1 until epoch 20, then a cosine down to 0.7 over 80 epochs (official
# CE_START_EPOCH 20, CE_WARM_EPOCH 80)
custom_hooks = [dict(type='CEKeepRatioWarmupHook', start_epoch=20, warmup_epochs=80)]
