"""Evaluating a referring tracker under many score offsets without re-running it.

Calibration adds ``a·p(e) + b`` to every window score, so a calibrated frame score is the raw
frame score plus that per-expression constant.
:func:`ikun_mm.models.referring.prepare_referring` (the model side) tracks each video and scores
its tracks once (raw); :func:`referring_metrics` then evaluates any offsets with the Refer-KITTI
metric, without running the model. ``tools/analysis/fit_calibration.py --objective hota``
(through :class:`~.fast_hota.ReferringGrid`, the same numbers vectorised) and
``benchmarks/rmot_table.py`` are built on them.
"""
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .referring_metric import ReferringMetric


def referring_metrics(prepared: Sequence[dict],
                      offsets: Optional[Callable[[List[str]], np.ndarray]] = None,
                      score_thr: float = 0.0, convention: str = 'corrected',
                      metrics: Sequence[str] = ('HOTA', 'CLEAR', 'Identity')
                      ) -> Dict[str, float]:
    """The Refer-KITTI metric of ``prepared`` videos
    (:func:`ikun_mm.models.referring.prepare_referring`) with ``offsets(sentences) -> (E,)`` added
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
