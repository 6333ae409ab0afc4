# mmdet's SORT (DeepSORT's tracker without ReID).
# Used by configs/baselines/ and, for a one-line tracker swap, by any config whose model takes
# `tracker={{_base_.tracker}}`.
tracker = dict(
    type='SORTTracker',
    motion=dict(type='KalmanFilter', center_only=False),
    obj_score_thr=0.5,
    reid=None,
    match_iou_thr=0.5,
    num_tentatives=3,
    num_frames_retain=100)
