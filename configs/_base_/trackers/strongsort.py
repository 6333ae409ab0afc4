# mmdet's StrongSORT without appearance: ReID off (see configs/baselines/strongsort_reid_... for
# the same tracker with a ReID), so association is IoU-based with the NSA Kalman filter; camera
# motion compensation and the offline AFLink/GSI post-processing of mmdet's StrongSORT are not used.
# Used by configs/baselines/ and, for a one-line tracker swap, by any config whose model takes
# `tracker={{_base_.tracker}}`.
tracker = dict(
    type='StrongSORTTracker',
    motion=dict(type='KalmanFilter', center_only=False, use_nsa=True),
    obj_score_thr=0.6,
    reid=None,
    match_iou_thr=0.7,
    num_tentatives=2,
    num_frames_retain=100)
