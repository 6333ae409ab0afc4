# STARK-ST50 stage 2: the stage-1 model frozen, the score head trained with binary
# cross-entropy on positive and negative triplets (half the search regions come from other
# sequences) for 50 epochs, lr x0.1 at epoch 40. Start from stage 1:
#   python tools/train.py configs/stark/stark-st50_stage2_50e_lasot-got10k.py \
#       --cfg-options load_from=work_dirs/stark-st50_stage1_500e_lasot-got10k/epoch_500.pth
_base_ = ['./stark-st50_stage1_500e_lasot-got10k.py']

model = dict(stage=2)
frame_sampler = dict(type='SOTFrameSampler', num_template_frames=2, num_search_frames=1,
                     max_frame_gap=200, pos_prob=0.5)
# base-config variables are not visible here: the datasets are written out in full
data_root_lasot = 'data/lasot'
data_root_got10k = 'data/got10k'
_crop = dict(type='SOTTemplateSearchCrop', template_factor=2.0, template_size=128,
             search_factor=5.0, search_size=320, template_jitter=(0., 0.),
             search_jitter=(4.5, 0.5))
train_pipeline = [dict(type='LoadSOTImages'), _crop, dict(type='PackSOTInputs')]
_train_sets = [
    dict(type='LaSOTDataset', data_root=data_root_lasot, split='training_set.txt',
         samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
    dict(type='GOT10kDataset', data_root=data_root_got10k, split='train',
         samples_per_epoch=30000, frame_sampler=frame_sampler, pipeline=train_pipeline),
]
train_dataloader = dict(dataset=dict(datasets=_train_sets))
train_cfg = dict(max_epochs=50, val_interval=50)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[40], gamma=0.1)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2))
