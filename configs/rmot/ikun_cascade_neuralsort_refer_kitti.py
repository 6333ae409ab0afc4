# Referring MOT on the real Refer-KITTI with the paper's iKUN (CLIP RN50, local 224 / global
# 672, cascade KUM, calibration) and NeuralSORT over detection files
# (MOTChallenge txt per video in `det_dir`, e.g. converted from published detections).
# Prepare the tree once: python tools/data/prepare_refer_kitti.py data/refer-kitti
#   python tools/test.py configs/rmot/ikun_cascade_neuralsort_refer_kitti.py CHECKPOINT \
#       --cfg-options data_root=data/refer-kitti det_dir=data/refer-kitti/detections \
#       model.tracker.motion.checkpoint=NKF.pth
_base_ = [
    '../_base_/models/ikun.py', '../_base_/trackers/neuralsort.py',
    '../_base_/datasets/refer_kitti_rmot.py', '../_base_/default_runtime.py'
]

# Calibration as the paper (and configs/ikun/ikun_cascade_refer_kitti.py) with a frozen CLIP
# ViT-B/32 text tower (its weights: model.referrer.calibration.text_encoder.pretrained=...).
model = dict(
    _delete_=True,
    type='ReferringTracker',
    detector=dict(type='DetectionsFromFile', det_dir={{_base_.det_dir}}),
    tracker={{_base_.tracker}},
    referrer=dict(
        _base_.model,
        calibration=dict(
            _base_.calibration,
            text_encoder=dict(type='CLIPTextEncoder', model_name='ViT-B-32', pretrained=None))),
    interpolation=dict(max_gap=20))  # the paper's offline gap interpolation
default_hooks = dict(visualization=dict(_delete_=True, type='ReferringVisualizationHook'))
