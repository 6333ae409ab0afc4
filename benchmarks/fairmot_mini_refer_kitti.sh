#!/usr/bin/env bash
# FairMOT done-when measurement on the generated mini Refer-KITTI (CPU): train the small config,
# then compare tools/test.py (MOTChallengeMetric: HOTA/MOTA/IDF1) of the trained and the untrained
# model. See the "FairMOT" section of benchmarks/README.md for the numbers.
set -euo pipefail
CFG=configs/fairmot/fairmot_dla-tiny_1xb8-5e_mini-refer-kitti.py
WORK=${WORK:-work_dirs/fairmot_mini}
EPOCHS=${EPOCHS:-5}
# mmengine checkpoints hold non-tensor objects; torch>=2.6 loads weights_only by default
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
[ -d data/mini_refer_kitti ] || python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0
[ -f data/mini_refer_kitti_mot/annotations/train_cocoformat.json ] || \
    python tools/data/refer_kitti_to_cocovid.py data/mini_refer_kitti data/mini_refer_kitti_mot
mkdir -p "$WORK"
python benchmarks/fairmot_init_checkpoint.py "$CFG" "$WORK/init.pth"
python tools/test.py "$CFG" "$WORK/init.pth" --work-dir "$WORK/test_untrained"
python tools/train.py "$CFG" --work-dir "$WORK" --cfg-options train_cfg.max_epochs="$EPOCHS"
python tools/test.py "$CFG" "$WORK/epoch_${EPOCHS}.pth" --work-dir "$WORK/test_trained"
