"""The README's results table: iKUN variants x trackers, with and without calibration, on the
held-out videos of the generated mini Refer-KITTI (Refer-KITTI protocol, TrackEval).

    python benchmarks/rmot_table.py --data data/mini_refer_kitti \
        --ikun cascade=CKPT baseline=CKPT cross_correlation=CKPT text_first=CKPT \
        [--nkf NKF.pth] [--json]

Each CKPT is a checkpoint of configs/ikun/ikun_<variant>_mini_refer_kitti.py, best one written by
tools/analysis/fit_calibration_hota.py on the validation split (it carries the fitted a, b; a
plain one uses the paper's). Raw and calibrated rows come from the same tracker run and raw
scores (see :mod:`ikun_mm.evaluation.referring_eval`).
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
RMOT = osp.join(ROOT, 'configs', 'rmot', 'ikun_cascade_neuralsort_mini_refer_kitti.py')
TRACKERS = ('NeuralSORTTracker', 'OCSORTTracker', 'ByteTracker', 'SORTTracker')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default='data/mini_refer_kitti')
    parser.add_argument('--ikun', nargs='+', required=True, metavar='VARIANT=CKPT')
    parser.add_argument('--nkf', help='NKF checkpoint for NeuralSORT (default: untrained NKF)')
    parser.add_argument('--trackers', nargs='+', default=list(TRACKERS))
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.evaluation import prepare_referring, referring_metrics
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    videos = list(ReferKittiDataset(data_root=args.data, split='test'))
    base = Config.fromfile(RMOT)
    base.model.detector.det_dir = osp.join(args.data, 'KITTI/detections/image_02')
    base.model.tracker.motion.checkpoint = args.nkf

    referrers = {}
    for item in args.ikun:
        variant, ckpt = item.split('=', 1)
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ikun',
                                       f'ikun_{variant}_mini_refer_kitti.py'))
        cfg.model.calibration = dict(type='SimilarityCalibration', data_root=args.data,
                                     split='train')
        model = MODELS.build(dict(base.model, referrer=cfg.model))
        model.load_referrer_checkpoint(ckpt)
        referrers[variant] = model.referrer.eval()

    table = {}
    for tracker in args.trackers:
        tracking = MODELS.build(dict(base.model, tracker=dict(base.model.tracker, type=tracker)))
        for variant, referrer in referrers.items():
            tracking.referrer = referrer
            with torch.no_grad():
                prepared = prepare_referring(tracking, videos)
                calib = referrer.calibration
                sentences = sorted({s for v in prepared for s in v['sentences']})
                freq = dict(zip(sentences, calib.pseudo_frequency(sentences).cpu().numpy()))
            a, b = float(calib.a), float(calib.b)
            runs = {'raw': None,
                    'calibrated': lambda ss: np.array([a * freq[s] + b for s in ss])}
            for name, offsets in runs.items():
                result = referring_metrics(prepared, offsets)
                table[f'{variant}|{tracker}|{name}'] = {k: round(v, 2) for k, v in result.items()}
                print(f'{variant:18s} {tracker:18s} {name:10s} HOTA {result["HOTA"]:6.2f}',
                      file=sys.stderr)
    if args.json:
        print(json.dumps(table, indent=1))
    else:
        print('| iKUN | tracker | calibration | HOTA | DetA | AssA | MOTA | IDF1 |')
        print('|---|---|---|---|---|---|---|---|')
        for key, m in table.items():
            variant, tracker, name = key.split('|')
            print(f'| {variant} | {tracker} | {name} | {m["HOTA"]:.2f} | {m["DetA"]:.2f} | '
                  f'{m["AssA"]:.2f} | {m["MOTA"]:.2f} | {m["IDF1"]:.2f} |')


if __name__ == '__main__':
    main()
