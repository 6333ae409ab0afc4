"""One-pass evaluation (OPE) of single-object trackers: success AUC, precision, normalised
precision.

Per video, over the frames where the ground truth is visible and valid (a video's first frame,
where the tracker is given the box, is counted unless ``ignore_first_frame``):

* **success curve** ``S(t)``: fraction of frames with IoU(pred, gt) > t, for t in
  ``0, 0.05, ..., 1`` (21 thresholds); **success AUC** is its mean (OTB/LaSOT convention);
* **precision curve** ``P(d)``: fraction with centre distance <= d pixels, d = 0..50;
  **precision** is ``P(20)``;
* **normalised precision** ``N(d)``: the centre error divided by the gt box size per axis, L2,
  <= d for d = 0, 0.01, ..., 0.5; reported at 0.2 (LaSOT);
* **AO** (GOT-10k): mean IoU, and **SR@0.5 / SR@0.75**: fraction with IoU >= 0.5 / 0.75.

The dataset score is the mean of the per-video scores (each video weighs the same).
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ikun_mm.registry import METRICS
from ikun_mm.structures import bbox_iou

IOU_THRESHOLDS = np.linspace(0, 1, 21)
CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
NORM_THRESHOLDS = np.linspace(0, 0.5, 51)


def ope_curves(pred: np.ndarray, gt: np.ndarray) -> Dict[str, np.ndarray]:
    """OPE curves of one video.

    Args:
        pred: predicted boxes, array (T, 4) x1y1x2y2.
        gt: ground-truth boxes, array (T, 4), only frames to evaluate.

    Returns:
        dict with ``iou`` (T,), ``success`` (21,), ``precision`` (51,), ``norm_precision`` (51,).
    """
    iou = bbox_iou(pred, gt, aligned=True)
    c_pred = (pred[:, :2] + pred[:, 2:]) / 2
    c_gt = (gt[:, :2] + gt[:, 2:]) / 2
    dist = np.linalg.norm(c_pred - c_gt, axis=1)
    size = np.maximum(gt[:, 2:] - gt[:, :2], 1e-12)
    norm_dist = np.linalg.norm((c_pred - c_gt) / size, axis=1)
    return dict(
        iou=iou,
        success=(iou[None] > IOU_THRESHOLDS[:, None]).mean(1),
        precision=(dist[None] <= CENTER_THRESHOLDS[:, None]).mean(1),
        norm_precision=(norm_dist[None] <= NORM_THRESHOLDS[:, None]).mean(1))


def ope_scores(pred: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
    """Scalar OPE scores of one video (see the module docstring), in [0, 1]."""
    c = ope_curves(pred, gt)
    return dict(success_auc=float(c['success'].mean()),
                precision=float(c['precision'][20]),
                norm_precision=float(c['norm_precision'][20]),
                ao=float(c['iou'].mean()),
                sr50=float((c['iou'] >= 0.5).mean()),
                sr75=float((c['iou'] >= 0.75).mean()))


@METRICS.register_module()
class SOTMetric(BaseMetric):
    """OPE metric for ``tools/test.py``: consumes per-frame :class:`SOTDataSample` predictions.

    Metric names (prefix ``sot`` by default): ``success_auc``, ``precision``,
    ``norm_precision``, ``ao``, ``sr50``, ``sr75`` (percentages, like the papers' tables).

    Args:
        ignore_first_frame: leave out each video's first frame (where the tracker is given the
            box) as the GOT-10k toolkit does.
        collect_device, prefix: of ``BaseMetric``.
    """

    default_prefix = 'sot'

    def __init__(self, ignore_first_frame: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_first_frame = ignore_first_frame

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            if hasattr(s, 'to_dict'):
                s = s.to_dict()
            meta_pred = s['pred_instances']
            gt = s['gt_instances']
            self.results.append(dict(
                video=s['video'], frame_id=int(s['frame_id']),
                pred=np.asarray(meta_pred['bboxes'], np.float64).reshape(4),
                gt=np.asarray(gt['bboxes'], np.float64).reshape(4),
                visible=bool(np.asarray(gt['labels']).reshape(-1)[0])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        videos = defaultdict(list)
        for r in results:
            videos[r['video']].append(r)
        per_video = []
        for name, frames in videos.items():
            frames = sorted(frames, key=lambda r: r['frame_id'])
            pred = np.stack([f['pred'] for f in frames])
            gt = np.stack([f['gt'] for f in frames])
            keep = np.array([f['visible'] for f in frames]) & np.isfinite(gt).all(1)
            if self.ignore_first_frame:
                keep &= np.array([f['frame_id'] > 0 for f in frames])
            if not keep.any():
                continue
            per_video.append(ope_scores(pred[keep], gt[keep]))
        if not per_video:
            raise ValueError('SOTMetric: no frame with a visible ground-truth box to evaluate')
        keys = per_video[0].keys()
        metrics = {k: 100 * float(np.mean([v[k] for v in per_video])) for k in keys}
        MMLogger.get_current_instance().info(
            f'OPE over {len(per_video)} videos: ' +
            ', '.join(f'{k} {v:.2f}' for k, v in metrics.items()))
        return metrics
