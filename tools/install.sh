#!/usr/bin/env bash
# Create (or refresh) the ikun_mm virtual environment and install the pinned stack.
#
#   bash tools/install.sh            # venv in ./.venv (override with IKUN_VENV=/path)
#
# Handles the known traps of this stack (see README "Installation"):
#   * torch 2.13.0 / torchvision 0.28.0 come from PyPI as a matching pair, with the machine's
#     find-links (which offers a CPU-only torch without a torchvision) switched off;
#   * setuptools is kept < 82 because mmcv's setup.py and openmim import pkg_resources;
#   * mmcv 2.1.0 is compiled from the sdist with CPU ops; pip's wheel cache keeps the built wheel,
#     so a second venv on the same machine reuses it instead of compiling again;
#   * ikun_mm itself is installed non-editably so that `mim train ikun_mm ...` finds
#     site-packages/ikun_mm/.mim/{configs,tools}.
# Re-running on a machine that already has the venv skips every satisfied step (seconds) and only
# re-installs the ikun_mm package from the working tree.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${IKUN_VENV:-$ROOT/.venv}
PYTHON_BIN=${PYTHON:-python3.11}
command -v "$PYTHON_BIN" >/dev/null 2>&1 || PYTHON_BIN=python3

log() { printf '[install %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"

# All installs go to PyPI with the machine's find-links / extra indexes off, so that the
# local CPU-only torch wheel never replaces the PyPI torch/torchvision pair.
pipi() { env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
           "$PY" -m pip install --disable-pip-version-check "$@"; }

stamp_dir="$VENV/.ikun_mm_stamps"
mkdir -p "$stamp_dir"
# A step is skipped when its requirements file is unchanged since it last succeeded.
done_step() { [ -f "$stamp_dir/$1" ] && cmp -s "$stamp_dir/$1" "$2"; }
mark_step() { cp "$2" "$stamp_dir/$1"; }

REQ="$ROOT/requirements"
CONSTRAINTS="$stamp_dir/constraints.txt"
grep -hE '^(torch|torchvision|mmcv|mmengine|setuptools)==' "$REQ"/torch.txt "$REQ"/mmcv.txt \
  "$REQ"/build.txt "$REQ"/runtime.txt | sed 's/ *#.*//' > "$CONSTRAINTS"
# an mmcv wheel built next to opencv-python-headless asks for it: keep it on the same major
echo 'opencv-python-headless<5' >> "$CONSTRAINTS"
grep -h '^opencv-python' "$REQ"/runtime.txt | sed 's/ *#.*//' >> "$CONSTRAINTS"

if ! done_step build "$REQ/build.txt"; then
  log "build tools (pip, setuptools<82, ninja)"
  pipi -U pip
  pipi -r "$REQ/build.txt"
  mark_step build "$REQ/build.txt"
fi

if ! done_step torch "$REQ/torch.txt"; then
  log "torch/torchvision pair from PyPI (large download the first time)"
  pipi -r "$REQ/torch.txt"
  mark_step torch "$REQ/torch.txt"
fi

if ! done_step mmcv "$REQ/mmcv.txt" || ! "$PY" -c "import mmcv.ops" >/dev/null 2>&1; then
  log "mmcv 2.1.0 with CPU ops (compiled once, ~10-25 min; reused from pip's wheel cache after)"
  pipi -c "$CONSTRAINTS" mmengine==0.10.7 "opencv-python>=4.8,<5"
  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} pipi --no-build-isolation -c "$CONSTRAINTS" \
    -r "$REQ/mmcv.txt"
  "$PY" -c "import mmcv.ops" || { echo "mmcv.ops failed to import after the build" >&2; exit 1; }
  mark_step mmcv "$REQ/mmcv.txt"
fi

cat "$REQ/runtime.txt" "$REQ/text.txt" "$REQ/tests.txt" > "$stamp_dir/all.next"
if ! done_step all "$stamp_dir/all.next"; then
  log "runtime, text-encoder and test requirements"
  pipi -c "$CONSTRAINTS" -r "$REQ/runtime.txt" -r "$REQ/text.txt" -r "$REQ/tests.txt"
  mark_step all "$stamp_dir/all.next"
fi

log "ikun_mm (non-editable, so that mim finds its .mim folder)"
# setuptools' build/ folder keeps files of earlier builds (renamed configs, moved modules) and
# would put them into the installed package: build from a clean one.
rm -rf "$ROOT/build"
pipi --no-deps --no-build-isolation --force-reinstall --quiet "$ROOT"
"$PY" -c "import ikun_mm, mmcv.ops, mmdet, torchvision; print('ikun_mm', ikun_mm.__version__, \
'| torch', __import__('torch').__version__, '| torchvision', torchvision.__version__, \
'| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__)"
log "done: activate with 'source $VENV/bin/activate'"
