"""Fitting iKUN's similarity calibration ``score + a·p(e) + b`` (iKUN paper, "similarity
calibration"; official dyhBUPT/iKUN ``similarity_calibration.py`` / ``test.py``, which fix a=8,
b=-0.1, tau=100) on a validation split: the training-expression table, the two objectives and
the checkpoint they produce. ``tools/analysis/fit_calibration.py`` is the command line around
these functions; the model side (the formula, the module) is
:mod:`ikun_mm.models.referring.calibration`.

Objectives (``--objective`` of the tool):

* ``'f1'`` (:func:`fit_f1`): every GT track of the split scored against every expression of its
  video (frame scores as at test time, uncalibrated); (a, b) on a grid maximising the F1 of
  ``score + a·p(e) + b > 0`` against the frame labels (the decision the referring tracker makes;
  a proxy of the referring HOTA). No tracker runs.
* ``'hota'`` (:func:`fit_hota`): the split tracked and scored once
  (:func:`ikun_mm.models.referring.prepare_referring`); (a, b) on :data:`A_GRID` x
  :data:`B_GRID` plus (0, 0) maximising the Refer-KITTI HOTA (scored by
  :class:`~.fast_hota.ReferringGrid`, TrackEval's numbers), checked leave-one-video-out: when
  the held-out HOTAs do not beat no calibration, a = b = 0 is kept.

Neither falls back to the test split (:func:`default_split`).
"""
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ikun_mm.registry import TASK_UTILS
from .fast_hota import ReferringGrid

#: a of the HOTA grid (with (0, 0) added; the finer b steps follow the best point)
A_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: b of the HOTA grid: -0.8 ... 0.4 in steps of 0.1
B_GRID = tuple(np.round(np.arange(-0.8, 0.41, 0.1), 2))
#: the F1 grid of the tool's defaults: (min, max, number) of a and of b
F1_A_RANGE = (0.0, 20.0, 81)
F1_B_RANGE = (-1.0, 1.0, 201)

Point = Tuple[float, float]


# -- the training-expression table ---------------------------------------------------------------
@TASK_UTILS.register_module(name='positive_box_shares')
def positive_box_shares(data_root: str, split: Union[str, Sequence[str]] = 'train',
                        synonyms=None) -> Tuple[List[str], np.ndarray]:
    """The official p_j table of a Refer-KITTI tree: the positive boxes of each (canonical, with
    ``synonyms``) expression of ``split`` over those of all of them
    (:func:`ikun_mm.datasets.positive_box_counts`, then
    :func:`~ikun_mm.models.referring.calibration.box_shares`).

    Registered as ``TASK_UTILS['positive_box_shares']``: a ``SimilarityCalibration`` configured
    with ``data_root`` and loaded without a table calls it.

    Returns:
        (sentences, shares): J sorted texts and a float array (J,) summing to 1.
    """
    from ikun_mm.datasets import positive_box_counts
    from ikun_mm.models.referring.calibration import box_shares
    counts = positive_box_counts(data_root, split, synonyms)
    if not counts:
        raise ValueError(f'{data_root}: split {split!r} has no expressions to calibrate with')
    return box_shares(counts)


# -- the split ---------------------------------------------------------------------------------
def _dataloader_split(cfg, name: str):
    loader = cfg.get(name)
    dataset = loader.get('dataset') if loader else None
    return None if not dataset else dataset.get('split')


def default_split(cfg, data_root: str) -> Union[str, List[str]]:
    """The split to fit on when none is given: the config's ``val_dataloader`` split, else
    ``'val'`` when the tree has one.

    Raises:
        ValueError: no validation split, or one that is the test split (by name, or by its
            videos equal to those of ``'test'`` / the config's test dataloader split); the
            message asks for ``--split``.
    """
    from ikun_mm.datasets import resolve_videos
    split = _dataloader_split(cfg, 'val_dataloader') or 'val'
    test_splits = ['test'] + [s for s in [_dataloader_split(cfg, 'test_dataloader')] if s]
    try:
        videos = sorted(resolve_videos(data_root, split))
    except (ValueError, OSError) as exc:
        raise ValueError(f'no validation split to fit on ({exc}): give --split (a validation '
                         'split or videos; never the test split)') from exc
    same = split in test_splits
    for test in test_splits:
        try:
            same = same or videos == sorted(resolve_videos(data_root, test))
        except (ValueError, OSError):
            pass
    if same:
        raise ValueError(f'the default split {split!r} is the test split: fitting a, b there '
                         'tunes them on the test videos; give --split (a validation split: a '
                         '"val" entry of split.json, or comma-separated videos)')
    return split


# -- objective F1 ------------------------------------------------------------------------------
def frame_decisions(scores: Mapping[int, object], frequency: np.ndarray,
                    positives: Sequence[set]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (track, frame, expression) decisions of one video, flattened.

    Args:
        scores: ``{track id: TrackScores}`` (frames (L,), raw scores (L, E)).
        frequency: array (E,): p(e) of each expression.
        positives: E sets of ``(frame, track id)``: where each expression refers the track.

    Returns:
        raw scores, p(e) and labels, arrays (N,) in the order track, frame, expression.
    """
    raws, freqs, labels = [], [], []
    for tid, res in scores.items():
        raws.append(res.scores.reshape(-1))
        freqs.append(np.tile(frequency, len(res.frames)))
        labels.append(np.array([(int(f), tid) in pos for f in res.frames for pos in positives]))
    if not raws:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(raws), np.concatenate(freqs), np.concatenate(labels)


def f1_grid(raw: np.ndarray, freq: np.ndarray, labels: np.ndarray, a_values: np.ndarray,
            b_values: np.ndarray) -> np.ndarray:
    """F1 of ``raw + a·freq + b > 0`` for every (a, b) of the grid: array (len(a), len(b)).

    Args:
        raw, freq: float arrays (N,): uncalibrated scores and p(e) of N decisions.
        labels: bool array (N,).
    """
    labels = labels.astype(bool)
    n_pos = labels.sum()
    out = np.zeros((len(a_values), len(b_values)))
    for i, a in enumerate(a_values):
        x = raw + a * freq
        order = np.argsort(-x, kind='stable')
        xs, tp_cum = x[order], np.cumsum(labels[order])
        # predicted positive: x > -b  <=>  the first k sorted entries, k = #(x > -b)
        k = np.searchsorted(-xs, b_values, side='left')  # #(-x < b) = #(x > -b)
        tp = np.where(k > 0, tp_cum[np.maximum(k - 1, 0)], 0)
        denom = k + n_pos
        out[i] = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return out


def grid_values(lo: float, hi: float, num: float) -> np.ndarray:
    """``np.linspace(lo, hi, int(num))``: a grid given as (min, max, number)."""
    return np.linspace(lo, hi, int(num))


def fit_f1(raw: np.ndarray, freq: np.ndarray, labels: np.ndarray,
           a_range: Sequence[float] = F1_A_RANGE,
           b_range: Sequence[float] = F1_B_RANGE) -> dict:
    """(a, b) of the grid with the best F1 (the first of equal ones, a before b).

    Args:
        raw, freq, labels: the decisions (:func:`frame_decisions`), arrays (N,).
        a_range, b_range: (min, max, number) of the grids.

    Returns:
        ``a``, ``b``, ``f1`` and, for comparison, ``f1_uncalibrated`` (a = b = 0) and
        ``f1_paper_ab`` (the official a = 8, b = -0.1), plus ``decisions`` and ``positives``.
    """
    a_values, b_values = grid_values(*a_range), grid_values(*b_range)
    grid = f1_grid(raw, freq, labels, a_values, b_values)
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    base = float(f1_grid(raw, freq, labels, np.zeros(1), np.zeros(1))[0, 0])
    paper = float(f1_grid(raw, freq, labels, np.array([8.0]), np.array([-0.1]))[0, 0])
    return dict(a=float(a_values[i]), b=float(b_values[j]), f1=float(grid[i, j]),
                f1_uncalibrated=base, f1_paper_ab=paper, decisions=int(len(labels)),
                positives=int(np.asarray(labels).sum()))


# -- objective HOTA ----------------------------------------------------------------------------
class GridHota:
    """HOTA (in %, as :func:`~.referring_eval.referring_metrics` reports it) of calibration
    points ``(a, b)`` on any subset of the videos of ``grid``.

    Each new point is evaluated once on every sequence (a batch of points in one
    :meth:`~.fast_hota.ReferringGrid.evaluate_offsets` call); a subset of videos re-combines the
    stored per-sequence counts (TrackEval's sequence combination).

    Args:
        grid: the prepared videos.
        freq: ``{sentence: p(e)}``, the calibration's pseudo-frequency.
        score_thr: the model's referring threshold.
        progress: optional progress bar (``update(n)``).
    """

    def __init__(self, grid: ReferringGrid, freq: Dict[str, float], score_thr: float,
                 progress=None) -> None:
        self.grid, self.freq, self.score_thr, self.progress = grid, freq, score_thr, progress
        self._results: list = []
        self._where: Dict[Point, Tuple[int, int]] = {}
        self.evaluated = 0

    def offsets(self, a: float, b: float) -> Callable[[List[str]], np.ndarray]:
        """``a·p(e) + b`` per sentence (the float operations of the TrackEval path)."""
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


def grid_search(evaluate: Callable[[float, float], float], a_grid=A_GRID, b_grid=B_GRID,
                evaluate_many: Optional[Callable[[List[Point]], List[float]]] = None
                ) -> Tuple[float, float, float]:
    """Best ``(value, a, b)`` of ``evaluate(a, b)`` over the grid (plus ``(0, 0)``), then a finer
    b step (±0.05 in steps of 0.025) around the best; ties keep the earlier point ((0, 0) first,
    then a before b). ``evaluate_many(points) -> values``, when given, scores each batch of
    points instead."""
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
        evaluate: ``evaluate(a, b, videos) -> value`` on the given videos.
        evaluate_many: optional ``evaluate_many(points, videos) -> values`` for batches.

    Returns:
        ``None`` for fewer than two videos; otherwise ``folds`` (per held-out video: the (a, b)
        fitted on the others, its value on the held-out video and the uncalibrated one there)
        and the means ``fitted`` and ``uncalibrated`` over the folds.
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


def fit_hota(prepared: Sequence[dict], freq: Dict[str, float], score_thr: float,
             cross_validation: bool = True, a_grid=A_GRID, b_grid=B_GRID,
             progress=None) -> dict:
    """(a, b) with the best referring HOTA on ``prepared`` videos (raw scores of
    :func:`ikun_mm.models.referring.prepare_referring`).

    Args:
        prepared: the tracked and scored videos.
        freq: ``{sentence: p(e)}`` of every sentence of ``prepared``.
        score_thr: the referring threshold of the model.
        cross_validation: check the fit leave-one-video-out and keep a = b = 0 when the
            held-out HOTAs are on average no better than no calibration.
        a_grid, b_grid: the grid (:func:`grid_search`).
        progress: optional progress bar (``update(n)`` per evaluated point).

    Returns:
        ``a``, ``b``, ``hota``, ``hota_uncalibrated`` (in %), ``cross_validation``
        (:func:`leave_one_video_out` or ``None``) and ``kept_uncalibrated`` (the fit was
        dropped by the check).
    """
    hota_of = GridHota(ReferringGrid(prepared), freq, score_thr, progress=progress)
    videos = [v['video'] for v in prepared]
    cv = leave_one_video_out(videos, hota_of, a_grid, b_grid, evaluate_many=hota_of.many) \
        if cross_validation else None
    hota, a, b = grid_search(hota_of, a_grid, b_grid, evaluate_many=hota_of.many)
    raw = hota_of(0.0, 0.0)
    dropped = cv is not None and cv['fitted'] <= cv['uncalibrated'] and (a, b) != (0.0, 0.0)
    if dropped:
        hota, a, b = raw, 0.0, 0.0
    return dict(a=float(a), b=float(b), hota=float(hota), hota_uncalibrated=float(raw),
                cross_validation=cv, kept_uncalibrated=bool(dropped))


# -- the calibrated checkpoint -----------------------------------------------------------------
def calibrated_checkpoint(ckpt: dict, a: float, b: float, table: Tuple[Sequence[str], object],
                          info: dict) -> dict:
    """The checkpoint ``ckpt`` with the fitted calibration: ``state_dict[P + 'calibration.a'|
    'calibration.b'|'calibration.table']`` (``P = 'referrer.'`` when the checkpoint's keys carry
    that prefix, else nothing) and ``meta['calibration'] = info``. A bare state dict is wrapped
    as ``{'state_dict': ..., 'meta': ...}``; ``ckpt`` itself is not changed.

    Args:
        ckpt: the checkpoint read from the input file.
        a, b: the fitted parameters.
        table: (J sentences, shares (J,)): the training-expression table p(e) was computed with;
            a model loaded from the result uses it instead of reading the training files.
        info: what the fit measured (goes to ``meta['calibration']``).
    """
    import torch
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not state:
        raise ValueError('not a model checkpoint (no state_dict)')
    prefix = 'referrer.' if any(k.startswith('referrer.') for k in state) else ''
    state = dict(state)
    sentences, shares = table
    state[f'{prefix}calibration.a'] = torch.tensor(float(a))
    state[f'{prefix}calibration.b'] = torch.tensor(float(b))
    state[f'{prefix}calibration.table'] = dict(sentences=list(sentences),
                                              shares=[float(p) for p in shares])
    out = dict(ckpt) if 'state_dict' in ckpt else {}
    out['state_dict'] = state
    out['meta'] = dict(out.get('meta') or {}, calibration=info)
    return out
