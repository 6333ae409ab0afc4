# Referring MOT on the generated mini Refer-KITTI (the README's main job): cached (simulated)
# detections -> NeuralSORT (NKF) -> iKUN (cascade KUM) with similarity calibration -> metric.
#
#   python tools/test.py configs/rmot/ikun_cascade_neuralsort_mini_refer_kitti.py CHECKPOINT \
#       --cfg-options model.tracker.motion.checkpoint=work_dirs/nkf_mini_refer_kitti/epoch_10.pth
#
# CHECKPOINT: an iKUN checkpoint. One written by tools/analysis/fit_calibration.py (e.g.
# --objective hota --split val) carries the fitted a, b and the training-expression table (p_j),
# and then `data_root` is not read; a plain training checkpoint keeps the paper's a=8, b=-0.1
# and builds the table from the training split of `data_root` on first use.
_base_ = ['./ikun_cascade_neuralsort_nocalib_mini_refer_kitti.py']

model = dict(referrer=dict(calibration={{_base_.calibration}}))
