"""Config handling shared by the tools (``tools/train.py``, ``tools/test.py``, the demo...)."""
import os.path as osp
from typing import Callable, Optional

from mmengine.config import Config, DictAction


def load_runner_config(config: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                       work_dir: Optional[str] = None) -> Config:
    """Read a config and apply the command-line settings every tool shares.

    * a top-level ``data_root`` given in ``cfg_options`` replaces the config's data root
      everywhere it was used (configs copy ``data_root`` into dataset dicts and paths when they
      are parsed, so merging the top-level key alone would change nothing);
    * ``cfg_options`` are merged last-but-one (``--cfg-options``), ``work_dir`` overrides the
      config's, which defaults to ``./work_dirs/<config name>``;
    * the distributed backend falls back from ``nccl`` to ``gloo`` when CUDA is unavailable, so
      ``tools/dist_train.sh CFG 2`` runs on a CPU machine unchanged.
    """
    if not osp.isfile(config):
        raise SystemExit(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    merge_cfg_options(cfg, cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    import torch
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl' and not torch.cuda.is_available():
        dist_cfg['backend'] = 'gloo'
    return cfg


def merge_cfg_options(cfg: Config, cfg_options: Optional[dict]) -> Config:
    """Merge ``--cfg-options`` into ``cfg`` in place; a new top-level ``data_root`` also replaces
    the old root in every path the config derived from it when it was parsed (dataset dicts,
    detection folders, the calibration's training expressions)."""
    if cfg_options:
        old_root = cfg.get('data_root', None)
        cfg.merge_from_dict(cfg_options)
        new_root = cfg.get('data_root', None)
        if isinstance(old_root, str) and isinstance(new_root, str) and new_root != old_root:
            for key in cfg.keys():
                if isinstance(cfg[key], (dict, list)):
                    _replace_root(cfg[key], old_root, new_root)
    return cfg


def _replace_root(node, old: str, new: str):
    """Recursively replace string values equal to ``old`` or starting with ``old/``."""
    old_dir = old.rstrip('/') + '/'
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, str):
            if value == old:
                node[key] = new
            elif value.startswith(old_dir):
                node[key] = new.rstrip('/') + '/' + value[len(old_dir):]
        elif isinstance(value, (dict, list)):
            _replace_root(value, old, new)


def setup_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` run on a machine without CUDA (gloo backend, CPU DDP).

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, so on CPU the
    process group is initialised here (from torchrun's environment) before the Runner is built;
    the Runner then finds it initialised and skips its own. DDP wraps a CPU module with
    ``device_ids=None``. Does nothing when CUDA is available or the launcher is not
    ``pytorch``.
    """
    import torch
    import torch.distributed as dist
    if cfg.get('launcher') != 'pytorch' or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', init_method='env://')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def shutdown_distributed() -> None:
    """Wait for every rank, then destroy the process group (no-op when not distributed).

    Without this, a rank that reaches interpreter exit while gloo's background threads still
    hold connections to a rank that already exited can abort with ``terminate called without an
    active exception`` (SIGABRT) after training finished, which fails the launcher's exit code.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def run_runner_loop(loop: Callable[[], object]) -> None:
    """Run ``runner.train`` or ``runner.test`` for a tool, then :func:`shutdown_distributed`.

    A malformed data file (:class:`~ikun_mm.datasets.refer_kitti_io.ReferKittiFormatError`, whose
    message names the file and the line) ends the tool with that message instead of a traceback.
    """
    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
    try:
        loop()
    except ReferKittiFormatError as exc:
        raise SystemExit(f'{type(exc).__name__}: {exc}')
    shutdown_distributed()


class CfgOptionsAction(DictAction):
    """``--cfg-options key=value ...`` as mmengine's ``DictAction`` parses it (ints, floats,
    booleans, ``None``, ``a,b`` and ``[a, b]``/``(a, b)`` lists and tuples, nested), except that
    spaces inside a value are kept: mmengine's parser deletes every space, so
    ``'data_root=my data/mini ref'`` silently became ``mydata/miniref``. Here whitespace around
    list elements is dropped and whitespace inside a value kept, so
    ``'data_root=my data/mini ref'`` is the path ``my data/mini ref`` and ``'a=[1, 2]'`` is
    still ``[1, 2]``.

    A word without ``=`` (a value with spaces that the shell split because it was not quoted:
    ``data_root=my data/root``) is an error that says to quote the whole ``key=value``.
    """

    @classmethod
    def parse_value(cls, text: str):
        """One value: ``'1'`` -> 1, ``'a b'`` -> ``'a b'``, ``'[1, (2, x y)]'`` ->
        ``[1, (2, 'x y')]``."""
        text = text.strip().strip('\'"')
        is_tuple = text.startswith('(') and text.endswith(')')
        if is_tuple or (text.startswith('[') and text.endswith(']')):
            text = text[1:-1]
        elif ',' not in text:
            return DictAction._parse_int_float_bool(text)
        if text.count('(') != text.count(')') or text.count('[') != text.count(']'):
            raise ValueError(f'unbalanced brackets in {text!r}')
        pieces, depth, start = [], 0, 0
        for i, char in enumerate(text):
            depth += (char in '([') - (char in ')]')
            if char == ',' and depth == 0:
                pieces.append(text[start:i])
                start = i + 1
        pieces.append(text[start:])
        if not pieces[-1].strip():  # '' (an empty list) or a trailing comma
            pieces.pop()
        values = [cls.parse_value(p) for p in pieces]
        return tuple(values) if is_tuple else values

    def __call__(self, parser, namespace, values, option_string=None):
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values or []:
            if '=' not in item:
                parser.error(
                    f'{option_string}: {item!r} is not key=value. A value with spaces must be '
                    f'one shell word: quote the whole pair, e.g. {option_string} '
                    f'"data_root=my data/refer kitti"')
            key, value = item.split('=', 1)
            try:
                options[key.strip()] = self.parse_value(value)
            except ValueError as exc:
                parser.error(f'{option_string}: {item!r}: {exc}')
        setattr(namespace, self.dest, options)
