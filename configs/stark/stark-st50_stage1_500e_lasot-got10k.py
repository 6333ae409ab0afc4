# STARK-ST50 stage 1: ResNet-50 (to layer3, stride 16) + transformer (256-d, 8 heads, 6 encoder
# and 6 decoder layers, FFN 2048, dropout 0.1) + corner head, trained on triplets (initial
# template, dynamic template, search) with L1 x5 + GIoU x2. Template 128 (factor 2), search 320
# (factor 5, centre jitter 4.5, scale jitter 0.5). AdamW 1e-4 (backbone 1e-5, stem and layer1
# frozen), weight decay 1e-4, 500 epochs of 60k samples, lr x0.1 at epoch 400, grad clip 0.1,
# batch 16 x 8 GPUs. Paper (STARK-ST50): LaSOT AUC 66.6, GOT-10k AO 68.0.
# The official backbone starts from ImageNet ResNet-50; convert official STARK checkpoints with
# tools/model_converters/sot_official_to_ikun.py (offline: no init_cfg URLs).
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
                  init_cfg=None),
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
    test_cfg=dict(update_interval=200, update_threshold=0.5))

frame_sampler = dict(type='SOTFrameSampler', num_template_frames=2, num_search_frames=1,
                     max_frame_gap=200, pos_prob=1.0)
_crop = dict(type='SOTTemplateSearchCrop', template_factor=template_factor,
             template_size=template_size, search_factor=search_factor, search_size=search_size,
             template_jitter=(0., 0.), search_jitter=(4.5, 0.5))
train_pipeline = [dict(type='LoadSOTImages'), _crop, dict(type='PackSOTInputs')]
# lists replace their base wholesale in mmengine configs: the datasets are written out in full
data_root_lasot = 'data/lasot'
data_root_got10k = 'data/got10k'
_train_sets = [
    dict(type='LaSOTDataset', data_root=data_root_lasot, split='training_set.txt',
         samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
    dict(type='GOT10kDataset', data_root=data_root_got10k, split='train',
         samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
]
train_dataloader = dict(batch_size=16, dataset=dict(datasets=_train_sets))

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
