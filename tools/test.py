"""Evaluate a trained model with mmengine's Runner.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl [--overwrite]]
                         [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]

A checkpoint that does not exist, is not a readable checkpoint (truncated, random bytes) or does
not fit the model is an error naming the file (it is loaded strictly). An existing ``--out``
file is only replaced with ``--overwrite``.
A malformed data file (frames, labels, expressions, ``split.json``, detections: a detection
beyond the video's frames or wholly outside its images) ends the run with one line naming the
file (and line). ``--cfg-options`` values may contain spaces (quote the whole ``key=value``:
``"data_root=my data/refer kitti"``); mmengine's own parser would delete them.
Evaluators whose config has ``out_dir=None`` (e.g. ``ReferringMetric``) write their files into a
fresh ``trackeval_<timestamp>`` folder of the work dir.
"""
import argparse
import os
import os.path as osp
import time

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ikun_mm.utils import (CfgOptionsAction, load_runner_config, register_all_modules,
                           run_runner_loop, setup_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) an ikun_mm model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and evaluation results')
    parser.add_argument('--out', help='dump raw predictions to this pickle file (an existing '
                        'file is an error unless --overwrite is given)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out file')
    parser.add_argument('--show-dir', help='draw the predictions into this folder (inside the '
                        'work dir) through the visualization hook, when the config has one')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, "key=value" pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args) -> Config:
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    cfg = load_runner_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = None  # loaded strictly in main(); the Runner would only warn on mismatch
    stamp = time.strftime('%Y%m%d_%H%M%S')
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, (list, tuple)) else \
        [cfg.test_evaluator]
    for evaluator in evaluators:
        if isinstance(evaluator, dict) and 'out_dir' in evaluator and evaluator['out_dir'] is None:
            evaluator['out_dir'] = osp.join(cfg.work_dir, f'trackeval_{stamp}')
    if args.show_dir:
        vis_hook = cfg.get('default_hooks', {}).get('visualization')
        if vis_hook is None:
            raise SystemExit('--show-dir needs a "visualization" hook in default_hooks')
        vis_hook['draw'] = True
        vis_hook['test_out_dir'] = args.show_dir
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise SystemExit('--out must be a .pkl file')
        if osp.exists(args.out) and not args.overwrite:
            raise SystemExit(f'{args.out} exists; pass --overwrite to replace it, or choose '
                             'another --out')
        cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(
            cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    return cfg


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    setup_cpu_distributed(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    from ikun_mm.utils.checkpoint import UnreadableCheckpointError
    try:
        runner.load_checkpoint(args.checkpoint, map_location='cpu', strict=True)
    except UnreadableCheckpointError as exc:  # names the file; no traceback needed
        raise SystemExit(str(exc))
    run_runner_loop(runner.test)


if __name__ == '__main__':
    main()
