# mmdet's StrongSORT tracker with appearance on the same detections, with the ReID of
# configs/reid/reid_r18_1xb32-2e_mini-refer-kitti.py (set reid_checkpoint, or
# --cfg-options model.reid.checkpoint=<its .pth>). Settings are mmdet's StrongSORT MOT17 config
# (NSA Kalman filter, EMA of the features with momentum 0.1, cosine distance blended with the
# motion distance at weight 0.02; then IoU) except the ReID's input size and the largest accepted
# distance `match_score_thr`, 0.7 instead of 0.3, chosen on the generated data's val videos
# (0000 0017 0019) with benchmarks/tracker_hota.py --split val (HOTA 41.3 at 0.1, 56.4 at 0.3,
# 63.8 at 0.5, 68.3 at 0.7, 67.4 at 1.0 to 2.0).
# Camera motion compensation is off (model.cmc=None: the generated camera does not move) and the
# offline AFLink/GSI post-processing of mmdet's StrongSORT model is not used (AFLink has no
# offline weights); strongsort_mini_refer_kitti.py is the same tracker without appearance.
_base_ = ['../neuralsort/neuralsort_reid_mini_refer_kitti.py']

model = dict(
    tracker=dict(
        _delete_=True,
        type='StrongSORTTracker',
        motion=dict(type='KalmanFilter', center_only=False, use_nsa=True),
        obj_score_thr=0.6,
        reid=dict(
            num_samples=None,
            img_scale={{_base_.reid_crop_size}},
            img_norm_cfg={{_base_.reid_img_norm_cfg}},
            match_score_thr=0.7,
            motion_weight=0.02),
        match_iou_thr=0.7,
        momentums=dict(embeds=0.1),
        num_tentatives=2,
        num_frames_retain=100))
