"""Config handling shared by ``tools/train.py`` and ``tools/test.py``."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_runner_config(config: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                       work_dir: Optional[str] = None) -> Config:
    """Read a config and apply the command-line settings every tool shares.

    * ``cfg_options`` are merged last-but-one (``--cfg-options``), ``work_dir`` overrides the
      config's, which defaults to ``./work_dirs/<config name>``;
    * the distributed backend falls back from ``nccl`` to ``gloo`` when CUDA is unavailable, so
      ``tools/dist_train.sh CFG 2`` runs on a CPU machine unchanged.
    """
    if not osp.isfile(config):
        raise SystemExit(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    import torch
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl' and not torch.cuda.is_available():
        dist_cfg['backend'] = 'gloo'
    return cfg
