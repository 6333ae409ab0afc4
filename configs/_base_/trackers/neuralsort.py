# NeuralSORT as used by the referring configs (iKUN paper: DeepSORT with the NKF and OC-SORT's
# post-processing): NKF motion, OC-SORT-style velocity consistency and observation-centric
# re-update, per-class association. The paper's offline gap interpolation is the model's
# `interpolation` option (set by the referring configs), not the tracker's. `nkf_checkpoint`
# comes from `python tools/train.py configs/nkf/nkf_mini_refer_kitti.py`; None = an untrained
# NKF, which is exactly the fixed Kalman filter.
nkf_checkpoint = None
tracker = dict(
    type='NeuralSORTTracker',
    motion=dict(type='NeuralKalmanFilter', checkpoint=nkf_checkpoint),
    obj_score_thr=0.3,
    init_track_thr=0.6,
    match_iou_thr=0.3,
    ocr_iou_thr=0.3,
    gate_with_motion=True,
    cascade_depth=30,
    vel_consist_weight=0.2,
    vel_delta_t=3,
    num_tentatives=3,
    output_tentative=True,
    exit_visible_ratio=0.3,
    per_class=True,
    reid=None,
    num_frames_retain=30)
