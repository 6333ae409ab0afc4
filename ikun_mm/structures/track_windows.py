"""Track windows of iKUN (official dataloader.py): pure functions over frame indices, shared by
the training dataset, the validation dataset and the inference API.

A track is first split into runs of consecutive frames (``split_at_gaps``); each run is cut into
windows of up to ``window`` frames with stride ``stride``, the last window aligned to the run's
end (``window_starts``); from each window two frames are sampled: at test time its frames 0 and
``len // 2`` (``inference_frame_positions``), during training one random frame from each half
(``training_frame_positions``).
"""
from typing import List, Sequence, Tuple

import numpy as np

#: Paper defaults.
WINDOW = 8
STRIDE = 4


def split_at_gaps(frames: Sequence[int]) -> List[np.ndarray]:
    """Split sorted, unique frame indices into runs of consecutive frames.

    >>> [r.tolist() for r in split_at_gaps([0, 1, 2, 5, 6, 9])]
    [[0, 1, 2], [5, 6], [9]]
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    if frames.size == 0:
        return []
    if np.any(np.diff(frames) <= 0):
        raise ValueError(f'frame indices must be strictly increasing, got {frames.tolist()}')
    cuts = np.nonzero(np.diff(frames) != 1)[0] + 1
    return np.split(frames, cuts)


def window_starts(length: int, window: int = WINDOW, stride: int = STRIDE) -> List[int]:
    """Start offsets of the windows of a run of ``length`` consecutive frames.

    Windows hold ``min(window, length)`` frames; starts advance by ``stride`` and a last window
    is aligned to the end of the run when the stride does not land there.

    >>> window_starts(8), window_starts(10), window_starts(12), window_starts(13), window_starts(3)
    ([0], [0, 2], [0, 4], [0, 4, 5], [0])
    """
    if length < 1:
        raise ValueError(f'a run must hold at least one frame, got length {length}')
    if window < 1 or stride < 1:
        raise ValueError(f'window and stride must be >= 1, got {window}, {stride}')
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def track_windows(frames: Sequence[int], window: int = WINDOW,
                  stride: int = STRIDE) -> List[np.ndarray]:
    """All windows of one track: arrays of consecutive frame indices, in order.

    >>> [w.tolist() for w in track_windows([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21])]
    [[0, 1, 2, 3, 4, 5, 6, 7], [2, 3, 4, 5, 6, 7, 8, 9], [20, 21]]
    """
    out = []
    for run in split_at_gaps(frames):
        size = min(window, len(run))
        out.extend(run[s:s + size] for s in window_starts(len(run), window, stride))
    return out


def inference_frame_positions(length: int) -> Tuple[int, int]:
    """Positions (within a window of ``length`` frames) of the two test frames: 0 and len//2."""
    if length < 1:
        raise ValueError(f'a window must hold at least one frame, got {length}')
    return 0, length // 2


def training_frame_positions(length: int, rng: np.random.Generator) -> Tuple[int, int]:
    """One random position from each half of a window of ``length`` frames (first half
    ``[0, length // 2)``, second half ``[length // 2, length)``; a 1-frame window gives (0, 0))."""
    if length < 1:
        raise ValueError(f'a window must hold at least one frame, got {length}')
    half = length // 2
    if half == 0:
        return 0, 0
    return int(rng.integers(0, half)), int(rng.integers(half, length))
