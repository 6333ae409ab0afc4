"""Load official DLA / CenterNet / FairMOT checkpoints into :class:`~ikun_mm.models.mot.FairMOT`.

Three local files are supported (``source``):

* ``'imagenet'``: the ImageNet DLA-34 of the DLA authors (``dla34-ba72cf86.pth``), the weights
  FairMOT's ``dla34(pretrained=True)`` loads into ``DLASeg.base``: a plain state dict with the
  names of the official ``DLA`` module (``base_layer.*``, ``level0.*`` .. ``level5.*``, ``fc.*``),
  optionally already prefixed ``base.``;
* ``'centernet_coco'``: CenterNet's COCO detector ``ctdet_coco_dla_2x.pth`` (FairMOT's
  ``--load_model`` in every ``experiments/*_dla34.sh``): ``{'epoch', 'state_dict'}`` with names
  ``module.base.*``, ``module.dla_up.*``, ``module.ida_up.*`` and heads ``hm`` (80 classes),
  ``wh`` (2 channels), ``reg`` (2);
* ``'fairmot'``: a released FairMOT model (``fairmot_dla34.pth``): ``{'epoch', 'state_dict'}``
  with ``base.*``, ``dla_up.*``, ``ida_up.*`` and heads ``hm`` (1), ``wh`` (4, ``ltrb``), ``reg``
  (2), ``id`` (128). The identity classifier and the task uncertainties live in FairMOT's loss
  module and are not in the file; they keep their initialisation.

Name mapping (official ``src/lib/models/networks/pose_dla_dcn.py`` -> ours):

* ``base.base_layer.{i}`` -> ``backbone.stem.{i}``; ``base.level0/1`` -> ``backbone.level0/1``;
* ``base.level{k}`` (k = 2..5) -> ``backbone.trees.{k-2}``, inside which ``tree1`` / ``tree2`` /
  ``root`` -> ``left`` / ``right`` / ``node`` (``project``, ``conv1``, ``bn1``... unchanged);
* ``base.fc.*`` (ImageNet classifier) -> dropped;
* ``dla_up.ida_{i}`` -> ``backbone.dla_up.{i}``; ``ida_up`` -> ``backbone.ida_up``; inside them
  ``proj_{j}`` / ``node_{j}`` / ``up_{j}`` -> ``proj.{j-1}`` / ``node.{j-1}`` / ``up.{j-1}``, and
  in a ``DeformConv``: ``conv.weight|bias`` (DCNv2 ``DCN``) -> ``conv.weight|bias``,
  ``conv.conv_offset_mask.*`` -> ``conv.conv_offset.*`` (mmcv ``ModulatedDeformConv2dPack``),
  ``actf.0.*`` (its BN) -> ``bn.*``;
* heads ``hm`` / ``wh`` / ``reg`` / ``id`` -> ``head.heatmap`` / ``head.ltrb`` / ``head.offset``
  / ``head.embedding`` (same ``.0`` / ``.2`` conv indices).

DCNv2's ``DCN`` and mmcv's ``ModulatedDeformConv2dPack`` share the layout: the offset/mask conv
outputs ``3 * k * k`` channels split in three, the first two concatenated as offsets, the third
through a sigmoid as the modulation mask.

Loading follows the official ``load_model`` (``src/lib/models/model.py``): a tensor whose shape
differs from the model's is skipped and keeps its initialisation (COCO's 80-class ``hm`` and 2-d
``wh`` output convs when starting FairMOT from CenterNet). Deliberately stricter than the
official code, which only prints: a name that maps to nothing (other than ``base.fc``), a shape
mismatch anywhere but in a head's output conv, or a tensor of the source missing from the file
raises, naming the file and the tensors.
"""
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Tuple

import torch.nn as nn
from torch import Tensor

from ikun_mm.utils.checkpoint import (load_state_dict_strict, read_checkpoint,
                                      state_dict_from_checkpoint)

SOURCES = ('imagenet', 'centernet_coco', 'fairmot')
_DLA_TOP = ('base_layer.', 'level0.', 'level1.', 'level2.', 'level3.', 'level4.', 'level5.',
            'fc.')
_HEADS = {'hm': 'heatmap', 'wh': 'ltrb', 'reg': 'offset', 'id': 'embedding'}
_TREE_PARTS = {'tree1': 'left', 'tree2': 'right', 'root': 'node'}
_IDA_PART = re.compile(r'^(proj|node|up)_(\d+)\.(.*)$')


def _map_ida(rest: str) -> Optional[str]:
    m = _IDA_PART.match(rest)
    if m is None:
        return None
    kind, j, tail = m.group(1), int(m.group(2)), m.group(3)
    if kind == 'up':
        return f'up.{j - 1}.{tail}'
    if tail.startswith('conv.conv_offset_mask.'):
        tail = 'conv.conv_offset.' + tail[len('conv.conv_offset_mask.'):]
    elif tail.startswith('actf.0.'):
        tail = 'bn.' + tail[len('actf.0.'):]
    elif tail not in ('conv.weight', 'conv.bias'):
        return None
    return f'{kind}.{j - 1}.{tail}'


def map_official_name(name: str) -> Optional[str]:
    """Our parameter name of an official FairMOT / CenterNet ``DLASeg`` name (``module.``
    stripped), or ``None`` for the ImageNet classifier ``base.fc.*`` and unknown names."""
    parts = name.split('.')
    if parts[0] == 'base':
        top, rest = parts[1], parts[2:]
        if top == 'base_layer':
            return '.'.join(['backbone', 'stem'] + rest)
        if top in ('level0', 'level1'):
            return '.'.join(['backbone', top] + rest)
        m = re.fullmatch(r'level([2-5])', top)
        if m:
            rest = [_TREE_PARTS.get(p, p) for p in rest]
            return '.'.join(['backbone', 'trees', str(int(m.group(1)) - 2)] + rest)
        return None
    if parts[0] == 'dla_up' and len(parts) > 2 and parts[1].startswith('ida_'):
        mapped = _map_ida('.'.join(parts[2:]))
        return None if mapped is None else f'backbone.dla_up.{parts[1][4:]}.{mapped}'
    if parts[0] == 'ida_up':
        mapped = _map_ida('.'.join(parts[1:]))
        return None if mapped is None else f'backbone.ida_up.{mapped}'
    if parts[0] in _HEADS:
        return '.'.join(['head', _HEADS[parts[0]]] + parts[1:])
    return None


def read_official_state_dict(path: str) -> Dict[str, Tensor]:
    """Tensors of an official checkpoint with names as in FairMOT's ``DLASeg``: the
    ``'state_dict'`` entry if there is one, ``module.`` stripped (as ``load_model`` does), and the
    names of a bare ``DLA`` (the ImageNet file) prefixed ``base.``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such checkpoint. FairMOT inits are local files (the '
                                'official ctdet_coco_dla_2x.pth, dla34-ba72cf86.pth or '
                                'fairmot_dla34.pth); put one there or set model.init_from=None '
                                'to train from scratch')
    ckpt = read_checkpoint(path, map_location='cpu', weights_only=True)
    state = state_dict_from_checkpoint(ckpt, path, keys=('state_dict', ), tensors_only=False)
    return {'base.' + name if name.startswith(_DLA_TOP) else name: value
            for name, value in state.items()}


def _required(model_state: Dict[str, Tensor], source: str) -> List[str]:
    """Our tensors the source must provide."""
    base = ('backbone.stem.', 'backbone.level0.', 'backbone.level1.', 'backbone.trees.')
    if source == 'imagenet':
        prefixes = base
    elif source == 'centernet_coco':
        prefixes = ('backbone.', 'head.heatmap.', 'head.ltrb.', 'head.offset.')
    else:
        prefixes = ('backbone.', 'head.heatmap.', 'head.ltrb.', 'head.offset.',
                    'head.embedding.')
    return [k for k in model_state if k.startswith(prefixes)]


def _may_be_missing(model_state: Dict[str, Tensor], source: str) -> Callable[[str], bool]:
    """Whether one of our tensors may be absent from a ``source`` file and keep its
    initialisation: it is not one the source provides (:func:`_required`), a BN
    ``num_batches_tracked``, or, from CenterNet, a head output conv (80-class ``hm``, 2-d
    ``wh``: skipped for their shape)."""
    required = set(_required(model_state, source))
    return lambda k: (k not in required or k.endswith('num_batches_tracked')
                      or (_is_head_output(k) and source == 'centernet_coco'))


def _is_head_output(name: str) -> bool:
    pattern = r'head\.(heatmap|ltrb|offset|embedding)\.2\.(weight|bias)'
    return re.fullmatch(pattern, name) is not None


def convert_official_state_dict(state: Dict[str, Tensor],
                                model_state: Dict[str, Tensor],
                                source: str,
                                path: str = '<state dict>'
                                ) -> Tuple[Dict[str, Tensor], List[str]]:
    """Map an official state dict onto ``model_state``'s names.

    Args:
        state: official names (``base.*``, ``dla_up.*``, ``ida_up.*``, heads), ``module.``
            already stripped (see :func:`read_official_state_dict`).
        model_state: ``FairMOT.state_dict()`` of the model to load into.
        source: one of :data:`SOURCES` (decides which of our tensors must be present).
        path: file name used in errors.

    Returns:
        tuple: the tensors to load (our names, our shapes) and the official names that were
        skipped because their shape differs (head output convs only). Tensors of the source
        that the file lacks are found when loading (:func:`load_official_fairmot`).

    Raises:
        ValueError: official names with no place in the model, or shape mismatches outside
            the head output convs, naming ``path`` and the tensors.
    """
    if source not in SOURCES:
        raise ValueError(f'unknown source {source!r}, choose from {SOURCES}')
    converted, skipped, unknown, bad_shape = {}, [], [], []
    for name, value in state.items():
        ours = map_official_name(name)
        if ours is None:
            if not name.startswith('base.fc.'):
                unknown.append(name)
            continue
        if ours not in model_state:
            unknown.append(f'{name} -> {ours}')
            continue
        if model_state[ours].shape != value.shape:
            if _is_head_output(ours):
                skipped.append(f'{name} {tuple(value.shape)} (model: '
                               f'{tuple(model_state[ours].shape)})')
                continue
            bad_shape.append(f'{name} {tuple(value.shape)} -> {ours} '
                             f'{tuple(model_state[ours].shape)}')
            continue
        converted[ours] = value
    if unknown:
        raise ValueError(f'{path}: {len(unknown)} tensors have no place in the model (wrong '
                         f'backbone conv_cfg or not a FairMOT/CenterNet DLA-34 file?): '
                         f'{unknown[:8]}')
    if bad_shape:
        raise ValueError(f'{path}: shapes differ from the model: {bad_shape[:8]}')
    return converted, skipped


def load_official_fairmot(model: nn.Module, checkpoint: str, source: str,
                          logger=None) -> List[str]:
    """Load a local official checkpoint (see the module docstring) into ``model`` in place.

    Tensors the file does not provide (the identity classifier, the task uncertainties, the
    heads when ``source='imagenet'``, COCO's 80-class heatmap output) keep their current values.

    Returns:
        the official names skipped for a shape mismatch.

    Raises:
        FileNotFoundError: no such file.
        UnreadableCheckpointError: torch cannot read it (with ``weights_only=True``).
        ValueError: (also a :class:`~ikun_mm.utils.checkpoint.CheckpointMismatchError` for the
            missing tensors) the file does not fit, naming it and the tensors.
    """
    state = read_official_state_dict(checkpoint)
    model_state = model.state_dict()
    converted, skipped = convert_official_state_dict(state, model_state, source, checkpoint)
    load_state_dict_strict(model, converted, checkpoint,
                           allow_missing=_may_be_missing(model_state, source),
                           what=f'FairMOT: the tensors a {source!r} checkpoint provides')
    msg = (f'FairMOT: loaded {len(converted)} tensors from {checkpoint} ({source})'
           + (f'; kept the initialisation of {skipped}' if skipped else ''))
    if logger is not None:
        logger.info(msg)
    return skipped
