# STARK-tiny stage 2: score head on positive/negative triplets, the rest frozen; the score gates
# the dynamic-template update at test time.
#   python tools/train.py configs/stark/stark-st2_tiny_1xb16-20e_synthetic.py \
#       --cfg-options load_from=work_dirs/stark-st1_tiny_1xb16-40e_synthetic/epoch_40.pth
_base_ = ['./stark-st1_tiny_1xb16-40e_synthetic.py']

model = dict(stage=2, test_cfg=dict(update_interval=10, update_threshold=0.5, use_score=True))
frame_sampler = dict(type='SOTFrameSampler', mode='trident_pro', num_template_frames=2,
                     num_search_frames=1, max_frame_gap=[30], pos_prob=0.5,
                     min_sequence_length=2, min_visible_frames=1)
train_dataloader = dict(dataset=dict(frame_sampler=frame_sampler))
train_cfg = dict(max_epochs=20, val_interval=100)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[16], gamma=0.1)]
