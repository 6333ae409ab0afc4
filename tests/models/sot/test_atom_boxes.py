"""ATOM box maths: IoU, proposal sampling, refinement by gradient ascent, top-k fusion."""
import torch

from ikun_mm.models.sot.atom.boxes import (aligned_iou_xywh, fuse_top_k, jitter_boxes,
                                           refine_boxes_by_iou, sample_proposals)


def test_aligned_iou_closed_form():
    a = torch.tensor([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[2.0, 0.0, 4.0, 4.0], [5.0, 5.0, 1.0, 1.0]])
    assert torch.allclose(aligned_iou_xywh(a, b), torch.tensor([8 / 24, 0.0]))


def test_proposals_as_pytracking_perturb_box():
    gen = torch.Generator().manual_seed(0)
    boxes = torch.tensor([[10.3, 20.0, 30.0, 15.0], [50.0, 40.0, 8.0, 24.0]])
    props, iou = sample_proposals(boxes, 16, min_iou=0.3, generator=gen)
    assert props.shape == (2, 16, 4) and iou.shape == (2, 16)
    assert (iou > 0.3).all() and (props[..., 2:] > 1).all()
    assert torch.equal(props, props.round())  # whole pixels, as perturb_box rounds
    assert torch.allclose(iou, aligned_iou_xywh(props, boxes[:, None]))
    assert iou.std() > 0.05  # a spread of targets, not copies of the ground truth
    # one noise level 0.3: centre/size noise of std 0.3 * sqrt(w h) (before IoU redraws)
    props, _ = sample_proposals(boxes[:1].expand(4000, -1), 1, sigma_factors=(0.3, ),
                                min_iou=0.0, generator=gen)
    side = (30.0 * 15.0) ** 0.5
    width_std = float(props[:, 0, 2].std())
    assert abs(width_std - 0.3 * side) < 0.05 * 0.3 * side


def test_proposals_keep_the_last_draw_when_min_iou_is_never_reached():
    gen = torch.Generator().manual_seed(1)
    boxes = torch.tensor([[10.0, 20.0, 30.0, 16.0]])
    props, iou = sample_proposals(boxes, 8, sigma_factors=(0.3, ), min_iou=0.999, max_trials=2,
                                  generator=gen)
    # no fallback to the ground truth: the proposals stay jittered, with their true IoU
    assert (iou < 0.999).any()
    assert torch.allclose(iou, aligned_iou_xywh(props, boxes[:, None]))


def test_jitter_boxes_keeps_the_box_first():
    gen = torch.Generator().manual_seed(0)
    box = torch.tensor([10.0, 10.0, 20.0, 10.0])
    boxes = jitter_boxes(box, 10, generator=gen)
    assert boxes.shape == (10, 4) and torch.equal(boxes[0], box)
    assert (boxes[1:, 2:] >= 10.0 / 3 - 1e-6).all()
    centers = boxes[:, :2] + boxes[:, 2:] / 2
    assert ((centers - torch.tensor([20.0, 15.0])).abs() <= 0.05 * 200 ** 0.5 + 1e-6).all()


def test_refinement_increases_predicted_iou():
    gt = torch.tensor([40.0, 30.0, 24.0, 16.0])

    def predict_iou(b):
        return aligned_iou_xywh(b, gt)  # an ideal IoU predictor

    gen = torch.Generator().manual_seed(1)
    init = jitter_boxes(gt + torch.tensor([5.0, -3.0, 6.0, -4.0]), 10, generator=gen)
    before = predict_iou(init)
    refined, after = refine_boxes_by_iou(predict_iou, init, num_steps=5, step_length=1.0)
    assert (after >= before - 1e-6).all() and after.mean() > before.mean() + 0.05
    assert torch.allclose(after, predict_iou(refined))
    fused = fuse_top_k(refined, after, k=3)
    assert aligned_iou_xywh(fused, gt) > before[0]


def test_fuse_top_k_averages_the_best_and_drops_extreme_aspect_ratios():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [2.0, 2.0, 10.0, 10.0], [0.0, 0.0, 70.0, 10.0],
                          [4.0, 4.0, 10.0, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.99, 0.1])
    assert torch.allclose(fuse_top_k(boxes, scores, k=2), torch.tensor([1.0, 1.0, 10.0, 10.0]))
