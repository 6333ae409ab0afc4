# mmdet's OC-SORT (mmdet's ocsort_yolox_x settings), as the iKUN paper's OC-SORT baseline.
# Used by configs/baselines/ and, for a one-line tracker swap, by any config whose model takes
# `tracker={{_base_.tracker}}`.
tracker = dict(
    type='OCSORTTracker',
    motion=dict(type='KalmanFilter'),
    obj_score_thr=0.3,
    init_track_thr=0.7,
    weight_iou_with_det_scores=True,
    match_iou_thr=0.3,
    num_tentatives=3,
    vel_consist_weight=0.2,
    vel_delta_t=3,
    num_frames_retain=30)
