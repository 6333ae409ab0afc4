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
train_dataloader = dict(dataset=dict(datasets=[dict(pipeline=train_pipeline),
                                               dict(pipeline=train_pipeline)]))
