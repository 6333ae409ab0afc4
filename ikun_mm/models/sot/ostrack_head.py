"""OSTrack's centre head: score map + sub-cell offset + box size, and its pure decoding."""
import math
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from ikun_mm.registry import MODELS


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv + BN + ReLU (indices 0 and 1 hold the conv and BN parameters)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def hann_window(size: int) -> Tensor:
    """OSTrack's test-time cosine window (``hann2d(..., centered=True)`` of its
    ``lib/test/utils/hann.py``), Tensor of shape (size, size).

    The 1-D window is ``0.5 * (1 - cos(2 pi k / (size + 1)))`` for ``k = 1 .. size``: a Hann
    window of ``size + 2`` points without its two zero end points, so no cell of the score map is
    zeroed; the 2-D window is the outer product of two of them.
    """
    k = torch.arange(1, size + 1, dtype=torch.float32)
    w = 0.5 * (1 - torch.cos(2 * math.pi * k / (size + 1)))
    return w[:, None] * w[None, :]


def centernet_gaussian_radius(width: Tensor, height: Tensor, min_overlap: float = 0.7) -> Tensor:
    """Gaussian radius of OSTrack's heatmap target (``CenterNetHeatMap.get_gaussian_radius`` of
    its ``lib/utils/heapmap_utils.py``, CornerNet's formula in the variant CenterNet uses).

    With ``b1 = h + w``, ``c1 = w h (1 - o) / (1 + o)``, ``b2 = 2 (h + w)``,
    ``c2 = (1 - o) w h``, ``b3 = -2 o (h + w)``, ``c3 = (o - 1) w h`` (``o = min_overlap``)::

        r1 = (b1 + sqrt(b1^2 - 4 c1)) / 2
        r2 = (b2 + sqrt(b2^2 - 16 c2)) / 2
        r3 = (b3 + sqrt(b3^2 - 16 o c3)) / 2
        radius = min(r1, r2, r3)

    (the roots are not divided by ``2a`` as in the corrected CornerNet formula, so the radius is
    several cells for typical targets; mmdet's ``gaussian_radius`` is the corrected one).

    Args:
        width, height: Tensors of the same shape, box sizes in heatmap cells.

    Returns:
        Tensor of the same shape, the (real-valued) radius.
    """
    o = min_overlap
    b1 = height + width
    c1 = width * height * (1 - o) / (1 + o)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - o) * width * height
    r2 = (b2 + torch.sqrt(b2**2 - 16 * c2)) / 2
    b3 = -2 * o * (height + width)
    c3 = (o - 1) * width * height
    r3 = (b3 + torch.sqrt(b3**2 - 16 * o * c3)) / 2
    return torch.minimum(r1, torch.minimum(r2, r3))


def draw_gaussian(heatmap: Tensor, center: Tuple[int, int], radius: int) -> None:
    """Draw (element-wise max) a Gaussian peak of value 1 into ``heatmap`` in place.

    The peak is ``exp(-(dx^2 + dy^2) / (2 sigma^2))`` on the ``(2 r + 1)^2`` cells around
    ``center`` with ``sigma = (2 r + 1) / 6``, values below ``eps * max`` set to 0, cut at the map
    border (CenterNet's ``draw_gaussian``; a centre outside the map draws the part of its peak that
    falls inside).

    Args:
        heatmap: Tensor of shape (H, W).
        center: integer cell (x, y).
        radius: integer radius r >= 0.
    """
    h, w = heatmap.shape
    x, y = int(center[0]), int(center[1])
    sigma = (2 * radius + 1) / 6
    d = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(d[None, :]**2 + d[:, None]**2) / (2 * sigma * sigma))
    g[g < torch.finfo(torch.float64).eps * g.max()] = 0
    y0, y1 = max(y - radius, 0), min(y + radius + 1, h)
    x0, x1 = max(x - radius, 0), min(x + radius + 1, w)
    if y1 <= y0 or x1 <= x0:
        return
    gauss = g[y0 - y + radius:y1 - y + radius, x0 - x + radius:x1 - x + radius].to(heatmap)
    heatmap[y0:y1, x0:x1] = torch.maximum(heatmap[y0:y1, x0:x1], gauss)


def generate_heatmap(boxes: Tensor, size: int, min_overlap: float = 0.7) -> Tensor:
    """OSTrack's centre heatmap target (``generate_heatmap`` of ``lib/utils/heapmap_utils.py``).

    Per box: sizes and centre in cells (``* size``), the centre rounded with ``torch.round``
    (halves to even), the radius :func:`centernet_gaussian_radius` clamped at 0 and truncated to
    an integer, and a :func:`draw_gaussian` peak.

    Args:
        boxes: Tensor of shape (B, 4), (x1, y1, x2, y2) normalised by the search crop side.
        size: side of the heatmap (search size / stride).

    Returns:
        Tensor of shape (B, size, size).
    """
    boxes = boxes.detach().float().cpu()
    heatmap = torch.zeros(boxes.shape[0], size, size)
    xy = boxes[:, :2] * size
    wh = (boxes[:, 2:] - boxes[:, :2]) * size
    centers = (xy + wh / 2).round()
    radius = centernet_gaussian_radius(wh[:, 0], wh[:, 1], min_overlap).clamp(min=0)
    radius = radius.to(torch.int)
    for i in range(boxes.shape[0]):
        draw_gaussian(heatmap[i], (int(centers[i, 0]), int(centers[i, 1])), int(radius[i]))
    return heatmap


def decode_center(score: Tensor, offset: Tensor, size: Tensor) -> Tuple[Tensor, Tensor]:
    """Box at the score map's maximum.

    Args:
        score: Tensor of shape (B, 1, H, W).
        offset: Tensor of shape (B, 2, H, W), sub-cell offset (x, y) of the centre in cells.
        size: Tensor of shape (B, 2, H, W), (w, h) normalised by the search crop side.

    Returns:
        boxes Tensor of shape (B, 4), (cx, cy, w, h) normalised to [0, 1] of the crop, and the
        maximum scores Tensor of shape (B,).
    """
    b, _, h, w = score.shape
    best, idx = score.flatten(1).max(dim=1)
    iy, ix = idx // w, idx % w
    gather = idx[:, None, None].expand(-1, 2, 1)
    off = offset.flatten(2).gather(2, gather)[..., 0]
    wh = size.flatten(2).gather(2, gather)[..., 0]
    cx = (ix.to(off.dtype) + off[:, 0]) / w
    cy = (iy.to(off.dtype) + off[:, 1]) / h
    return torch.stack([cx, cy, wh[:, 0], wh[:, 1]], dim=1), best


@MODELS.register_module()
class OSTrackCenterHead(BaseModule):
    """Centre head: three conv towers (C, C/2, C/4, C/8 channels, then 1x1) for the centre score
    (sigmoid), the centre's sub-cell offset and the box size (sigmoid, fraction of the crop).

    Parameter names: ``conv{1..4}_{ctr,offset,size}.{0,1}`` (conv, BN) and
    ``conv5_{ctr,offset,size}``, the official OSTrack head's (``CenterPredictor`` of
    ``lib/models/layers/head.py``) names; its convolution weights are Xavier-uniform initialised
    as there.

    Args:
        in_channels: channels of the search feature map.
        channels: width C of the towers (OSTrack: 256).
    """

    def __init__(self, in_channels: int = 768, channels: int = 256,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if channels % 8:
            raise ValueError(f'channels {channels} must be a multiple of 8')
        widths = [in_channels, channels, channels // 2, channels // 4, channels // 8]
        for branch, out in (('ctr', 1), ('offset', 2), ('size', 2)):
            for i in range(4):
                setattr(self, f'conv{i + 1}_{branch}', conv_bn_relu(widths[i], widths[i + 1]))
            setattr(self, f'conv5_{branch}', nn.Conv2d(widths[4], out, 1))
        for p in self.parameters():  # the official CenterPredictor's initialisation
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _branch(self, x: Tensor, branch: str) -> Tensor:
        for i in range(1, 6):
            x = getattr(self, f'conv{i}_{branch}')(x)
        return x

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """x: Tensor of shape (B, C, H, W) -> score (B, 1, H, W) in (0, 1), offset (B, 2, H, W),
        size (B, 2, H, W) in (0, 1)."""
        score = self._branch(x, 'ctr').sigmoid().clamp(1e-4, 1 - 1e-4)
        offset = self._branch(x, 'offset')
        size = self._branch(x, 'size').sigmoid()
        return score, offset, size
