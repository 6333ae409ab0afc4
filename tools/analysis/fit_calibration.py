"""Fit iKUN's similarity calibration ``score + a·p(e) + b`` (iKUN paper; official
``similarity_calibration.py``) on a validation split and store it with the checkpoint.

    python tools/analysis/fit_calibration.py CONFIG CHECKPOINT [--split val] [--out NEW.pth]
        [--cfg-options data_root=...]

The split defaults to the one the config validates on (``val_dataloader.dataset.split``). The
tool never falls back to the test split: when the config has no validation split, or validates
on its test split (the real Refer-KITTI configs do, as the paper does), it stops and asks for
``--split`` (a ``val`` entry of the tree's ``split.json``, or comma-separated videos held out
from training).

The model of CONFIG is loaded from CHECKPOINT and every GT track of the split's videos is scored
against every expression of its video with :func:`ikun_mm.models.referring.score_tracks`
(frame scores as at test time, uncalibrated); with the config dataset's ``synonyms`` the model
scores each expression's canonical text, as it was trained. A (track, frame, expression) is
*referred* when the expression's JSON lists the track at that frame. a and b are chosen on a grid to maximise the F1
of ``score + a·p(e) + b > 0`` against these labels (the decision the referring tracker makes; a
proxy of the referring HOTA). The pseudo-frequency p(e) comes from the model's configured
``calibration`` (or, when the config has none, from the training split of ``data_root`` with the
model's own text encoder).

The result goes to a NEW checkpoint (default ``<checkpoint>_calibrated.pth``; the input file is
never overwritten, and an existing output file only with ``--overwrite``; the file is written
atomically): ``state_dict['calibration.a'|'calibration.b']`` and
``meta['calibration'] = {a, b, f1, f1_uncalibrated, split, ...}``. A config with
``model.calibration`` loads them with the weights.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile

import numpy as np
import torch
from mmengine.config import Config

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from ikun_mm.utils.config import CfgOptionsAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Fit iKUN similarity calibration (a, b)')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', default=None,
                        help='split to fit on: a split name of the tree (e.g. "val") or '
                        'comma-separated videos (default: the split of the config\'s '
                        'val_dataloader, unless that is the test split)')
    parser.add_argument('--out', default=None, help='output checkpoint path (default: '
                        '<checkpoint>_calibrated.pth); an existing file is an error unless '
                        '--overwrite is given')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--a-range', type=float, nargs=3, default=(0.0, 20.0, 81),
                        metavar=('MIN', 'MAX', 'NUM'), help='grid of a')
    parser.add_argument('--b-range', type=float, nargs=3, default=(-1.0, 1.0, 201),
                        metavar=('MIN', 'MAX', 'NUM'), help='grid of b')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    return parser.parse_args(argv)


def f1_grid(raw: np.ndarray, freq: np.ndarray, labels: np.ndarray, a_values: np.ndarray,
            b_values: np.ndarray) -> np.ndarray:
    """F1 of ``raw + a·freq + b > 0`` for every (a, b) of the grid: array (len(a), len(b)).

    Args:
        raw, freq: float arrays (N,): uncalibrated scores and p(e) of N decisions.
        labels: bool array (N,).
    """
    labels = labels.astype(bool)
    n_pos = labels.sum()
    out = np.zeros((len(a_values), len(b_values)))
    for i, a in enumerate(a_values):
        x = raw + a * freq
        order = np.argsort(-x, kind='stable')
        xs, tp_cum = x[order], np.cumsum(labels[order])
        # predicted positive: x > -b  <=>  the first k sorted entries, k = #(x > -b)
        k = np.searchsorted(-xs, b_values, side='left')  # #(-x < b) = #(x > -b)
        tp = np.where(k > 0, tp_cum[np.maximum(k - 1, 0)], 0)
        denom = k + n_pos
        out[i] = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return out


def _dataloader_split(cfg, name: str):
    loader = cfg.get(name)
    dataset = loader.get('dataset') if loader else None
    return None if not dataset else dataset.get('split')


def default_split(cfg, data_root: str):
    """The split to fit on when ``--split`` is not given: the config's validation split.

    Raises:
        SystemExit: the config has no validation split, or it is the test split (by name, or by
            its videos equal to those of the test split / the config's test dataloader).
    """
    from ikun_mm.datasets import resolve_videos
    split = _dataloader_split(cfg, 'val_dataloader')
    if split is None:
        raise SystemExit('the config has no val_dataloader split to fit on: give --split '
                         '(a validation split or videos; never the test split)')
    test_splits = ['test'] + [s for s in [_dataloader_split(cfg, 'test_dataloader')] if s]
    same = split in test_splits
    if not same:
        try:
            videos = sorted(resolve_videos(data_root, split))
            same = any(videos == sorted(resolve_videos(data_root, t)) for t in test_splits)
        except (ValueError, OSError):
            pass  # an unreadable split is reported when it is read
    if same:
        raise SystemExit(f'the config validates on the test split ({split!r}); fitting a, b '
                         'there tunes them on the test videos: give --split (a validation '
                         'split: a "val" entry of split.json, or comma-separated videos)')
    return split


def collect(model, data_root: str, split, synonyms=None) -> tuple:
    """Uncalibrated frame scores, p(e) and labels of every (GT box, expression file) of the
    split; with ``synonyms`` the model scores the canonical text of each expression."""
    from ikun_mm.datasets import (canonical_sentence, load_expressions, load_video_annotation,
                                  resolve_videos)
    from ikun_mm.models.referring import score_tracks
    raws, freqs, labels = [], [], []
    for video in resolve_videos(data_root, split):
        ann = load_video_annotation(data_root, video)
        exprs = load_expressions(data_root, video, ann)
        if not exprs:
            continue
        sentences = [canonical_sentence(e.sentence, synonyms) for e in exprs]
        tracks = ann.track_boxes()
        scores = score_tracks(model, ann.img_paths, tracks, sentences, calibrate=False)
        freq = model.calibration.pseudo_frequency(sentences).cpu().numpy()
        positives = [e.positives() for e in exprs]
        for tid, res in scores.items():
            raws.append(res.scores.reshape(-1))
            freqs.append(np.tile(freq, len(res.frames)))
            labels.append(np.array([(int(f), tid) in pos for f in res.frames
                                    for pos in positives]))
        print(f'{video}: {len(tracks)} tracks x {len(sentences)} expressions scored', flush=True)
    if not raws:
        raise SystemExit(f'{data_root}: split {split!r} has no expressions to fit on')
    return np.concatenate(raws), np.concatenate(freqs), np.concatenate(labels)


def _dataset_synonyms(cfg):
    """The ``synonyms`` option of the config's datasets (the texts the model was trained on)."""
    for name in ('val_dataloader', 'train_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        dataset = loader.get('dataset') if loader else None
        if dataset and 'synonyms' in dataset:
            return dataset['synonyms']
    return None


def main(argv=None):
    args = parse_args(argv)
    out = args.out or osp.splitext(args.checkpoint)[0] + '_calibrated.pth'
    if osp.abspath(out) == osp.abspath(args.checkpoint):
        raise SystemExit(f'--out {out} is the input checkpoint; choose another file')
    if osp.exists(out) and not args.overwrite:
        raise SystemExit(f'{out} exists; pass --overwrite to replace it, or choose another --out')
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    from ikun_mm.utils.checkpoint import UnreadableCheckpointError, read_checkpoint
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    data_root = cfg.get('data_root', None) or next(
        (cfg[k].dataset.data_root for k in ('val_dataloader', 'test_dataloader') if cfg.get(k)),
        None)
    if data_root is None:
        raise SystemExit(f'{args.config}: no data_root; give --cfg-options data_root=...')
    if args.cfg_options and 'data_root' in args.cfg_options:
        data_root = args.cfg_options['data_root']
    split = args.split or default_split(cfg, data_root)
    if isinstance(split, str) and ',' in split:
        split = split.split(',')
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    if split == 'test':
        print('warning: fitting a, b on the test split (given with --split)', flush=True)
    synonyms = _dataset_synonyms(cfg)
    model_cfg = cfg.model
    if not model_cfg.get('calibration'):
        model_cfg.calibration = dict(type='SimilarityCalibration', data_root=data_root,
                                     split='train', synonyms=synonyms)
    else:
        model_cfg.calibration.data_root = data_root
    model_cfg.calibration.enabled = True
    model = MODELS.build(model_cfg)

    # mmengine checkpoints pickle their message hub (not loadable with weights_only=True)
    try:
        ckpt = read_checkpoint(args.checkpoint, map_location='cpu')
    except UnreadableCheckpointError as exc:  # names the file; no traceback needed
        raise SystemExit(str(exc))
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise SystemExit(f'{args.checkpoint}: not a model checkpoint (no state_dict)')
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith('calibration.')]
    if missing or result.unexpected_keys:
        raise RuntimeError(f'{args.checkpoint}: does not match {args.config}: missing keys '
                           f'{missing[:8]}, unexpected keys {result.unexpected_keys[:8]}')

    raw, freq, labels = collect(model, data_root, split, synonyms)
    a_values = np.linspace(args.a_range[0], args.a_range[1], int(args.a_range[2]))
    b_values = np.linspace(args.b_range[0], args.b_range[1], int(args.b_range[2]))
    grid = f1_grid(raw, freq, labels, a_values, b_values)
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    a, b = float(a_values[i]), float(b_values[j])
    base = float(f1_grid(raw, freq, labels, np.zeros(1), np.zeros(1))[0, 0])
    paper = float(f1_grid(raw, freq, labels, np.array([8.0]), np.array([-0.1]))[0, 0])
    summary = dict(a=a, b=b, f1=float(grid[i, j]), f1_uncalibrated=base,
                   f1_paper_ab=paper, split=split if isinstance(split, str) else list(split),
                   decisions=int(len(labels)), positives=int(labels.sum()),
                   source_checkpoint=osp.basename(args.checkpoint))
    state = dict(state)
    state['calibration.a'] = torch.tensor(a)
    state['calibration.b'] = torch.tensor(b)
    if 'state_dict' in ckpt:
        ckpt['state_dict'] = state
    else:
        ckpt = dict(state_dict=state)
    ckpt.setdefault('meta', {})
    ckpt['meta']['calibration'] = summary
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    if osp.exists(out) and not args.overwrite:  # appeared while fitting
        raise SystemExit(f'{out} exists; pass --overwrite to replace it, or choose another --out')
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(out), suffix='.partial')
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        os.replace(tmp, out)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    print(f'calibration a={a:.4g} b={b:.4g}: F1 {summary["f1"]:.4f} (uncalibrated {base:.4f}, '
          f'paper a=8 b=-0.1 {paper:.4f}) on {summary["decisions"]} (box, expression) '
          f'decisions of split {split!r}')
    print(f'saved {out}')
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
