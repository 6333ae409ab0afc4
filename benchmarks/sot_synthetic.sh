#!/usr/bin/env bash
# Done-when check of the SOT trackers on the synthetic sequences (CPU, about half an hour on
# 2 busy cores): generate the data, train OSTrack-tiny and STARK-tiny (stage 1, then stage 2),
# test them and the "repeat the first box" baseline with the OPE metric.
#   bash benchmarks/sot_synthetic.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
WD=work_dirs/sot_synthetic
mkdir -p "$WD"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
$PY tools/data/generate_sot.py data/synthetic_sot --train 200 --val 6 --frames 40
$PY -c "import torch; torch.save({'state_dict': {}}, '$WD/empty.pth')"
$PY tools/test.py configs/sot/static_box_synthetic.py "$WD/empty.pth" --work-dir "$WD/static"
$PY tools/train.py configs/ostrack/ostrack_vit-tiny_1xb16-150e_synthetic.py --work-dir "$WD/ostrack"
$PY tools/test.py configs/ostrack/ostrack_vit-tiny_1xb16-150e_synthetic.py "$WD/ostrack/epoch_150.pth" \
    --work-dir "$WD/ostrack_test"
$PY tools/train.py configs/stark/stark-st1_tiny_1xb16-40e_synthetic.py --work-dir "$WD/stark1"
$PY tools/train.py configs/stark/stark-st2_tiny_1xb16-20e_synthetic.py --work-dir "$WD/stark2" \
    --cfg-options load_from="$WD/stark1/epoch_40.pth"
$PY tools/test.py configs/stark/stark-st1_tiny_1xb16-40e_synthetic.py "$WD/stark1/epoch_40.pth" \
    --work-dir "$WD/stark1_test"
$PY tools/test.py configs/stark/stark-st2_tiny_1xb16-20e_synthetic.py "$WD/stark2/epoch_20.pth" \
    --work-dir "$WD/stark2_test"
grep -h "OPE over" "$WD"/*_test/*/*.log "$WD"/static/*/*.log
