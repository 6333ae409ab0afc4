"""Train a model with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT] | --overwrite] [--amp]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

The work dir (``--work-dir``, default ``work_dirs/<config name>``) must not hold the checkpoints
of an earlier run (``epoch_N.pth``, ``iter_N.pth``, ``best_*.pth``, ``last_checkpoint``), unless
``--resume`` continues that run or ``--overwrite`` starts again in it (those checkpoints are
deleted first; the logs of every run stay in their own timestamped folders, other files such as
an ``init.pth`` are left alone). Otherwise the tool stops before writing anything and names the
dir; a new ``--work-dir`` is the third way out. (Training on into a sibling folder
instead would leave scripts that read ``<work dir>/last_checkpoint`` with the earlier run's
checkpoint.)

``--resume`` checks the checkpoint before training: when the work dir's last checkpoint is
truncated (a run killed while saving), the previous readable ``epoch_N.pth``/``iter_N.pth`` is
used, with a warning naming both files; an unreadable ``--resume CKPT`` is an error naming it.
``--cfg-options`` values may contain spaces (``"data_root=my data/refer kitti"``, quoted as one
shell word); mmengine's own parser would delete them.
"""
import argparse
import os
import os.path as osp
import re

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ikun_mm.utils import (CfgOptionsAction, load_runner_config, register_all_modules,
                           run_runner_loop, setup_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train an ikun_mm model',
        epilog='A work dir that holds checkpoints of an earlier run (epoch_N.pth, iter_N.pth, '
        'best_*.pth, last_checkpoint) is an error naming it: pass --resume to continue that '
        'run, --overwrite to train again in it (its checkpoints are deleted first), or choose '
        'another --work-dir.')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest checkpoint '
                        'in the work dir when no path is given')
    parser.add_argument('--overwrite', action='store_true',
                        help='train again in a work dir that holds an earlier run: its '
                        'checkpoints (epoch_N.pth, iter_N.pth, best_*.pth, last_checkpoint) '
                        'are deleted first. Without '
                        '--resume or --overwrite such a work dir is an error')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, "key=value" pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local_rank, torchrun passes --local-rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.overwrite and args.resume is not None:
        parser.error('--resume continues the run of the work dir, --overwrite starts it again: '
                     'give one of them')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


#: The files mmengine's CheckpointHook writes into the work dir (and a new run would replace).
_RUN_CHECKPOINT = re.compile(r'^((epoch|iter)_\d+\.pth|best_.*\.pth|last_checkpoint)$')


def earlier_run_files(work_dir: str) -> list:
    """The checkpoints of an earlier run in ``work_dir`` (``epoch_N.pth``, ``iter_N.pth``,
    ``best_*.pth``, ``last_checkpoint``), sorted. Other files (an ``init.pth`` the user put
    there) are never replaced by a run and do not count; nor do logs: every run logs into its
    own timestamped folder, so a run that stopped before its first checkpoint does not block
    the next one."""
    if not osp.isdir(work_dir):
        return []
    return sorted(osp.join(work_dir, n) for n in os.listdir(work_dir)
                  if _RUN_CHECKPOINT.match(n) and osp.isfile(osp.join(work_dir, n)))


def check_work_dir(work_dir: str, resume, overwrite: bool) -> None:
    """Refuse a work dir holding an earlier run unless ``resume`` or ``overwrite``; with
    ``overwrite`` delete its checkpoints (on rank 0)."""
    found = earlier_run_files(work_dir)
    if not found or resume is not None:
        return
    if not overwrite:
        names = ', '.join(osp.basename(p) for p in found[:4]) + (', ...' if len(found) > 4 else '')
        raise SystemExit(
            f'work dir {work_dir} holds an earlier run ({names}): pass --resume to continue it, '
            f'--overwrite to train again in it (its checkpoints are deleted), or choose another '
            f'--work-dir')
    if os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0')) != '0':
        return
    for path in found:
        if osp.isfile(path):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
    print(f'--overwrite: deleted the checkpoints of the earlier run in {work_dir}', flush=True)


def _run_checkpoints(work_dir: str) -> list:
    """``epoch_N.pth``/``iter_N.pth`` of ``work_dir``, latest (highest N) first."""
    if not osp.isdir(work_dir):
        return []
    found = [(int(m.group(2)), n) for n in os.listdir(work_dir)
             for m in [re.match(r'^(epoch|iter)_(\d+)\.pth$', n)] if m]
    return [osp.join(work_dir, n) for _, n in sorted(found, reverse=True)]


def resume_checkpoint(work_dir: str, resume: str):
    """The checkpoint ``--resume`` continues from, checked before training starts.

    ``resume='auto'``: the work dir's ``last_checkpoint``; when that file is truncated (a run
    killed while saving) or otherwise unreadable, the latest readable ``epoch_N.pth`` /
    ``iter_N.pth`` before it is used instead, with a warning naming both files. An explicit
    path that is unreadable is an error naming it (and the previous readable checkpoint of the
    work dir, to pass to ``--resume`` instead).

    Returns:
        the checkpoint path, or ``None`` (``'auto'`` and the work dir has no ``last_checkpoint``:
        mmengine then starts from scratch and says so).
    """
    from ikun_mm.utils.checkpoint import checkpoint_problem
    if resume != 'auto':
        problem = checkpoint_problem(resume)
        if problem is None:
            return resume
        earlier = [p for p in _run_checkpoints(work_dir)
                   if osp.abspath(p) != osp.abspath(resume) and checkpoint_problem(p) is None]
        hint = (f'; the latest readable checkpoint of {work_dir} is {earlier[0]}: pass --resume '
                f'{earlier[0]}' if earlier else '')
        raise SystemExit(f'--resume: {problem}{hint}')
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        last = f.read().strip()
    if last and not osp.isabs(last) and not osp.exists(last):
        last = osp.join(work_dir, osp.basename(last))
    problem = checkpoint_problem(last) if last else f'{pointer} is empty'
    if problem is None:
        return last
    for candidate in _run_checkpoints(work_dir):
        if last and osp.abspath(candidate) == osp.abspath(last):
            continue
        if checkpoint_problem(candidate) is None:
            import warnings
            message = (f'--resume: the last checkpoint {last} (named in {pointer}) is not '
                       f'readable: {problem}. Resuming from the previous readable checkpoint '
                       f'{candidate} instead')
            warnings.warn(message, stacklevel=2)
            print(f'warning: {message}', flush=True)
            return candidate
    raise SystemExit(f'--resume: {problem}; and {work_dir} holds no earlier readable '
                     'checkpoint (epoch_N.pth / iter_N.pth) to resume from: pass --overwrite to '
                     'train again in it, or choose another --work-dir')


def build_config(args) -> Config:
    cfg = load_runner_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume is not None:
        cfg.resume = True
        cfg.load_from = resume_checkpoint(cfg.work_dir, args.resume)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    check_work_dir(cfg.work_dir, args.resume, args.overwrite)
    setup_cpu_distributed(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    run_runner_loop(runner.train)


if __name__ == '__main__':
    main()
