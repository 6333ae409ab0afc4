"""``ExpressionMatchingMetric``: how well iKUN matches expressions on GT track windows."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from ikun_mm.registry import METRICS


def binary_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half; NaN when one class
    is absent."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    order = np.argsort(scores, kind='mergesort')
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    uniq, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = start + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def matching_scores(scores: np.ndarray, labels: np.ndarray,
                    threshold: float = 0.0) -> Dict[str, float]:
    """Precision, recall, F1, accuracy (prediction = score > threshold) and AUC."""
    pred = np.asarray(scores) > threshold
    labels = np.asarray(labels).astype(bool)
    tp = int((pred & labels).sum())
    fp = int((pred & ~labels).sum())
    fn = int((~pred & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return dict(precision=precision, recall=recall, f1=f1,
                accuracy=float((pred == labels).mean()) if len(labels) else 0.0,
                auc=binary_auc(scores, labels))


@METRICS.register_module()
class ExpressionMatchingMetric(BaseMetric):
    """Precision/recall/F1/accuracy (score > ``threshold``) and ROC AUC of expression matching
    over all (window, expression) pairs of the validation split (GT tracks).

    Reads ``scores`` (or ``score_key``) and ``labels`` from each predicted data sample (see
    :meth:`~ikun_mm.models.referring.IKUN.predict`).

    Args:
        threshold: decision threshold on the score (paper: 0).
        score_key: ``'scores'`` (raw) or ``'calibrated_scores'``.
    """

    default_prefix = 'refer'

    def __init__(self, threshold: float = 0.0, score_key: str = 'scores',
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.threshold = threshold
        self.score_key = score_key

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            scores = sample.get(self.score_key)
            if scores is None:
                raise KeyError(f'prediction has no {self.score_key!r}; is calibration enabled?')
            self.results.append((np.asarray(scores.cpu(), dtype=np.float64).reshape(-1),
                                 np.asarray(sample.get('labels').cpu()).reshape(-1)))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        scores = np.concatenate([r[0] for r in results])
        labels = np.concatenate([r[1] for r in results])
        out = matching_scores(scores, labels, self.threshold)
        out['positives'] = float(labels.sum())
        out['pairs'] = float(len(labels))
        return out
