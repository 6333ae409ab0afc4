"""Scoring tracks against free-text expressions with a trained :class:`~.ikun.IKUN`
(iKUN inference: mean of the covering windows) — the API a referring tracker calls.

Example::

    from ikun_mm.models.referring import score_tracks
    result = score_tracks(model, img_paths, tracks, ['cars moving left', 'red cars'])
    result[7].frames        # (L,) frame indices of track 7
    result[7].scores        # (L, 2) score of track 7 at each of its frames, per expression
    keep = result[7].scores[:, 0] > 0   # frames where track 7 is a 'car moving left'

Procedure: each track is split at gaps, cut into windows of up to ``window`` (8) frames with
stride ``stride`` (4), the last aligned to the run's end; each window is encoded from its test
frames (positions 0 and len//2) and scored against every expression; a window's (calibrated)
score is added to every frame it covers and a frame's score is the mean over the windows
covering it. Calibration ``a·p(e) + b`` is added per window before the average when the
model has an enabled :class:`~.calibration.SimilarityCalibration` (``calibrate=None``) or
``calibrate=True``.

``fast=True`` encodes the pixels of each window once and runs KUM + head for all expressions in
one batch; ``fast=False`` is the naive reference (one full forward, text included, per
(window, expression) pair). Both give the same numbers (to float rounding, ~1e-6).
"""
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from ikun_mm.structures.ikun_crop import local_and_global
from ikun_mm.structures.track_windows import (STRIDE, WINDOW, inference_frame_positions,
                                              track_windows)

#: One frame: a path to an image file (read with OpenCV), or an RGB uint8 array (H, W, 3).
Frame = Union[str, np.ndarray]


@dataclass
class TrackScores:
    """Scores of one track.

    Attributes:
        frames: int array of shape (L,): the track's frame indices, increasing.
        scores: float array of shape (L, E): ``scores[i, e]`` is the score of expression e at
            ``frames[i]`` (mean over the windows covering that frame; > 0 means "referred").
    """
    frames: np.ndarray
    scores: np.ndarray


def _as_track_array(track_id, boxes) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 5 or len(arr) == 0:
        raise ValueError(f'track {track_id}: expected a non-empty array of shape (L, 5) '
                         f'"frame, x1, y1, x2, y2", got shape {arr.shape}')
    arr = arr[np.argsort(arr[:, 0], kind='stable')]
    frames = arr[:, 0]
    if np.any(frames != np.round(frames)) or np.any(frames < 0):
        raise ValueError(f'track {track_id}: frame indices must be non-negative integers')
    dup = np.nonzero(np.diff(frames) == 0)[0]
    if dup.size:
        raise ValueError(f'track {track_id}: frame {int(frames[dup[0]])} appears twice')
    return arr[:, :5]


class _FrameCache:
    """Reads each frame once per :func:`score_tracks` call."""

    def __init__(self, frames: Union[Sequence[Frame], Mapping[int, Frame]]) -> None:
        self.frames = frames
        self.cache: Dict[int, np.ndarray] = {}

    def __call__(self, index: int) -> np.ndarray:
        if index not in self.cache:
            try:
                item = self.frames[index]
            except (IndexError, KeyError):
                raise KeyError(f'frame {index} is referenced by a track but not given in '
                               '`frames`') from None
            if isinstance(item, str):
                img = cv2.imread(item, cv2.IMREAD_COLOR)
                if img is None:
                    raise FileNotFoundError(f'{item}: cannot read image (frame {index})')
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            else:
                img = np.asarray(item)
                if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                    raise ValueError(f'frame {index}: expected an RGB uint8 array (H, W, 3), '
                                     f'got {img.dtype} {img.shape}')
            self.cache[index] = img
        return self.cache[index]


def _window_inputs(model, read: _FrameCache, track: np.ndarray,
                   window: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised local/global inputs of one window: Tensors (T, 3, h, w), (T, 3, H, W)."""
    rows = {int(r[0]): r[1:5] for r in track}
    locs, glos = [], []
    for p in inference_frame_positions(len(window)):
        f = int(window[p])
        loc, glo = local_and_global(read(f), rows[f], model.local_size, model.global_size)
        locs.append(loc)
        glos.append(glo)
    to = lambda a: torch.from_numpy(np.stack(a).transpose(0, 3, 1, 2).copy())  # noqa: E731
    pre = model.data_preprocessor
    return pre.normalize(to(locs)), pre.normalize(to(glos))


@torch.no_grad()
def score_tracks(model,
                 frames: Union[Sequence[Frame], Mapping[int, Frame]],
                 tracks: Mapping[int, np.ndarray],
                 expressions: Sequence[str],
                 fast: bool = True,
                 calibrate: Optional[bool] = None,
                 window: int = WINDOW,
                 stride: int = STRIDE,
                 batch_size: int = 16) -> Dict[int, TrackScores]:
    """Score every track at every frame against every expression (a frame's score is the mean
    of the windows covering it, as in iKUN's inference).

    Args:
        model: an :class:`~.ikun.IKUN` (put in eval mode here).
        frames: the video's frames, indexable by frame index: a list (``frames[f]``) or a dict
            ``{f: frame}``; each is an image path or an RGB uint8 array (H, W, 3).
        tracks: ``{track_id: array (L, 5)}`` with rows ``frame, x1, y1, x2, y2`` (pixels,
            frame = index into ``frames``), one row per frame; rows may be unsorted.
        expressions: E free-text expressions.
        fast: fast path (visual encoding once per window) or the naive reference.
        calibrate: add the model's calibration ``a·p(e) + b`` per window. ``None``: when the
            model has an enabled calibration; ``True`` requires one; ``False``: raw scores.
        window, stride: window length and stride (paper: 8, 4).
        batch_size: windows encoded per forward (fast path).

    Returns:
        ``{track_id: TrackScores}``; ``TrackScores.scores`` has shape (L, E), rows in increasing
        frame order (``TrackScores.frames``).
    """
    expressions = list(expressions)
    if not expressions:
        raise ValueError('expressions must hold at least one sentence')
    calib = getattr(model, 'calibration', None)
    if calibrate is None:
        calibrate = calib is not None and calib.enabled
    elif calibrate and calib is None:
        raise ValueError('calibrate=True but the model has no calibration configured')
    model.eval()
    device = next(model.parameters()).device
    read = _FrameCache(frames)
    arrays = {tid: _as_track_array(tid, boxes) for tid, boxes in tracks.items()}
    jobs = [(tid, w) for tid, arr in arrays.items()
            for w in track_windows(arr[:, 0].astype(np.int64), window, stride)]
    num_e = len(expressions)
    offset = None
    if calibrate:
        freq = calib.pseudo_frequency(expressions)
        offset = (calib.a * freq + calib.b).float().cpu().numpy()  # (E,)

    window_scores: List[np.ndarray] = []
    if fast:
        text = model.encode_text(expressions)
        for start in range(0, len(jobs), batch_size):
            batch = [_window_inputs(model, read, arrays[tid], w)
                     for tid, w in jobs[start:start + batch_size]]
            local = torch.stack([b[0] for b in batch]).to(device)
            glob = torch.stack([b[1] for b in batch]).to(device)
            for s in model.score_windows(local, glob, text):
                window_scores.append(s.float().cpu().numpy())
    else:
        for tid, w in jobs:
            local, glob = _window_inputs(model, read, arrays[tid], w)
            local, glob = local[None].to(device), glob[None].to(device)
            window_scores.append(np.array(
                [float(model.forward_pairs(local, glob, [e])[0]) for e in expressions]))

    sums = {tid: np.zeros((len(arr), num_e)) for tid, arr in arrays.items()}
    counts = {tid: np.zeros(len(arr)) for tid, arr in arrays.items()}
    rows = {tid: {int(f): i for i, f in enumerate(arr[:, 0])} for tid, arr in arrays.items()}
    for (tid, w), s in zip(jobs, window_scores):
        if offset is not None:
            s = s + offset
        idx = [rows[tid][int(f)] for f in w]
        sums[tid][idx] += s
        counts[tid][idx] += 1
    return {tid: TrackScores(frames=arrays[tid][:, 0].astype(np.int64),
                             scores=sums[tid] / counts[tid][:, None]) for tid in arrays}
