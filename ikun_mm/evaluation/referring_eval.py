"""Evaluating a referring tracker under many score offsets without re-running it.

Calibration adds ``a·p(e) + b`` to every window score, so a calibrated frame score is the raw
frame score plus that per-expression constant. :func:`prepare_referring` tracks each video and
scores its tracks once (raw); :func:`referring_metrics` then evaluates any offsets with the
Refer-KITTI metric in seconds. ``tools/analysis/fit_calibration_hota.py`` and
``benchmarks/rmot_table.py`` are built on these two functions.
"""
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .referring_metric import ReferringMetric


def prepare_referring(model, items: Sequence[dict], progress: bool = False) -> List[dict]:
    """Track every video of ``items`` (``ReferKittiDataset`` items) with ``model`` (a
    ``ReferringTracker``) and score its tracks against all its expressions, uncalibrated.

    Returns:
        one dict per video: the item's ``video``, ``annotation``, ``expressions`` plus
        ``sentences``, ``tracks`` (``{id: (L, 5)}``) and ``raw`` (``{id: TrackScores}``).
    """
    from ikun_mm.models.referring import score_tracks
    from ikun_mm.models.referring.referring_tracker import tracks_from_rows
    prepared = []
    for item in items:
        rows = model.track_rows(len(item['img_paths']), item['img_size'], item['video'],
                                item['img_paths'], progress)
        tracks = tracks_from_rows(rows)
        sentences = [e.sentence for e in item['expressions']]
        # the model reads the canonical texts (synonym mapping of the dataset), the metric the
        # sentences; TrackScores columns follow ``sentences``
        texts = list(item.get('texts', sentences))
        unique = list(dict.fromkeys(texts))
        raw = score_tracks(model.referrer, item['img_paths'], tracks, unique,
                           calibrate=False) if tracks and sentences else {}
        if len(unique) != len(texts):
            cols = [unique.index(t) for t in texts]
            raw = {tid: type(ts)(frames=ts.frames, scores=ts.scores[:, cols])
                   for tid, ts in raw.items()}
        prepared.append(dict(video=item['video'], annotation=item['annotation'],
                             expressions=item['expressions'], sentences=sentences,
                             num_frames=len(item['img_paths']), tracks=tracks, raw=raw))
    return prepared


def referring_metrics(prepared: Sequence[dict],
                      offsets: Optional[Callable[[List[str]], np.ndarray]] = None,
                      score_thr: float = 0.0, convention: str = 'corrected',
                      metrics: Sequence[str] = ('HOTA', 'CLEAR', 'Identity')
                      ) -> Dict[str, float]:
    """The Refer-KITTI metric of ``prepared`` videos with ``offsets(sentences) -> (E,)`` added
    to the raw frame scores (``None``: raw scores); ``convention`` (``'corrected'``, ``'legacy'``
    or ``'ikun'``: where the GT and the predictions of each image are written) and ``metrics``
    as in :class:`ReferringMetric`."""
    from ikun_mm.models.referring.referring_tracker import referred_rows
    metric = ReferringMetric(convention=convention, log_table=False, metrics=metrics)
    for video in prepared:
        sentences, raw = video['sentences'], video['raw']
        scores = raw
        if offsets is not None and raw:
            shift = np.asarray(offsets(sentences), dtype=np.float64)[None]
            scores = {tid: type(s)(s.frames, s.scores + shift) for tid, s in raw.items()}
        rows = referred_rows(video['tracks'], scores, len(sentences), score_thr) if scores \
            else [np.zeros((0, 7))] * len(sentences)
        metric.process({}, [dict(video=video['video'], num_frames=video['num_frames'],
                                 annotation=video['annotation'],
                                 expressions=video['expressions'],
                                 pred_referred=dict(zip(sentences, rows)))])
    result = metric.evaluate(size=len(prepared))
    return {k.split('/')[-1]: v for k, v in result.items()}
