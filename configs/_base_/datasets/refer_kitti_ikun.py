# Refer-KITTI track windows for iKUN (SPEC §3.1-3.2): GT tracks, T=2 frames per window, local
# crop + global frame per frame, RandomResizedCrop (scale/ratio 0.8-1.0) for training.
# `data_root` is copied into every dataset below (and the paper configs' calibration) when the
# config is read. `--cfg-options data_root=...` reaches those copies only through a tool that
# replaces every field equal to the old top-level value (ikun_mm.utils.load_runner_config);
# otherwise set train_dataloader.dataset.data_root and val_dataloader.dataset.data_root too.
dataset_type = 'ReferKittiWindowDataset'
data_root = 'data/refer-kitti'
local_size = 224
global_size = 672

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

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# precision / recall / F1 / AUC of (window, expression) matching at score > 0
val_evaluator = dict(type='ExpressionMatchingMetric', threshold=0.0)
test_evaluator = val_evaluator
