"""FairMOT's training targets and decoding, as small pure functions.

Everything here works on plain tensors of one image (targets) or one batch (gathering, decoding)
so tests can pin it with closed-form numbers; :class:`~ikun_mm.models.mot.FairMOTHead` is a thin
user of these functions.

Conventions (as in FairMOT / CenterNet): the output map has stride ``s`` (4); an object with box
``(x1, y1, x2, y2)`` in input pixels has the float centre ``c = ((x1 + x2) / 2s, (y1 + y2) / 2s)``
on the map (clipped to the map), the integer centre ``ci = floor(c)`` is its one positive location,
the offset target is ``c - ci`` and the box target is the distances from ``c`` to the four sides
of the unclipped box (left, top, right, bottom), in map cells (FairMOT's ``ltrb=True``).

The Gaussian radius follows the CenterNet code that FairMOT uses (``formula='centernet'``, see
:func:`heatmap_radius`); ``formula='corrected'`` uses mmdet's
:func:`~mmdet.models.utils.gaussian_radius` (the corrected CornerNet solution of mmdet's
``CenterNetHead``), which gives smaller radii for the same ``min_overlap`` (radius 0, a single
peak, for most objects of a few cells). The Gaussian itself is drawn by mmdet's
:func:`~mmdet.models.utils.gen_gaussian_target` (sigma = diameter / 6).
"""
import math
from dataclasses import dataclass
from typing import Tuple

import torch
from mmdet.models.utils import (gaussian_radius, gen_gaussian_target, get_local_maximum,
                                get_topk_from_heatmap)
from torch import Tensor


@dataclass
class CentreTargets:
    """Targets of one image.

    Attributes:
        heatmap: Tensor of shape (num_classes, H, W), the max over objects of their Gaussians.
        centres: long Tensor of shape (M, 2), integer centre ``(x, y)`` of each kept object.
        offsets: Tensor of shape (M, 2), sub-cell offset of the float centre.
        ltrb: Tensor of shape (M, 4), distances from the float centre to the box sides (cells).
        ids: long Tensor of shape (M, ), identity of each object (-1: no identity, ignored by
            the identity loss).
        labels: long Tensor of shape (M, ), class index of each object.
    """
    heatmap: Tensor
    centres: Tensor
    offsets: Tensor
    ltrb: Tensor
    ids: Tensor
    labels: Tensor


def heatmap_radius(height: float, width: float, min_overlap: float = 0.7,
                   formula: str = 'centernet') -> int:
    """Gaussian radius (in cells) of an object of ``height`` x ``width`` cells, floored, >= 0.

    ``'centernet'``: the radius of the CenterNet/FairMOT code, the smallest of the three
    CornerNet cases with each root computed as ``(b + sqrt(b^2 - 4ac)) / 2``. ``'corrected'``:
    mmdet's :func:`~mmdet.models.utils.gaussian_radius` (roots divided by ``2a``).
    """
    h, w, m = math.ceil(height), math.ceil(width), min_overlap
    if formula == 'corrected':
        return max(0, int(gaussian_radius((h, w), m)))
    if formula != 'centernet':
        raise ValueError(f"formula must be 'centernet' or 'corrected', got {formula!r}")
    cases = ((1.0, h + w, w * h * (1 - m) / (1 + m)), (4.0, 2 * (h + w), (1 - m) * w * h),
             (4 * m, -2 * m * (h + w), (m - 1) * w * h))
    radius = min((b + math.sqrt(b * b - 4 * a * c)) / 2 for a, b, c in cases)
    return max(0, int(radius))


def build_centre_targets(bboxes: Tensor,
                         labels: Tensor,
                         ids: Tensor,
                         feat_shape: Tuple[int, int],
                         num_classes: int,
                         stride: int = 4,
                         min_overlap: float = 0.7,
                         radius_formula: str = 'centernet',
                         max_objs: int = 500) -> CentreTargets:
    """CenterNet/FairMOT targets of one image, as FairMOT's ``JointDataset.__getitem__``.

    Per box (map cells, ``b = box / stride``), as the official code computes it:

    * only the float centre is clipped to the map, ``c = (clip((x1 + x2) / 2, 0, W - 1),
      clip((y1 + y2) / 2, 0, H - 1))``; the box itself, its width and its height are not;
    * boxes with ``w <= 0`` or ``h <= 0`` (unclipped) are skipped;
    * the Gaussian radius is :func:`heatmap_radius` of ``(ceil(h), ceil(w))`` (unclipped);
    * the positive cell is ``ci = int(c)`` (truncation, = floor since ``c >= 0``), the offset
      target ``c - ci`` and the box target ``(c_x - x1, c_y - y1, x2 - c_x, y2 - c_y)`` (the
      clipped centre to the unclipped sides, so a box cut by the border keeps its full extent);
    * only the first ``max_objs`` boxes are considered (``opt.K`` = 500).

    Boxes lying entirely outside the map (``x1 >= W``, ``x2 <= 0``, ``y1 >= H`` or ``y2 <= 0``) are
    dropped, as FairMOT's ``random_affine`` drops them before the targets are built (in our
    pipelines the crop / dataset filters already do it; here it keeps an invisible object from
    getting a border peak). When two objects share an integer centre both are kept (their
    regression/identity terms both count), as in FairMOT.

    Args:
        bboxes: Tensor of shape (N, 4), ``x1, y1, x2, y2`` in input pixels, not clipped.
        labels: Tensor of shape (N, ), class indices in ``[0, num_classes)``.
        ids: Tensor of shape (N, ), identities (``-1`` for none).
        feat_shape: ``(H, W)`` of the output map.
        num_classes: channels of the heatmap.
        stride: input pixels per map cell.
        min_overlap: IoU the Gaussian radius guarantees (see :func:`heatmap_radius`).
        radius_formula: ``'centernet'`` or ``'corrected'`` (see :func:`heatmap_radius`).
        max_objs: boxes beyond the first ``max_objs`` are ignored.

    Returns:
        :class:`CentreTargets` on the device of ``bboxes``.
    """
    height, width = feat_shape
    device = bboxes.device
    heatmap = bboxes.new_zeros((num_classes, height, width), dtype=torch.float32)
    boxes = bboxes.float().reshape(-1, 4)[:max_objs] / stride
    labels = labels.reshape(-1)[:max_objs]
    ids = ids.reshape(-1)[:max_objs]
    box_w = boxes[:, 2] - boxes[:, 0]
    box_h = boxes[:, 3] - boxes[:, 1]
    keep = ((box_w > 0) & (box_h > 0) & (boxes[:, 0] < width) & (boxes[:, 2] > 0) &
            (boxes[:, 1] < height) & (boxes[:, 3] > 0))
    boxes, box_w, box_h = boxes[keep], box_w[keep], box_h[keep]
    labels = labels[keep].long()
    ids = ids[keep].long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'box labels must be in [0, {num_classes}), got {labels.tolist()}')
    centres_f = torch.stack([((boxes[:, 0] + boxes[:, 2]) / 2).clamp(0, width - 1),
                             ((boxes[:, 1] + boxes[:, 3]) / 2).clamp(0, height - 1)], 1)
    centres = centres_f.floor().long()
    for k in range(len(boxes)):
        radius = heatmap_radius(float(box_h[k]), float(box_w[k]), min_overlap,
                                radius_formula)
        gen_gaussian_target(heatmap[labels[k]], [int(centres[k, 0]), int(centres[k, 1])], radius)
    ltrb = torch.stack([centres_f[:, 0] - boxes[:, 0], centres_f[:, 1] - boxes[:, 1],
                        boxes[:, 2] - centres_f[:, 0], boxes[:, 3] - centres_f[:, 1]], 1)
    return CentreTargets(heatmap=heatmap, centres=centres.to(device),
                         offsets=centres_f - centres.float(), ltrb=ltrb, ids=ids, labels=labels)


def gather_at_centres(feat: Tensor, batch_inds: Tensor, centres: Tensor) -> Tensor:
    """Feature vectors at integer map locations.

    Args:
        feat: Tensor of shape (B, C, H, W).
        batch_inds: long Tensor of shape (M, ), image of each location.
        centres: long Tensor of shape (M, 2), ``(x, y)`` of each location.

    Returns:
        Tensor of shape (M, C): ``feat[batch_inds[m], :, centres[m, 1], centres[m, 0]]``.
    """
    return feat[batch_inds, :, centres[:, 1], centres[:, 0]]


def decode_centres(heatmap: Tensor, ltrb: Tensor, offset: Tensor, topk: int = 500,
                   stride: int = 4, kernel: int = 3) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Top-k detections of a batch of maps (3x3 max-pool NMS, then top-k over all classes).

    Args:
        heatmap: Tensor of shape (B, num_classes, H, W), after the sigmoid.
        ltrb: Tensor of shape (B, 4, H, W), distances to the box sides (cells).
        offset: Tensor of shape (B, 2, H, W), sub-cell centre offsets.
        topk: number of detections kept per image (capped at the map size).
        stride: input pixels per map cell.
        kernel: max-pool kernel of the peak extraction.

    Returns:
        tuple: ``bboxes`` (B, K, 4) ``x1, y1, x2, y2`` in input pixels, ``scores`` (B, K),
        ``labels`` (B, K), ``inds`` (B, K) flat map indices ``y * W + x`` (to gather the
        embeddings at the same locations).
    """
    batch, _, height, width = heatmap.shape
    topk = min(topk, heatmap[0].numel())
    peaks = get_local_maximum(heatmap, kernel=kernel)
    scores, inds, labels, ys, xs = get_topk_from_heatmap(peaks, k=topk)
    flat_ltrb = ltrb.flatten(2).gather(2, inds.unsqueeze(1).expand(-1, 4, -1))  # (B, 4, K)
    flat_off = offset.flatten(2).gather(2, inds.unsqueeze(1).expand(-1, 2, -1))  # (B, 2, K)
    cx = xs + flat_off[:, 0]
    cy = ys + flat_off[:, 1]
    bboxes = torch.stack([cx - flat_ltrb[:, 0], cy - flat_ltrb[:, 1], cx + flat_ltrb[:, 2],
                          cy + flat_ltrb[:, 3]], dim=-1) * stride
    return bboxes, scores, labels, inds
