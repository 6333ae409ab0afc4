"""Precise RoI pooling (PrRoIPool, Jiang et al., ECCV 2018) in plain torch.

PrRoIPool averages the *bilinearly interpolated* feature map over each bin, i.e. it computes the
integral of a continuous function instead of sampling points. The result is a smooth,
differentiable function of the box coordinates, which is what lets ATOM refine boxes by gradient
ascent on the predicted IoU.

Why our own: ``mmcv.ops.PrRoIPool`` has no CPU kernel in mmcv 2.1.0 (on CPU tensors it raises
``prroi_pool_forward_impl: implementation for device cpu not found``), and ATOM's tests and CPU
configs need it on CPU. The integral has a closed form that
separates into x and y: with the bilinear interpolation written as
``f(x, y) = sum_ij F[i, j] k(y - i) k(x - j)`` (``k(t) = max(0, 1 - |t|)``, the triangle
kernel, feature pixel ``(i, j)`` located at integer coordinates, zero outside the map), the
integral over a bin ``[x1, x2] x [y1, y2]`` is ``sum_ij F[i, j] Ky_i Kx_j`` with
``Kx_j = T(x2 - j) - T(x1 - j)`` and ``T`` the antiderivative of ``k``. So one bin is
``Ky^T F Kx`` divided by the bin area: two small matrix products, exact, and autograd gives the
derivatives with respect to both the features and the box coordinates.

Coordinates follow mmcv/the original: ``roi * spatial_scale`` with no half-pixel offset.
"""
from typing import Tuple, Union

import torch
from torch import Tensor, nn


def triangle_kernel_integral(t: Tensor) -> Tensor:
    """Antiderivative ``T(t) = int_{-inf}^{t} max(0, 1 - |s|) ds`` of the triangle kernel.

    Args:
        t (Tensor): any shape.

    Returns:
        Tensor: same shape, values in ``[0, 1]``: ``0`` for ``t <= -1``, ``(t + 1)^2 / 2`` on
        ``[-1, 0]``, ``1 - (1 - t)^2 / 2`` on ``[0, 1]``, ``1`` for ``t >= 1``.
    """
    t = t.clamp(-1.0, 1.0)
    left = 0.5 * (t + 1) ** 2
    right = 1 - 0.5 * (1 - t) ** 2
    return torch.where(t < 0, left, right)


def bin_weights(starts: Tensor, ends: Tensor, size: int) -> Tensor:
    """Integral of each pixel's triangle kernel over each interval ``[start, end]``.

    Args:
        starts (Tensor): shape (R, B), interval starts in feature-pixel coordinates.
        ends (Tensor): shape (R, B), interval ends.
        size (int): number of feature pixels along this axis.

    Returns:
        Tensor: shape (R, B, size); entry ``[r, b, i]`` is ``int_{start}^{end} k(x - i) dx``.
    """
    pos = torch.arange(size, dtype=starts.dtype, device=starts.device)
    return (triangle_kernel_integral(ends[..., None] - pos)
            - triangle_kernel_integral(starts[..., None] - pos))


def prroi_pool(features: Tensor, rois: Tensor, output_size: Union[int, Tuple[int, int]],
               spatial_scale: float = 1.0) -> Tensor:
    """Precise RoI pooling.

    Args:
        features (Tensor): shape (N, C, H, W).
        rois (Tensor): shape (R, 5), rows ``(batch_index, x1, y1, x2, y2)`` in input-image
            coordinates (multiplied by ``spatial_scale`` to reach feature coordinates).
        output_size (int | tuple[int, int]): ``(out_h, out_w)`` bins per RoI.
        spatial_scale (float): feature stride reciprocal, e.g. ``1 / 16``.

    Returns:
        Tensor: shape (R, C, out_h, out_w), the mean of the bilinearly interpolated features
        over each bin (zero for an empty bin, as in the original).
    """
    if features.dim() != 4:
        raise ValueError(f'prroi_pool: features must be (N, C, H, W), got {tuple(features.shape)}')
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f'prroi_pool: rois must be (R, 5), got {tuple(rois.shape)}')
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    num_rois = rois.shape[0]
    channels, height, width = features.shape[1:]
    rois = rois.to(features.dtype)
    x1, y1, x2, y2 = (rois[:, k] * spatial_scale for k in range(1, 5))
    # a box with x2 < x1 is treated as empty, as the original does
    bin_w = (x2 - x1).clamp(min=0) / out_w
    bin_h = (y2 - y1).clamp(min=0) / out_h
    steps_w = torch.arange(out_w, dtype=features.dtype, device=features.device)
    steps_h = torch.arange(out_h, dtype=features.dtype, device=features.device)
    xs = x1[:, None] + bin_w[:, None] * steps_w  # (R, out_w)
    ys = y1[:, None] + bin_h[:, None] * steps_h  # (R, out_h)
    kx = bin_weights(xs, xs + bin_w[:, None], width)  # (R, out_w, W)
    ky = bin_weights(ys, ys + bin_h[:, None], height)  # (R, out_h, H)
    area = (bin_w * bin_h)[:, None, None, None]

    batch_index = rois[:, 0].long()
    if num_rois and (batch_index.min() < 0 or batch_index.max() >= features.shape[0]):
        raise ValueError(f'prroi_pool: roi batch indices must lie in [0, {features.shape[0]}), '
                         f'got {batch_index.unique().tolist()}')
    if features.shape[0] == 1:  # one image (tracking): no grouping by batch index
        out = torch.einsum('rph,chw,rqw->rcpq', ky, features[0], kx)
    else:
        out = features.new_zeros(num_rois, channels, out_h, out_w)
        for b in batch_index.unique().tolist():
            sel = (batch_index == b).nonzero(as_tuple=True)[0]
            pooled = torch.einsum('rph,chw,rqw->rcpq', ky[sel], features[b], kx[sel])
            out = out.index_put((sel, ), pooled)
    safe_area = torch.where(area > 0, area, torch.ones_like(area))
    return torch.where(area > 0, out / safe_area, torch.zeros_like(out))


class PrRoIPool2d(nn.Module):
    """Module form of :func:`prroi_pool` (same arguments as ``mmcv.ops.PrRoIPool``).

    Args:
        output_size (int | tuple[int, int]): bins per RoI, ``(out_h, out_w)``.
        spatial_scale (float): factor from input-image to feature coordinates.
    """

    def __init__(self, output_size: Union[int, Tuple[int, int]], spatial_scale: float = 1.0):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = float(spatial_scale)

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        """Pool ``rois`` (R, 5) from ``features`` (N, C, H, W) into (R, C, out_h, out_w)."""
        return prroi_pool(features, rois, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f'output_size={self.output_size}, spatial_scale={self.spatial_scale}'
