# Baseline: mmdet's StrongSORT without appearance (IoU association, NSA Kalman filter).
# Same detections and model as configs/neuralsort/neuralsort_mini_refer_kitti.py; only the tracker
# differs (configs/_base_/trackers/strongsort.py).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/tracking_by_detection_mini_refer_kitti.py',
    '../_base_/trackers/strongsort.py'
]

model = dict(tracker={{_base_.tracker}})
