"""The README's results table: iKUN variants x trackers, with and without calibration, on the
held-out videos of the generated mini Refer-KITTI (Refer-KITTI protocol, TrackEval).

    python benchmarks/rmot_table.py --data data/mini_refer_kitti \
        --ikun cascade=CKPT baseline=CKPT cross_correlation=CKPT text_first=CKPT \
        [--nkf NKF.pth] [--fit-split val] [--json]

Each CKPT is a checkpoint of configs/ikun/ikun_<variant>_mini_refer_kitti.py. Rows per variant
and tracker: ``raw`` (score > 0), ``threshold`` (a = 0, b fitted), ``fitted`` (a and b fitted),
``paper`` (a = 8, b = -0.1). The fits maximise the referring HOTA of NeuralSORT's tracks on the
``--fit-split`` videos (default ``val``; the grid of ``fit_calibration.py --objective hota``,
which contains (0, 0)) and are then applied unchanged to every tracker on the test videos
(``--fit-split none``: the checkpoint's a, b as ``fitted``). All rows of a (variant, tracker)
come from the same tracker run and raw scores
(:func:`ikun_mm.models.referring.prepare_referring`).
Expressions are mapped to canonical words as the mini RMOT config does (``synonyms``).
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
    parser.add_argument('--fit-split', default='val',
                        help="videos to fit a, b on (never the test split); 'none' keeps the "
                        "checkpoints' a, b")
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.evaluation import grid_search, referring_metrics
    from ikun_mm.models.referring import prepare_referring
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    base = Config.fromfile(RMOT)
    synonyms = base.test_dataloader.dataset.get('synonyms')
    videos = list(ReferKittiDataset(data_root=args.data, split='test', synonyms=synonyms))
    fit_videos = None
    if args.fit_split != 'none':
        if args.fit_split == 'test':
            raise SystemExit('--fit-split test: fit on a validation split, never on the test one')
        fit_videos = list(ReferKittiDataset(data_root=args.data, split=args.fit_split,
                                            synonyms=synonyms))
    base.model.detector.det_dir = osp.join(args.data, 'KITTI/detections/image_02')
    base.model.tracker.motion.checkpoint = args.nkf

    referrers = {}
    for item in args.ikun:
        variant, ckpt = item.split('=', 1)
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ikun',
                                       f'ikun_{variant}_mini_refer_kitti.py'))
        cfg.model.calibration = dict(type='SimilarityCalibration', data_root=args.data,
                                     split='train', synonyms=synonyms)
        model = MODELS.build(dict(base.model, referrer=cfg.model))
        model.load_referrer_checkpoint(ckpt)
        referrers[variant] = model.referrer.eval()

    def frequencies(referrer, prepared):
        sentences = sorted({s for v in prepared for s in v['sentences']})
        with torch.no_grad():
            return dict(zip(sentences, referrer.calibration.pseudo_frequency(sentences).numpy()))

    def offsets(freq, a, b):
        return lambda ss: np.array([a * freq[s] + b for s in ss])

    fits = {}
    if fit_videos is not None:
        tracking = MODELS.build(base.model)
        for variant, referrer in referrers.items():
            tracking.referrer = referrer
            with torch.no_grad():
                prepared = prepare_referring(tracking, fit_videos)
            freq = frequencies(referrer, prepared)

            def hota(a, b):
                return referring_metrics(prepared, offsets(freq, a, b),
                                         metrics=('HOTA', ))['HOTA']
            full = grid_search(hota)
            thr = grid_search(hota, a_grid=(0.0, ))
            fits[variant] = dict(raw=hota(0.0, 0.0), fitted=full, threshold=thr)
            print(f'{variant}: fit on {args.fit_split}: raw HOTA {fits[variant]["raw"]:.2f}; '
                  f'a={full[1]} b={full[2]} -> {full[0]:.2f}; a=0 b={thr[2]} -> {thr[0]:.2f}',
                  file=sys.stderr)

    table = {}
    for tracker in args.trackers:
        tracking = MODELS.build(dict(base.model, tracker=dict(base.model.tracker, type=tracker)))
        for variant, referrer in referrers.items():
            tracking.referrer = referrer
            with torch.no_grad():
                prepared = prepare_referring(tracking, videos)
            freq = frequencies(referrer, prepared)
            calib = referrer.calibration
            if variant in fits:
                (_, a, b), (_, _, b0) = fits[variant]['fitted'], fits[variant]['threshold']
            else:
                a, b, b0 = float(calib.a), float(calib.b), None
            runs = {'raw': None, 'fitted': offsets(freq, a, b), 'paper': offsets(freq, 8.0, -0.1)}
            if b0 is not None:
                runs['threshold'] = offsets(freq, 0.0, b0)
            for name, off in runs.items():
                result = referring_metrics(prepared, off)
                table[f'{variant}|{tracker}|{name}'] = {k: round(v, 2) for k, v in result.items()}
                print(f'{variant:18s} {tracker:18s} {name:10s} HOTA {result["HOTA"]:6.2f}',
                      file=sys.stderr)
    table['fits'] = {v: dict(fit_split=args.fit_split, raw_hota=round(f['raw'], 2),
                             a=f['fitted'][1], b=f['fitted'][2],
                             fitted_hota=round(f['fitted'][0], 2),
                             threshold_b=f['threshold'][2],
                             threshold_hota=round(f['threshold'][0], 2))
                     for v, f in fits.items()}
    if args.json:
        print(json.dumps(table, indent=1), file=result_stream)
    else:
        print('| iKUN | tracker | calibration | HOTA | DetA | AssA | MOTA | IDF1 |')
        print('|---|---|---|---|---|---|---|---|')
        for key, m in table.items():
            if key == 'fits':
                continue
            variant, tracker, name = key.split('|')
            print(f'| {variant} | {tracker} | {name} | {m["HOTA"]:.2f} | {m["DetA"]:.2f} | '
                  f'{m["AssA"]:.2f} | {m["MOTA"]:.2f} | {m["IDF1"]:.2f} |')


if __name__ == '__main__':
    main()
