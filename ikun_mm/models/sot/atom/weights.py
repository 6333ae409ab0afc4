"""Load the official ATOM checkpoint (pytracking's ``atom_default.pth``) into :class:`ATOM`.

pytracking saves a dict whose ``'net'`` entry is the state dict of its ``ATOMnet``, next to
pickled objects of its own (``'constructor'``, ``'settings'``...) that cannot be unpickled
without the ``ltr`` package. :func:`load_official_atom_checkpoint` unpickles those as inert
placeholders, converts the parameter names, and loads strictly: any parameter of ours without a
counterpart, or any official parameter left unused (other than the ones we drop on purpose), is
an error naming the keys.

Name mapping (official -> ours); ``N`` is a pytracking ``conv`` block
``Sequential(Conv2d, BatchNorm2d, ReLU)``, so its ``.0`` is our ``ConvModule.conv`` and its
``.1`` our ``ConvModule.bn``:

======================================  =======================================
``feature_extractor.<x>``               ``backbone.<x>`` (same ResNet names)
``bb_regressor.conv3_1r.{0,1}``          ``iou_net.ref_conv3.{conv,bn}``
``bb_regressor.conv4_1r.{0,1}``          ``iou_net.ref_conv4.{conv,bn}``
``bb_regressor.fc3_1r.{0,1}``            ``iou_net.ref_fc3.{conv,bn}``
``bb_regressor.fc34_3r.{0,1}``           ``iou_net.ref_fuse3.{conv,bn}``
``bb_regressor.fc34_4r.{0,1}``           ``iou_net.ref_fuse4.{conv,bn}``
``bb_regressor.conv3_1t.{0,1}``          ``iou_net.test_conv3.0.{conv,bn}``
``bb_regressor.conv3_2t.{0,1}``          ``iou_net.test_conv3.1.{conv,bn}``
``bb_regressor.conv4_1t.{0,1}``          ``iou_net.test_conv4.0.{conv,bn}``
``bb_regressor.conv4_2t.{0,1}``          ``iou_net.test_conv4.1.{conv,bn}``
``bb_regressor.fc3_rt.{linear,bn}``      ``iou_net.fc3.{fc,bn}``
``bb_regressor.fc4_rt.{linear,bn}``      ``iou_net.fc4.{fc,bn}``
``bb_regressor.iou_predictor``           ``iou_net.iou_predictor``
======================================  =======================================

Dropped on purpose: ``feature_extractor.fc.*`` (ImageNet classifier) and, when our backbone
stops at layer3 (``num_stages=3``), ``feature_extractor.layer4.*``. The official
``fc*_rt.bn`` is a ``BatchNorm2d`` on (N, C, 1, 1); ours is a ``BatchNorm1d`` with identical
parameters and statistics.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

from torch import Tensor, nn

from ikun_mm.utils.checkpoint import (CheckpointMismatchError, load_state_dict_strict,
                                      read_checkpoint)

_IOU_BLOCKS = {
    'conv3_1r': 'ref_conv3', 'conv4_1r': 'ref_conv4', 'fc3_1r': 'ref_fc3',
    'fc34_3r': 'ref_fuse3', 'fc34_4r': 'ref_fuse4', 'conv3_1t': 'test_conv3.0',
    'conv3_2t': 'test_conv3.1', 'conv4_1t': 'test_conv4.0', 'conv4_2t': 'test_conv4.1',
}
_CONV_PARTS = {'0': 'conv', '1': 'bn'}
_LINEAR_BLOCKS = {'fc3_rt': 'fc3', 'fc4_rt': 'fc4'}
_LINEAR_PARTS = {'linear': 'fc', 'bn': 'bn'}
_DROPPED = re.compile(r'^feature_extractor\.fc\.')


def convert_official_atom_key(key: str) -> str:
    """Our name for one official ATOM parameter name (see the module table).

    Raises:
        KeyError: for a name outside the official ATOM layout.
    """
    if key.startswith('feature_extractor.'):
        return 'backbone.' + key[len('feature_extractor.'):]
    match = re.match(r'^bb_regressor\.(\w+?)\.(\w+)\.(.+)$', key)
    if match:
        block, part, rest = match.groups()
        if block in _IOU_BLOCKS and part in _CONV_PARTS:
            return f'iou_net.{_IOU_BLOCKS[block]}.{_CONV_PARTS[part]}.{rest}'
        if block in _LINEAR_BLOCKS and part in _LINEAR_PARTS:
            return f'iou_net.{_LINEAR_BLOCKS[block]}.{_LINEAR_PARTS[part]}.{rest}'
    match = re.match(r'^bb_regressor\.iou_predictor\.(weight|bias)$', key)
    if match:
        return f'iou_net.iou_predictor.{match.group(1)}'
    raise KeyError(f'"{key}" is not a parameter of the official ATOM network')


def convert_official_atom_state_dict(
        state_dict: Dict[str, Tensor],
        drop_prefixes: Tuple[str, ...] = ()) -> 'OrderedDict[str, Tensor]':
    """Rename an official ``ATOMnet`` state dict to ours.

    Args:
        state_dict (dict): the checkpoint's ``'net'`` entry.
        drop_prefixes (tuple[str]): *our* name prefixes to leave out (e.g. ``'backbone.layer4.'``
            for a backbone without layer4); the ImageNet ``fc`` is always left out.

    Returns:
        OrderedDict: our names -> tensors.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if _DROPPED.match(key):
            continue
        new_key = convert_official_atom_key(key)
        if new_key.startswith(tuple(drop_prefixes)):
            continue
        out[new_key] = value
    return out


def read_official_atom_checkpoint(path: str) -> Dict[str, Tensor]:
    """The ``'net'`` state dict of an official ATOM checkpoint file.

    Raises:
        FileNotFoundError: the file does not exist.
        UnreadableCheckpointError: torch cannot read the file.
        CheckpointMismatchError: (a ``ValueError``) the file holds no ``'net'`` state dict.
    """
    ckpt = read_checkpoint(path, map_location='cpu', tolerate_unknown_classes=True)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get('net'), dict):
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointMismatchError(f'{path} is not an official ATOM checkpoint: expected a '
                                      f'dict with a "net" state dict, found {keys}')
    return ckpt['net']


def load_official_atom_checkpoint(model: nn.Module, path: str) -> List[str]:
    """Load pytracking's ATOM weights into an :class:`ATOM` model, strictly.

    Args:
        model (nn.Module): an ATOM model with the paper's layout (ResNet-18 backbone, IoU net
            with the default widths).
        path (str): the official checkpoint file (``atom_default.pth``).

    Returns:
        list[str]: the official keys that were dropped on purpose.

    Raises:
        KeyError: an official name outside the known layout.
        CheckpointMismatchError: (a ``KeyError`` and a ``ValueError``) parameters missing or
            left unused after the mapping, or shape mismatches; the message names the file and
            lists them (:func:`~ikun_mm.utils.checkpoint.load_state_dict_strict`).
    """
    official = read_official_atom_checkpoint(path)
    own = model.state_dict()
    drop = ()
    if not any(k.startswith('backbone.layer4.') for k in own):
        drop = ('backbone.layer4.', )
    converted = convert_official_atom_state_dict(official, drop)
    dropped = [k for k in official if _DROPPED.match(k) or (
        drop and k.startswith('feature_extractor.layer4.'))]
    load_state_dict_strict(model, converted, path, what='ATOM (official weights)')
    return dropped
