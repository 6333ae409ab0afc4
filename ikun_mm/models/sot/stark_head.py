"""STARK's heads: the corner head (soft-argmax of corner maps) and the stage-2 score head."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from ikun_mm.registry import MODELS
from .ostrack_head import conv_bn_relu


def soft_argmax_2d(score_map: Tensor) -> Tensor:
    """Expected (x, y) cell coordinates under ``softmax(score_map)``.

    Args:
        score_map: Tensor of shape (B, H, W), logits.

    Returns:
        Tensor of shape (B, 2): ``sum_ij p_ij * (j, i)``; a map peaked at row i, column j gives
        (j, i).
    """
    b, h, w = score_map.shape
    prob = F.softmax(score_map.reshape(b, h * w).float(), dim=1).reshape(b, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    return torch.stack([(prob.sum(1) * xs).sum(1), (prob.sum(2) * ys).sum(1)], dim=1)


def corners_to_box(tl_map: Tensor, br_map: Tensor, stride: int, img_size: int) -> Tensor:
    """Box (x1, y1, x2, y2) normalised by ``img_size`` from top-left / bottom-right corner maps.

    A cell (i, j) stands for the pixel ``(j * stride, i * stride)`` (STARK's convention, which its
    checkpoints are trained with).

    Args:
        tl_map, br_map: Tensors of shape (B, H, W), corner logits.

    Returns:
        Tensor of shape (B, 4).
    """
    tl = soft_argmax_2d(tl_map) * stride
    br = soft_argmax_2d(br_map) * stride
    return torch.cat([tl, br], dim=1) / img_size


@MODELS.register_module()
class STARKCornerHead(BaseModule):
    """Corner head: two conv towers (C, C/2, C/4, C/8, then 1x1 to one map) predicting the
    top-left and bottom-right corner probability maps; the box is their soft-argmax.

    Parameter names ``conv{1..4}_{tl,br}.{0,1}`` and ``conv5_{tl,br}`` are the official ones.

    Args:
        in_channels: channels of the search feature map (the transformer width).
        channels: tower width C (STARK: 256).
        stride: feature stride in crop pixels (16 for ResNet layer3).
        img_size: side of the search crop.
    """

    def __init__(self, in_channels: int = 256, channels: int = 256, stride: int = 16,
                 img_size: int = 320, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        widths = [in_channels, channels, channels // 2, channels // 4, channels // 8]
        for corner in ('tl', 'br'):
            for i in range(4):
                setattr(self, f'conv{i + 1}_{corner}', conv_bn_relu(widths[i], widths[i + 1]))
            setattr(self, f'conv5_{corner}', nn.Conv2d(widths[4], 1, 1))
        self.stride = stride
        self.img_size = img_size

    def score_maps(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """x: Tensor (B, C, H, W) -> corner logits, two Tensors of shape (B, H, W)."""
        maps = []
        for corner in ('tl', 'br'):
            y = x
            for i in range(1, 6):
                y = getattr(self, f'conv{i}_{corner}')(y)
            maps.append(y[:, 0])
        return maps[0], maps[1]

    def forward(self, x: Tensor) -> Tensor:
        """x: Tensor (B, C, H, W) -> boxes (B, 4), x1y1x2y2 normalised by the crop side."""
        return corners_to_box(*self.score_maps(x), self.stride, self.img_size)


@MODELS.register_module()
class STARKScoreHead(BaseModule):
    """Stage-2 score head: a 3-layer MLP on the target query's decoder output -> one logit
    (is the target in the search region?). Parameter names ``layers.{0,1,2}`` are the official.
    """

    def __init__(self, in_channels: int = 256, hidden: int = 256, num_layers: int = 3,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        dims = [in_channels] + [hidden] * (num_layers - 1) + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: Tensor) -> Tensor:
        """x: Tensor (B, C) -> logits (B,)."""
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x[:, 0]
