"""Fit the similarity calibration ``a·p(e) + b`` (iKUN paper; official
``similarity_calibration.py``) to the referring HOTA itself.

    python tools/analysis/fit_calibration_hota.py RMOT_CONFIG CHECKPOINT [--split val] \
        [--out NEW.pth] [--cfg-options data_root=... model.tracker.motion.checkpoint=...]

``--split`` defaults to the config's validation split (``val_dataloader``), else to the tree's
``val`` split; the tool never falls back to the test split: when the default would be the test
videos, or the tree has no ``val`` split, it stops and asks for ``--split``.

RMOT_CONFIG is a referring-tracker config (``configs/rmot/...``) whose referrer has a
``calibration``; CHECKPOINT its iKUN checkpoint. The videos of the split are tracked and scored
once (raw scores); then ``(a, b)`` is searched on a grid that contains ``(0, 0)`` (no
calibration) for the highest HOTA of the Refer-KITTI metric, so the fitted calibration never
scores below no calibration on that split. Fit on a validation split, never on the test split.

A few validation videos are easy to over-fit (91 grid points, one number each), so the fit is
first checked leave-one-video-out: for each video, (a, b) is fitted on the others and scored on
it. When these held-out HOTAs are on average no better than no calibration, the tool keeps
``a = b = 0`` and says so (``--no-cross-validation`` skips the check).

Grid points are scored by :class:`ikun_mm.evaluation.ReferringGrid` (TrackEval's HOTA to 1e-9,
vectorised): the GT / track-box similarities of every (video, expression) are computed once,
each grid point is evaluated once on every sequence, and the leave-one-video-out folds only
re-combine those per-sequence counts, so the whole fit takes seconds instead of one TrackEval
run per point and fold.
The result goes to a NEW checkpoint (default ``<checkpoint stem>_calibrated.pth``; existing files
are not overwritten): ``state_dict['calibration.a'|'calibration.b']`` and
``meta['calibration']``. (``fit_calibration.py`` fits the same parameters to a frame-level F1
proxy on GT tracks, without running the tracker.)
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from ikun_mm.datasets import ReferKittiDataset
from ikun_mm.evaluation import ReferringGrid, prepare_referring
from ikun_mm.registry import MODELS
from ikun_mm.utils import CfgOptionsAction, load_runner_config, register_all_modules

A_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
B_GRID = tuple(np.round(np.arange(-0.8, 0.41, 0.1), 2))


Point = Tuple[float, float]


class GridHota:
    """HOTA (in %, as :func:`~ikun_mm.evaluation.referring_metrics` reports it) of calibration
    points ``(a, b)`` on any subset of the videos of ``grid``.

    Each new point is evaluated once on every sequence (a batch of points in one
    :meth:`~ikun_mm.evaluation.ReferringGrid.evaluate_offsets` call); a subset of videos
    re-combines the stored per-sequence counts (TrackEval's sequence combination).

    Args:
        grid: the prepared videos.
        freq: ``{sentence: p(e)}``, the calibration's pseudo-frequency.
        score_thr: the model's referring threshold.
    """

    def __init__(self, grid: ReferringGrid, freq: Dict[str, float], score_thr: float,
                 progress=None) -> None:
        self.grid, self.freq, self.score_thr, self.progress = grid, freq, score_thr, progress
        self._results: list = []
        self._where: Dict[Point, Tuple[int, int]] = {}
        self.evaluated = 0

    def offsets(self, a: float, b: float) -> Callable[[List[str]], np.ndarray]:
        """``a·p(e) + b`` per sentence (the float operations of the former TrackEval path)."""
        return lambda ss: np.array([a * self.freq[s] + b for s in ss])

    def many(self, points: Sequence[Point], videos: Optional[Sequence[str]] = None
             ) -> List[float]:
        """HOTA of each point on ``videos`` (default all)."""
        todo = list(dict.fromkeys(p for p in points if p not in self._where))
        if todo:
            result = self.grid.evaluate_offsets([self.offsets(a, b) for a, b in todo],
                                                self.score_thr, metrics=('HOTA', ))
            for j, p in enumerate(todo):
                self._where[p] = (len(self._results), j)
            self._results.append(result)
            self.evaluated += len(todo)
            if self.progress is not None:
                self.progress.update(len(todo))
        seqs = None if videos is None else self.grid.sequences_of(videos)
        combined = {}
        out = []
        for p in points:
            r, j = self._where[p]
            if r not in combined:
                combined[r] = self._results[r].combined(seqs)['HOTA']
            out.append(100.0 * float(combined[r][j]))
        return out

    def __call__(self, a: float, b: float, videos: Optional[Sequence[str]] = None) -> float:
        return self.many([(a, b)], videos)[0]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='referring tracker config (configs/rmot/...)')
    parser.add_argument('checkpoint', help='iKUN checkpoint')
    parser.add_argument('--split', default=None,
                        help='split to fit on: a split name of the tree or comma-separated '
                        'videos (default: the config\'s validation split, else "val"; never '
                        'the test split)')
    parser.add_argument('--out', help='output checkpoint (default: <checkpoint>_calibrated.pth)')
    parser.add_argument('--no-cross-validation', action='store_true',
                        help='keep the fit even when it does not carry over between videos')
    parser.add_argument('--workers', type=int, default=1,
                        help='ignored (kept for old command lines): the vectorised HOTA '
                        'scores the whole grid in one process')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    return parser.parse_args(argv)


def grid_search(evaluate: Callable[[float, float], float], a_grid=A_GRID, b_grid=B_GRID,
                evaluate_many: Optional[Callable[[List[Point]], List[float]]] = None
                ) -> Tuple[float, float, float]:
    """Best ``(hota, a, b)`` of ``evaluate(a, b) -> HOTA`` over the grid (plus ``(0, 0)``), then
    a finer b step around the best; ties keep the earlier (smaller) a and b.
    ``evaluate_many(points) -> HOTAs``, when given, scores each batch of points instead (e.g. in
    parallel)."""
    many = evaluate_many or (lambda points: [evaluate(a, b) for a, b in points])

    def best_of(points: List[Point], best=None):
        for value, (a, b) in zip(many(points), points):
            if best is None or value > best[0]:
                best = (value, a, b)
        return best

    best = best_of([(0.0, 0.0)] + [(a, b) for a in a_grid for b in b_grid])
    _, a0, b0 = best
    finer = [(a0, float(b)) for b in np.round(b0 + np.arange(-0.05, 0.051, 0.025), 3)]
    return best_of(finer, best)


def leave_one_video_out(videos: Sequence[str], evaluate: Callable[..., float],
                        a_grid=A_GRID, b_grid=B_GRID,
                        evaluate_many: Optional[Callable[..., List[float]]] = None
                        ) -> Optional[dict]:
    """Held-out check of :func:`grid_search`.

    Args:
        videos: the split's videos.
        evaluate: ``evaluate(a, b, videos) -> HOTA`` on the given videos.
        evaluate_many: optional ``evaluate_many(points, videos) -> HOTAs`` for batches.

    Returns:
        ``None`` for fewer than two videos; otherwise ``folds`` (per held-out video: the (a, b)
        fitted on the others, its HOTA on the held-out video and the uncalibrated one there) and
        the means ``fitted`` and ``uncalibrated`` over the folds.
    """
    if len(videos) < 2:
        return None
    folds = []
    for held in videos:
        rest = [v for v in videos if v != held]
        many = None if evaluate_many is None else (lambda pts, r=rest: evaluate_many(pts, r))
        _, a, b = grid_search(lambda a_, b_: evaluate(a_, b_, rest), a_grid, b_grid, many)
        folds.append(dict(video=held, a=a, b=b, hota=evaluate(a, b, [held]),
                          hota_uncalibrated=evaluate(0.0, 0.0, [held])))
    return dict(folds=folds, fitted=float(np.mean([f['hota'] for f in folds])),
                uncalibrated=float(np.mean([f['hota_uncalibrated'] for f in folds])))


def default_split(cfg, data_root: str) -> str:
    """The split to fit on when ``--split`` is not given: the config's ``val_dataloader`` split,
    else ``'val'`` when the tree has one.

    Raises:
        SystemExit: no validation split, or one that is the test split (by name, or by its
            videos equal to those of ``'test'`` / the config's test dataloader split).
    """
    from ikun_mm.datasets import resolve_videos

    def split_of(name):
        loader = cfg.get(name)
        dataset = loader.get('dataset') if loader else None
        return None if not dataset else dataset.get('split')

    split = split_of('val_dataloader') or 'val'
    test_splits = ['test'] + [s for s in [split_of('test_dataloader')] if s]
    try:
        videos = sorted(resolve_videos(data_root, split))
    except ValueError as exc:
        raise SystemExit(f'no validation split to fit on ({exc}): give --split (a validation '
                         'split or videos; never the test split)')
    same = split in test_splits
    for test in test_splits:
        try:
            same = same or videos == sorted(resolve_videos(data_root, test))
        except ValueError:
            pass
    if same:
        raise SystemExit(f'the default split {split!r} is the test split: fitting a, b there '
                         'tunes them on the test videos; give --split (a validation split)')
    return split


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_runner_config(args.config, cfg_options=args.cfg_options)
    data = cfg.test_dataloader.dataset
    split = args.split or default_split(cfg, data.data_root)
    if isinstance(split, str) and ',' in split:
        split = split.split(',')
    if split == 'test':
        print('warning: fitting a, b on the test split (given with --split)', flush=True)
    out = args.out or osp.splitext(args.checkpoint)[0] + '_calibrated.pth'
    if osp.exists(out):
        raise SystemExit(f'{out} exists; give another --out')
    from ikun_mm.utils.checkpoint import (UnreadableCheckpointError, checkpoint_problem,
                                          read_checkpoint)
    problem = checkpoint_problem(args.checkpoint)  # before tracking: names the file
    if problem is not None:
        raise SystemExit(problem)
    model = MODELS.build(cfg.model)
    calibration = getattr(model.referrer, 'calibration', None)
    if calibration is None:
        raise SystemExit(f'{args.config}: model.referrer has no calibration to fit')
    try:
        model.load_referrer_checkpoint(args.checkpoint)
    except UnreadableCheckpointError as exc:  # names the file; no traceback needed
        raise SystemExit(str(exc))
    model.eval()
    dataset = ReferKittiDataset(data_root=data.data_root, split=split,
                                exclude_sentences=data.get('exclude_sentences', ()),
                                synonyms=data.get('synonyms'))
    with torch.no_grad():
        prepared = prepare_referring(model, list(dataset), progress=True)
        sentences = sorted({s for v in prepared for s in v['sentences']})
        freq = dict(zip(sentences, calibration.pseudo_frequency(sentences).cpu().numpy()))

    videos = [v['video'] for v in prepared]
    grid = ReferringGrid(prepared)
    bar = tqdm(unit='point', desc='fitting a, b (HOTA per grid point, all videos at once)')
    hota_of = GridHota(grid, freq, model.score_thr, progress=bar)

    def evaluate_many(points, videos=None):
        return hota_of.many(points, videos)

    def evaluate(a, b, videos=None):
        return hota_of(a, b, videos)

    cv = None if args.no_cross_validation else leave_one_video_out(
        videos, evaluate, evaluate_many=evaluate_many)
    hota, a, b = grid_search(evaluate, evaluate_many=evaluate_many)
    raw = evaluate(0.0, 0.0)
    bar.close()
    if cv is not None:
        print(f'leave-one-video-out HOTA: fitted {cv["fitted"]:.2f}, uncalibrated '
              f'{cv["uncalibrated"]:.2f} (mean over {len(cv["folds"])} held-out videos)')
        if cv['fitted'] <= cv['uncalibrated'] and (a, b) != (0.0, 0.0):
            print(f'the fit (a={a:g}, b={b:g}) does not carry over to held-out videos: '
                  'keeping a = b = 0 (no calibration)')
            hota, a, b = raw, 0.0, 0.0
    ckpt = read_checkpoint(args.checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    prefix = 'referrer.' if any(k.startswith('referrer.') for k in state) else ''
    state[f'{prefix}calibration.a'] = torch.tensor(float(a))
    state[f'{prefix}calibration.b'] = torch.tensor(float(b))
    info = dict(a=float(a), b=float(b), hota=round(hota, 3), hota_uncalibrated=round(raw, 3),
                objective='HOTA', split=split if isinstance(split, str) else list(split),
                source_checkpoint=osp.basename(args.checkpoint), cross_validation=cv)
    if 'state_dict' in ckpt:
        ckpt.setdefault('meta', {})['calibration'] = info
    if osp.exists(out):  # appeared while fitting
        raise SystemExit(f'{out} exists; give another --out')
    tmp = osp.join(osp.dirname(osp.abspath(out)), f'.{osp.basename(out)}.partial')
    try:  # written whole or not at all (an interrupted save leaves no truncated checkpoint)
        torch.save(ckpt, tmp)
        os.replace(tmp, out)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    print(f'calibration a={a:g} b={b:g}: HOTA {hota:.2f} (uncalibrated {raw:.2f}) on split '
          f'{split!r}; saved {out}')
    print(json.dumps(info))
    return 0


if __name__ == '__main__':
    sys.exit(main())
