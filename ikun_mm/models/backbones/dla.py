"""DLA with iterative deep-aggregation up-sampling (``DLASeg``): FairMOT's backbone.

Deep Layer Aggregation (Yu et al., CVPR 2018) builds a base network of six levels (strides 1, 2,
4, 8, 16, 32) whose stages are trees of residual blocks merged by aggregation nodes. CenterNet and
FairMOT add an up-sampling path that fuses the levels from stride 32 down to stride 4 (iterative
deep aggregation, IDA): a deeper feature is projected to the shallower width, up-sampled by a
depth-wise transposed convolution initialised as bilinear interpolation, added to the shallower
feature and passed through an aggregation node. In FairMOT the projection and node convolutions are
modulated deformable convolutions (DCNv2), here mmcv's ``ModulatedDeformConv2dPack``
(``conv_cfg=dict(type='DCNv2')``), followed by BN and ReLU.

``DLASeg(depth=34)`` is DLA-34 (levels ``(1, 1, 1, 2, 2, 1)``, channels ``(16, 32, 64, 128, 256,
512)``) and returns one 64-channel map at stride 4. Other ``levels``/``channels`` give smaller
variants for CPU tests (``DLASeg(levels=(1, 1, 1, 1, 1, 1), channels=(8, 16, 32, 32, 64, 64))``).

The deformable convolutions keep a bias before their BN, as DCNv2's ``DCN`` in the official
``DeformConv`` (mmcv's ``ConvModule`` would drop it next to a norm layer), so official checkpoints
map tensor for tensor. Deliberate difference from the original code: the module names are ours;
official DLA / CenterNet / FairMOT checkpoints convert on load
(:mod:`ikun_mm.models.mot.fairmot_pretrained`, ``FairMOT(init_from=...)``).
"""
import warnings
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from ikun_mm.registry import MODELS

DLA_SETTINGS = {
    34: dict(levels=(1, 1, 1, 2, 2, 1), channels=(16, 32, 64, 128, 256, 512)),
}


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (the residual is given by the tree)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        residual = x if residual is None else residual
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class _AggregationNode(nn.Module):
    """Concatenate the inputs, 1x1 conv, BN, ReLU (DLA's 'root')."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu = nn.ReLU(inplace=True)

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(torch.cat(inputs, 1))))


class _Tree(nn.Module):
    """A hierarchical-aggregation tree of ``depth`` levels of :class:`_BasicBlock`.

    A depth-1 tree is two blocks whose outputs (plus, at a stage root, the down-sampled input) are
    merged by an aggregation node; a depth-d tree stacks two depth-(d-1) trees and passes the
    left subtree's output on to the right subtree's node.
    """

    def __init__(self, depth: int, in_channels: int, out_channels: int, stride: int = 1,
                 stage_root: bool = False, node_channels: int = 0,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        node_channels = node_channels or 2 * out_channels
        if stage_root:
            node_channels += in_channels
        self.depth = depth
        self.stage_root = stage_root
        if depth == 1:
            self.left = _BasicBlock(in_channels, out_channels, stride, norm_cfg)
            self.right = _BasicBlock(out_channels, out_channels, 1, norm_cfg)
            self.node = _AggregationNode(node_channels, out_channels, norm_cfg)
        else:
            self.left = _Tree(depth - 1, in_channels, out_channels, stride, norm_cfg=norm_cfg)
            self.right = _Tree(depth - 1, out_channels, out_channels,
                               node_channels=node_channels + out_channels, norm_cfg=norm_cfg)
        self.downsample = nn.MaxPool2d(stride, stride) if stride > 1 else nn.Identity()
        self.project = nn.Identity()
        if in_channels != out_channels:
            self.project = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])

    def forward(self, x: Tensor, residual: Optional[Tensor] = None,
                children: Optional[List[Tensor]] = None) -> Tensor:
        children = [] if children is None else children
        bottom = self.downsample(x)
        residual = self.project(bottom)
        if self.stage_root:
            children.append(bottom)
        left = self.left(x, residual)
        if self.depth == 1:
            return self.node(self.right(left), left, *children)
        return self.right(left, children=children + [left])


def _bilinear_upsample_conv(channels: int, factor: int) -> nn.ConvTranspose2d:
    """Depth-wise transposed conv of kernel 2*factor initialised as bilinear up-sampling."""
    conv = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2,
                              groups=channels, bias=False)
    size = 2 * factor
    centre = (2 * factor - 1 - factor % 2) / (2.0 * factor)
    coords = torch.arange(size, dtype=torch.float32)
    profile = 1 - (coords / factor - centre).abs()
    with torch.no_grad():
        conv.weight.copy_((profile[:, None] * profile[None, :]).expand_as(conv.weight))
    return conv


class _IDAUp(nn.Module):
    """Iterative deep aggregation: fold features ``[start+1, end)`` into the resolution of
    ``feats[start]``, one level at a time (each output replaces its input in ``feats``)."""

    def __init__(self, out_channels: int, in_channels: Sequence[int], up_factors: Sequence[int],
                 conv_cfg: Optional[dict], norm_cfg: dict) -> None:
        super().__init__()
        self.proj = nn.ModuleList()
        self.up = nn.ModuleList()
        self.node = nn.ModuleList()
        for channels, factor in zip(in_channels[1:], up_factors[1:]):
            with warnings.catch_warnings():  # the bias before BN is deliberate (see above)
                warnings.filterwarnings('ignore', message='Unnecessary conv bias')
                # bias=True: the official DeformConv's DCN has a bias ahead of its BN
                self.proj.append(ConvModule(channels, out_channels, 3, padding=1, bias=True,
                                            conv_cfg=conv_cfg, norm_cfg=norm_cfg))
                self.up.append(_bilinear_upsample_conv(out_channels, int(factor)))
                self.node.append(ConvModule(out_channels, out_channels, 3, padding=1, bias=True,
                                            conv_cfg=conv_cfg, norm_cfg=norm_cfg))

    def forward(self, feats: List[Tensor], start: int, end: int) -> None:
        for k, i in enumerate(range(start + 1, end)):
            up = self.up[k](self.proj[k](feats[i]))
            feats[i] = self.node[k](up + feats[i - 1])


@MODELS.register_module()
class DLASeg(BaseModule):
    """DLA base network + deformable IDA up-sampling to one map at stride ``2**first_level``.

    Args:
        depth: a key of :data:`DLA_SETTINGS` (34) or ``None`` to use ``levels``/``channels``.
        levels: tree depth of each of the six levels (levels 0 and 1 are plain convs: their
            entries give the number of 3x3 convs).
        channels: width of each of the six levels.
        first_level: output stride is ``2**first_level`` (2: stride 4, as FairMOT).
        last_level: levels ``first_level .. last_level-1`` are merged into the output
            (FairMOT: 5, i.e. levels 2, 3, 4 after the DLA-up pass).
        conv_cfg: convolution of the up-sampling path; ``dict(type='DCNv2')`` (mmcv's modulated
            deformable conv, the FairMOT setting) or ``None`` for plain 3x3 convs.
        norm_cfg: normalisation layers.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=LOCAL_PATH)``.

    Input: Tensor of shape (N, 3, H, W) with H, W divisible by 32.
    Output: tuple with one Tensor of shape (N, channels[first_level], H / 4, W / 4).
    """

    def __init__(self,
                 depth: Optional[int] = 34,
                 levels: Optional[Sequence[int]] = None,
                 channels: Optional[Sequence[int]] = None,
                 first_level: int = 2,
                 last_level: int = 5,
                 conv_cfg: Optional[dict] = dict(type='DCNv2', deform_groups=1),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth is not None:
            if depth not in DLA_SETTINGS:
                raise KeyError(f'DLASeg: unknown depth {depth}, choose from {list(DLA_SETTINGS)} '
                               'or give depth=None with levels and channels')
            levels = levels or DLA_SETTINGS[depth]['levels']
            channels = channels or DLA_SETTINGS[depth]['channels']
        if levels is None or channels is None or len(levels) != 6 or len(channels) != 6:
            raise ValueError(f'DLASeg: levels and channels need 6 entries each, got {levels} and '
                             f'{channels}')
        if not 0 <= first_level < last_level <= 6:
            raise ValueError(f'DLASeg: need 0 <= first_level < last_level <= 6, got '
                             f'{first_level}, {last_level}')
        if conv_cfg is not None and conv_cfg.get('type') in ('DCNv2', 'DCN'):
            import mmcv.ops  # noqa: F401  registers the deformable convs in mmcv's MODELS
        self.first_level, self.last_level = first_level, last_level
        self.channels = tuple(channels)
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels[0], 7, 1, 3, bias=False),
            build_norm_layer(norm_cfg, channels[0])[1], nn.ReLU(inplace=True))
        self.level0 = self._conv_level(channels[0], channels[0], levels[0], 1, norm_cfg)
        self.level1 = self._conv_level(channels[0], channels[1], levels[1], 2, norm_cfg)
        self.trees = nn.ModuleList([
            _Tree(levels[i], channels[i - 1], channels[i], 2, stage_root=i > 2, norm_cfg=norm_cfg)
            for i in range(2, 6)
        ])
        # DLA-up: fold the deepest levels step by step, from stride 32 back to first_level.
        up_channels = list(channels[first_level:])
        scales = [2**i for i in range(len(up_channels))]
        self.dla_up = nn.ModuleList()
        in_channels = list(up_channels)
        for j in range(len(up_channels) - 2, -1, -1):
            factors = [s // scales[j] for s in scales[j:]]
            self.dla_up.append(_IDAUp(up_channels[j], in_channels[j:], factors, conv_cfg,
                                      norm_cfg))
            scales[j + 1:] = [scales[j]] * (len(scales) - j - 1)
            in_channels[j + 1:] = [up_channels[j]] * (len(in_channels) - j - 1)
        num_out = last_level - first_level
        self.ida_up = _IDAUp(up_channels[0], up_channels[:num_out],
                             [2**i for i in range(num_out)], conv_cfg, norm_cfg)

    @staticmethod
    def _conv_level(in_channels: int, out_channels: int, num_convs: int, stride: int,
                    norm_cfg: dict) -> nn.Sequential:
        layers = []
        for k in range(num_convs):
            layers += [nn.Conv2d(in_channels if k == 0 else out_channels, out_channels, 3,
                                 stride if k == 0 else 1, 1, bias=False),
                       build_norm_layer(norm_cfg, out_channels)[1], nn.ReLU(inplace=True)]
        return nn.Sequential(*layers)

    def base_forward(self, x: Tensor) -> List[Tensor]:
        """The six DLA levels, Tensors of shape (N, channels[i], H / 2**i, W / 2**i)."""
        x = self.level0(self.stem(x))
        feats = [x]
        x = self.level1(x)
        feats.append(x)
        for tree in self.trees:
            x = tree(x)
            feats.append(x)
        return feats

    def forward(self, x: Tensor) -> tuple:
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f'DLASeg: input H and W must be divisible by 32, got '
                             f'{tuple(x.shape[-2:])}; pad the batch (pad_size_divisor=32)')
        feats = self.base_forward(x)[self.first_level:]
        # DLA-up: after step k, feats[-k-2] holds the fusion of all deeper levels.
        outs = [feats[-1]]
        n = len(feats)
        for k, ida in enumerate(self.dla_up):
            ida(feats, n - k - 2, n)
            outs.insert(0, feats[-1])
        outs = [o.clone() for o in outs[:self.last_level - self.first_level]]
        self.ida_up(outs, 0, len(outs))
        return (outs[-1], )
