# Real SOT data: training on LaSOT train + GOT-10k train, testing on LaSOT test (OPE).
# Crop settings are filled in by each tracker's config (template/search factor and size).
data_root_lasot = 'data/lasot'
data_root_got10k = 'data/got10k'
train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTTemplateSearchCrop'),
    dict(type='PackSOTInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackSOTFrame'),
]
frame_sampler = dict(type='SOTFrameSampler', num_template_frames=1, num_search_frames=1,
                     max_frame_gap=200)
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='LaSOTDataset', data_root=data_root_lasot, split='training_set.txt',
                 samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
            dict(type='GOT10kDataset', data_root=data_root_got10k, split='train',
                 samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='LaSOTDataset', data_root=data_root_lasot, split='testing_set.txt',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SOTMetric')
test_evaluator = val_evaluator
