"""STARK's stage-2 score head on held-out sequences: do its scores separate positives from
negatives?

    python benchmarks/stark_score_separation.py CONFIG CHECKPOINT [--data-root DIR]
        [--split val] [--num-pairs 200] [--seed 0] [--reference STAGE1_CKPT] [--threads 1]

CONFIG is a stage-2 STARK config (e.g. configs/stark/stark-st2_tiny_1xb16-20e_synthetic.py) and
CHECKPOINT its trained weights. The samples are drawn from the ``--split`` sequences (validation:
never seen in training) with the config's stage-2 training dataset (frame sampler and pipeline,
jitter included), split by label as the official ``getitem_cls`` of researchmm/Stark
(``lib/train/data/sampler.py``) draws them:

* positive: templates and search frame by the config's sampler (``trident_pro``), the search
  frame of the same video with the target visible, cropped around its (jittered) box;
* negative: the same templates, the search frame replaced by a frame of the same video where the
  target is not visible, cropped around a centre box of 1/8 of the image size; a video without
  such a frame takes a random frame of a random sequence, cropped around that frame's box.

The model runs in eval mode (no dropout) on the same samples twice: with CHECKPOINT, and with the
stage-1 weights it started from (the stage-2 model before its score head learned: the reference).
The stage-1 checkpoint is ``--reference``, or else the ``load_from`` recorded in CHECKPOINT's
saved config. Printed per model: mean and std of the score (sigmoid of the score head) over
positives and over negatives, the ROC AUC (Mann-Whitney: the probability that a random positive
scores above a random negative, ties counted 1/2), and the share of each class on the right side
of the tracker's update threshold (``test_cfg.update_threshold``, 0.5), i.e. how often the
dynamic-template gate would decide correctly.

``--ceiling train`` adds a diagnostic row: a fresh score head (same MLP, re-initialised) fitted
to convergence on the frozen features of as many ``train`` samples, scored on the same held-out
samples. A trained head close to it has learned what the frozen stage-1 network allows; a trained
head far below it points at the stage-2 training (labels, loss, learning rate, schedule).
"""
import argparse
import copy
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import Tensor, nn

from ikun_mm.registry import DATASETS, MODELS
from ikun_mm.utils import register_all_modules
from ikun_mm.utils.checkpoint import (load_state_dict_strict, read_checkpoint,
                                      state_dict_from_checkpoint)


def mann_whitney_auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """ROC AUC as the Mann-Whitney statistic ``U / (n_pos * n_neg)``: the share of
    (positive, negative) pairs where the positive scores higher, ties counted 1/2."""
    p = np.asarray(pos, np.float64)[:, None]
    n = np.asarray(neg, np.float64)[None, :]
    if p.size == 0 or n.size == 0:
        raise ValueError('the AUC needs at least one positive and one negative score')
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def separation(pos: Sequence[float], neg: Sequence[float], threshold: float = 0.5) -> dict:
    """Scores (probabilities) of positives and negatives -> mean/std per class, AUC, and the
    share of positives above / negatives at or below ``threshold``."""
    pos, neg = np.asarray(pos, np.float64), np.asarray(neg, np.float64)
    return dict(pos_mean=pos.mean(), pos_std=pos.std(), neg_mean=neg.mean(), neg_std=neg.std(),
                auc=mann_whitney_auc(pos, neg), pos_above=float((pos > threshold).mean()),
                neg_below=float((neg <= threshold).mean()))


def stage1_checkpoint(checkpoint: str, reference: Optional[str]) -> str:
    """The stage-1 weights: ``reference``, else ``load_from`` of the config saved in
    ``checkpoint`` by mmengine (``meta['cfg']``)."""
    if reference:
        return reference
    meta = read_checkpoint(checkpoint).get('meta', {})
    text = meta.get('cfg') if isinstance(meta, dict) else None
    load_from = Config.fromstring(text, '.py').get('load_from') if text else None
    if not load_from:
        raise ValueError(f'{checkpoint}: no load_from in its saved config (meta.cfg); give the '
                         'stage-1 checkpoint with --reference')
    return load_from


def load_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    """The stage-2 model of ``cfg`` with ``checkpoint`` loaded strictly, in eval mode."""
    model = MODELS.build(copy.deepcopy(cfg.model))
    state = state_dict_from_checkpoint(read_checkpoint(checkpoint), checkpoint)
    load_state_dict_strict(model, state, checkpoint)
    return model.eval()


def draw_samples(cfg: Config, data_root: str, split: str, num: int, seed: int,
                 positive: bool) -> List[dict]:
    """``num`` packed samples of one label from the config's stage-2 training dataset, on the
    ``split`` sequences: the frame sampler with ``pos_prob`` 1 (positives) or 0 (negatives);
    the same ``seed`` gives the same samples."""
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.update(data_root=data_root, split=split, samples_per_epoch=num,
                  seed=seed + (0 if positive else 1), test_mode=False)
    ds_cfg.frame_sampler = dict(ds_cfg.frame_sampler, pos_prob=1.0 if positive else 0.0)
    dataset = DATASETS.build(ds_cfg)
    np.random.seed(seed + (0 if positive else 1))  # the pipeline's jitter draws from numpy
    samples = [dataset[i] for i in range(num)]
    want = 1 if positive else 0
    for s in samples:
        nt = s['data_samples'].metainfo['num_templates']
        labels = s['data_samples'].gt_instances.labels
        if not (labels[:nt] == 1).all() or not (labels[nt:] == want).all():
            raise RuntimeError(f'{data_root}/{split}: a sample drawn as '
                               f'{"positive" if positive else "negative"} has labels '
                               f'{labels.tolist()}')
    return samples


@torch.no_grad()
def scores(model: torch.nn.Module, samples: List[dict], batch_size: int = 32,
           features: Optional[List[Tensor]] = None) -> np.ndarray:
    """Score-head probabilities (N,) of packed samples (their first search crop); with
    ``features`` (a list), the score head's inputs (the decoded target query, (N, C)) are
    appended to it."""
    out = []
    hook = (model.cls_head.register_forward_hook(lambda m, args, res: features.append(args[0]))
            if features is not None else None)
    try:
        for i in range(0, len(samples), batch_size):
            data = model.data_preprocessor(pseudo_collate(samples[i:i + batch_size]), False)
            _, logits = model._forward(data['inputs'])
            out.append(logits.sigmoid().numpy())
    finally:
        if hook is not None:
            hook.remove()
    return np.concatenate(out)


def fit_fresh_head(head: nn.Module, feats: Tensor, labels: Tensor, steps: int = 500,
                   lr: float = 1e-2, seed: int = 0) -> nn.Module:
    """A copy of the score head ``head`` re-initialised (torch's default ``nn.Linear`` init)
    and fitted to convergence by full-batch Adam with BCE on fixed features (N, C) and labels
    (N,): what the frozen network's features allow a score head to reach."""
    torch.manual_seed(seed)
    head = copy.deepcopy(head).train()
    for m in head.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    head.requires_grad_(True)
    optim = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(head(feats).reshape(-1), labels.float())
        optim.zero_grad()
        loss.backward()
        optim.step()
    return head.eval()


def ceiling(cfg: Config, model: nn.Module, data_root: str, split: str, num: int, seed: int,
            pos_feats: Tensor, neg_feats: Tensor, threshold: float) -> dict:
    """Separation on ``pos_feats`` / ``neg_feats`` by a fresh score head fitted on the frozen
    features of ``num`` + ``num`` samples of ``split`` (the training sequences)."""
    fit = []
    scores(model, draw_samples(cfg, data_root, split, num, seed + 100, True), features=fit)
    scores(model, draw_samples(cfg, data_root, split, num, seed + 100, False), features=fit)
    labels = torch.cat([torch.ones(num), torch.zeros(num)])
    head = fit_fresh_head(model.cls_head, torch.cat(fit), labels, seed=seed)
    with torch.no_grad():
        pos = head(pos_feats).reshape(-1).sigmoid().numpy()
        neg = head(neg_feats).reshape(-1).sigmoid().numpy()
    return separation(pos, neg, threshold)


def main(argv=None) -> Dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='stage-2 STARK config')
    parser.add_argument('checkpoint', help='trained stage-2 weights')
    parser.add_argument('--data-root', default='data/synthetic_sot')
    parser.add_argument('--split', default='val', help='held-out sequences (default: val)')
    parser.add_argument('--num-pairs', type=int, default=200,
                        help='positives and negatives drawn (N of each)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--reference', default=None,
                        help="stage-1 checkpoint (default: the stage-2 checkpoint's load_from)")
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--ceiling', default=None, metavar='FIT_SPLIT',
                        help='also fit a fresh score head to convergence on the frozen stage-2 '
                             'features of this split (e.g. train) and report it: how far the '
                             'frozen network lets a score head separate')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if cfg.model.get('stage') != 2:
        raise ValueError(f'{args.config}: model.stage is {cfg.model.get("stage")}, expected a '
                         'stage-2 STARK config')
    threshold = float((cfg.model.get('test_cfg') or {}).get('update_threshold', 0.5))
    start = time.perf_counter()
    pos = draw_samples(cfg, args.data_root, args.split, args.num_pairs, args.seed, True)
    neg = draw_samples(cfg, args.data_root, args.split, args.num_pairs, args.seed, False)
    reference = stage1_checkpoint(args.checkpoint, args.reference)
    results = {}
    rows: List[Tuple[str, str]] = [('stage 2 (trained score head)', args.checkpoint),
                                   ('stage 1 (untrained score head)', reference)]
    for name, ckpt in rows:
        if not osp.isfile(ckpt):
            raise FileNotFoundError(f'{ckpt}: checkpoint not found ({name})')
        model = load_model(cfg, ckpt)
        pos_feats, neg_feats = [], []
        results[name] = separation(scores(model, pos, features=pos_feats),
                                   scores(model, neg, features=neg_feats), threshold)
        if args.ceiling and name.startswith('stage 2'):
            ceil = ceiling(cfg, model, args.data_root, args.ceiling, args.num_pairs, args.seed,
                           torch.cat(pos_feats), torch.cat(neg_feats), threshold)
    if args.ceiling:
        results[f'fresh head fitted on {args.ceiling}'] = ceil
    print(f'{args.num_pairs} positives + {args.num_pairs} negatives from '
          f'{args.data_root}/{args.split} (seed {args.seed}), {time.perf_counter() - start:.0f} s')
    print(f'{"model":32s} {"pos mean":>8s} {"pos std":>8s} {"neg mean":>8s} {"neg std":>8s} '
          f'{"AUC":>6s} {f"pos>{threshold:g}":>8s} {f"neg<={threshold:g}":>8s}')
    for name, r in results.items():
        print(f'{name:32s} {r["pos_mean"]:8.3f} {r["pos_std"]:8.3f} {r["neg_mean"]:8.3f} '
              f'{r["neg_std"]:8.3f} {r["auc"]:6.3f} {r["pos_above"]:8.3f} {r["neg_below"]:8.3f}')
    for name, ckpt in rows:
        print(f'  {name}: {ckpt}')
    if args.ceiling:
        print(f'  fresh head fitted on {args.ceiling}: the score head re-initialised and fitted '
              f'to convergence on the stage-2 features of {args.num_pairs} + {args.num_pairs} '
              f'{args.ceiling} samples (the ceiling of the frozen network)')
    return results


if __name__ == '__main__':
    main()
