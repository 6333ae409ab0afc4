# NeuralSORT on the simulated detections of the generated mini Refer-KITTI
# (python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0).
# Track a detection file:
#   python tools/track_detections.py --config configs/neuralsort/neuralsort_mini_refer_kitti.py \
#       --det data/mini_refer_kitti/KITTI/detections/image_02/0005.txt --img-size 384 128 \
#       --out work_dirs/neuralsort/0005.txt
# The tracker is swappable by one edit: the sibling configs (ocsort_, bytetrack_, sort_,
# strongsort_mini_refer_kitti.py) only replace `model.tracker`.
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/mini_refer_kitti/'
# NKF weights from `python tools/train.py configs/nkf/nkf_mini_refer_kitti.py`
# (work_dirs/nkf_mini_refer_kitti/epoch_10.pth); None = untrained NKF, i.e. the fixed filter.
nkf_checkpoint = None

model = dict(
    type='TrackingByDetection',
    detector=dict(
        type='DetectionsFromFile', det_dir=data_root + 'KITTI/detections/image_02'),
    tracker=dict(
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
        interpolation=None,
        num_frames_retain=30))
