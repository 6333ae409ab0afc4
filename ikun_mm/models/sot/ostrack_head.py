"""OSTrack's centre head: score map + sub-cell offset + box size, and its pure decoding."""
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
    """2-D Hanning window (outer product of ``torch.hann_window(size, periodic=False)``) of
    shape (size, size), the cosine window OSTrack multiplies the score map with at test time."""
    w = torch.hann_window(size, periodic=False)
    return w[:, None] * w[None, :]


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
    ``conv5_{ctr,offset,size}``, the official OSTrack head's names.

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
