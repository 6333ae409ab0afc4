# Referring MOT on the generated mini Refer-KITTI, WITHOUT similarity calibration: cached
# (simulated) detections -> NeuralSORT -> iKUN (cascade KUM, small CPU variant) -> the
# Refer-KITTI metric (TrackEval). The calibrated default is ikun_cascade_neuralsort_mini_...py.
#
#   python tools/test.py configs/rmot/ikun_cascade_neuralsort_nocalib_mini_refer_kitti.py \
#       work_dirs/ikun_cascade_mini_refer_kitti/epoch_200.pth
#
# CHECKPOINT is the iKUN checkpoint (tools/train.py on configs/ikun/...); it loads strictly.
# Swap the tracker with one line (or --cfg-options model.tracker.type=OCSORTTracker):
# settings the new tracker does not take are dropped with a log line.
_base_ = ['../ikun/ikun_cascade_mini_refer_kitti.py', '../_base_/trackers/neuralsort.py']

data_root = 'data/mini_refer_kitti'
det_dir = data_root + '/KITTI/detections/image_02'

model = dict(
    _delete_=True,
    type='ReferringTracker',
    detector=dict(type='DetectionsFromFile', det_dir=det_dir),
    tracker={{_base_.tracker}},
    referrer={{_base_.model}},
    score_thr=0.0,
    calibrate=None,
    interpolation=dict(max_gap=20))

test_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ReferKittiDataset', data_root=data_root, split='test',
                 synonyms='refer_kitti', pipeline=[dict(type='PackReferringVideo')]))
# `out_dir` keeps the files in TrackEval's layout; tools/test.py points it into the work dir.
test_evaluator = dict(
    _delete_=True, type='ReferringMetric', convention='corrected', out_dir=None)
test_cfg = dict(type='TestLoop')
# `tools/test.py ... --show-dir DIR` draws one video per test video into DIR
default_hooks = dict(visualization=dict(_delete_=True, type='ReferringVisualizationHook'))

# Referring configs only test; training belongs to the iKUN and NKF configs.
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
