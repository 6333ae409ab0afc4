"""OPE metric against hand-computed values."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from ikun_mm.evaluation import SOTMetric
from ikun_mm.evaluation.sot_metric import ope_curves, ope_scores
from ikun_mm.structures import SOTDataSample

GT = np.array([[0, 0, 10, 10]] * 4, dtype=float)
# IoU 1, 1/3 (shift by half a width: overlap 50 / union 150), 0 (disjoint), 1/3
PRED = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [30, 30, 40, 40], [0, 5, 10, 15]], float)


def test_iou_closed_form():
    np.testing.assert_allclose(ope_curves(PRED, GT)['iou'], [1, 1 / 3, 0, 1 / 3])


def test_ope_scores_hand_computed():
    s = ope_scores(PRED, GT)
    # success: t=0 -> 3/4; t=0.05..0.30 (6) -> 3/4; t=0.35..0.95 (13) -> 1/4; t=1 -> 0
    assert s['success_auc'] == pytest.approx((7 * 0.75 + 13 * 0.25) / 21)
    # centre errors 0, 5, 42.43, 5 px -> 3 of 4 within 20 px
    assert s['precision'] == pytest.approx(0.75)
    # normalised by the 10 px gt size: 0, 0.5, 4.24, 0.5 -> 1 of 4 within 0.2
    assert s['norm_precision'] == pytest.approx(0.25)
    assert s['ao'] == pytest.approx((1 + 2 / 3) / 4)
    assert s['sr50'] == pytest.approx(0.25) and s['sr75'] == pytest.approx(0.25)


def _sample(video, frame_id, pred, gt, visible=1):
    s = SOTDataSample(metainfo=dict(video=video, frame_id=frame_id))
    g, p = InstanceData(), InstanceData()
    g.bboxes = torch.as_tensor(np.asarray([gt], np.float32))
    g.labels = torch.tensor([visible])
    p.bboxes = torch.as_tensor(np.asarray([pred], np.float32))
    p.scores = torch.tensor([1.])
    s.gt_instances, s.pred_instances = g, p
    return s.to_dict()


def test_metric_averages_videos_and_skips_invisible_frames():
    metric = SOTMetric()
    samples = [_sample('a', i, PRED[i], GT[i]) for i in range(4)]
    # video b: perfect on its visible frames; its invisible frame with a wrong box is ignored
    samples += [_sample('b', 0, GT[0], GT[0]), _sample('b', 1, PRED[2], GT[1], visible=0),
                _sample('b', 2, [np.nan] * 4, [np.nan] * 4, visible=1)]
    metric.process({}, samples[::-1])
    res = metric.compute_metrics(metric.results)
    auc_a = (7 * 0.75 + 13 * 0.25) / 21
    auc_b = 20 / 21  # IoU 1 > t for every threshold but t = 1
    assert res['success_auc'] == pytest.approx(100 * (auc_a + auc_b) / 2)
    assert res['precision'] == pytest.approx(100 * (0.75 + 1) / 2)


def test_metric_ignore_first_frame_and_empty_error():
    metric = SOTMetric(ignore_first_frame=True)
    metric.process({}, [_sample('a', i, PRED[i], GT[i]) for i in range(4)])
    res = metric.compute_metrics(metric.results)
    assert res['ao'] == pytest.approx(100 * (2 / 3) / 3)
    with pytest.raises(ValueError, match='no frame with a visible'):
        SOTMetric().compute_metrics([])
