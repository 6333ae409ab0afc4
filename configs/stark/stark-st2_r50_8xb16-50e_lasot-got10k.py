# STARK-ST50 stage 2: the stage-1 model frozen, the score head trained with binary
# cross-entropy on positive and negative triplets (half the samples are negatives, see the data
# section) for 50 epochs, lr x0.1 at epoch 40. Start from stage 1:
#   python tools/train.py configs/stark/stark-st2_r50_8xb16-50e_lasot-got10k.py \
#       --cfg-options load_from=work_dirs/stark-st1_r50_8xb16-500e_lasot-got10k/epoch_500.pth
_base_ = ['./stark-st1_r50_8xb16-500e_lasot-got10k.py']

# stage 2 starts from the stage-1 checkpoint (load_from, required: training refuses to start
# without it), so the backbone needs no ImageNet file. Test: the score gates the dynamic-template
# update every 200 frames (official UPDATE_INTERVALS: LaSOT 200, GOT-10k 200, TrackingNet 25).
model = dict(stage=2, backbone=dict(init_cfg=None),
             test_cfg=dict(update_interval=200, update_threshold=0.5, use_score=True))
# Data as stage 1 (official experiments/stark_st2/baseline.yaml has the same DATA section) with
# the score head's negatives: TRAIN_CLS with the sampler's pos_prob 0.5 (a negative's search frame
# is an occluded frame of the video with a centre box, else a frame of another sequence).
frame_sampler = dict(type='SOTFrameSampler', mode='trident_pro', num_template_frames=2,
                     num_search_frames=1, max_frame_gap=[200], pos_prob=0.5)
train_dataloader = dict(dataset=dict(frame_sampler=frame_sampler))
train_cfg = dict(max_epochs=50, val_interval=50)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[40], gamma=0.1)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2))
