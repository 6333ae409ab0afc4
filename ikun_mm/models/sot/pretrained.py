"""Load the official OSTrack and STARK checkpoints into ikun_mm's models.

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
import re
from typing import Callable, Dict, List

import torch
from torch import Tensor, nn

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


CONVERTERS: Dict[str, Callable[[Dict[str, Tensor]], Dict[str, Tensor]]] = {
    'ostrack': convert_ostrack_state_dict,
    'stark': convert_stark_state_dict,
}


def read_official_state_dict(path: str) -> Dict[str, Tensor]:
    """The state dict of an official checkpoint file (``'net'``, ``'model'`` or
    ``'state_dict'`` entry, or the file itself when it is a plain state dict)."""
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    except FileNotFoundError:
        raise FileNotFoundError(f'checkpoint {path} does not exist') from None
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise RuntimeError(f'checkpoint {path} could not be read: {e}') from e
    if isinstance(ckpt, dict):
        for key in ('net', 'model', 'state_dict'):
            if isinstance(ckpt.get(key), dict):
                return ckpt[key]
        if all(isinstance(v, Tensor) for v in ckpt.values()):
            return ckpt
    raise RuntimeError(f'checkpoint {path} holds no state dict (expected a "net", "model" or '
                       '"state_dict" entry)')


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
    own = model.state_dict()
    unexpected = sorted(k for k in state if k not in own)
    missing = sorted(k for k in own if k not in state)
    tolerated = [k for k in missing if k.endswith('num_batches_tracked')]
    missing = [k for k in missing if k not in tolerated]
    shape = sorted(f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                   for k, v in state.items() if k in own and own[k].shape != v.shape)
    if unexpected or missing or shape:
        raise RuntimeError(
            f'official {arch} checkpoint {path} does not fit {type(model).__name__}: '
            f'{len(missing)} missing keys {missing[:8]}, {len(unexpected)} unexpected keys '
            f'{unexpected[:8]}, {len(shape)} shape mismatches {shape[:4]}')
    model.load_state_dict(state, strict=False)
    return tolerated
