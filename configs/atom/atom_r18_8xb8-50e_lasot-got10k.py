# ATOM (Danelljan et al., CVPR 2019), the paper's setting: ResNet-18 (ImageNet weights, frozen)
# layer2/layer3 features of a 288x288 search region (5x the target's sqrt(w h)); the IoU
# predictor is trained with MSE on 16 jittered proposals per pair (min IoU 0.1), Adam 1e-3,
# lr x0.2 every 15 epochs, 50 epochs of 1000 iterations with batch 64 (8 GPUs x 8 here).
# The paper trained on LaSOT + TrackingNet + COCO; ikun_mm reads LaSOT and GOT-10k layouts, so
# this config uses LaSOT train + GOT-10k train. Offline: the ImageNet weights are a local file
# (set `model.backbone.init_cfg.checkpoint`); the official pytracking weights load with
# `ikun_mm.models.sot.atom_weights.load_official_atom_checkpoint`.
_base_ = ['../_base_/default_runtime.py']

search_size = 288
model = dict(
    type='ATOM',
    data_preprocessor=dict(type='SOTDataPreprocessor'),
    backbone=dict(
        type='mmdet.ResNet', depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
        out_indices=(1, 2), frozen_stages=3, norm_eval=True, style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet18-f37072fd.pth')),
    iou_net=dict(type='ATOMIoUNet', in_channels=(128, 256), ref_channels=(128, 256),
                 test_channels=256, pred_channels=(256, 256), inter_channels=(256, 256)),
    loss_iou=dict(type='mmdet.MSELoss', loss_weight=1.0),
    classifier=dict(compressed_dim=64, kernel_size=(4, 4), filter_reg=0.1, projection_reg=1e-4,
                    activation_alpha=0.05, init_gn_iter=6, init_cg_iter=60, update_cg_iter=5,
                    learning_rate=0.01, hard_negative_learning_rate=0.02, init_min_weight=0.25,
                    memory_size=250),
    train_cfg=dict(num_proposals=16, sigma_factors=(0.01, 0.05, 0.1, 0.2, 0.3), min_iou=0.1),
    test_cfg=dict(search_factor=5.0, search_size=search_size, update_interval=10,
                  num_boxes=10, refine_steps=5, step_length=1.0, top_k=3))

train_pipeline = [
    dict(type='LoadSOTImages'),
    # reference crops without jitter, test crops with centre jitter 4.5 and scale jitter 0.5
    dict(type='SOTTemplateSearchCrop', template_factor=5.0, template_size=search_size,
         search_factor=5.0, search_size=search_size, template_jitter=(0., 0.),
         search_jitter=(4.5, 0.5)),
    dict(type='PackSOTInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackSOTFrame'),
]
frame_sampler = dict(type='SOTFrameSampler', num_template_frames=1, num_search_frames=1,
                     max_frame_gap=50)
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='LaSOTDataset', data_root='data/lasot/', split='training_set.txt',
                 frame_sampler=frame_sampler, samples_per_epoch=32000,
                 pipeline=train_pipeline),
            dict(type='GOT10kDataset', data_root='data/got10k/', split='train',
                 frame_sampler=frame_sampler, samples_per_epoch=32000,
                 pipeline=train_pipeline),
        ]))
test_dataloader = dict(
    batch_size=1, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='LaSOTDataset', data_root='data/lasot/', split='testing_set.txt',
                 test_mode=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='SOTMetric')
val_evaluator = test_evaluator

# only the IoU predictor learns: the backbone is frozen (frozen_stages=3 covers all its stages)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [dict(type='StepLR', step_size=15, gamma=0.2, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=50)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5))
auto_scale_lr = dict(enable=False, base_batch_size=64)
