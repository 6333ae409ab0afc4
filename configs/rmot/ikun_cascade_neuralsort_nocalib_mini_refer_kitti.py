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
_base_ = [
    '../_base_/models/ikun_tinyconv.py', '../_base_/trackers/neuralsort.py',
    '../_base_/datasets/mini_refer_kitti_rmot.py', '../_base_/default_runtime.py'
]

model = dict(
    _delete_=True,
    type='ReferringTracker',
    detector=dict(type='DetectionsFromFile', det_dir={{_base_.det_dir}}),
    tracker={{_base_.tracker}},
    referrer={{_base_.model}},
    interpolation=dict(max_gap=20))  # the paper's offline gap interpolation
# `tools/test.py ... --show-dir DIR` draws one video per test video into DIR
default_hooks = dict(visualization=dict(_delete_=True, type='ReferringVisualizationHook'))
randomness = dict(seed=0)  # as the iKUN training config
