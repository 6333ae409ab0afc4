# Baseline: mmdet's OC-SORT (mmdet's ocsort_yolox_x settings), as the iKUN paper's OC-SORT baseline.
# Same detections and model as configs/neuralsort/neuralsort_mini_refer_kitti.py; only the tracker
# differs (configs/_base_/trackers/ocsort.py).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/tracking_by_detection_mini_refer_kitti.py',
    '../_base_/trackers/ocsort.py'
]

model = dict(tracker={{_base_.tracker}})
