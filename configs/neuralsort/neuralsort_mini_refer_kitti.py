# NeuralSORT on the simulated detections of the generated mini Refer-KITTI
# (python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0).
# Track a detection file:
#   python tools/track_detections.py --config configs/neuralsort/neuralsort_mini_refer_kitti.py \
#       --det data/mini_refer_kitti/KITTI/detections/image_02/0005.txt --img-size 384 128 \
#       --out work_dirs/neuralsort/0005.txt
# The tracker is swappable by one edit: the sibling configs (ocsort_, bytetrack_, sort_,
# strongsort_mini_refer_kitti.py) only replace `model.tracker`.
_base_ = ['../_base_/default_runtime.py', '../_base_/trackers/neuralsort.py']

data_root = 'data/mini_refer_kitti/'

# NeuralSORT's settings live in configs/_base_/trackers/neuralsort.py (shared with configs/rmot).
# NKF weights: --cfg-options model.tracker.motion.checkpoint=work_dirs/nkf_mini_refer_kitti/
# epoch_10.pth (from `python tools/train.py configs/nkf/nkf_mini_refer_kitti.py`); without them
# the NKF is untrained, i.e. exactly the fixed Kalman filter.
model = dict(
    type='TrackingByDetection',
    detector=dict(
        type='DetectionsFromFile', det_dir=data_root + 'KITTI/detections/image_02'),
    tracker={{_base_.tracker}})
