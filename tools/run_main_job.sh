#!/usr/bin/env bash
# The main job on the embedded default data, end to end:
#   1. generate the mini Refer-KITTI (deterministic, seed 0) into $DATA;
#   2. train iKUN (small cascade config) and the Neural Kalman Filter on its training videos;
#   3. fit the similarity calibration (a, b) to HOTA on the validation videos (new checkpoint);
#   4. run cached detections -> NeuralSORT (trained NKF) -> iKUN on the held-out videos with
#      tools/test.py and print the Refer-KITTI metric table (HOTA, DetA, AssA, ...);
#   5. draw the referred tracks of two expressions on held-out video 0005 (video + picture).
# Every run writes into a fresh work dir ($WORK, default work_dirs/main_job_<timestamp>).
#   bash tools/run_main_job.sh            (after bash tools/install.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
DATA=${DATA:-data/mini_refer_kitti}
WORK=${WORK:-work_dirs/main_job_$(date +%Y%m%d_%H%M%S)}
if [ -e "$WORK" ]; then echo "$WORK exists: choose another WORK" >&2; exit 1; fi
step() { printf '\n==== %s ====\n' "$*"; }

step "1/5 generate the mini Refer-KITTI in $DATA"
"$PY" tools/data/generate_refer_kitti.py --out "$DATA" --seed 0

step "2/5 train iKUN (cascade KUM) and NKF"
"$PY" tools/train.py configs/ikun/ikun_cascade_mini_refer_kitti.py --work-dir "$WORK/ikun" \
    --cfg-options data_root="$DATA"
IKUN_CKPT=$(cat "$WORK/ikun/last_checkpoint")
OMP_NUM_THREADS=1 "$PY" tools/train.py configs/nkf/nkf_mini_refer_kitti.py \
    --work-dir "$WORK/nkf" --cfg-options data_root="$DATA"
NKF_CKPT=$(cat "$WORK/nkf/last_checkpoint")

step "3/5 fit the similarity calibration to HOTA on the validation videos"
"$PY" tools/analysis/fit_calibration.py configs/rmot/ikun_cascade_neuralsort_mini_refer_kitti.py \
    "$IKUN_CKPT" --objective hota --split val --out "$WORK/ikun/calibrated.pth" \
    --cfg-options data_root="$DATA" model.tracker.motion.checkpoint="$NKF_CKPT"

step "4/5 detections -> NeuralSORT -> iKUN on the held-out videos"
"$PY" tools/test.py configs/rmot/ikun_cascade_neuralsort_mini_refer_kitti.py \
    "$WORK/ikun/calibrated.pth" --work-dir "$WORK/rmot" \
    --cfg-options data_root="$DATA" model.tracker.motion.checkpoint="$NKF_CKPT"

step "5/5 demo: referred tracks on held-out video 0005"
"$PY" demo/rmot_demo.py "$DATA/KITTI/training/image_02/0005" "red cars" "pedestrians walking left" \
    --config configs/rmot/ikun_cascade_neuralsort_mini_refer_kitti.py \
    --checkpoint "$WORK/ikun/calibrated.pth" --det "$DATA/KITTI/detections/image_02/0005.txt" \
    --cfg-options data_root="$DATA" model.tracker.motion.checkpoint="$NKF_CKPT" \
    --upscale 2 --out "$WORK/demo/0005.mp4" --snapshot "$WORK/demo/0005.jpg"
echo "Checkpoints, logs, TrackEval files and the demo video/picture: $WORK"
