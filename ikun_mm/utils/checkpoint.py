"""Loading mmengine checkpoints with torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 calls
``torch.load`` without the argument, and its checkpoints pickle the training state (the message
hub's ``HistoryBuffer`` objects, numpy arrays and ``builtins.getattr`` for their dtypes), so every
``--resume`` and ``load_from`` fails. :func:`register_checkpoint_loader` replaces mmengine's local
file loader (through mmengine's own ``CheckpointLoader.register_scheme`` hook) by one that loads
with ``weights_only=False``, which is what mmengine did under earlier torch releases: load only
checkpoints you trust.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine's local loader, with ``weights_only=False`` (see module docstring)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    return torch.load(filename, map_location=map_location, weights_only=False)


def register_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_local_checkpoint`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
