"""Fit iKUN's similarity calibration ``score + a·p(e) + b`` (iKUN paper; official
``similarity_calibration.py``) on a validation split and write it into a NEW checkpoint.

    python tools/analysis/fit_calibration.py CONFIG CHECKPOINT [--objective f1|hota]
        [--split val] [--out NEW.pth] [--overwrite] [--cfg-options data_root=...]

``--objective f1`` (default; CONFIG an iKUN config ``configs/ikun/...`` or a referring config):
every GT track of the split is scored against every expression of its video (no tracker) and
(a, b) is chosen on a grid (``--a-range``, ``--b-range``) for the best F1 of
``score + a·p(e) + b > 0`` against the frame labels.

``--objective hota`` (CONFIG a referring-tracker config ``configs/rmot/...``): the split is
tracked and scored once, then (a, b) is chosen on a grid containing (0, 0) for the highest
referring HOTA, checked leave-one-video-out (``--no-cross-validation`` skips the check).

The library functions are in :mod:`ikun_mm.evaluation.calibration`. ``--split`` defaults to the
config's validation split (``val_dataloader``), else the tree's ``val`` split; the tool never
falls back to the test split. The output (default ``<checkpoint stem>_calibrated.pth``; never
the input file, an existing file only with ``--overwrite``, written atomically) carries
``state_dict[...'calibration.a'|'calibration.b'|'calibration.table']`` (the table: training
expressions and p_j, so the model never reads the training files at test time) and
``meta['calibration']`` (what the fit measured). A config with a calibration loads them with the
weights.
"""
import argparse
import json
import os.path as osp

import numpy as np
import torch

from ikun_mm.evaluation.calibration import (F1_A_RANGE, F1_B_RANGE, calibrated_checkpoint,
                                            default_split, fit_f1, fit_hota, frame_decisions)
from ikun_mm.utils.config import CfgOptionsAction, load_runner_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Fit iKUN similarity calibration (a, b)')
    parser.add_argument('config', help='iKUN config (f1) or referring-tracker config (f1, hota)')
    parser.add_argument('checkpoint', help='iKUN checkpoint')
    parser.add_argument('--objective', choices=('f1', 'hota'), default='f1',
                        help='f1: frame F1 on GT tracks (no tracker); hota: referring HOTA of '
                        'the tracker (a referring-tracker config)')
    parser.add_argument('--split', default=None,
                        help='split to fit on: a split name of the tree (e.g. "val") or '
                        'comma-separated videos (default: the config\'s validation split, else '
                        '"val"; never the test split)')
    parser.add_argument('--out', default=None, help='output checkpoint path (default: '
                        '<checkpoint>_calibrated.pth); an existing file is an error unless '
                        '--overwrite is given')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--a-range', type=float, nargs=3, default=None,
                        metavar=('MIN', 'MAX', 'NUM'),
                        help=f'grid of a (f1; default {F1_A_RANGE})')
    parser.add_argument('--b-range', type=float, nargs=3, default=None,
                        metavar=('MIN', 'MAX', 'NUM'),
                        help=f'grid of b (f1; default {F1_B_RANGE})')
    parser.add_argument('--no-cross-validation', action='store_true',
                        help='hota: keep the fit even when it does not carry over between videos')
    parser.add_argument('--workers', type=int, default=1,
                        help='ignored (kept for old command lines): the vectorised HOTA scores '
                        'the whole grid in one process')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    return parser.parse_args(argv)


def _data_root(cfg, config: str) -> str:
    data_root = cfg.get('data_root', None) or next(
        (cfg[k].dataset.data_root for k in ('val_dataloader', 'test_dataloader') if cfg.get(k)),
        None)
    if data_root is None:
        raise SystemExit(f'{config}: no data_root; give --cfg-options data_root=...')
    return data_root


def _dataset_synonyms(cfg):
    """The ``synonyms`` option of the config's datasets (the texts the model was trained on)."""
    for name in ('val_dataloader', 'train_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        dataset = loader.get('dataset') if loader else None
        if dataset and 'synonyms' in dataset:
            return dataset['synonyms']
    return None


def _read(path: str):
    from ikun_mm.utils.checkpoint import UnreadableCheckpointError, read_checkpoint
    try:
        return read_checkpoint(path, map_location='cpu')
    except UnreadableCheckpointError as exc:  # names the file; no traceback needed
        raise SystemExit(str(exc))


def _ikun_model(cfg, args, data_root: str, synonyms):
    """The iKUN of CONFIG (its ``model`` or ``model.referrer``) with CHECKPOINT's weights and an
    enabled calibration (the training split of ``data_root`` when the config has none)."""
    from ikun_mm.registry import MODELS
    model_cfg = cfg.model.get('referrer', cfg.model)
    if not model_cfg.get('calibration'):
        model_cfg.calibration = dict(type='SimilarityCalibration', data_root=data_root,
                                     split='train', synonyms=synonyms)
    else:
        model_cfg.calibration.data_root = data_root
    model_cfg.calibration.enabled = True
    model = MODELS.build(model_cfg)
    ckpt = _read(args.checkpoint)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise SystemExit(f'{args.checkpoint}: not a model checkpoint (no state_dict)')
    if any(k.startswith('referrer.') for k in state):
        state = {k[len('referrer.'):]: v for k, v in state.items() if k.startswith('referrer.')}
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith('calibration.')]
    if missing or result.unexpected_keys:
        raise RuntimeError(f'{args.checkpoint}: does not match {args.config}: missing keys '
                           f'{missing[:8]}, unexpected keys {result.unexpected_keys[:8]}')
    return model


def collect_f1(model, data_root: str, split, synonyms=None) -> tuple:
    """Uncalibrated frame scores, p(e) and labels of every (GT box, expression file) of the
    split (:func:`~ikun_mm.evaluation.calibration.frame_decisions`); with ``synonyms`` the
    model scores the canonical text of each expression."""
    from ikun_mm.datasets import (canonical_sentence, load_expressions, load_video_annotation,
                                  resolve_videos)
    from ikun_mm.models.referring import score_tracks
    parts = []
    for video in resolve_videos(data_root, split):
        ann = load_video_annotation(data_root, video)
        exprs = load_expressions(data_root, video, ann)
        if not exprs:
            continue
        sentences = [canonical_sentence(e.sentence, synonyms) for e in exprs]
        tracks = ann.track_boxes()
        scores = score_tracks(model, ann.img_paths, tracks, sentences, calibrate=False)
        freq = model.calibration.pseudo_frequency(sentences).cpu().numpy()
        parts.append(frame_decisions(scores, freq, [e.positives() for e in exprs]))
        print(f'{video}: {len(tracks)} tracks x {len(sentences)} expressions scored', flush=True)
    if not parts:
        raise SystemExit(f'{data_root}: split {split!r} has no expressions to fit on')
    return tuple(np.concatenate(column) for column in zip(*parts))


def fit_objective_f1(cfg, args, data_root: str, split) -> tuple:
    """Fit (a, b) to the F1 on GT tracks; returns (info, table)."""
    synonyms = _dataset_synonyms(cfg)
    model = _ikun_model(cfg, args, data_root, synonyms)
    raw, freq, labels = collect_f1(model, data_root, split, synonyms)
    info = fit_f1(raw, freq, labels, args.a_range or F1_A_RANGE, args.b_range or F1_B_RANGE)
    print(f'calibration a={info["a"]:.4g} b={info["b"]:.4g}: F1 {info["f1"]:.4f} (uncalibrated '
          f'{info["f1_uncalibrated"]:.4f}, paper a=8 b=-0.1 {info["f1_paper_ab"]:.4f}) on '
          f'{info["decisions"]} (box, expression) decisions of split {split!r}')
    return dict(info, objective='F1'), model.calibration.table()


def fit_objective_hota(cfg, args, data_root: str, split) -> tuple:
    """Fit (a, b) to the referring HOTA of the tracker; returns (info, table)."""
    from tqdm import tqdm

    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.models.referring import prepare_referring
    from ikun_mm.registry import MODELS
    from ikun_mm.utils.checkpoint import UnreadableCheckpointError
    if 'referrer' not in cfg.model:
        raise SystemExit(f'{args.config}: --objective hota needs a referring-tracker config '
                         '(configs/rmot/...) whose model has a referrer')
    if args.a_range or args.b_range:
        raise SystemExit('--a-range/--b-range set the F1 grid; --objective hota searches '
                         'ikun_mm.evaluation.calibration.A_GRID x B_GRID')
    model = MODELS.build(cfg.model)
    calibration = getattr(model.referrer, 'calibration', None)
    if calibration is None:
        raise SystemExit(f'{args.config}: model.referrer has no calibration to fit')
    try:
        model.load_referrer_checkpoint(args.checkpoint)
    except UnreadableCheckpointError as exc:  # names the file; no traceback needed
        raise SystemExit(str(exc))
    model.eval()
    data = cfg.test_dataloader.dataset
    dataset = ReferKittiDataset(data_root=data_root, split=split,
                                exclude_sentences=data.get('exclude_sentences', ()),
                                synonyms=data.get('synonyms'))
    with torch.no_grad():
        prepared = prepare_referring(model, list(dataset), progress=True)
        sentences = sorted({s for v in prepared for s in v['sentences']})
        freq = dict(zip(sentences, calibration.pseudo_frequency(sentences).cpu().numpy()))
    bar = tqdm(unit='point', desc='fitting a, b (HOTA per grid point, all videos at once)')
    fit = fit_hota(prepared, freq, model.score_thr,
                   cross_validation=not args.no_cross_validation, progress=bar)
    bar.close()
    cv = fit['cross_validation']
    if cv is not None:
        print(f'leave-one-video-out HOTA: fitted {cv["fitted"]:.2f}, uncalibrated '
              f'{cv["uncalibrated"]:.2f} (mean over {len(cv["folds"])} held-out videos)')
    if fit['kept_uncalibrated']:
        print('the fit does not carry over to held-out videos: keeping a = b = 0 (no '
              'calibration)')
    print(f'calibration a={fit["a"]:g} b={fit["b"]:g}: HOTA {fit["hota"]:.2f} (uncalibrated '
          f'{fit["hota_uncalibrated"]:.2f}) on split {split!r}')
    info = dict(a=fit['a'], b=fit['b'], hota=round(fit['hota'], 3),
                hota_uncalibrated=round(fit['hota_uncalibrated'], 3), objective='HOTA',
                cross_validation=cv)
    return info, calibration.table()


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = args.out or osp.splitext(args.checkpoint)[0] + '_calibrated.pth'
    if osp.abspath(out) == osp.abspath(args.checkpoint):
        raise SystemExit(f'--out {out} is the input checkpoint; choose another file')
    if osp.exists(out) and not args.overwrite:
        raise SystemExit(f'{out} exists; pass --overwrite to replace it, or choose another --out')
    from ikun_mm.utils import register_all_modules
    from ikun_mm.utils.checkpoint import checkpoint_problem, save_new_checkpoint
    register_all_modules()
    cfg = load_runner_config(args.config, cfg_options=args.cfg_options)
    data_root = _data_root(cfg, args.config)
    try:
        split = args.split or default_split(cfg, data_root)
    except ValueError as exc:
        raise SystemExit(str(exc))
    if isinstance(split, str) and ',' in split:
        split = split.split(',')
    if split == 'test':
        print('warning: fitting a, b on the test split (given with --split)', flush=True)
    problem = checkpoint_problem(args.checkpoint)  # before any scoring: names the file
    if problem is not None:
        raise SystemExit(problem)

    fit = fit_objective_hota if args.objective == 'hota' else fit_objective_f1
    info, table = fit(cfg, args, data_root, split)
    info = dict(info, split=split if isinstance(split, str) else list(split),
                source_checkpoint=osp.basename(args.checkpoint), table_expressions=len(table[0]))
    ckpt = calibrated_checkpoint(_read(args.checkpoint), info['a'], info['b'], table, info)
    try:
        save_new_checkpoint(ckpt, out, overwrite=args.overwrite)
    except FileExistsError as exc:  # appeared while fitting
        raise SystemExit(str(exc))
    print(f'saved {out}')
    print(json.dumps(info))
    return info


if __name__ == '__main__':
    main()
