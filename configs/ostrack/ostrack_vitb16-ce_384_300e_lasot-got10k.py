# OSTrack-384: template 192 (factor 2), search 384 (factor 5); otherwise as OSTrack-256.
# Paper: LaSOT AUC 71.1, GOT-10k AO 73.7.
_base_ = ['./ostrack_vitb16-ce_256_300e_lasot-got10k.py']

template_size = 192
search_size = 384
search_factor = 5.0

model = dict(
    backbone=dict(template_size=template_size, search_size=search_size),
    search_factor=search_factor)
_crop = dict(type='SOTTemplateSearchCrop', template_factor=2.0, template_size=template_size,
             search_factor=search_factor, search_size=search_size, template_jitter=(0., 0.),
             search_jitter=(3., 0.25))
train_pipeline = [dict(type='LoadSOTImages'), _crop, dict(type='PackSOTInputs')]
# base-config variables are not visible here: the datasets are written out in full
data_root_lasot = 'data/lasot'
data_root_got10k = 'data/got10k'
frame_sampler = dict(type='SOTFrameSampler', num_template_frames=1, num_search_frames=1,
                     max_frame_gap=200)
_train_sets = [
    dict(type='LaSOTDataset', data_root=data_root_lasot, split='training_set.txt',
         samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
    dict(type='GOT10kDataset', data_root=data_root_got10k, split='train',
         samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
]
train_dataloader = dict(dataset=dict(datasets=_train_sets))
