# ATOM, small CPU variant on the generated synthetic SOT sequences: a quarter-width ResNet-18
# (layer2/layer3 = 32/64 channels) trained from scratch together with a slim IoU predictor on
# 128x128 search regions; online classifier with 32 channels. Generate the data first (see
# benchmarks/README.md, "ATOM"), then
#   python tools/train.py configs/atom/atom_r18-small_1xb8-12e_synthetic.py
#   python tools/test.py configs/atom/atom_r18-small_1xb8-12e_synthetic.py work_dirs/.../epoch_12.pth
_base_ = ['./atom_r18_8xb8-50e_lasot-got10k.py']

search_size = 128
data_root = 'data/sot_synthetic/'
model = dict(
    backbone=dict(base_channels=16, frozen_stages=-1, norm_eval=False, init_cfg=None),
    iou_net=dict(in_channels=(32, 64), ref_channels=(32, 64), test_channels=64,
                 pred_channels=(64, 64), inter_channels=(64, 64)),
    classifier=dict(compressed_dim=32),
    # more proposals per pair than the paper's 16: the head is cheap next to the backbone, and
    # the from-scratch backbone needs all the localisation signal a pair can give
    train_cfg=dict(num_proposals=64),
    test_cfg=dict(search_size=search_size))

train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTTemplateSearchCrop', template_factor=5.0, template_size=search_size,
         search_factor=5.0, search_size=search_size, template_jitter=(0., 0.),
         search_jitter=(4.5, 0.5)),
    dict(type='PackSOTInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSOTFrame')]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(
        _delete_=True, type='GOT10kDataset', data_root=data_root, split='train',
        frame_sampler=dict(type='SOTFrameSampler', max_frame_gap=20), samples_per_epoch=160,
        pipeline=train_pipeline))
test_dataloader = dict(
    num_workers=0,
    dataset=dict(_delete_=True, type='GOT10kDataset', data_root=data_root, split='val',
                 test_mode=True, pipeline=test_pipeline))
# no validation during the short schedule: evaluate with tools/test.py
val_dataloader = None
val_evaluator = None
val_cfg = None

# everything learns from scratch here (no ImageNet weights offline): frozen_stages=-1 above
param_scheduler = [dict(type='StepLR', step_size=9, gamma=0.2, by_epoch=True)]
train_cfg = dict(max_epochs=12, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=4), logger=dict(interval=5))
