"""First-frame data augmentation of ATOM's online classifier.

ATOM learns its classifier from one annotated frame, so it multiplies that frame: the search
crop is flipped, rotated, blurred and shifted, and the classifier is fitted to all versions with
labels that follow the target. Every geometric augmentation here is an affine warp of the crop
(``grid_sample``), so the target centre in each augmented crop is the warp applied to the
original centre, computed exactly rather than assumed.

Deliberate difference from pytracking: the warps act on the crop itself (zero = mean colour
outside), not on a crop twice as large that is cut back afterwards; with shifts of 0.3 crop
sizes the border that enters is small, and the classifier sees it as background.
"""
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.functional import gaussian_blur


def _affine(crop: Tensor, theta: Tensor) -> Tensor:
    grid = F.affine_grid(theta[None], list(crop.shape), align_corners=False)
    return F.grid_sample(crop, grid, mode='bilinear', padding_mode='zeros', align_corners=False)


def _map_point(theta: Tensor, point: Tensor, size: int) -> Tensor:
    """Where a crop-pixel point lands after warping with ``theta`` (output -> input map)."""
    norm = point * 2 / size - 1  # pixel -> [-1, 1] (align_corners=False)
    full = torch.cat([theta, theta.new_tensor([[0.0, 0.0, 1.0]])])
    out = torch.linalg.solve(full, torch.cat([norm, norm.new_ones(1)]))[:2]
    return (out + 1) * size / 2


def augment_first_frame(crop: Tensor, center: Tensor, flip: bool = True,
                        rotations: Sequence[float] = (5, -5, 10, -10, 20, -20, 30, -30, 45, -45,
                                                      -60, 60),
                        blurs: Sequence[Tuple[float, float]] = ((2, 0.2), (0.2, 2), (3, 1),
                                                                (1, 3), (2, 2)),
                        shifts: Sequence[Tuple[float, float]] = ((0.6, 0.6), (-0.6, 0.6),
                                                                 (0.6, -0.6), (-0.6, -0.6)),
                        ) -> Tuple[Tensor, Tensor]:
    """The augmented first-frame samples (ATOM's default set) and their target centres.

    Args:
        crop (Tensor): shape (1, 3, S, S), the normalised search crop of the first frame.
        center (Tensor): shape (2,), target centre ``(x, y)`` in crop pixels.
        flip (bool): add the left-right mirrored crop.
        rotations (Sequence[float]): rotation angles in degrees, about the crop centre.
        blurs (Sequence[tuple]): Gaussian blur sigmas ``(sx, sy)`` in pixels.
        shifts (Sequence[tuple]): translations, relative to half the crop size.

    Returns:
        tuple: crops (N, 3, S, S) with the original first, and target centres (N, 2).
    """
    size = crop.shape[-1]
    crops, centers = [crop], [center]
    eye = torch.eye(2, 3, dtype=crop.dtype, device=crop.device)
    thetas = []
    if flip:
        theta = eye.clone()
        theta[0, 0] = -1
        thetas.append(theta)
    for angle in rotations:
        a = math.radians(angle)
        theta = eye.clone()
        theta[:2, :2] = theta.new_tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        thetas.append(theta)
    for dx, dy in shifts:
        theta = eye.clone()
        theta[:, 2] = theta.new_tensor([-dx, -dy])  # content moves by +shift * S / 2
        thetas.append(theta)
    for theta in thetas:
        crops.append(_affine(crop, theta))
        centers.append(_map_point(theta, center, size))
    for sx, sy in blurs:
        kx, ky = 2 * math.ceil(2 * sx) + 1, 2 * math.ceil(2 * sy) + 1
        crops.append(gaussian_blur(crop, [kx, ky], [float(sx), float(sy)]))
        centers.append(center)
    return torch.cat(crops), torch.stack(centers)
