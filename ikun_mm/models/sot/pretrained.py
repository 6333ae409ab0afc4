"""Pretrained inits and released checkpoints of OSTrack and STARK, converted on load.

Backbone inits (local files, given as the backbone's
``init_cfg=dict(type='Pretrained', checkpoint=PATH)``):

* OSTrack: an MAE (``mae_pretrain_vit_base.pth``, weights under ``'model'``, decoder dropped) or
  timm ViT-B/16 state dict -> :class:`~ikun_mm.models.sot.OSTrackViT`
  (:func:`load_vit_pretrained`; the position embedding is split and resized bicubically to the
  template and search grids as OSTrack's ``BaseBackbone.finetune_track``);
* STARK: a torchvision ResNet-50 state dict -> mmdet's ``ResNet`` to layer3
  (:func:`load_resnet_pretrained`; torchvision names are mmdet's, ``fc`` and ``layer4`` dropped).

Both loads are strict: a missing, unexpected or misshapen key raises with the file name.

Released tracker checkpoints:

Official checkpoints (``OSTrack_ep0300.pth.tar``, ``STARKST_ep0050.pth.tar``) are dicts whose
``'net'`` entry is the model's state dict. Their parameter names map onto ours as follows
(``{i}``: any block/layer index; everything not listed keeps its name):

OSTrack (``botaoye/OSTrack``, ``lib/models/ostrack``) -> :class:`~ikun_mm.models.sot.OSTrack`

=========================================  ===============================================
official                                    ikun_mm
=========================================  ===============================================
``backbone.patch_embed.proj.*``             ``backbone.patch_embed.proj.*``
``backbone.pos_embed_z`` / ``pos_embed_x``  same
``backbone.blocks.{i}.*`` (timm names)      same
``backbone.norm.*``                         same
``backbone.cls_token``, ``backbone.pos_embed``  dropped (the ImageNet ViT's, unused)
``box_head.*`` (``conv{1-5}_{ctr,offset,size}``)  ``head.*``
=========================================  ===============================================

STARK-ST (``researchmm/Stark``, ``lib/models/stark``) -> :class:`~ikun_mm.models.sot.STARK`

===============================================  ==============================================
official                                          ikun_mm
===============================================  ==============================================
``backbone.0.body.*`` (torchvision ResNet)        ``backbone.*`` (mmdet ResNet, same names)
``bottleneck.*``, ``query_embed.weight``          same
``transformer.encoder.layers.{i}.self_attn.X``    ``encoder.layers.{i}.self_attn.attn.X``
``transformer.{enc,dec}oder.layers.{i}.linear1``  ``...layers.{i}.ffn.layers.0.0``
``transformer.{enc,dec}oder.layers.{i}.linear2``  ``...layers.{i}.ffn.layers.1``
``transformer.{enc,dec}oder.layers.{i}.norm{k}``  ``...layers.{i}.norms.{k-1}``
``transformer.decoder.layers.{i}.self_attn.X``    ``decoder.layers.{i}.self_attn.attn.X``
``transformer.decoder.layers.{i}.multihead_attn`` ``decoder.layers.{i}.cross_attn.attn``
``transformer.decoder.norm.*``                    ``decoder.post_norm.*``
``box_head.*`` (``conv{1-5}_{tl,br}``)            same
``cls_head.layers.{i}.*``                         same
===============================================  ==============================================

STARK's frozen batch norms have no ``num_batches_tracked``; those buffers are allowed to be
missing. Any other missing or unexpected key, or a shape mismatch, raises with the file name.
"""
import math
import re
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ikun_mm.utils.checkpoint import (load_state_dict_strict, read_checkpoint,
                                      state_dict_from_checkpoint)

_OSTRACK_DROP = ('backbone.cls_token', 'backbone.pos_embed')


def convert_ostrack_state_dict(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Rename an official OSTrack state dict to :class:`~ikun_mm.models.sot.OSTrack`'s names."""
    out = {}
    for key, value in state.items():
        if key in _OSTRACK_DROP:
            continue
        if key.startswith('box_head.'):
            key = 'head.' + key[len('box_head.'):]
        out[key] = value
    return out


_STARK_RULES = [
    (r'^backbone\.0\.body\.', 'backbone.'),
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.self_attn\.',
     r'\1.layers.\2.self_attn.attn.'),
    (r'^transformer\.decoder\.layers\.(\d+)\.multihead_attn\.',
     r'decoder.layers.\1.cross_attn.attn.'),
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.linear1\.', r'\1.layers.\2.ffn.layers.0.0.'),
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.linear2\.', r'\1.layers.\2.ffn.layers.1.'),
    (r'^transformer\.decoder\.norm\.', 'decoder.post_norm.'),
]


def convert_stark_state_dict(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Rename an official STARK(-ST) state dict to :class:`~ikun_mm.models.sot.STARK`'s names."""
    out = {}
    for key, value in state.items():
        for pattern, repl in _STARK_RULES:
            key = re.sub(pattern, repl, key)
        m = re.match(r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.norm(\d)\.(.*)$', key)
        if m:
            key = f'{m[1]}.layers.{m[2]}.norms.{int(m[3]) - 1}.{m[4]}'
        out[key] = value
    return out


# --------------------------------------------------------------------------- backbone inits
_VIT_DROP_PREFIXES = ('decoder_', 'decoder.', 'mask_token', 'head.', 'head_dist.', 'fc_norm.',
                      'pre_logits.', 'cls_token', 'dist_token', 'reg_token')


def _pos_grid(pos_embed: Tensor, path: str) -> Tensor:
    """The patch part of a ViT position embedding (1, [1 +] g*g, C) as a grid (1, C, g, g)."""
    n = pos_embed.shape[1]
    for prefix in (1, 0, 2):  # class token (timm, MAE), none, class + distillation token
        g = math.isqrt(n - prefix) if n > prefix else 0
        if g > 0 and g * g == n - prefix:
            grid = pos_embed[:, prefix:]
            return grid.transpose(1, 2).reshape(1, -1, g, g)
    raise RuntimeError(f'checkpoint {path}: pos_embed of shape {tuple(pos_embed.shape)} is not a '
                       'square grid of patches (with or without a class token)')


def convert_vit_to_ostrack_backbone(state: Dict[str, Tensor], z_grid: int, x_grid: int,
                                    patch_size: int, path: str = '<state dict>'
                                    ) -> Dict[str, Tensor]:
    """Convert a timm / MAE ViT state dict into :class:`~ikun_mm.models.sot.OSTrackViT` names.

    As OSTrack's ``BaseBackbone.finetune_track`` does with its pretrained ViT:

    * ``pos_embed`` (1, 1 + g*g, C): the class-token entry is dropped, the g x g patch grid is
      resized with ``F.interpolate(mode='bicubic', align_corners=False)`` once to the template
      grid (``pos_embed_z``, (1, z_grid^2, C)) and once to the search grid (``pos_embed_x``);
    * ``patch_embed.proj.weight`` is resized the same way when the checkpoint's patch size differs;
    * ``blocks.{i}.*`` and ``norm.*`` keep their (timm) names;
    * ``cls_token``, the classifier (``head.*``, ``fc_norm.*``) and MAE's decoder (``decoder_*``,
      ``mask_token``) are dropped.

    Args:
        state: the ViT state dict (already taken out of MAE's ``'model'`` entry).
        z_grid, x_grid: template and search grid sides (crop size / patch size).
        patch_size: the backbone's patch size.
        path: file name for error messages.
    """
    if 'pos_embed' not in state:
        raise RuntimeError(f'checkpoint {path} has no "pos_embed": not a timm/MAE ViT state dict '
                           f'(first keys {sorted(state)[:6]})')
    out = {}
    for key, value in state.items():
        if key.startswith(_VIT_DROP_PREFIXES) or key == 'pos_embed':
            continue
        if key == 'patch_embed.proj.weight' and value.shape[-1] != patch_size:
            value = F.interpolate(value.float(), size=(patch_size, patch_size), mode='bicubic',
                                  align_corners=False)
        out[key] = value
    grid = _pos_grid(state['pos_embed'].float(), path)
    for name, g in (('pos_embed_z', z_grid), ('pos_embed_x', x_grid)):
        resized = F.interpolate(grid, size=(g, g), mode='bicubic', align_corners=False)
        out[name] = resized.flatten(2).transpose(1, 2)
    return out


def convert_torchvision_resnet(state: Dict[str, Tensor], num_stages: int = 4) -> Dict[str, Tensor]:
    """Keep the parts of a torchvision ResNet state dict that mmdet's ``ResNet`` with
    ``num_stages`` stages has: torchvision's names (``conv1``, ``bn1``, ``layer{k}.{i}.conv{j}``,
    ``bn{j}``, ``downsample.{0,1}``) are mmdet's; ``fc.*`` and ``layer{k}`` for
    ``k > num_stages`` are dropped (STARK uses ResNet-50 up to layer3)."""
    out = {}
    for key, value in state.items():
        if key.startswith('fc.'):
            continue
        m = re.match(r'^layer(\d+)\.', key)
        if m and int(m[1]) > num_stages:
            continue
        out[key] = value
    return out


def _load_strict(module: nn.Module, state: Dict[str, Tensor], path: str, what: str,
                 hint: str) -> None:
    """Load ``state`` into ``module``; every parameter and buffer must be in it (BN
    ``num_batches_tracked`` excepted) with the right shape, and nothing else may be."""
    load_state_dict_strict(module, state, path, allow_missing=('*num_batches_tracked', ),
                           what=f'{what} checkpoint into {type(module).__name__}', hint=hint)


VIT_HINT = ('Expected an MAE ViT-B/16 checkpoint (mae_pretrain_vit_base.pth of '
            'facebookresearch/mae) or a timm vit_base_patch16_224 state dict.')
RESNET_HINT = ('Expected a torchvision ImageNet ResNet state dict (e.g. resnet50-0676ba61.pth or '
               'resnet50-19c8e357.pth of download.pytorch.org/models).')


def _read_init(path: str, hint: str) -> Dict[str, Tensor]:
    try:
        return read_official_state_dict(path)
    except FileNotFoundError:
        raise FileNotFoundError(f'pretrained backbone checkpoint {path} does not exist (set in the '
                                f"backbone's init_cfg). {hint}") from None


def load_vit_pretrained(backbone: nn.Module, path: str) -> None:
    """Initialise an :class:`~ikun_mm.models.sot.OSTrackViT` from a local timm / MAE ViT file
    (converted with :func:`convert_vit_to_ostrack_backbone`); raises naming the file and keys on
    anything that does not fit."""
    state = convert_vit_to_ostrack_backbone(_read_init(path, VIT_HINT), backbone.z_grid,
                                            backbone.x_grid, backbone.patch_size, path)
    _load_strict(backbone, state, path, 'ViT', VIT_HINT)


def load_resnet_pretrained(backbone: nn.Module, path: str) -> None:
    """Initialise mmdet's ``ResNet`` (``num_stages`` stages) from a local torchvision ResNet
    file; raises naming the file and keys on anything that does not fit."""
    state = convert_torchvision_resnet(_read_init(path, RESNET_HINT),
                                       getattr(backbone, 'num_stages', 4))
    _load_strict(backbone, state, path, 'ResNet', RESNET_HINT)


CONVERTERS: Dict[str, Callable[[Dict[str, Tensor]], Dict[str, Tensor]]] = {
    'ostrack': convert_ostrack_state_dict,
    'stark': convert_stark_state_dict,
}


def read_official_state_dict(path: str) -> Dict[str, Tensor]:
    """The state dict of an official checkpoint file (``'net'``, ``'model'`` or
    ``'state_dict'`` entry, or the file itself when it is a plain state dict)."""
    ckpt = read_checkpoint(path, map_location='cpu')
    return state_dict_from_checkpoint(ckpt, path, keys=('net', 'model', 'state_dict'),
                                      strip_prefixes=())


def load_official_checkpoint(model: nn.Module, path: str, arch: str) -> List[str]:
    """Load an official OSTrack / STARK checkpoint into ``model``.

    Args:
        model: an ``OSTrack`` or ``STARK`` instance.
        path: the official checkpoint file.
        arch: ``'ostrack'`` or ``'stark'``.

    Returns:
        the model keys left at their initial values (only ``num_batches_tracked`` buffers).

    Raises:
        RuntimeError: naming the file, on missing / unexpected keys or shape mismatches.
    """
    if arch not in CONVERTERS:
        raise ValueError(f'unknown arch {arch!r}; expected one of {sorted(CONVERTERS)}')
    state = CONVERTERS[arch](read_official_state_dict(path))
    tolerated = load_state_dict_strict(
        model, state, path, allow_missing=('*num_batches_tracked', ),
        what=f'official {arch} checkpoint into {type(model).__name__}')
    return tolerated
