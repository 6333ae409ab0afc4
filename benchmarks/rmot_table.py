"""The README's results table: iKUN variants x trackers, with and without calibration, on the
held-out videos of the generated mini Refer-KITTI (Refer-KITTI protocol, TrackEval).

    python benchmarks/rmot_table.py --data data/mini_refer_kitti \
        --ikun cascade=CKPT baseline=CKPT cross_correlation=CKPT text_first=CKPT \
        [--nkf NKF.pth] [--json]

Each CKPT is a checkpoint of configs/ikun/ikun_<variant>_mini_refer_kitti.py, best one written by
tools/analysis/fit_calibration.py (it carries the fitted a, b; a plain one uses the paper's).
Each tracker runs once per video; each iKUN scores each tracker's tracks once (raw scores).
Calibration adds ``a·p(e) + b`` to every window score, so its frame scores are the raw frame
scores plus that constant: the calibrated rows are derived from the same raw scores.
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
    from ikun_mm.evaluation import ReferringMetric
    from ikun_mm.models.referring import score_tracks
    from ikun_mm.models.referring.referring_tracker import referred_rows, tracks_from_rows
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
        tracks = {}
        for item in videos:
            rows = tracking.track_rows(len(item['img_paths']), item['img_size'], item['video'])
            tracks[item['video']] = tracks_from_rows(rows)
        for variant, referrer in referrers.items():
            metrics = {'raw': ReferringMetric(), 'calibrated': ReferringMetric()}
            for item in videos:
                sentences = [e.sentence for e in item['expressions']]
                video_tracks = tracks[item['video']]
                raw = score_tracks(referrer, item['img_paths'], video_tracks, sentences,
                                   calibrate=False) if video_tracks else {}
                calib = referrer.calibration
                offset = (calib.a * calib.pseudo_frequency(sentences) + calib.b).cpu().numpy()
                shifted = {tid: type(s)(s.frames, s.scores + offset[None])
                           for tid, s in raw.items()}
                for name, scores in (('raw', raw), ('calibrated', shifted)):
                    rows = referred_rows(video_tracks, scores, len(sentences)) if scores else \
                        [np.zeros((0, 7))] * len(sentences)
                    metrics[name].process({}, [dict(
                        video=item['video'], num_frames=len(item['img_paths']),
                        annotation=item['annotation'], expressions=item['expressions'],
                        pred_referred=dict(zip(sentences, rows)))])
            for name, metric in metrics.items():
                result = metric.evaluate(size=len(videos))
                table[f'{variant}|{tracker}|{name}'] = {
                    k.split('/')[-1]: round(v, 2) for k, v in result.items()}
                hota = table[f'{variant}|{tracker}|{name}']['HOTA']
                print(f'{variant:18s} {tracker:18s} {name:10s} HOTA {hota:6.2f}', file=sys.stderr)
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
