"""``ReferringMetric``: the Refer-KITTI evaluation protocol, TrackEval's numbers.

Every (video, expression) pair is one MOT sequence named ``<video>+<sentence-with-dashes>``
whose ground truth is the boxes of the referred objects (:func:`expression_gt_rows`) and whose
predictions are the boxes the model referred with that expression
(:func:`prediction_mot_rows`), both in one frame convention: ``corrected`` by default,
``legacy`` (the original GT writer) or ``ikun`` (the official iKUN test) on request.
HOTA/DetA/AssA/DetRe/DetPr/AssRe/AssPr/LocA, MOTA and IDF1 are TrackEval's, combined over all
sequences the way TrackEval combines sequences (sums of counts, not a mean over expressions):
``backend='fast'`` (default) computes them with :mod:`.fast_hota` (equal to TrackEval to 1e-9,
tested against it), ``backend='trackeval'`` runs TrackEval itself.
"""
import os
import os.path as osp
import shutil
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ikun_mm.datasets.refer_kitti_io import (FRAME_CONVENTIONS, expression_gt_rows,
                                             prediction_mot_rows)
from ikun_mm.registry import METRICS
from ikun_mm.structures import REFERRED_ROW
from .fast_hota import evaluate_mot_fast
from .trackeval_utils import evaluate_mot, write_trackeval_layout

#: Evaluation backends: the vectorised TrackEval-exact one, TrackEval itself.
BACKENDS = ('fast', 'trackeval')

#: Metrics reported (percentages, as in the RMOT literature), in table order.
REPORTED = ('HOTA', 'DetA', 'AssA', 'DetRe', 'DetPr', 'AssRe', 'AssPr', 'LocA', 'MOTA', 'IDF1')


def sequence_name(video: str, expression_file: str) -> str:
    """``'0005'``, ``'.../cars-moving-left.json'`` -> ``'0005+cars-moving-left'``."""
    return f'{video}+{osp.splitext(osp.basename(expression_file))[0]}'


class PredictionWarning(UserWarning):
    """Predictions the metric can only score as misses (boxes of negative size, sentences the
    ground truth does not have)."""


def check_predictions(video: str, referred: Dict[str, np.ndarray],
                      sentences: Sequence[str]) -> List[str]:
    """Warn (:class:`PredictionWarning`, also in the run's log) about predictions of one video
    that would only lower the HOTA without a word:

    * sentences that are none of the video's expressions (they are not evaluated: a typo, or
      predictions keyed by another text than the expression's sentence);
    * boxes with ``x2 < x1`` or ``y2 < y1`` (negative width or height, e.g. ``x, y, w, h``
      given where ``x1, y1, x2, y2`` is expected): they can match no ground-truth box.

    Args:
        video: the video's name (named in the messages).
        referred: ``{sentence: array (M, 6+) frame, id, x1, y1, x2, y2[, score]}``.
        sentences: the video's expression sentences.

    Returns:
        the messages warned.
    """
    messages = []
    known = set(sentences)
    unknown = sorted(k for k in referred if k not in known)
    if unknown:
        messages.append(f'video {video}: predictions for {len(unknown)} sentence(s) that are not '
                        f'expressions of this video are not evaluated: {unknown[:5]}')
    for sentence in sorted(k for k in referred if k in known):
        rows = np.asarray(referred[sentence], np.float64)
        if rows.size == 0:
            continue
        if rows.ndim != 2 or rows.shape[1] < 6:
            raise ValueError(f'video {video}, {sentence!r}: predictions must have shape '
                             f'(M, 6+) (frame, id, x1, y1, x2, y2, ...), got {rows.shape}')
        col = REFERRED_ROW
        bad = (rows[:, col.x2] < rows[:, col.x1]) | (rows[:, col.y2] < rows[:, col.y1])
        if bad.any():
            first = rows[np.argmax(bad)]
            x1, y1, x2, y2 = first[col.box]
            messages.append(
                f'video {video}, {sentence!r}: {int(bad.sum())} of {len(rows)} predicted boxes '
                f'have negative width or height (first: frame {int(first[col.frame])}, id '
                f'{int(first[col.id])}, x1={x1:g} y1={y1:g} x2={x2:g} y2={y2:g}); they count '
                'as false positives (boxes are x1, y1, x2, y2)')
    for message in messages:
        warnings.warn(message, PredictionWarning, stacklevel=2)
        MMLogger.get_current_instance().warning(message)
    return messages


@METRICS.register_module()
class ReferringMetric(BaseMetric):
    """Referring MOT metric over (video, expression) sequences, TrackEval's numbers.

    Args:
        convention: frame convention of the GT and the predictions, ``'corrected'``
            (default), ``'legacy'`` or ``'ikun'`` (see
            :func:`ikun_mm.datasets.refer_kitti_io.expression_gt_rows` and
            :func:`~ikun_mm.datasets.refer_kitti_io.prediction_mot_rows`).
        out_dir: when given, the GT and predictions are kept there in TrackEval's folder layout
            (``gt/<seq>/gt/gt.txt``, ``trackers/tracker/data/<seq>.txt``) so TrackEval can be
            re-run on them. The files are written to a temporary folder and moved into place
            when complete; an existing ``out_dir`` is never overwritten (a timestamped sibling
            is used instead).
        log_table: log the metric table after each evaluation.
        prefix: metric name prefix in logs.
        metrics: TrackEval metric families, a subset of ``('HOTA', 'CLEAR', 'Identity')``;
            fewer is faster (a calibration fit needs only HOTA).
        backend: ``'fast'`` (default): :func:`~.fast_hota.evaluate_mot_fast`, TrackEval's
            numbers without running TrackEval (milliseconds); ``'trackeval'``: TrackEval itself
            (the reference), through MOTChallenge files. ``out_dir`` writes the same files with
            either backend.
    """

    default_prefix = 'refer'

    def __init__(self, convention: str = 'corrected', out_dir: Optional[str] = None,
                 log_table: bool = True, collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 metrics: Sequence[str] = ('HOTA', 'CLEAR', 'Identity'),
                 backend: str = 'fast') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = tuple(metrics)
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
        self.backend = backend
        if convention not in FRAME_CONVENTIONS:
            raise ValueError(f'convention must be one of {FRAME_CONVENTIONS}, got {convention!r}')
        self.convention = convention
        self.out_dir = out_dir
        self.log_table = log_table
        self.last_results: Dict[str, Dict[str, float]] = {}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """One result per video (mmengine truncates results to the dataset size), holding one
        entry per expression of the video."""
        for sample in data_samples:
            ann, referred = sample['annotation'], sample['pred_referred']
            num_frames = int(sample['num_frames'])
            check_predictions(sample['video'], referred,
                              [e.sentence for e in sample['expressions']])
            seqs = []
            for expr in sample['expressions']:
                rows = np.asarray(referred.get(expr.sentence, REFERRED_ROW.empty()), np.float64)
                rows = rows[:, :REFERRED_ROW.width] if rows.size else REFERRED_ROW.empty()
                seqs.append(dict(
                    seq=sequence_name(sample['video'], expr.file),
                    num_frames=num_frames,
                    gt=expression_gt_rows(expr, ann, self.convention),
                    pred=prediction_mot_rows(rows, self.convention, num_frames)))
            self.results.append(seqs)

    def compute_metrics(self, results: List[list]) -> Dict[str, float]:
        results = [seq for video in results for seq in video]
        gt = {r['seq']: r['gt'] for r in results}
        pred = {r['seq']: r['pred'] for r in results}
        num_frames = {r['seq']: r['num_frames'] for r in results}
        if len(gt) != len(results):
            raise ValueError('ReferringMetric: two (video, expression) pairs share a name')
        if self.out_dir is None:
            scores = self._evaluate(gt, pred, num_frames)
        else:
            parent = osp.dirname(osp.abspath(self.out_dir))
            os.makedirs(parent, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix='.trackeval_', dir=parent)
            try:
                scores = self._evaluate(gt, pred, num_frames, work_dir=tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            final = self.out_dir
            if osp.exists(final):
                final = f'{self.out_dir}_{time.strftime("%Y%m%d_%H%M%S")}'
            os.replace(tmp, final)
            MMLogger.get_current_instance().info(
                f'TrackEval files ({len(gt)} sequences, {self.convention} frames) in {final}')
        self.last_results = scores
        combined = scores['COMBINED']
        metrics = {k: 100.0 * combined[k] for k in REPORTED if k in combined}
        if self.log_table:
            title = (f'{len(gt)} (video, expression) sequences, {self.convention} frame '
                     f'convention ({self.backend} backend)')
            MMLogger.get_current_instance().info('\n' + format_table(metrics, title))
        return metrics


    def _evaluate(self, gt: dict, pred: dict, num_frames: dict,
                  work_dir: Optional[str] = None) -> Dict[str, Dict[str, float]]:
        if self.backend == 'trackeval':
            return evaluate_mot(gt, pred, num_frames, self.metrics, work_dir=work_dir)
        scores = evaluate_mot_fast(gt, pred, num_frames, self.metrics)
        if work_dir is not None:
            write_trackeval_layout(work_dir, gt, pred, num_frames)
        return scores


def format_table(metrics: Dict[str, float], title: str = '') -> str:
    """A two-line text table of the reported metrics."""
    keys = [k for k in REPORTED if k in metrics]
    head = ' '.join(f'{k:>7}' for k in keys)
    vals = ' '.join(f'{metrics[k]:7.2f}' for k in keys)
    return (f'{title}\n' if title else '') + head + '\n' + vals
