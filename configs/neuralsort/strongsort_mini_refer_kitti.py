# mmdet's StrongSORT on the same detections: ReID off (no weights offline), so association is
# IoU-based with the NSA Kalman filter; camera motion compensation off (model.cmc=None), and the
# offline AFLink/GSI post-processing of mmdet's StrongSORT model is not used.
_base_ = ['./neuralsort_mini_refer_kitti.py']

model = dict(
    tracker=dict(
        _delete_=True,
        type='StrongSORTTracker',
        motion=dict(type='KalmanFilter', center_only=False, use_nsa=True),
        obj_score_thr=0.6,
        reid=None,
        match_iou_thr=0.7,
        num_tentatives=2,
        num_frames_retain=100))
