"""One-stream ViT of OSTrack with early candidate elimination (CE).

Template (``z``) and search (``x``) crops are cut into patches by one shared patch embedding, get
their own position embeddings, are concatenated ``[z tokens, x tokens]`` and go through plain ViT
blocks: joint self-attention extracts features and relates template and search at once.

Candidate elimination (in the blocks listed in ``ce_layers``, after their attention): search
tokens are ranked by the attention they receive from the template's centre token (mean over
heads) and only the ``ceil(keep_ratio * n)`` best stay; later blocks run on fewer tokens. After
the last block the kept search tokens are put back at their original positions and eliminated
ones are zero (:func:`restore_search_tokens`), giving a dense map for the head.

During training the keep ratio is warmed up as in the official trainer
(``adjust_keep_rate`` of ``lib/utils/ce_utils.py``): 1 (no elimination) until ``CE_START_EPOCH``,
then a cosine from 1 down to the configured ratio over ``CE_WARM_EPOCH`` epochs
(:class:`~ikun_mm.engine.hooks.CEKeepRatioWarmupHook` sets :attr:`OSTrackViT.ce_progress`, the
fraction ``p`` of the way: ratio ``1 - (1 - r) p``); in eval mode the configured ratio is used.
The official code applies one ratio (its first ``CE_KEEP_RATIO``) to every CE block during the
warm-up; with the released configs' equal ratios (0.7, 0.7, 0.7) this is the same.
Deliberate difference from the official code: attention masks of padded crop areas are not used
(the official OSTrack tracker does not pass them either).

Initialisation: from a timm / MAE ViT checkpoint with ``init_cfg=dict(type='Pretrained',
checkpoint=PATH)`` (:func:`~ikun_mm.models.sot.pretrained.load_vit_pretrained`: the ImageNet
position embedding is split off its class token and resized bicubically to the template and
search grids, as OSTrack's ``finetune_track`` does); without one, timm's ViT initialisation
(truncated normal 0.02 for linear layers and position embeddings, zero biases, unit LayerNorms),
as the official ``VisionTransformer`` before its pretrained weights are loaded.
Parameter names follow timm's ViT (``patch_embed.proj``, ``blocks.i.norm1`` / ``attn.qkv`` /
``attn.proj`` / ``norm2`` / ``mlp.fc1`` / ``mlp.fc2``, ``norm``), which is also OSTrack's
naming, so official checkpoints map one to one (see :mod:`ikun_mm.models.sot.pretrained`).
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import Tensor, nn

from ikun_mm.registry import MODELS


def candidate_elimination(attn: Tensor, tokens: Tensor, num_template: int, keep_ratio: float,
                          global_index: Tensor, center_index: int) -> Tuple[Tensor, Tensor]:
    """Keep the search tokens the template centre attends to most.

    Args:
        attn: Tensor of shape (B, heads, N, N), attention probabilities of the block, with
            ``N = num_template + S`` (template tokens first).
        tokens: Tensor of shape (B, N, C), the block's tokens.
        num_template: number of template tokens (never eliminated).
        keep_ratio: fraction of the S current search tokens to keep (``ceil(keep_ratio * S)``).
        global_index: Tensor of shape (B, S), the original position of each current search
            token.
        center_index: index of the template's centre token among the template tokens.

    Returns:
        ``tokens`` Tensor of shape (B, num_template + K, C), the template tokens followed by the K
        kept search tokens in decreasing order of attention, and their original positions
        ``global_index`` Tensor of shape (B, K).
    """
    num_search = tokens.shape[1] - num_template
    keep = math.ceil(keep_ratio * num_search)
    if keep >= num_search:
        return tokens, global_index
    scores = attn[:, :, center_index, num_template:].mean(dim=1)  # (B, S)
    order = scores.topk(keep, dim=1, largest=True, sorted=True).indices  # (B, K)
    search = tokens[:, num_template:].gather(
        1, order[..., None].expand(-1, -1, tokens.shape[-1]))
    return torch.cat([tokens[:, :num_template], search], dim=1), global_index.gather(1, order)


def restore_search_tokens(tokens: Tensor, global_index: Tensor, num_search: int) -> Tensor:
    """Put kept search tokens back in their original order; eliminated positions are zero.

    Args:
        tokens: Tensor of shape (B, K, C), kept search tokens.
        global_index: Tensor of shape (B, K), their original positions in ``[0, num_search)``.
        num_search: number of search tokens before elimination.

    Returns:
        Tensor of shape (B, num_search, C).
    """
    b, _, c = tokens.shape
    full = tokens.new_zeros(b, num_search, c)
    return full.scatter(1, global_index[..., None].expand(-1, -1, c), tokens)


class Attention(nn.Module):
    """Multi-head self-attention that also returns its attention probabilities."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed_dims {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.scale = (dim // num_heads)**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """x: (B, N, C) -> output (B, N, C) and attention (B, heads, N, N)."""
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        out = (self.attn_drop(attn) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out)), attn


class Mlp(nn.Module):

    def __init__(self, dim: int, hidden: int, drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class CEBlock(nn.Module):
    """Pre-norm ViT block; with ``keep_ratio < 1`` it eliminates candidates after attention."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop: float = 0., attn_drop: float = 0., drop_path: float = 0.,
                 keep_ratio: float = 1.) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.keep_ratio = keep_ratio

    def forward(self, x: Tensor, num_template: int, global_index: Tensor, center_index: int,
                keep_ratio: Optional[float] = None) -> Tuple[Tensor, Tensor]:
        out, attn = self.attn(self.norm1(x))
        x = x + self.drop_path(out)
        ratio = self.keep_ratio if keep_ratio is None else keep_ratio
        if ratio < 1:
            x, global_index = candidate_elimination(attn, x, num_template, ratio, global_index,
                                                    center_index)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, global_index


@MODELS.register_module()
class OSTrackViT(BaseModule):
    """The one-stream ViT backbone of OSTrack (ViT-B/16 by default).

    Args:
        template_size, search_size: sides of the template and search crops.
        patch_size: patch side (16 in OSTrack).
        embed_dims, depth, num_heads, mlp_ratio: ViT size.
        ce_layers: indices of the blocks that eliminate candidates (OSTrack: 3, 6, 9).
        ce_keep_ratio: keep ratio of those blocks (OSTrack: 0.7), one value or one per layer.
        drop_path_rate: stochastic depth (OSTrack: 0.1).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH)`` with a local timm / MAE ViT
            checkpoint (OSTrack: MAE ViT-B/16), or None (timm's random initialisation).
    """

    def __init__(self, template_size: int = 128, search_size: int = 256, patch_size: int = 16,
                 embed_dims: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4., ce_layers: Sequence[int] = (3, 6, 9),
                 ce_keep_ratio=0.7, drop_path_rate: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, size in (('template_size', template_size), ('search_size', search_size)):
            if size % patch_size:
                raise ValueError(f'{name} {size} is not a multiple of patch_size {patch_size}')
        ratios = ([ce_keep_ratio] * len(ce_layers) if isinstance(ce_keep_ratio, (int, float))
                  else list(ce_keep_ratio))
        if len(ratios) != len(ce_layers):
            raise ValueError('ce_keep_ratio needs one value per ce_layers entry')
        if any(not 0 <= i < depth for i in ce_layers):
            raise ValueError(f'ce_layers {tuple(ce_layers)} outside the {depth} blocks')
        self.patch_size = patch_size
        self.embed_dims = embed_dims
        self.z_grid = template_size // patch_size
        self.x_grid = search_size // patch_size
        self.ce_layers = tuple(ce_layers)
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, embed_dims, patch_size, patch_size)
        self.pos_embed_z = nn.Parameter(torch.zeros(1, self.z_grid**2, embed_dims))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, self.x_grid**2, embed_dims))
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        keep = dict(zip(self.ce_layers, ratios))
        self.blocks = nn.ModuleList(
            CEBlock(embed_dims, num_heads, mlp_ratio, drop_path=dpr[i], keep_ratio=keep.get(i, 1.))
            for i in range(depth))
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        #: training-time CE warm-up in [0, 1]: keep ratio ``1 - (1 - r) * ce_progress``
        self.ce_progress = 1.0
        self._vit_init()

    def _vit_init(self) -> None:
        """timm's ViT initialisation (what the official backbone has before loading weights)."""
        nn.init.trunc_normal_(self.pos_embed_z, std=.02)
        nn.init.trunc_normal_(self.pos_embed_x, std=.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (a local timm / MAE ViT
        file, converted on load); any other ``init_cfg`` is applied by mmengine."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            from .pretrained import load_vit_pretrained
            if not cfg.get('checkpoint'):
                raise ValueError('OSTrackViT init_cfg Pretrained needs "checkpoint" (a local '
                                 'MAE / timm ViT file)')
            load_vit_pretrained(self, cfg['checkpoint'])
            self._is_init = True
            return
        super().init_weights()

    @property
    def center_index(self) -> int:
        """Index of the template's centre token (row and column ``(grid - 1) // 2``)."""
        c = (self.z_grid - 1) // 2
        return c * self.z_grid + c

    def embed(self, img: Tensor) -> Tensor:
        """(B, 3, H, W) -> tokens (B, H/p * W/p, C)."""
        return self.patch_embed.proj(img).flatten(2).transpose(1, 2)

    def forward(self, z: Tensor, x: Tensor,
                keep_ratio: Optional[float] = None) -> Tuple[Tensor, Tensor]:
        """Joint feature extraction and relation modelling.

        Args:
            z: template crops, Tensor of shape (B, 3, h, h).
            x: search crops, Tensor of shape (B, 3, H, H).
            keep_ratio: overrides the CE keep ratio of every CE block (1 disables CE).

        Returns:
            the search feature map, Tensor of shape (B, C, H/p, H/p) (eliminated tokens are 0),
            and the kept search token positions, Tensor of shape (B, K).
        """
        b = x.shape[0]
        zt = self.embed(z) + self.pos_embed_z
        xt = self.embed(x) + self.pos_embed_x
        nz, nx = zt.shape[1], xt.shape[1]
        tokens = torch.cat([zt, xt], dim=1)
        global_index = torch.arange(nx, device=x.device).expand(b, -1)
        progress = self.ce_progress if self.training else 1.0
        for block in self.blocks:
            ratio = None
            if block.keep_ratio < 1:
                ratio = keep_ratio if keep_ratio is not None else (
                    1 - (1 - block.keep_ratio) * progress)
            tokens, global_index = block(tokens, nz, global_index, self.center_index, ratio)
        tokens = self.norm(tokens)
        search = restore_search_tokens(tokens[:, nz:], global_index, nx)
        fmap = search.transpose(1, 2).reshape(b, self.embed_dims, self.x_grid, self.x_grid)
        return fmap, global_index
