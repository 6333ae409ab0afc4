# STARK-ST50 stage 1: ResNet-50 (to layer3, stride 16) + transformer (256-d, 8 heads, 6 encoder
# and 6 decoder layers, FFN 2048, dropout 0.1) + corner head, trained on triplets (initial
# template, dynamic template, search) with L1 x5 + GIoU x2. Template 128 (factor 2), search 320
# (factor 5, centre jitter 4.5, scale jitter 0.5). AdamW 1e-4 (backbone 1e-5, stem and layer1
# frozen), weight decay 1e-4, 500 epochs of 60k samples, lr x0.1 at epoch 400, grad clip 0.1,
# batch 16 x 8 GPUs. Paper (STARK-ST50): LaSOT AUC 66.6, GOT-10k AO 68.0.
# The backbone starts from torchvision's ImageNet ResNet-50 as the official one: put
# resnet50-0676ba61.pth (or the older resnet50-19c8e357.pth) of download.pytorch.org/models at
# checkpoints/pretrained/ (a frozen backbone without it is refused). Released STARK-ST
# checkpoints convert with
#   python tools/model_converters/sot_official_to_ikun.py CONFIG STARKST_ep0050.pth.tar OUT.pth \
#       --arch stark
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/lasot_got10k_sot.py']

template_size = 128
search_size = 320
template_factor = 2.0
search_factor = 5.0
hidden = 256
_layer = dict(
    self_attn_cfg=dict(embed_dims=hidden, num_heads=8, dropout=0.1, batch_first=True),
    ffn_cfg=dict(embed_dims=hidden, feedforward_channels=2048, num_fcs=2, ffn_drop=0.1,
                 act_cfg=dict(type='ReLU', inplace=True)))

model = dict(
    type='STARK',
    data_preprocessor=dict(type='SOTDataPreprocessor'),
    backbone=dict(type='mmdet.ResNet', depth=50, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2, ), frozen_stages=1,
                  norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/pretrained/resnet50-0676ba61.pth')),
    backbone_channels=1024,
    encoder=dict(num_layers=6, layer_cfg=_layer),
    decoder=dict(num_layers=6, return_intermediate=False,
                 layer_cfg=dict(self_attn_cfg=_layer['self_attn_cfg'],
                                cross_attn_cfg=_layer['self_attn_cfg'],
                                ffn_cfg=_layer['ffn_cfg'])),
    positional_encoding=dict(num_feats=hidden // 2, normalize=True),
    box_head=dict(type='STARKCornerHead', in_channels=hidden, channels=256, stride=16,
                  img_size=search_size),
    cls_head=dict(type='STARKScoreHead', in_channels=hidden, hidden=hidden, num_layers=3),
    template_size=template_size,
    search_size=search_size,
    template_factor=template_factor,
    search_factor=search_factor,
    stage=1,
    num_templates=2,
    # stage 1 has no trained score head: the dynamic template is refreshed on schedule ungated
    test_cfg=dict(update_interval=200, update_threshold=0.5, use_score=False, clip_margin=10.))

# Data as the official experiments/stark_st1/baseline.yaml and lib/train/base_functions.py: LASOT,
# GOT10K_vottrain, COCO17, TRACKINGNET drawn with ratios 1:1:1:1, SAMPLE_PER_EPOCH 60000,
# trident_pro sampling (initial template and search frame anywhere in the video, the dynamic
# template within MAX_SAMPLE_INTERVAL 200 frames of the search frame); template 128 at factor 2
# without jitter, search 320 at factor 5 with CENTER_JITTER 4.5 and SCALE_JITTER 0.5; joint
# grayscale p=0.05 and horizontal flip p=0.5, then per crop brightness jitter 0.2 and horizontal
# flip p=0.5. GOT10K_vottrain reads pytracking's ltr/data_specs/got10k_vot_train_split.txt, to be
# put in data/got10k/.
frame_sampler = dict(type='SOTFrameSampler', mode='trident_pro', num_template_frames=2,
                     num_search_frames=1, max_frame_gap=[200], pos_prob=1.0)
_crop = dict(type='SOTTemplateSearchCrop', template_factor=template_factor,
             template_size=template_size, search_factor=search_factor, search_size=search_size,
             template_jitter=(0., 0.), search_jitter=(4.5, 0.5), crop_mode='ostrack')
train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTGrayscale', prob=0.05),
    dict(type='SOTJointFlip', prob=0.5),
    _crop,
    dict(type='SOTBrightnessJitter', jitter=0.2),
    dict(type='SOTCropFlip', prob=0.5),
    dict(type='PackSOTInputs', pack_masks=True),
]
train_dataloader = dict(
    batch_size=16, dataset=dict(pipeline=train_pipeline, frame_sampler=frame_sampler))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=500, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[400], gamma=0.1)]
auto_scale_lr = dict(enable=False, base_batch_size=128)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
