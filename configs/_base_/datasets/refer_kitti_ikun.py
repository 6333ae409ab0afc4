# Refer-KITTI track windows for iKUN (as in the iKUN paper and its official code): GT tracks,
# T=2 frames per window, local crop + global frame per frame, RandomResizedCrop (scale/ratio
# 0.8-1.0) for training. `synonyms='refer_kitti'` maps plurals and synonyms to one canonical
# text (cars, vehicles -> car; people, persons -> pedestrian; males -> men; females -> women;
# light color(s) -> light-color) and merges the synonymous expressions of a video, as the
# official code does; `synonyms=None` keeps every expression file as it is.
# `data_root` is copied into every dataset below (and the paper configs' calibration) when the
# config is read. `--cfg-options data_root=...` reaches those copies only through a tool that
# replaces every field equal to the old top-level value (ikun_mm.utils.load_runner_config);
# otherwise set train_dataloader.dataset.data_root and val_dataloader.dataset.data_root too.
dataset_type = 'ReferKittiWindowDataset'
data_root = 'data/refer-kitti'
synonyms = 'refer_kitti'

# Crop sizes have one source, the model (model.visual_encoder.local_size/global_size: 224/672
# in configs/_base_/models/ikun.py; a config changes them with one line there). The crops below
# are left size-less and CropSizeFromModelHook gives them the model's sizes when a runner
# starts; the referring tracker crops its test windows at the same model sizes.
train_pipeline = [
    dict(type='LoadTrackWindowFrames'),
    dict(type='CropLocalGlobal', random_resized_crop=dict(scale=(0.8, 1.0), ratio=(0.8, 1.0))),
    dict(type='PackIKUNInputs'),
]
test_pipeline = [
    dict(type='LoadTrackWindowFrames'),
    dict(type='CropLocalGlobal'),
    dict(type='PackIKUNInputs'),
]
custom_hooks = [dict(type='CropSizeFromModelHook')]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', synonyms=synonyms,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', test_mode=True,
                 synonyms=synonyms, pipeline=test_pipeline))
test_dataloader = val_dataloader

# precision / recall / F1 / AUC of (window, expression) matching at score > 0
val_evaluator = dict(type='ExpressionMatchingMetric', threshold=0.0)
test_evaluator = val_evaluator
