# mmdet's DeepSORT tracker (SORTTracker with appearance) on the same detections, with the ReID of
# configs/reid/reid_r18_1xb32-2e_mini-refer-kitti.py (set reid_checkpoint, or
# --cfg-options model.reid.checkpoint=<its .pth>), as a baseline for NeuralSORT with appearance.
# mmdet's DeepSORT matches confirmed tracks by the Euclidean distance between the mean of their
# last `num_samples` ReID features and a detection's (gated by the Kalman filter), then the rest
# by IoU with the previous box. Settings are mmdet's DeepSORT MOT17 config except the ReID's
# input size and `match_score_thr`, whose scale depends on the ReID's features (mmdet: 2.0 for its
# ReID-R50); 8.0 was chosen on the generated data's val videos (0000 0017 0019) with
# benchmarks/tracker_hota.py --split val (HOTA 54.2 at 0.5, 55.4 at 2, 70.7 at 4, 71.9 at 8 and
# 16: our ReID's Euclidean distances between objects are larger than its R50's).
_base_ = ['../neuralsort/neuralsort_reid_mini_refer_kitti.py']

model = dict(
    tracker=dict(
        _delete_=True,
        type='SORTTracker',
        motion=dict(type='KalmanFilter', center_only=False),
        obj_score_thr=0.5,
        reid=dict(
            num_samples=10,
            img_scale={{_base_.reid_crop_size}},
            # the crops are renormalised from the frame's normalisation (model.data_preprocessor)
            # to the ReID's training normalisation
            img_norm_cfg={{_base_.reid_img_norm_cfg}},
            match_score_thr=8.0),
        match_iou_thr=0.5,
        momentums=None,
        num_tentatives=2,
        num_frames_retain=100))
