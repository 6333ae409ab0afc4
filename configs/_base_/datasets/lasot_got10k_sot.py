# Real SOT data, as the official OSTrack and STARK recipes (lib/train/base_functions.py and the
# experiments' yaml): LASOT, GOT10K_vottrain, COCO17 and TRACKINGNET mixed with ratios 1:1:1:1,
# 60000 samples per epoch; testing on LaSOT test (OPE). Each tracker's config sets the crops
# and the frame sampler once, for all four datasets:
#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline, frame_sampler=frame_sampler))
# GOT10K_vottrain reads pytracking's ltr/data_specs/got10k_vot_train_split.txt, to be put in
# data/got10k/.
data_root_lasot = 'data/lasot'
data_root_got10k = 'data/got10k'
data_root_coco = 'data/coco'
data_root_trackingnet = 'data/trackingnet'
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
        type='SOTMixedDataset',
        datasets=[
            dict(type='LaSOTDataset', data_root=data_root_lasot, split='training_set.txt'),
            dict(type='GOT10kDataset', data_root=data_root_got10k, split='train',
                 seq_ids_file='got10k_vot_train_split.txt'),
            dict(type='COCOSeqDataset', data_root=data_root_coco,
                 ann_file='annotations/instances_train2017.json',
                 img_prefix='images/train2017'),
            dict(type='TrackingNetDataset', data_root=data_root_trackingnet,
                 chunks=list(range(12))),
        ],
        ratios=[1, 1, 1, 1],
        samples_per_epoch=60000,
        pipeline=train_pipeline,
        frame_sampler=frame_sampler))
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
