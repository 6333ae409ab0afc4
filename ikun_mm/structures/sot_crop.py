"""Geometry of single-object-tracking crops: square regions around a target, and box mappings.

A SOT crop is the square of side ``sqrt(w * h) * factor`` (the *area* or *context* factor of
OSTrack/STARK: 2 for templates, 4 or 5 for search regions) centred on a point, resized to
``out_size`` x ``out_size``. Coordinates are continuous pixel coordinates: pixel ``i`` covers
``[i, i + 1)``, so boxes (x1, y1, x2, y2) map with a pure scale and shift:

    crop = (image - (centre - side / 2)) * out_size / side

This continuous geometry is used by the training pipeline in its ``'continuous'`` crop mode
(numpy/OpenCV, on uint8 images) and by the models' :meth:`crop` at test time (torch, on
normalised frames), so a tracker sees the same kind of crop in training and in tracking. Both
paths sample bilinearly at the same points; areas outside the image take a constant pad value
(the pipeline pads with the ImageNet mean, which is 0 after normalisation, i.e. what the torch
path pads with).

OSTrack and STARK train and track with the official integer crops instead
(:func:`sample_target_region`; :func:`sample_target_tensor` at test time, the pipeline's default
``'ostrack'`` crop mode in training: ``ceil`` / ``round`` region, black padding with a padding
mask, OpenCV-style bilinear resize) and clip their output with a margin (:func:`clip_box_margin`).
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


# --------------------------------------------------------------------------- official test crops
# OSTrack and STARK crop at test time with ``sample_target`` of their
# ``lib/train/data/processing_utils.py``: an integer square region, constant black padding outside
# the frame (with a padding mask), resized with OpenCV's bilinear ``cv2.resize``. The functions
# below compute the same crop on a (normalised) frame tensor.


def sample_target_region(box: ArrayLike, factor: float) -> Tuple[int, int, int]:
    """The integer crop region of OSTrack's / STARK's ``sample_target``.

    ``crop_sz = ceil(sqrt(w h) * factor)``, ``x1 = round(cx - crop_sz / 2)`` and
    ``y1 = round(cy - crop_sz / 2)`` with Python's ``round`` (halves to even).

    Args:
        box: (x1, y1, x2, y2) in frame pixels.
        factor: area (context) factor.

    Returns:
        ``(x1, y1, crop_sz)``, integers; the region is ``[x1, x1 + crop_sz)`` x
        ``[y1, y1 + crop_sz)``.

    Raises:
        ValueError: on an empty / invalid box or a crop smaller than one pixel.
    """
    bx1, by1, bx2, by2 = (float(v) for v in box)
    w, h = bx2 - bx1, by2 - by1
    if not (math.isfinite(w) and math.isfinite(h)) or w <= 0 or h <= 0:
        raise ValueError(f'cannot crop around an empty or invalid box {[bx1, by1, bx2, by2]}')
    crop_sz = math.ceil(math.sqrt(w * h) * factor)
    if crop_sz < 1:
        raise ValueError(f'box {[bx1, by1, bx2, by2]} is too small for a crop (factor {factor})')
    x1 = round(bx1 + 0.5 * w - crop_sz * 0.5)
    y1 = round(by1 + 0.5 * h - crop_sz * 0.5)
    return x1, y1, crop_sz


def _bilinear_taps(out_size: int, crop_sz: int, device) -> Tuple[Tensor, Tensor, Tensor]:
    """Source taps of OpenCV's / PyTorch's bilinear resize (half-pixel centres, edges clamped)
    from ``crop_sz`` to ``out_size`` samples: indices ``i0``, ``i1`` (Long, (out_size,)) into the
    crop and the weight ``a`` of ``i1`` (float, (out_size,))."""
    scale = crop_sz / out_size
    src = ((torch.arange(out_size, dtype=torch.float64, device=device) + 0.5) * scale - 0.5)
    src = src.clamp(min=0)
    i0 = src.floor().long().clamp(max=crop_sz - 1)
    i1 = (i0 + 1).clamp(max=crop_sz - 1)
    a = (src - i0.double()).clamp(0, 1)
    a = torch.where(i1 == i0, torch.zeros_like(a), a)
    return i0, i1, a


def sample_target_tensor(img: Tensor, box: ArrayLike, factor: float, out_size: int,
                         pad_value: Union[float, Sequence[float], Tensor] = 0.
                         ) -> Tuple[Tensor, Tensor, Tuple[float, float, int]]:
    """OSTrack's / STARK's test-time crop (``sample_target``) of a frame tensor.

    The square region of :func:`sample_target_region` is cut out of the frame; parts outside the
    frame take ``pad_value`` (the official code pads with black, i.e. raw pixel 0; on normalised
    frames pass ``-mean / std``). As in the official code, the right and bottom pads are one pixel
    wider than the overhang (``x2_pad = max(x2 - W + 1, 0)``): a region that ends exactly at the
    frame border loses the last column / row to padding. The region is then resized to
    ``out_size`` with bilinear interpolation at half-pixel centres (``cv2.resize``'s
    ``INTER_LINEAR``, also ``F.interpolate(mode='bilinear', align_corners=False)``), computed
    here without materialising the full-size region.

    The padding mask is True on output pixels whose bilinear taps touch a padded pixel (the
    official ``att_mask`` resized with ``cv2.resize`` and cast to bool).

    Deliberate difference: the official code crops the uint8 image, so its resized crop is rounded
    to integers before normalisation; here the frame is already float, nothing is rounded.

    Args:
        img: Tensor of shape (C, H, W).
        box: (x1, y1, x2, y2) in frame pixels, the box to crop around.
        factor: area factor; out_size: side of the output.
        pad_value: scalar or per-channel value of the padding.

    Returns:
        the crop, Tensor of shape (C, out_size, out_size); the padding mask, bool Tensor of shape
        (out_size, out_size); and the region ``(cx, cy, crop_sz)`` in which OSTrack/STARK map a
        predicted box back (:func:`box_from_crop` with ``center=(cx, cy)``, ``side=crop_sz``):
        the centre of ``box`` (not of the rounded region) and the integer side.
    """
    c, h, w = img.shape
    x1, y1, crop_sz = sample_target_region(box, factor)
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad = max(x1 + crop_sz - w + 1, 0)
    y2_pad = max(y1 + crop_sz - h + 1, 0)
    # crop index j is valid (inside the frame, not padded) for x1_pad <= j < crop_sz - x2_pad
    iy0, iy1, ay = _bilinear_taps(out_size, crop_sz, img.device)
    ix0, ix1, ax = _bilinear_taps(out_size, crop_sz, img.device)

    def valid(idx: Tensor, lo: int, hi: int) -> Tensor:
        return (idx >= lo) & (idx < hi)

    vy0, vy1 = valid(iy0, y1_pad, crop_sz - y2_pad), valid(iy1, y1_pad, crop_sz - y2_pad)
    vx0, vx1 = valid(ix0, x1_pad, crop_sz - x2_pad), valid(ix1, x1_pad, crop_sz - x2_pad)
    rows = torch.stack([iy0, iy1]) + y1  # (2, out) frame rows
    cols = torch.stack([ix0, ix1]) + x1
    vrows = torch.stack([vy0, vy1])
    vcols = torch.stack([vx0, vx1])
    src = img.float()
    pad = torch.as_tensor(pad_value, dtype=src.dtype, device=src.device).reshape(-1, 1, 1)
    pad = pad.expand(c, 1, 1)
    # gather the 2 x 2 taps of every output pixel: (C, 2, out, 2, out)
    g = src[:, rows.clamp(0, h - 1)][..., cols.clamp(0, w - 1)]
    ok = vrows[:, :, None, None] & vcols[None, None]  # (2, out, 2, out)
    g = torch.where(ok[None], g, pad[:, :, :, None, None])
    wy = torch.stack([1 - ay, ay]).to(src.dtype)  # (2, out)
    wx = torch.stack([1 - ax, ax]).to(src.dtype)
    crop = (g * wy[None, :, :, None, None] * wx[None, None, None]).sum((1, 3))
    bad_rows = ((~vy0) & (ay < 1)) | ((~vy1) & (ay > 0))
    bad_cols = ((~vx0) & (ax < 1)) | ((~vx1) & (ax > 0))
    mask = bad_rows[:, None] | bad_cols[None, :]
    cx = (float(box[0]) + float(box[2])) / 2
    cy = (float(box[1]) + float(box[3])) / 2
    return crop, mask, (cx, cy, crop_sz)


def clip_box_margin(box: Tensor, height: int, width: int, margin: float = 10.) -> Tensor:
    """OSTrack's / STARK's test-time ``clip_box(..., margin=10)`` on a box (x1, y1, x2, y2).

    ``x1`` is clipped to ``[0, W - margin]``, ``x2`` to ``[margin, W]``, and the width is at
    least ``margin`` (the same for y): the box keeps at least ``margin`` pixels per side and at
    least ``margin`` pixels inside the frame.

    Args:
        box: Tensor of shape (4,).

    Returns:
        Tensor of shape (4,).
    """
    x1 = box[0].clamp(0, width - margin)
    x2 = box[2].clamp(margin, width)
    y1 = box[1].clamp(0, height - margin)
    y2 = box[3].clamp(margin, height)
    w = torch.clamp(x2 - x1, min=margin)
    h = torch.clamp(y2 - y1, min=margin)
    return torch.stack([x1, y1, x1 + w, y1 + h])


def sample_target_image(img: np.ndarray, box: ArrayLike, factor: float, out_size: int,
                        pad_value: Union[float, Sequence[float]] = 0
                        ) -> Tuple[np.ndarray, np.ndarray, Tuple[float, float, int]]:
    """OSTrack's / STARK's ``sample_target`` on an image array (numpy / OpenCV), e.g. for
    training crops made as in the official code: the region of :func:`sample_target_region`,
    constant padding (black by default; right / bottom pads one pixel wider than the overhang, as
    there), ``cv2.resize`` to ``out_size``; the padding mask resized the same way, True where
    it is not 0.

    Args:
        img: array of shape (H, W, C).
        box: (x1, y1, x2, y2) in pixels; factor: area factor; out_size: output side.

    Returns:
        the crop (out_size, out_size, C) of ``img``'s dtype, the bool mask (out_size, out_size),
        and ``(cx, cy, crop_sz)`` (centre of ``box``, integer region side).
    """
    h, w = img.shape[:2]
    x1, y1, crop_sz = sample_target_region(box, factor)
    x2, y2 = x1 + crop_sz, y1 + crop_sz
    left, top = max(0, -x1), max(0, -y1)
    right, bottom = max(x2 - w + 1, 0), max(y2 - h + 1, 0)
    channels = img.shape[2] if img.ndim == 3 else 1
    pad = (np.broadcast_to(np.asarray(pad_value, dtype=np.float64), (channels, ))
           if np.ndim(pad_value) else np.full(channels, float(pad_value)))
    canvas = np.empty((crop_sz, crop_sz, channels), dtype=img.dtype)
    canvas[...] = pad.astype(img.dtype)
    mask = np.ones((crop_sz, crop_sz))
    ys, ye, xs, xe = y1 + top, y2 - bottom, x1 + left, x2 - right
    if ye > ys and xe > xs:
        canvas[top:top + ye - ys, left:left + xe - xs] = img[ys:ye, xs:xe].reshape(
            ye - ys, xe - xs, channels)
        mask[top:top + ye - ys, left:left + xe - xs] = 0
    crop = cv2.resize(canvas, (out_size, out_size)).reshape(out_size, out_size, channels)
    mask = cv2.resize(mask, (out_size, out_size)).astype(bool)
    cx = (float(box[0]) + float(box[2])) / 2
    cy = (float(box[1]) + float(box[3])) / 2
    return crop, mask, (cx, cy, crop_sz)


def box_to_crop_official(box: ArrayLike, extract_box: ArrayLike, crop_sz: float,
                         out_size: int) -> np.ndarray:
    """Map a box into an official training crop (``transform_image_to_crop`` of
    ``processing_utils.py``): the crop was cut around ``extract_box`` with integer side
    ``crop_sz`` and resized to ``out_size``; with ``f = out_size / crop_sz`` the box centre goes to
    ``(out_size - 1) / 2 + (centre - extract_centre) * f`` and its size is scaled by ``f``.

    Args:
        box, extract_box: (x1, y1, x2, y2) in image pixels.

    Returns:
        np.ndarray of shape (4,), (x1, y1, x2, y2) in crop pixels.
    """
    box = np.asarray(box, dtype=np.float64)
    ext = np.asarray(extract_box, dtype=np.float64)
    f = out_size / crop_sz
    centre = (out_size - 1) / 2 + ((box[:2] + box[2:]) / 2 - (ext[:2] + ext[2:]) / 2) * f
    half = (box[2:] - box[:2]) * f / 2
    return np.concatenate([centre - half, centre + half]).astype(np.float32)
