# mmdet's SORT (DeepSORT without ReID) on the same detections.
_base_ = ['./neuralsort_mini_refer_kitti.py']

model = dict(
    tracker=dict(
        _delete_=True,
        type='SORTTracker',
        motion=dict(type='KalmanFilter', center_only=False),
        obj_score_thr=0.5,
        reid=None,
        match_iou_thr=0.5,
        num_tentatives=3,
        num_frames_retain=100))
