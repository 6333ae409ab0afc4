"""Reading checkpoints: one reader and one strict loader that name the file when they cannot.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 calls
``torch.load`` without the argument, and its checkpoints pickle the training state (the message
hub's ``HistoryBuffer`` objects, numpy arrays and ``builtins.getattr`` for their dtypes), so every
``--resume`` and ``load_from`` fails. :func:`register_checkpoint_loader` replaces mmengine's local
file loader (through mmengine's own ``CheckpointLoader.register_scheme`` hook) by
:func:`load_local_checkpoint`, which loads with ``weights_only=False``, as mmengine did under
earlier torch releases: load only checkpoints you trust.

Every checkpoint file ikun_mm reads goes through :func:`read_checkpoint` (``tools/test.py CONFIG
CHECKPOINT``, ``--resume``, ``load_from``, ``ReferringTracker.load_referrer_checkpoint``, the
demo, the calibration tools, the encoders' ``pretrained`` files, the official OSTrack / STARK /
ATOM / FairMOT / iKUN files and their backbone inits, the NKF and ReID checkpoints): a missing file
is a ``FileNotFoundError`` and a file torch cannot read (truncated by an interrupted copy or save,
random bytes, a text file) an :class:`UnreadableCheckpointError`, both naming the file.
:func:`state_dict_from_checkpoint` takes the tensors out of what was read (``state_dict`` /
``model`` / ``net`` entries, ``module.`` prefixes), and :func:`load_state_dict_strict` loads them
or raises one :class:`CheckpointMismatchError` that names the file and lists the missing keys, the
unexpected keys and the shape mismatches. Name mappings from official layouts stay with their
models (``models/*/..._weights.py``, ``pretrained.py``); only reading and loading live here.
"""
import fnmatch
import os.path as osp
import pickle
import warnings
import zipfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader


class UnreadableCheckpointError(RuntimeError):
    """A checkpoint file exists but is not a readable PyTorch checkpoint."""


class CheckpointMismatchError(RuntimeError, KeyError, ValueError):
    """A readable checkpoint whose content does not fit: it holds no state dict where one is
    expected, or its keys / shapes differ from the model's.

    It is a ``RuntimeError`` (what ``nn.Module.load_state_dict`` and mmengine raise), a
    ``KeyError`` and a ``ValueError`` (what the official-weight loaders of this package raised
    before they shared this loader), so callers that catch any of them keep working.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


class _Placeholder:
    """Stands in for a pickled object whose class cannot be imported (e.g. pytracking's own
    ``'constructor'`` / ``'settings'`` objects next to the weights)."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


class _TolerantUnpickler(pickle.Unpickler):
    """Unpickler that turns classes of unavailable modules into :class:`_Placeholder`."""

    def find_class(self, module: str, name: str):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _Placeholder


class _TolerantPickle:
    """``pickle_module`` for ``torch.load`` that tolerates classes it cannot import."""
    Unpickler = _TolerantUnpickler
    load = pickle.load
    __name__ = 'ikun_mm_tolerant_pickle'


def read_checkpoint(filename: str, map_location='cpu', weights_only: bool = False,
                    tolerate_unknown_classes: bool = False) -> Any:
    """Load the checkpoint file ``filename`` with ``torch.load``.

    Paths with a scheme (``http://``, ``open-mmlab://``, ...) go to mmengine's loaders.

    Args:
        filename (str): the checkpoint file.
        map_location: as for ``torch.load``.
        weights_only (bool): ``torch.load``'s safe mode (tensors and plain containers only). The
            default ``False`` reads mmengine checkpoints (they pickle the training state): load
            only files you trust.
        tolerate_unknown_classes (bool): unpickle objects whose class cannot be imported as
            inert placeholders instead of failing, e.g. pytracking checkpoints, which pickle
            objects of the ``ltr`` package next to the weights. Needs ``weights_only=False``.

    Raises:
        FileNotFoundError: ``filename`` does not exist (or is not a file).
        UnreadableCheckpointError: the file is not a readable checkpoint; the message names the
            file, its size and torch's error.
    """
    if weights_only and tolerate_unknown_classes:
        raise ValueError('tolerate_unknown_classes=True needs weights_only=False')
    if '://' in str(filename):
        from mmengine.runner.checkpoint import _load_checkpoint
        return _load_checkpoint(filename, map_location=map_location)
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        what = 'is a folder, not a file' if osp.isdir(filename) else 'does not exist'
        raise FileNotFoundError(f'checkpoint {filename} {what}')
    kwargs = dict(pickle_module=_TolerantPickle) if tolerate_unknown_classes else {}
    try:
        with warnings.catch_warnings():  # TorchScript archives (OpenAI's CLIP files) are fine
            warnings.filterwarnings('ignore', message='.*looks like a TorchScript archive')
            return torch.load(filename, map_location=map_location, weights_only=weights_only,
                              **kwargs)
    except Exception as exc:  # noqa: BLE001 - re-raised below with the file name
        size = osp.getsize(filename)
        raise UnreadableCheckpointError(
            f'{filename}: not a readable checkpoint ({size} bytes; the file may be truncated by '
            f'an interrupted save or copy, or not be a PyTorch checkpoint at all). torch.load '
            f'said: {type(exc).__name__}: {exc}') from exc


def state_dict_from_checkpoint(checkpoint: Any, filename: str,
                               keys: Sequence[str] = ('state_dict', 'model', 'net'),
                               strip_prefixes: Sequence[str] = ('module.', ),
                               tensors_only: bool = True) -> Dict[str, torch.Tensor]:
    """The state dict inside a checkpoint read by :func:`read_checkpoint`.

    The first of ``keys`` that holds a dict is taken (mmengine writes ``state_dict``, timm /
    OSTrack / STARK ``model`` or ``net``, pytracking ``net``); a checkpoint that is itself a dict
    of tensors is its own state dict; a TorchScript module gives its ``state_dict()``. Each of
    ``strip_prefixes`` is removed from the names that start with it (``module.`` of
    ``DataParallel``), as mmengine's ``load_checkpoint`` does with its ``revise_keys``.

    Args:
        checkpoint: what :func:`read_checkpoint` returned.
        filename (str): the file it came from (for the error message).
        keys (Sequence[str]): entries that may hold the state dict, in order of preference.
        strip_prefixes (Sequence[str]): name prefixes to remove.
        tensors_only (bool): raise when a value of the state dict is not a tensor; when False,
            non-tensor values are dropped instead.

    Returns:
        dict[str, Tensor]: names -> tensors.

    Raises:
        CheckpointMismatchError: no state dict found, naming the file and what it holds.
    """
    obj = checkpoint
    if isinstance(obj, torch.jit.ScriptModule):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in keys:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        found = sorted(map(str, checkpoint))[:8] if isinstance(checkpoint, dict) else \
            type(checkpoint).__name__
        raise CheckpointMismatchError(
            f'{filename}: holds no state dict (expected a dict of tensors or one under '
            f'{" / ".join(repr(k) for k in keys)}; found {found})')
    not_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if not_tensors and tensors_only:
        raise CheckpointMismatchError(
            f'{filename}: holds no state dict of tensors ({len(not_tensors)} entries are not '
            f'tensors: {_head(not_tensors)})')
    out = {}
    for name, value in obj.items():
        if not isinstance(value, torch.Tensor):
            continue
        for prefix in strip_prefixes:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        out[name] = value
    if not out:
        raise CheckpointMismatchError(f'{filename}: holds no tensors')
    return out


KeyFilter = Union[Sequence[str], Callable[[str], bool]]


def _head(keys: List[str], n: int = 8) -> List[str]:
    """The first ``n`` of ``keys`` and ``'...'`` when there are more."""
    return keys[:n] + (['...'] if len(keys) > n else [])


def _matches(key: str, patterns: KeyFilter) -> bool:
    if callable(patterns):
        return bool(patterns(key))
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def load_state_dict_strict(module: torch.nn.Module, state_dict: Dict[str, torch.Tensor],
                           filename: str, allow_missing: KeyFilter = (),
                           allow_unexpected: KeyFilter = (),
                           what: Optional[str] = None, hint: str = '') -> List[str]:
    """``module.load_state_dict(state_dict)``, strict, with one error that names everything.

    Args:
        module (nn.Module): the model to load into.
        state_dict (dict[str, Tensor]): names as in ``module.state_dict()``.
        filename (str): the file ``state_dict`` was read from (named in the error).
        allow_missing (Sequence[str] | Callable[[str], bool]): ``fnmatch`` patterns of the
            module's keys that may be absent from ``state_dict`` and keep their current values
            (e.g. ``'*.num_batches_tracked'``), or a function of the key that says so.
        allow_unexpected (Sequence[str] | Callable[[str], bool]): the same for ``state_dict``
            keys the module does not have; they are ignored.
        what (str, optional): what is being loaded, for the message (default: the module's
            class name).
        hint (str): appended to the message (e.g. which file was expected).

    Returns:
        list[str]: the module's keys that were allowed to be missing and kept their values.

    Raises:
        CheckpointMismatchError: missing keys, unexpected keys or shape mismatches; the message
            names the file and gives each list with its count (the first 8 names of each).
    """
    own = module.state_dict()
    missing = sorted(k for k in own if k not in state_dict)
    allowed = [k for k in missing if _matches(k, allow_missing)]
    missing = [k for k in missing if k not in allowed]
    unexpected = sorted(k for k in state_dict if k not in own and
                        not _matches(k, allow_unexpected))
    shapes = sorted(f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                    for k, v in state_dict.items() if k in own and v.shape != own[k].shape)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing keys (in the model, missing in the '
                         f'checkpoint): {_head(missing)}')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected keys (in the checkpoint, not in the '
                         f'model): {_head(unexpected)}')
        if shapes:
            parts.append(f'{len(shapes)} shape mismatches: {_head(shapes)}')
        raise CheckpointMismatchError(
            f'{filename}: cannot load {what or type(module).__name__}: ' + '; '.join(parts)
            + (f'. {hint}' if hint else ''))
    module.load_state_dict({k: v for k, v in state_dict.items() if k in own}, strict=False)
    return allowed


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


def save_new_checkpoint(obj: object, path: str, overwrite: bool = False) -> str:
    """Write ``obj`` to a NEW checkpoint file ``path`` (``torch.save``), whole or not at all.

    The file is written to a temporary file in the same folder and renamed into place
    (``os.replace``), so an interrupted save never leaves a truncated checkpoint under ``path``.
    The folder is created when missing.

    Args:
        obj: what to save (a checkpoint dict).
        path: the file to create.
        overwrite: replace an existing ``path`` (default: refuse).

    Returns:
        ``path``.

    Raises:
        FileExistsError: ``path`` exists (checked before and again right before the rename)
            and ``overwrite`` is false; the message names it.
    """
    import os
    import tempfile

    path = osp.expanduser(str(path))

    def refuse_existing():
        if osp.exists(path) and not overwrite:
            raise FileExistsError(f'{path} exists; pass --overwrite to replace it, or choose '
                                  'another --out')

    refuse_existing()
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.partial')
    os.close(fd)
    try:
        torch.save(obj, tmp)
        refuse_existing()  # the file may have appeared while ``obj`` was being written
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path
