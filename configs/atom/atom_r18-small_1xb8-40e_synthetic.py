# ATOM, small CPU variant on the generated synthetic SOT sequences: a quarter-width ResNet-18
# (layer2/layer3 = 32/64 channels) trained from scratch with a slim IoU predictor on 128x128
# search regions (5x the target), online classifier with 32 channels.
#   python tools/data/generate_sot.py data/synthetic_sot
#   python tools/train.py configs/atom/atom_r18-small_1xb8-40e_synthetic.py
#   python tools/test.py configs/atom/atom_r18-small_1xb8-40e_synthetic.py \
#       work_dirs/atom_r18-small_1xb8-40e_synthetic/epoch_40.pth
_base_ = [
    '../_base_/models/atom_r18.py', '../_base_/datasets/synthetic_sot.py',
    '../_base_/default_runtime.py'
]

search_size = 128
model = dict(
    # no ImageNet weights offline: everything learns from scratch
    backbone=dict(base_channels=16, frozen_stages=-1, norm_eval=False, init_cfg=None),
    iou_net=dict(in_channels=(32, 64), ref_channels=(32, 64), test_channels=64,
                 pred_channels=(64, 64), inter_channels=(64, 64)),
    classifier=dict(compressed_dim=32),
    # more proposals per pair than the paper's 16: the head is cheap next to the backbone, and
    # the from-scratch backbone needs all the localisation signal a pair can give
    train_cfg=dict(num_proposals=64),
    test_cfg=dict(search_size=search_size))

# test crops jittered less than the paper's (4.5, 0.5): with few iterations the IoU predictor
# learns faster where the tracker uses it, around a target near the crop centre; sub-pixel
# crops padded with the mean colour (crop_mode 'continuous') like this model's test-time crops
# (pytracking's training crops replicate the border: crop_mode 'pytracking' in the full config)
train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTTemplateSearchCrop', template_factor=5.0, template_size=search_size,
         search_factor=5.0, search_size=search_size, template_jitter=(0., 0.),
         search_jitter=(2.0, 0.3), crop_mode='continuous'),
    dict(type='PackSOTInputs'),
]
train_dataloader = dict(
    batch_size=8,
    dataset=dict(samples_per_epoch=160,
                 frame_sampler=dict(mode='interval', max_frame_gap=20, min_sequence_length=2,
                                   min_visible_frames=2), pipeline=train_pipeline))
# no validation during the short schedule: evaluate with tools/test.py
val_dataloader = None
val_evaluator = None
val_cfg = None

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3))
# 40 epochs x 20 iterations: about 5 minutes on 2 CPU cores with OMP_NUM_THREADS=1
param_scheduler = [dict(type='StepLR', step_size=30, gamma=0.2, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_interval=1)
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10),
                     logger=dict(interval=5))
