"""Offline linear interpolation of track gaps: the post-processing the iKUN paper applies to
NeuralSORT's tracks, here for the output of any tracker.

Tracker-independent on purpose: it runs on a whole video's result rows after tracking
(:func:`~.tracking_by_detection.track_video` with ``model.interpolation`` set), so swapping the
tracker by one config line keeps it, and it can never be silently skipped because the new tracker
lacks an option. mmdet's ``InterpolateTracklets`` is not reused: it needs scikit-learn and drops
tracks of two frames or fewer.
"""
from typing import Optional

import numpy as np

from ikun_mm.structures import TRACK_ROW


def check_interpolation(interpolation: Optional[dict], owner: str) -> Optional[dict]:
    """Validate an ``interpolation`` option: ``None`` (online) or ``dict(max_gap=N)``, N >= 1.

    Raises:
        ValueError: naming ``owner`` and the bad value.
    """
    if interpolation is None:
        return None
    if not isinstance(interpolation, dict) or set(interpolation) != {'max_gap'}:
        raise ValueError(f'{owner}: interpolation must be None or dict(max_gap=N), got '
                         f'{interpolation!r}')
    max_gap = interpolation['max_gap']
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 1:
        raise ValueError(f'{owner}: interpolation max_gap must be an integer >= 1 (missing '
                         f'frames filled per gap), got {max_gap!r}')
    return dict(max_gap=max_gap)


def interpolate_tracks(results: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill gaps of up to ``max_gap`` missing frames in each track by linear interpolation.

    Args:
        results: array (N, K >= 6): ``frame, id, x1, y1, x2, y2[, score, ...]`` (the first
            columns of :data:`~ikun_mm.structures.TRACK_ROW`).
        max_gap: longest gap (in missing frames) that is filled; longer gaps stay.

    Returns:
        array (N', K) sorted by (frame, id); interpolated rows copy the other columns of the
        row before the gap.
    """
    if len(results) == 0 or max_gap < 1:
        return results
    frame, tid_col, box = TRACK_ROW.frame, TRACK_ROW.id, TRACK_ROW.box
    rows = [results]
    for tid in np.unique(results[:, tid_col]):
        track = results[results[:, tid_col] == tid]
        track = track[np.argsort(track[:, frame])]
        for prev, nxt in zip(track[:-1], track[1:]):
            gap = int(nxt[frame] - prev[frame]) - 1
            if 0 < gap <= max_gap:
                w = np.arange(1, gap + 1)[:, None] / (gap + 1)
                fill = np.repeat(prev[None], gap, 0)
                fill[:, frame] = prev[frame] + np.arange(1, gap + 1)
                fill[:, box] = (1 - w) * prev[box] + w * nxt[box]
                rows.append(fill)
    out = np.concatenate(rows)
    return out[np.lexsort((out[:, tid_col], out[:, frame]))]
