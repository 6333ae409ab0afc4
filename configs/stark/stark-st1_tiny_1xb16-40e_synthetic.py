# STARK-tiny on the synthetic sequences (CPU, minutes): the STARK-ST architecture scaled down:
# ResNet-18 at 1/4 width to layer3, a 64-d transformer (2 encoder + 2 decoder layers), template 64
# (factor 2) and search 128 (factor 5) crops, 2 templates.
#   python tools/data/generate_sot.py data/synthetic_sot
#   python tools/train.py configs/stark/stark-st1_tiny_1xb16-40e_synthetic.py
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/synthetic_sot.py']

template_size = 64
search_size = 128
hidden = 64
_attn = dict(embed_dims=hidden, num_heads=4, dropout=0.0, batch_first=True)
_ffn = dict(embed_dims=hidden, feedforward_channels=128, num_fcs=2, ffn_drop=0.0,
            act_cfg=dict(type='ReLU', inplace=True))

model = dict(
    type='STARK',
    data_preprocessor=dict(type='SOTDataPreprocessor'),
    backbone=dict(type='mmdet.ResNet', depth=18, base_channels=16, num_stages=3,
                  strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2, ), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                  style='pytorch', init_cfg=None),
    backbone_channels=64,
    encoder=dict(num_layers=2, layer_cfg=dict(self_attn_cfg=_attn, ffn_cfg=_ffn)),
    decoder=dict(num_layers=2, return_intermediate=False,
                 layer_cfg=dict(self_attn_cfg=_attn, cross_attn_cfg=_attn, ffn_cfg=_ffn)),
    positional_encoding=dict(num_feats=hidden // 2, normalize=True),
    box_head=dict(type='STARKCornerHead', in_channels=hidden, channels=32, stride=16,
                  img_size=search_size),
    cls_head=dict(type='STARKScoreHead', in_channels=hidden, hidden=hidden, num_layers=3),
    template_size=template_size,
    search_size=search_size,
    template_factor=2.0,
    search_factor=5.0,
    stage=1,
    num_templates=2,
    test_cfg=dict(update_interval=10, update_threshold=0.5, use_score=False))

# official trident_pro sampling (the dynamic template within 30 frames of the search frame); the
# sequence filter relaxed for short generated sequences (official: at least 20 frames)
frame_sampler = dict(type='SOTFrameSampler', mode='trident_pro', num_template_frames=2,
                     num_search_frames=1, max_frame_gap=[30], pos_prob=1.0,
                     min_sequence_length=2, min_visible_frames=1)
_crop = dict(type='SOTTemplateSearchCrop', template_factor=2.0, template_size=template_size,
             search_factor=5.0, search_size=search_size, template_jitter=(0., 0.),
             search_jitter=(4.5, 0.5))
# padding masks packed: STARK trains with them (official template_att / search_att)
train_pipeline = [dict(type='LoadSOTImages'), _crop, dict(type='PackSOTInputs', pack_masks=True)]
train_dataloader = dict(dataset=dict(frame_sampler=frame_sampler, pipeline=train_pipeline))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[32], gamma=0.1)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=1),
                     logger=dict(type='LoggerHook', interval=8))
randomness = dict(seed=0)
