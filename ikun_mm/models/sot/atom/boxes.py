"""Box maths of ATOM's target estimation: proposal sampling for training the IoU predictor and
box refinement by gradient ascent on the predicted IoU during tracking.

All boxes are ``(x, y, w, h)`` (top-left corner, width, height), as in ATOM, because the
refinement step scales the gradient by the box size. Pure functions: no registry, no state.
"""
from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import Tensor


def aligned_iou_xywh(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of corresponding boxes (broadcasting), differentiable.

    Args:
        boxes1 (Tensor): shape (..., 4), ``(x, y, w, h)``.
        boxes2 (Tensor): shape (..., 4), broadcastable to ``boxes1``.

    Returns:
        Tensor: shape (...), IoU in [0, 1] (0 when both boxes are empty).
    """
    tl = torch.maximum(boxes1[..., :2], boxes2[..., :2])
    br = torch.minimum(boxes1[..., :2] + boxes1[..., 2:], boxes2[..., :2] + boxes2[..., 2:])
    inter = (br - tl).clamp(min=0).prod(-1)
    union = boxes1[..., 2:].clamp(min=0).prod(-1) + boxes2[..., 2:].clamp(min=0).prod(-1) - inter
    return inter / union.clamp(min=1e-12)


def sample_proposals(boxes: Tensor, num_proposals: int,
                     sigma_factors: Sequence[float] = (0.01, 0.05, 0.1, 0.2, 0.3),
                     min_iou: float = 0.1, max_trials: int = 100, round_boxes: bool = True,
                     generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """Jitter ground-truth boxes into training proposals for the IoU predictor.

    pytracking's ``ATOMProcessing._generate_proposals`` with ``perturb_box``
    (``ltr/data/processing_utils.py``), one proposal at a time, vectorised: a noise level ``s``
    is drawn uniformly from ``sigma_factors`` per proposal; centre ``(cx, cy)`` and size
    ``(w, h)`` get Gaussian noise of standard deviation ``s * sqrt(w * h)``; a width or height
    ``<= 1`` is replaced by the ground truth's times ``U(0.15, 0.5)``; the box ``(x, y, w, h)`` is
    rounded to whole pixels and the size rule applied again. A proposal is kept once its IoU
    with the ground truth exceeds ``min_iou``; otherwise the noise shrinks by 0.9 and it is
    drawn again, at most ``max_trials`` times (100), after which the last draw is kept whatever
    its IoU. The regression target is made from the returned IoU as ``2 * IoU - 1``
    (:meth:`ATOM.loss`, pytracking's "map to [-1, 1]").

    Args:
        boxes (Tensor): shape (B, 4), ground truth ``(x, y, w, h)``.
        num_proposals (int): proposals per box (``boxes_per_frame``, 16 in ATOM).
        sigma_factors (Sequence[float]): relative noise levels (ATOM's list).
        min_iou (float): a proposal must have an IoU above this (0.1 in ATOM).
        max_trials (int): draws per proposal.
        round_boxes (bool): round to whole pixels, as pytracking does.
        generator (torch.Generator, optional): for reproducibility.

    Returns:
        tuple: proposals (B, num_proposals, 4) ``(x, y, w, h)`` and their IoU with the ground
        truth (B, num_proposals).
    """
    boxes = boxes.detach()
    num_boxes = boxes.shape[0]
    shape = (num_boxes, num_proposals)
    sigmas = torch.tensor(sigma_factors, dtype=boxes.dtype)
    pick = torch.randint(len(sigma_factors), shape, generator=generator)
    gt = boxes[:, None].expand(-1, num_proposals, -1)
    size = gt[..., 2:]
    center = gt[..., :2] + size / 2
    factor = sigmas[pick].to(boxes.device)[..., None] * size.prod(-1, keepdim=True).sqrt()
    proposals = gt.clone()
    ious = torch.zeros(shape, dtype=boxes.dtype, device=boxes.device)
    todo = torch.ones(shape, dtype=torch.bool, device=boxes.device)

    def small_to_fraction(wh: Tensor) -> Tensor:
        fraction = 0.15 + 0.35 * torch.rand(wh.shape, generator=generator).to(wh)
        return torch.where(wh <= 1, size * fraction, wh)

    for _ in range(max_trials):
        noise = torch.randn(*shape, 4, generator=generator).to(boxes) * factor.repeat(1, 1, 4)
        new_size = small_to_fraction(size + noise[..., 2:])
        new = torch.cat([center + noise[..., :2] - new_size / 2, new_size], dim=-1)
        if round_boxes:
            new = new.round()
        new = torch.cat([new[..., :2], small_to_fraction(new[..., 2:])], dim=-1)
        iou = aligned_iou_xywh(new, gt)
        proposals = torch.where(todo[..., None], new, proposals)
        ious = torch.where(todo, iou, ious)
        todo = todo & ~(iou > min_iou)
        if not todo.any():
            break
        factor = factor * 0.9
    return proposals, ious


def jitter_boxes(box: Tensor, num_boxes: int, position_jitter: float = 0.1,
                 size_jitter: float = 0.5,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """The initial boxes of ATOM's refinement: ``box`` itself plus ``num_boxes - 1`` random ones.

    Centre and size are shifted uniformly by ``(-0.5, 0.5) * jitter * sqrt(w * h)``; sizes are
    kept at least a third of the box's shorter side.

    Args:
        box (Tensor): shape (4,), ``(x, y, w, h)``.
        num_boxes (int): total number of boxes (10 in ATOM).

    Returns:
        Tensor: shape (num_boxes, 4), the first row is ``box``.
    """
    side = box[2:].prod().sqrt()
    factor = side * box.new_tensor([position_jitter] * 2 + [size_jitter] * 2)
    rand = (torch.rand(num_boxes - 1, 4, generator=generator).to(box) - 0.5) * factor
    size = (box[2:] + rand[:, 2:]).clamp(min=float(box[2:].min()) / 3)
    center = box[:2] + box[2:] / 2 + rand[:, :2]
    return torch.cat([box[None], torch.cat([center - size / 2, size], dim=1)])


def refine_boxes_by_iou(predict_iou: Callable[[Tensor], Tensor], boxes: Tensor,
                        num_steps: int = 5, step_length: float = 1.0,
                        step_decay: float = 1.0) -> Tuple[Tensor, Tensor]:
    """Gradient ascent of each box on the predicted IoU.

    Every step moves ``b <- b + step * dIoU/db * (w, h, w, h)``: scaling by the box size makes the
    step size-invariant (ATOM's update). The predicted IoU of a box does not depend on the other
    boxes, so one backward of the sum gives every box's gradient.

    Args:
        predict_iou: maps boxes (K, 4) ``(x, y, w, h)`` to predicted IoU (K,), differentiably.
        boxes (Tensor): shape (K, 4), initial boxes.
        num_steps (int): ascent steps (5 in ATOM).
        step_length (float): initial step (1 in ATOM).
        step_decay (float): multiplicative step decay per step (1 in ATOM).

    Returns:
        tuple: refined boxes (K, 4) and their predicted IoU (K,), both detached.
    """
    boxes = boxes.detach()
    step = step_length
    for _ in range(num_steps):
        with torch.enable_grad():
            current = boxes.clone().requires_grad_(True)
            iou = predict_iou(current)
            grad, = torch.autograd.grad(iou.sum(), current)
        boxes = boxes + step * grad * boxes[:, 2:].repeat(1, 2)
        step *= step_decay
    with torch.no_grad():
        iou = predict_iou(boxes)
    return boxes.detach(), iou.detach()


def fuse_top_k(boxes: Tensor, scores: Tensor, k: int = 3,
               max_aspect_ratio: float = 6.0) -> Tensor:
    """ATOM's final box: the mean of the ``k`` best-scoring boxes whose aspect ratio is within
    ``max_aspect_ratio`` (all boxes if none is).

    Args:
        boxes (Tensor): shape (K, 4), ``(x, y, w, h)``.
        scores (Tensor): shape (K,), predicted IoU.

    Returns:
        Tensor: shape (4,).
    """
    aspect = boxes[:, 2] / boxes[:, 3].clamp(min=1e-6)
    keep = (aspect < max_aspect_ratio) & (aspect > 1 / max_aspect_ratio) & (boxes[:, 2:] > 0).all(1)
    if keep.any():
        boxes, scores = boxes[keep], scores[keep]
    top = torch.topk(scores, min(k, scores.numel())).indices
    return boxes[top].mean(0)
