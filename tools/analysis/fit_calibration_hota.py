"""Fit the similarity calibration ``a·p(e) + b`` (SPEC §3.10) to the referring HOTA itself.

    python tools/analysis/fit_calibration_hota.py RMOT_CONFIG CHECKPOINT --split val \
        [--out NEW.pth] [--cfg-options data_root=... model.tracker.motion.checkpoint=...]

RMOT_CONFIG is a referring-tracker config (``configs/rmot/...``) whose referrer has a
``calibration``; CHECKPOINT its iKUN checkpoint. The videos of the split are tracked and scored
once (raw scores); then ``(a, b)`` is searched on a grid that contains ``(0, 0)`` (no
calibration) for the highest HOTA of the Refer-KITTI metric, so the fitted calibration never
scores below no calibration on that split. Fit on a validation split, never on the test split.
The result goes to a NEW checkpoint (default ``<checkpoint stem>_calibrated.pth``; existing files
are not overwritten): ``state_dict['calibration.a'|'calibration.b']`` and
``meta['calibration']``. (``fit_calibration.py`` fits the same parameters to a frame-level F1
proxy on GT tracks, without running the tracker.)
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import DictAction

from ikun_mm.datasets import ReferKittiDataset
from ikun_mm.evaluation import prepare_referring, referring_metrics
from ikun_mm.registry import MODELS
from ikun_mm.utils import load_runner_config, register_all_modules

A_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
B_GRID = tuple(np.round(np.arange(-0.8, 0.41, 0.1), 2))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='referring tracker config (configs/rmot/...)')
    parser.add_argument('checkpoint', help='iKUN checkpoint')
    parser.add_argument('--split', default='val', help='split to fit on (default: val)')
    parser.add_argument('--out', help='output checkpoint (default: <checkpoint>_calibrated.pth)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def grid_search(evaluate, a_grid=A_GRID, b_grid=B_GRID):
    """Best ``(hota, a, b)`` of ``evaluate(a, b) -> HOTA`` over the grid, then a finer b step
    around the best; ties keep the earlier (smaller) a and b."""
    best = (evaluate(0.0, 0.0), 0.0, 0.0)
    for a in a_grid:
        for b in b_grid:
            best = max(best, (evaluate(a, b), a, b), key=lambda t: t[0])
    _, a0, b0 = best
    for b in np.round(b0 + np.arange(-0.05, 0.051, 0.025), 3):
        best = max(best, (evaluate(a0, float(b)), a0, float(b)), key=lambda t: t[0])
    return best


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_runner_config(args.config, cfg_options=args.cfg_options)
    out = args.out or osp.splitext(args.checkpoint)[0] + '_calibrated.pth'
    if osp.exists(out):
        raise SystemExit(f'{out} exists; give another --out')
    model = MODELS.build(cfg.model)
    calibration = getattr(model.referrer, 'calibration', None)
    if calibration is None:
        raise SystemExit(f'{args.config}: model.referrer has no calibration to fit')
    model.load_referrer_checkpoint(args.checkpoint)
    model.eval()
    data = cfg.test_dataloader.dataset
    dataset = ReferKittiDataset(data_root=data.data_root, split=args.split,
                                exclude_sentences=data.get('exclude_sentences', ()))
    with torch.no_grad():
        prepared = prepare_referring(model, list(dataset), progress=True)
        sentences = sorted({s for v in prepared for s in v['sentences']})
        freq = dict(zip(sentences, calibration.pseudo_frequency(sentences).cpu().numpy()))

    def evaluate(a, b):
        return referring_metrics(prepared, lambda ss: np.array([a * freq[s] + b for s in ss]),
                                 model.score_thr)['HOTA']

    hota, a, b = grid_search(evaluate)
    raw = evaluate(0.0, 0.0)
    ckpt = torch.load(args.checkpoint, map_location='cpu', weights_only=False)
    state = ckpt.get('state_dict', ckpt)
    prefix = 'referrer.' if any(k.startswith('referrer.') for k in state) else ''
    state[f'{prefix}calibration.a'] = torch.tensor(float(a))
    state[f'{prefix}calibration.b'] = torch.tensor(float(b))
    info = dict(a=float(a), b=float(b), hota=round(hota, 3), hota_uncalibrated=round(raw, 3),
                objective='HOTA', split=args.split, source_checkpoint=osp.basename(
                    args.checkpoint))
    if 'state_dict' in ckpt:
        ckpt.setdefault('meta', {})['calibration'] = info
    torch.save(ckpt, out)
    print(f'calibration a={a:g} b={b:g}: HOTA {hota:.2f} (uncalibrated {raw:.2f}) on split '
          f'{args.split!r}; saved {out}')
    print(json.dumps(info))
    return 0


if __name__ == '__main__':
    sys.exit(main())
