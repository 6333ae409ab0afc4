"""Box conversions and IoU, the one home of both in ikun_mm (numpy; tensors where noted).

Box conventions (arrays of shape (..., 4), float64):

* ``xyxy``: ``x1, y1, x2, y2``, corners in pixels (the convention of every row layout of
  :mod:`.rows` except the MOTChallenge ones);
* ``xywh``: ``x, y, w, h``, top-left corner and size (MOTChallenge files, Refer-KITTI labels);
* ``cxcyah``: ``cx, cy, a, h``, centre, aspect ratio ``w / h`` and height (the Kalman filter's
  measurement space; mmdet's name for it);
* normalised: coordinates divided by the image width (x) and height (y).

The ``xyxy``/``xywh`` conversions also take tensors (ATOM's box refinement differentiates through
them); on tensors in the ``cxcyah`` space call mmdet's functions directly.

mmdet's tensor functions (``mmdet.structures.bbox``) do the work where they compute what we need
(:func:`cxcyah_to_xyxy` is ``bbox_cxcyah_to_xyxy``); :func:`bbox_iou` restates ``bbox_overlaps``
in numpy with the same operations (bit-identical, pinned by the tests) for speed on the trackers'
small matrices; the other conversions are closed forms with no mmdet counterpart (mmdet has no
top-left ``xywh``).
"""
from typing import Sequence, Union

import numpy as np
import torch

#: A box array: numpy, or a tensor where a function says so.
BoxArray = Union[np.ndarray, torch.Tensor]

#: TrackEval's ``np.finfo('float').eps``, the tolerance of its box IoU.
TRACKEVAL_EPS = float(np.finfo('float').eps)


def _as_boxes(boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape[-1:] != (4, ):
        raise ValueError(f'boxes must have shape (..., 4), got {boxes.shape}')
    return boxes


def bbox_iou(boxes1: np.ndarray, boxes2: np.ndarray, aligned: bool = False,
             eps: float = 1e-6) -> np.ndarray:
    """IoU of xyxy boxes in float64 with the operations of mmdet's ``bbox_overlaps``
    (``mode='iou'``): the union is at least ``eps``; bit-identical to it (pinned by the tests).

    Written in numpy rather than calling ``bbox_overlaps`` through torch because the trackers
    call it on small per-frame matrices, where the tensor round trip costs about 4 times the
    computation.

    Args:
        boxes1: array (N, 4) xyxy.
        boxes2: array (M, 4) xyxy (M = N when ``aligned``).
        aligned: the IoU of ``boxes1[i]`` with ``boxes2[i]`` (N,) instead of every pair.
        eps: smallest union (mmdet's default 1e-6).

    Returns:
        float64 array (N, M), or (N,) when ``aligned``.
    """
    b1 = _as_boxes(boxes1).reshape(-1, 4)
    b2 = _as_boxes(boxes2).reshape(-1, 4)
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    if aligned:
        if len(b1) != len(b2):
            raise ValueError(f'bbox_iou(aligned=True) needs as many boxes on both sides, got '
                             f'{len(b1)} and {len(b2)}')
        lt, rb = np.maximum(b1[:, :2], b2[:, :2]), np.minimum(b1[:, 2:], b2[:, 2:])
        wh = np.clip(rb - lt, 0, None)
        inter = wh[..., 0] * wh[..., 1]
        union = area1 + area2 - inter
    else:
        lt = np.maximum(b1[:, None, :2], b2[None, :, :2])
        rb = np.minimum(b1[:, None, 2:], b2[None, :, 2:])
        wh = np.clip(rb - lt, 0, None)
        inter = wh[..., 0] * wh[..., 1]
        union = area1[:, None] + area2[None] - inter
    return inter / np.maximum(union, eps)


def trackeval_box_iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box ``a[i]`` with box ``b[i]``, both ``xywh`` (N, 4) -> (N,), with the operations
    of TrackEval's ``_BaseDataset._calculate_box_ious`` (``box_format='xywh'``), bit for bit:
    corners as ``x + w``, the intersection set to 0 where either area or the union is at most
    :data:`TRACKEVAL_EPS`, and a union of at most that set to 1."""
    ax1, ay1 = a[:, 0], a[:, 1]
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0], b[:, 1]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter = (np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0)
             * np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0))
    area_a = (ax2 - ax1) * (ay2 - ay1)
    area_b = (bx2 - bx1) * (by2 - by1)
    union = area_a + area_b - inter
    eps = TRACKEVAL_EPS
    inter = np.where((area_a <= eps) | (area_b <= eps) | (union <= eps), 0.0, inter)
    union = np.where(union <= eps, 1.0, union)
    return inter / union


def xyxy_to_xywh(boxes: BoxArray) -> BoxArray:
    """``x1, y1, x2, y2`` -> ``x1, y1, x2 - x1, y2 - y1``, shape (..., 4); a tensor stays a
    tensor (dtype, device and autograd kept), anything else becomes a float64 array."""
    if isinstance(boxes, torch.Tensor):
        return torch.cat([boxes[..., :2], boxes[..., 2:] - boxes[..., :2]], dim=-1)
    boxes = _as_boxes(boxes)
    out = boxes.copy()
    out[..., 2:] = boxes[..., 2:] - boxes[..., :2]
    return out


def xywh_to_xyxy(boxes: BoxArray) -> BoxArray:
    """``x, y, w, h`` -> ``x, y, x + w, y + h``, shape (..., 4); types as
    :func:`xyxy_to_xywh`."""
    if isinstance(boxes, torch.Tensor):
        return torch.cat([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], dim=-1)
    boxes = _as_boxes(boxes)
    out = boxes.copy()
    out[..., 2:] = boxes[..., :2] + boxes[..., 2:]
    return out


def xyxy_to_cxcyah(boxes: np.ndarray) -> np.ndarray:
    """``x1, y1, x2, y2`` -> ``cx, cy, w / h, h``, shape (..., 4).

    The centre is computed as ``x1 + w / 2`` (mmdet's ``bbox_xyxy_to_cxcyah`` computes
    ``(x1 + x2) / 2``: the same number up to the last bit), and a box of zero height gets the
    ratio ``w`` instead of ``inf`` (all-zero placeholder rows stay finite). Kept in this form
    because the Neural Kalman Filter's training windows (``TrackSequenceDataset``) are built
    with it; the trackers use mmdet's function on tensors.
    """
    boxes = _as_boxes(boxes)
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    ratio = w / np.where(h != 0, h, 1.)
    return np.stack([boxes[..., 0] + w / 2, boxes[..., 1] + h / 2, ratio, h], axis=-1)


def cxcyah_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``cx, cy, a, h`` -> ``x1, y1, x2, y2`` (mmdet's ``bbox_cxcyah_to_xyxy``), shape (..., 4)."""
    from mmdet.structures.bbox import bbox_cxcyah_to_xyxy
    boxes = _as_boxes(boxes)
    return bbox_cxcyah_to_xyxy(torch.from_numpy(boxes)).numpy()


def bbox_centers(boxes: np.ndarray) -> np.ndarray:
    """Centres ``((x1 + x2) / 2, (y1 + y2) / 2)`` (..., 2) of xyxy boxes (..., 4)."""
    return np.stack([(boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2],
                    -1)


def bbox_inside_fraction(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Fraction (N,) of the area of each xyxy box (N, 4) inside the image ``[0, W] x [0, H]``;
    0 for a box without area."""
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0,
                                                                   None)
    iw = np.clip(np.minimum(boxes[:, 2], width) - np.maximum(boxes[:, 0], 0), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], height) - np.maximum(boxes[:, 1], 0), 0, None)
    return np.where(area > 0, iw * ih / np.maximum(area, 1e-9), 0.)


def normalized_to_pixels(boxes: np.ndarray, img_size: Sequence[float]) -> np.ndarray:
    """Boxes normalised by the image size -> pixels: x coordinates times the width, y times the
    height (any of the conventions above but ``cxcyah``), shape (..., 4).

    Args:
        boxes: array (..., 4).
        img_size: ``(width, height)``.
    """
    width, height = img_size
    return _as_boxes(boxes) * np.array([width, height, width, height], np.float64)


def pixels_to_normalized(boxes: np.ndarray, img_size: Sequence[float]) -> np.ndarray:
    """Boxes in pixels -> normalised by the image size ``(width, height)``, shape (..., 4)."""
    width, height = img_size
    return _as_boxes(boxes) / np.array([width, height, width, height], np.float64)
