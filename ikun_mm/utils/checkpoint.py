"""Reading checkpoints: one place that loads a checkpoint file and names it when it cannot.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 calls
``torch.load`` without the argument, and its checkpoints pickle the training state (the message
hub's ``HistoryBuffer`` objects, numpy arrays and ``builtins.getattr`` for their dtypes), so every
``--resume`` and ``load_from`` fails. :func:`register_checkpoint_loader` replaces mmengine's local
file loader (through mmengine's own ``CheckpointLoader.register_scheme`` hook) by
:func:`load_local_checkpoint`, which loads with ``weights_only=False``, as mmengine did under
earlier torch releases: load only checkpoints you trust.

Every local checkpoint ikun_mm reads (``tools/test.py CONFIG CHECKPOINT``, ``--resume``,
``load_from``, ``ReferringTracker.load_referrer_checkpoint``, the demo, the calibration tools,
the encoders' ``pretrained`` files) goes through :func:`read_checkpoint`: a missing file is a
``FileNotFoundError`` and a file torch cannot read (truncated by an interrupted copy or save,
random bytes, a text file) an :class:`UnreadableCheckpointError`, both naming the file.
"""
import os.path as osp
import zipfile
from typing import Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader


class UnreadableCheckpointError(RuntimeError):
    """A checkpoint file exists but is not a readable PyTorch checkpoint."""


def read_checkpoint(filename: str, map_location='cpu'):
    """Load the checkpoint file ``filename`` (``torch.load`` with ``weights_only=False``).

    Paths with a scheme (``http://``, ``open-mmlab://``, ...) go to mmengine's loaders.

    Raises:
        FileNotFoundError: ``filename`` does not exist (or is not a file).
        UnreadableCheckpointError: the file is not a readable checkpoint; the message names the
            file, its size and torch's error.
    """
    if '://' in str(filename):
        from mmengine.runner.checkpoint import _load_checkpoint
        return _load_checkpoint(filename, map_location=map_location)
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        what = 'is a folder, not a file' if osp.isdir(filename) else 'does not exist'
        raise FileNotFoundError(f'checkpoint {filename} {what}')
    try:
        return torch.load(filename, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - re-raised below with the file name
        size = osp.getsize(filename)
        raise UnreadableCheckpointError(
            f'{filename}: not a readable checkpoint ({size} bytes; the file may be truncated by '
            f'an interrupted save or copy, or not be a PyTorch checkpoint at all). torch.load '
            f'said: {type(exc).__name__}: {exc}') from exc


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine's local loader, through :func:`read_checkpoint` (see module docstring)."""
    return read_checkpoint(filename, map_location=map_location)


def register_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_local_checkpoint`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why ``filename`` is not a readable checkpoint, or ``None`` when it looks readable.

    Cheap for the zip checkpoints torch writes (since 1.6): a file truncated by an interrupted
    save or copy has lost the zip directory at its end, which :mod:`zipfile` finds without
    reading the tensors. Other files (torch's legacy format) are loaded with
    :func:`read_checkpoint`.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        return f'checkpoint {filename} does not exist'
    if zipfile.is_zipfile(filename):
        try:
            with zipfile.ZipFile(filename) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            return f'{filename}: not a readable checkpoint ({exc})'
        if any(n.endswith('data.pkl') for n in names):
            return None
        return f'{filename}: not a PyTorch checkpoint (a zip file without data.pkl)'
    try:
        read_checkpoint(filename)
    except (UnreadableCheckpointError, FileNotFoundError) as exc:
        return str(exc)
    return None
