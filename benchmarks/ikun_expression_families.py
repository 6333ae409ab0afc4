"""Which kinds of expression does a trained iKUN get right? Matching quality per family.

    python benchmarks/ikun_expression_families.py CONFIG CHECKPOINT [--split test]
        [--data-root ...] [--compare CONFIG2 CHECKPOINT2] [--json]

Scores every GT track of the split against all of its video's expressions
(:func:`score_tracks`, raw scores, > 0 means "referred") and groups the expressions into
families by replacing colour words with ``C`` and left/right with ``D`` ("red cars moving left"
→ "C cars moving D"). Per family: boxes, positives, precision, recall, F1 at 0 and AUC. With
``--compare`` a second model is scored on the same boxes and printed side by side.
"""
import argparse
import json
import os.path as osp
import re
from typing import Dict

import numpy as np
import torch


def family(sentence: str, colours=None) -> str:
    from ikun_mm.datasets.synthetic.mini_refer_kitti import COLOURS
    words = '|'.join(colours or COLOURS)
    out = re.sub(rf'\b({words})\b', 'C', sentence)
    return re.sub(r'\b(left|right)\b', 'D', out)


def matching(scores: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    """Box and positive counts plus :func:`matching_scores` at threshold 0."""
    from ikun_mm.evaluation.expression_metric import matching_scores
    return dict(boxes=int(labels.size), positives=int(labels.sum()),
                **matching_scores(scores, labels))


def family_scores(config: str, checkpoint: str, data_root, split: str) -> Dict[str, dict]:
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from ikun_mm.datasets.refer_kitti_io import load_split
    from ikun_mm.models.referring import score_tracks
    from ikun_mm.registry import MODELS
    cfg = Config.fromfile(config)
    root = data_root or cfg.data_root
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    groups: Dict[str, list] = {}
    for video, ann, exprs in load_split(root, split):
        sentences = [e.sentence for e in exprs]
        tracks = ann.track_boxes()
        with torch.no_grad():
            out = score_tracks(model, ann.img_paths, tracks, sentences, calibrate=False)
        for k, expr in enumerate(exprs):
            pos = expr.positives()
            scores = np.concatenate([r.scores[:, k] for r in out.values()])
            labels = np.concatenate([[(int(f), t) in pos for f in r.frames]
                                     for t, r in out.items()]).astype(bool)
            for name in (family(expr.sentence), 'all'):
                groups.setdefault(name, []).append((scores, labels))
    return {name: matching(np.concatenate([s for s, _ in v]), np.concatenate([y for _, y in v]))
            for name, v in sorted(groups.items())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--compare', nargs=2, metavar=('CONFIG', 'CHECKPOINT'))
    parser.add_argument('--data-root')
    parser.add_argument('--split', default='test')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    torch.set_num_threads(1)
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    runs = [family_scores(args.config, args.checkpoint, args.data_root, args.split)]
    if args.compare:
        runs.append(family_scores(*args.compare, args.data_root, args.split))
    if args.json:
        print(json.dumps(runs), file=result_stream)
        return runs
    names = [osp.basename(args.config)] + ([osp.basename(args.compare[0])] if args.compare else [])
    print('| family | boxes | positives | ' + ' | '.join(f'{n} F1 | {n} AUC' for n in names) + ' |')
    print('|---' * (3 + 2 * len(names)) + '|')
    for fam, first in runs[0].items():
        cells = ' | '.join(f"{r[fam]['f1']:.3f} | {r[fam]['auc']:.3f}" for r in runs)
        print(f"| {fam} | {first['boxes']} | {first['positives']} | {cells} |")
    return runs


if __name__ == '__main__':
    main()
