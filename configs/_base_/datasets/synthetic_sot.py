# Synthetic SOT sequences in GOT-10k layout (generate with tools/data/generate_sot.py
# data/synthetic_sot). Crop sizes are the small CPU setting; trackers override them.
dataset_type = 'GOT10kDataset'
data_root = 'data/synthetic_sot'
template_size = 32
search_size = 64

train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTTemplateSearchCrop', template_factor=2.0, template_size=template_size,
         search_factor=4.0, search_size=search_size, template_jitter=(0., 0.),
         search_jitter=(3., 0.25)),
    dict(type='PackSOTInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackSOTFrame'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 samples_per_epoch=512,
                 frame_sampler=dict(type='SOTFrameSampler', num_template_frames=1,
                                    num_search_frames=1, max_frame_gap=30),
                 pipeline=train_pipeline))
# one frame per item, in video order: the tracker is stateful
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SOTMetric')
test_evaluator = val_evaluator
