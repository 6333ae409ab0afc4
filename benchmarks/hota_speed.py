"""Speed and exactness of the vectorised HOTA (``ikun_mm.evaluation.fast_hota``) against TrackEval
on a calibration grid of 400 score shifts.

    OMP_NUM_THREADS=1 python benchmarks/hota_speed.py --json [--data-root DIR] [--seed 0]

Two splits:

* ``val``: the validation videos of a generated Refer-KITTI tree (``--data-root``, default a tree
  made like ``tools/data/generate_refer_kitti.py --seed 0`` in a temporary folder), one
  sequence per (video, expression) as ``ReferringMetric`` evaluates them. The tracks and
  scores are synthetic stand-ins for a tracker + iKUN (``synthetic_prepared``: GT boxes with
  jitter, dropped boxes, id switches and false-positive tracks; scores that separate referred
  from other boxes with noise), so no model is needed; the metric's work is the same.
  TrackEval side: ``ReferringMetric(backend='trackeval')`` per point, as the calibration fit
  used to run it; fast side: ``ReferringGrid`` (all points in one call).
* ``synthetic``: a Refer-KITTI-sized split (150 sequences of 300 frames, about 10 candidate
  boxes a frame, ``synthetic_split``). TrackEval side: ``evaluate_mot`` per point; fast side:
  ``ShiftGrid``.

Points: ``shift = a·p(e) + b`` on a 20 × 20 grid of (a, b) (``p(e)`` a per-sequence constant).
TrackEval evaluates ``--trackeval-points`` of the 400 points (spread over the grid; default all
for ``val``, 4 for ``synthetic``); when fewer than 400, ``trackeval_s`` is extrapolated
linearly to 400 points and the JSON says so (``trackeval_points_timed``,
``trackeval_extrapolated``). ``max_abs_diff`` is the largest difference of any combined HOTA
field (HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA; fractions) over the points TrackEval
evaluated. ``fast_s`` includes preparing the sequences.
"""
import argparse
import json
import sys
import tempfile
import time
from typing import Dict, List, Tuple

import numpy as np

from ikun_mm.structures import GT_ROW, MOT_GT_ROW, MOT_PRED_ROW, TRACK_BOX_ROW, xyxy_to_xywh

N_A = N_B = 20  # 400 points
FIELDS = ('HOTA', 'DetA', 'AssA', 'DetRe', 'DetPr', 'AssRe', 'AssPr', 'LocA')


def grid_points() -> List[Tuple[float, float]]:
    """The 400 (a, b) points: a in [0, 8], b in [-1, 0.5]."""
    return [(float(a), float(b)) for a in np.linspace(0, 8, N_A)
            for b in np.linspace(-1.0, 0.5, N_B)]


def spread(n_total: int, n: int) -> List[int]:
    """``n`` indices spread evenly over ``range(n_total)``."""
    return sorted(set(np.linspace(0, n_total - 1, max(1, min(n, n_total))).round().astype(int)
                      .tolist()))


def synthetic_prepared(items: List[dict], seed: int = 0) -> List[dict]:
    """``prepare_referring``-like dicts for ``ReferKittiDataset`` items without a model.

    Tracks: every GT object with box jitter (2 % of the box size), 10 % of its boxes dropped,
    an id switch halfway in a third of the tracks, plus one false-positive track per 4 objects.
    Raw scores per (box, expression): N(0.4, 0.6) where the box's object is referred in that
    frame, N(-0.6, 0.6) elsewhere.
    """
    from ikun_mm.models.referring.inference import TrackScores
    rng = np.random.default_rng(seed)
    out = []
    for item in items:
        ann, exprs = item['annotation'], item['expressions']
        sentences = [e.sentence for e in exprs]
        positives = [e.positives() for e in exprs]
        n = len(item['img_paths'])
        w, h = ann.img_size
        tracks: Dict[int, np.ndarray] = {}
        gt_of: Dict[int, np.ndarray] = {}  # track id -> GT object id per row (-1: none)
        next_id = 1
        for oid in ann.track_ids():
            rows = ann.track(oid)
            rows = rows[rng.random(len(rows)) > 0.1]
            if not len(rows):
                continue
            box = GT_ROW.boxes(rows).copy()
            size = xyxy_to_xywh(box)[:, 2:]
            box += rng.normal(0, 0.02, box.shape) * np.tile(size, 2)
            cut = len(rows) // 2 if rng.random() < 1 / 3 and len(rows) > 3 else len(rows)
            for part in (slice(0, cut), slice(cut, len(rows))):
                if part.start == part.stop:
                    continue
                tracks[next_id] = np.c_[rows[part, GT_ROW.frame], box[part]]  # TRACK_BOX_ROW
                gt_of[next_id] = np.full(part.stop - part.start, oid)
                next_id += 1
        for _ in range(max(1, len(ann.track_ids()) // 4)):
            length = int(rng.integers(5, max(6, n)))
            start = int(rng.integers(0, max(1, n - length + 1)))
            frames = np.arange(start, min(n, start + length))
            x, y = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.6)
            bw, bh = rng.uniform(0.05, 0.2) * w, rng.uniform(0.1, 0.4) * h
            walk = np.cumsum(rng.normal(0, 1.0, (len(frames), 2)), 0)
            tracks[next_id] = np.c_[frames, x + walk[:, 0], y + walk[:, 1],
                                    x + bw + walk[:, 0], y + bh + walk[:, 1]]
            gt_of[next_id] = np.full(len(frames), -1)
            next_id += 1
        raw = {}
        for tid, track in tracks.items():
            referred = np.array([[(int(f), int(o)) in pos for pos in positives]
                                 for f, o in zip(track[:, TRACK_BOX_ROW.frame], gt_of[tid])],
                                bool)
            referred = referred.reshape(len(track), len(exprs))
            scores = np.where(referred, 0.4, -0.6) + rng.normal(0, 0.6, referred.shape)
            raw[tid] = TrackScores(frames=track[:, TRACK_BOX_ROW.frame].astype(int),
                                   scores=scores)
        out.append(dict(video=item['video'], annotation=ann, expressions=exprs,
                        sentences=sentences, num_frames=n, tracks=tracks, raw=raw))
    return out


def synthetic_split(sequences: int = 150, frames: int = 300, boxes: int = 10,
                    seed: int = 0) -> Tuple[dict, dict, dict, np.ndarray]:
    """A Refer-KITTI-sized split: ``sequences`` (video, expression) pairs, 5 expressions a
    video, ``boxes`` objects per frame moving in a 1242 × 375 image.

    Returns:
        ``gt`` ``{seq: (G, 6)}`` (the referred objects: about a third of them, over a random
        frame range), ``candidates`` ``{seq: (C, 7)}`` (every track box of the video with a
        score for the expression; tracks as in :func:`synthetic_prepared`), ``num_frames`` and
        ``p`` (S,) per-sequence pseudo-frequencies in [0, 0.1].
    """
    rng = np.random.default_rng(seed)
    gt, cand, num_frames = {}, {}, {}
    per_video = 5
    for v in range((sequences + per_video - 1) // per_video):
        pos = np.c_[rng.uniform(0, 1100, boxes), rng.uniform(100, 250, boxes)]
        vel = rng.normal(0, 3, (boxes, 2))
        size = np.c_[rng.uniform(30, 150, boxes), rng.uniform(30, 100, boxes)]
        obj = []  # frame, object, x, y, w, h
        for f in range(frames):
            pos = pos + vel + rng.normal(0, 0.5, pos.shape)
            pos[:, 0] = np.clip(pos[:, 0], 0, 1150)
            obj.append(np.c_[np.full(boxes, f + 1), np.arange(boxes), pos, size])
        obj = np.concatenate(obj)
        keep = rng.random(len(obj)) > 0.1
        trk = obj[keep].copy()
        M = MOT_GT_ROW  # obj, trk: frame (1-based), object index, x, y, w, h
        trk[:, M.box] += rng.normal(0, 0.03, (len(trk), 4)) * np.tile(M.take(trk, 'w', 'h'), 2)
        switch_at = rng.integers(1, frames, boxes)
        obj_of = trk[:, M.id].astype(int)
        tid = trk[:, M.id] + 1 + boxes * (trk[:, M.frame] > switch_at[obj_of]) * \
            (rng.random(boxes) < 1 / 3)[obj_of]
        for e in range(per_video):
            s = v * per_video + e
            if s >= sequences:
                break
            name = f'{v:04d}+expression-{e}'
            referred = rng.random(boxes) < 1 / 3
            lo, hi = np.sort(rng.integers(1, frames + 1, 2))
            on = (referred[obj[:, M.id].astype(int)] & (obj[:, M.frame] >= lo)
                  & (obj[:, M.frame] <= hi))
            g = obj[on]
            gt[name] = np.c_[g[:, M.frame], g[:, M.id] + 1, M.boxes(g)]
            t_on = referred[obj_of] & (trk[:, M.frame] >= lo) & (trk[:, M.frame] <= hi)
            score = np.where(t_on, 0.4, -0.6) + rng.normal(0, 0.6, len(trk))
            rows = np.c_[trk[:, M.frame], tid, M.boxes(trk), score]  # MOT_PRED_ROW
            cand[name] = rows[np.lexsort((rows[:, MOT_PRED_ROW.id], rows[:, MOT_PRED_ROW.frame]))]
            num_frames[name] = frames
    p = rng.uniform(0, 0.1, len(num_frames))
    return gt, cand, num_frames, p


def bench_val(data_root: str, seed: int, n_trackeval: int) -> dict:
    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.evaluation import ReferringGrid, ReferringMetric
    from ikun_mm.models.referring.referring_tracker import referred_rows
    items = list(ReferKittiDataset(data_root=data_root, split='val'))
    prepared = synthetic_prepared(items, seed)
    sentences = sorted({s for v in prepared for s in v['sentences']})
    freq = dict(zip(sentences, np.random.default_rng(seed).uniform(0, 0.1, len(sentences))))
    points = grid_points()

    def offsets(a, b):
        return lambda ss: np.array([a * freq[s] + b for s in ss])

    t0 = time.perf_counter()
    grid = ReferringGrid(prepared)
    fast = grid.evaluate_offsets([offsets(a, b) for a, b in points]).combined()
    fast_s = time.perf_counter() - t0

    timed = spread(len(points), n_trackeval)
    diff = 0.0
    t0 = time.perf_counter()
    for j in timed:
        a, b = points[j]
        metric = ReferringMetric(log_table=False, metrics=('HOTA', ), backend='trackeval')
        for video in prepared:  # the body of referring_metrics, with TrackEval
            shift = np.asarray(offsets(a, b)(video['sentences']), dtype=np.float64)[None]
            scores = {tid: type(s)(s.frames, s.scores + shift) for tid, s in video['raw'].items()}
            rows = referred_rows(video['tracks'], scores, len(video['sentences']), 0.0)
            metric.process({}, [dict(video=video['video'], num_frames=video['num_frames'],
                                     annotation=video['annotation'],
                                     expressions=video['expressions'],
                                     pred_referred=dict(zip(video['sentences'], rows)))])
        metric.evaluate(size=len(prepared))
        ref = metric.last_results['COMBINED']
        diff = max(diff, max(abs(ref[k] - fast[k][j]) for k in FIELDS))
    te_s = time.perf_counter() - t0
    return _summary(te_s, fast_s, diff, len(timed), len(points),
                    dict(split='generated val', videos=len(prepared), sequences=len(grid.names),
                         frames=int(sum(v['num_frames'] for v in prepared)),
                         candidate_boxes=int(sum(sd.num_cand for sd in grid.seqs)),
                         gt_boxes=int(sum(sd.num_gt for sd in grid.seqs))))


def bench_synthetic(seed: int, n_trackeval: int, sequences: int = 150,
                    frames: int = 300) -> dict:
    from ikun_mm.evaluation import ShiftGrid, evaluate_mot
    gt, cand, num_frames, p = synthetic_split(sequences, frames, seed=seed)
    points = grid_points()
    shifts = np.array([[a * pe + b for pe in p] for a, b in points])
    t0 = time.perf_counter()
    grid = ShiftGrid(gt, cand, num_frames)
    fast = grid.evaluate(shifts).combined()
    fast_s = time.perf_counter() - t0
    timed = spread(len(points), n_trackeval)
    diff = 0.0
    t0 = time.perf_counter()
    for j in timed:
        pred = {s: c[c[:, MOT_PRED_ROW.score] + shifts[j, i] > 0]
                for i, (s, c) in enumerate(cand.items())}
        ref = evaluate_mot(gt, pred, num_frames, metrics=('HOTA', ))['COMBINED']
        diff = max(diff, max(abs(ref[k] - fast[k][j]) for k in FIELDS))
    te_s = time.perf_counter() - t0
    return _summary(te_s, fast_s, diff, len(timed), len(points),
                    dict(split='synthetic Refer-KITTI-sized', sequences=len(num_frames),
                         frames_per_sequence=frames,
                         candidate_boxes=int(sum(len(c) for c in cand.values())),
                         gt_boxes=int(sum(len(g) for g in gt.values()))))


def _summary(te_s: float, fast_s: float, diff: float, timed: int, points: int,
             info: dict) -> dict:
    trackeval_s = te_s * points / timed
    return dict(info, points=points, trackeval_s=round(trackeval_s, 2),
                trackeval_points_timed=timed, trackeval_measured_s=round(te_s, 2),
                trackeval_extrapolated=timed < points, fast_s=round(fast_s, 3),
                speedup=round(trackeval_s / fast_s, 1), max_abs_diff=float(diff))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--data-root', help='generated Refer-KITTI tree (default: generate one '
                        'with --seed in a temporary folder)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--val-trackeval-points', type=int, default=400,
                        help='grid points TrackEval evaluates on val (default all 400)')
    parser.add_argument('--synthetic-trackeval-points', type=int, default=4,
                        help='grid points TrackEval evaluates on the synthetic split (default '
                        '4, extrapolated to 400)')
    parser.add_argument('--skip', choices=('val', 'synthetic'), action='append', default=[])
    args = parser.parse_args(argv)
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    out = {}
    with tempfile.TemporaryDirectory(prefix='hota_speed_') as tmp:
        if 'val' not in args.skip:
            root = args.data_root
            if root is None:
                from ikun_mm.datasets.synthetic import generate_mini_refer_kitti
                root = tmp
                generate_mini_refer_kitti(root, seed=args.seed, videos=None, frames=48,
                                          size=(384, 128))
            out['val'] = bench_val(root, args.seed, args.val_trackeval_points)
    if 'synthetic' not in args.skip:
        out['synthetic'] = bench_synthetic(args.seed, args.synthetic_trackeval_points)
    if args.json:
        print(json.dumps(out), file=result_stream)
    else:
        for name, r in out.items():
            print(f'{name}: TrackEval {r["trackeval_s"]:.1f} s'
                  f'{" (extrapolated)" if r["trackeval_extrapolated"] else ""}, fast '
                  f'{r["fast_s"]:.2f} s, speedup {r["speedup"]}x, max |diff| '
                  f'{r["max_abs_diff"]:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
