"""Geometry of single-object-tracking crops: square regions around a target, and box mappings.

A SOT crop is the square of side ``sqrt(w * h) * factor`` (the *area* or *context* factor of
OSTrack/STARK: 2 for templates, 4 or 5 for search regions) centred on a point, resized to
``out_size`` x ``out_size``. Coordinates are continuous pixel coordinates: pixel ``i`` covers
``[i, i + 1)``, so boxes (x1, y1, x2, y2) map with a pure scale and shift:

    crop = (image - (centre - side / 2)) * out_size / side

The same geometry is used by the training pipeline (numpy/OpenCV, on uint8 images) and by the
models at test time (torch, on normalised frames), so a tracker sees the same kind of crop in
training and in tracking. Both paths sample bilinearly at the same points; areas outside the image
take a constant pad value (the pipeline pads with the ImageNet mean, which is 0 after
normalisation, i.e. what the torch path pads with).
"""
import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

ArrayLike = Union[np.ndarray, Tensor, Sequence[float]]


def crop_region(box: ArrayLike, factor: float) -> Tuple[float, float, float]:
    """The square crop region of a box: ``(cx, cy, side)`` with ``side = sqrt(w h) * factor``.

    Args:
        box: (x1, y1, x2, y2) in pixels.
        factor: area (context) factor.

    Raises:
        ValueError: when the box is empty or not finite.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    if not (math.isfinite(w) and math.isfinite(h)) or w <= 0 or h <= 0:
        raise ValueError(f'cannot crop around an empty or invalid box {[x1, y1, x2, y2]}')
    return (x1 + x2) / 2, (y1 + y2) / 2, math.sqrt(w * h) * factor


def box_to_crop(box: ArrayLike, center: Tuple[float, float], side: float,
                out_size: int) -> np.ndarray:
    """Map boxes from image pixels into the pixels of a crop.

    Args:
        box: array of shape (..., 4), (x1, y1, x2, y2) in image pixels.
        center: (cx, cy) of the crop in image pixels.
        side: side of the crop in image pixels.
        out_size: side of the resized crop.

    Returns:
        np.ndarray of shape (..., 4) in crop pixels.
    """
    box = np.asarray(box, dtype=np.float64)
    offset = np.array([center[0], center[1]] * 2) - side / 2
    return ((box - offset) * (out_size / side)).astype(np.float32)


def box_from_crop(box: Tensor, center: Tuple[float, float], side: float,
                  out_size: int) -> Tensor:
    """Inverse of :func:`box_to_crop` for tensors: crop pixels to image pixels.

    Args:
        box: Tensor of shape (..., 4), (x1, y1, x2, y2) in crop pixels.
    """
    offset = box.new_tensor([center[0], center[1]] * 2) - side / 2
    return box * (side / out_size) + offset


def jitter_box(box: ArrayLike, center_jitter: float, scale_jitter: float,
               rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Randomly move and rescale a box, as done to the crop region when sampling training crops.

    The size is multiplied by ``exp(N(0, scale_jitter))`` per side; the centre moves uniformly by
    up to ``+-center_jitter * sqrt(w' h') / 2`` per axis, where ``w', h'`` is the jittered size
    (the jitter of OSTrack/STARK training; 0/0 returns the box unchanged).

    Args:
        box: (x1, y1, x2, y2).
        center_jitter: centre jitter factor.
        scale_jitter: standard deviation of the log-scale jitter.

    Returns:
        np.ndarray of shape (4,), the jittered box (x1, y1, x2, y2).
    """
    rng = np.random.default_rng() if rng is None else rng
    x1, y1, x2, y2 = (float(v) for v in box)
    size = np.array([x2 - x1, y2 - y1]) * np.exp(rng.normal(size=2) * scale_jitter)
    max_offset = math.sqrt(size[0] * size[1]) * center_jitter
    center = np.array([x1 + x2, y1 + y2]) / 2 + max_offset * (rng.random(2) - 0.5)
    return np.concatenate([center - size / 2, center + size / 2])


def crop_image(img: np.ndarray, center: Tuple[float, float], side: float, out_size: int,
               pad_value: Union[float, Sequence[float]] = 0) -> np.ndarray:
    """Crop and resize a square region of an image (numpy/OpenCV; training pipeline).

    Args:
        img: array of shape (H, W, C), any dtype OpenCV warps (uint8, float32).
        center: (cx, cy) in pixels; side: side of the region in pixels.
        out_size: side of the output.
        pad_value: value of the pixels outside the image (per channel or scalar).

    Returns:
        np.ndarray of shape (out_size, out_size, C), same dtype as ``img``.
    """
    s = out_size / side
    x0, y0 = center[0] - side / 2, center[1] - side / 2
    # continuous coords u = index + 0.5: out_index = s * index + (0.5 - x0) * s - 0.5
    mat = np.array([[s, 0, (0.5 - x0) * s - 0.5], [0, s, (0.5 - y0) * s - 0.5]],
                   dtype=np.float64)
    if np.ndim(pad_value) == 0:
        pad = (float(pad_value), ) * 4
    else:
        pad = tuple(float(v) for v in pad_value) + (0., ) * (4 - len(pad_value))
    out = cv2.warpAffine(img, mat, (out_size, out_size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=pad)
    return out.reshape(out_size, out_size, -1)


def crop_tensor(img: Tensor, center: Tuple[float, float], side: float, out_size: int,
                pad_value: float = 0.) -> Tensor:
    """Crop and resize a square region of an image tensor (torch; models at test time).

    Samples bilinearly at the same points as :func:`crop_image`.

    Args:
        img: Tensor of shape (C, H, W).
        center: (cx, cy) in pixels; side: side of the region in pixels.
        out_size: side of the output.
        pad_value: value of the pixels outside the image.

    Returns:
        Tensor of shape (C, out_size, out_size).
    """
    _, h, w = img.shape
    step = side / out_size
    pos = (torch.arange(out_size, dtype=torch.float32, device=img.device) + 0.5) * step
    xs = (pos + center[0] - side / 2) * (2 / w) - 1
    ys = (pos + center[1] - side / 2) * (2 / h) - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing='xy'), dim=-1)[None]
    src = img[None].float() - pad_value
    out = F.grid_sample(src, grid.to(src.dtype), mode='bilinear', padding_mode='zeros',
                        align_corners=False)
    return out[0] + pad_value


def clip_box(box: Tensor, height: int, width: int, min_size: float = 1.) -> Tensor:
    """Clip a box (x1, y1, x2, y2) to the image, keeping at least ``min_size`` pixels per side.

    Args:
        box: Tensor of shape (4,).

    Returns:
        Tensor of shape (4,).
    """
    x1 = box[0].clamp(0, width - min_size)
    y1 = box[1].clamp(0, height - min_size)
    x2 = torch.maximum(box[2].clamp(max=width), x1 + min_size)
    y2 = torch.maximum(box[3].clamp(max=height), y1 + min_size)
    return torch.stack([x1, y1, x2, y2])
