# mmdet's ByteTrack (mmdet's bytetrack_yolox_x settings), as the iKUN paper's ByteTrack baseline.
# Used by configs/baselines/ and, for a one-line tracker swap, by any config whose model takes
# `tracker={{_base_.tracker}}`.
tracker = dict(
    type='ByteTracker',
    motion=dict(type='KalmanFilter'),
    obj_score_thrs=dict(high=0.6, low=0.1),
    init_track_thr=0.7,
    weight_iou_with_det_scores=True,
    match_iou_thrs=dict(high=0.1, low=0.5, tentative=0.3),
    num_frames_retain=30)
