# NeuralSORT on the simulated detections of the generated mini Refer-KITTI
# (python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0).
# Track a detection file:
#   python tools/track_detections.py --config configs/neuralsort/neuralsort_mini_refer_kitti.py \
#       --det data/mini_refer_kitti/KITTI/detections/image_02/0005.txt --img-size 384 128 \
#       --out work_dirs/neuralsort/0005.txt
# The tracker is swappable by one edit: configs/baselines/ holds mmdet's trackers on the same
# detections; each replaces only `model.tracker` (settings in configs/_base_/trackers/).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/tracking_by_detection_mini_refer_kitti.py',
    '../_base_/trackers/neuralsort.py'
]

# NeuralSORT's settings live in configs/_base_/trackers/neuralsort.py (shared with configs/rmot).
# NKF weights: --cfg-options model.tracker.motion.checkpoint=work_dirs/nkf_mini_refer_kitti/
# epoch_10.pth (from `python tools/train.py configs/nkf/nkf_mini_refer_kitti.py`); without them
# the NKF is untrained, i.e. exactly the fixed Kalman filter.
model = dict(tracker={{_base_.tracker}})
