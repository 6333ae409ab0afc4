"""ATOM on the synthetic SOT sequences: the tracker against its own ablations and the
"repeat the first box" floor, with the time per frame.

    python benchmarks/atom_synthetic.py CONFIG CHECKPOINT [--data-root data/synthetic_sot]
                                        [--split val] [--threads 1] [--num-sequences N]

Variants (all with the same trained weights):
  full            the ATOM tracker (classifier + IoU refinement)
  no_refinement   classifier position only, the box keeps its first-frame size
  static          the first box repeated in every frame (the floor of the OPE metric)
Prints one row per variant: OPE success AUC, precision@20px, normalised precision, s/frame,
and how often the classifier's localisation raised each flag (normal / hard_negative /
uncertain / not_found; in a not_found frame ATOM keeps the previous box).
"""
import argparse
import time
from collections import Counter

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from ikun_mm.datasets import GOT10kDataset
from ikun_mm.evaluation.sot_metric import ope_scores
from ikun_mm.registry import MODELS
from ikun_mm.utils import register_all_modules

VARIANTS = {
    'full': {},
    'no_refinement': dict(num_boxes=1, refine_steps=0),
}


def load_model(config: str, checkpoint: str, test_cfg: dict):
    cfg = Config.fromfile(config)
    cfg.model.test_cfg = dict(cfg.model.get('test_cfg', {}), **test_cfg)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.eval()


def run(model, sequences, static: bool = False):
    per_video, seconds, frames, flags = [], 0.0, 0, Counter()
    for seq in sequences:
        imgs = [model.data_preprocessor.normalize(torch.from_numpy(cv2.imread(p)).permute(2, 0, 1))
                for p in seq['img_paths']]
        init = torch.as_tensor(seq['bboxes'][0])
        start = time.perf_counter()
        if static:
            boxes = init[None].repeat(len(imgs), 1)
        else:
            model.init(imgs[0], init)
            boxes = [init.float()]
            for img in imgs[1:]:
                boxes.append(model.track(img)[0].float().cpu())
                flags[getattr(model, 'last_flag', 'n/a')] += 1
            boxes = torch.stack(boxes)
        seconds += time.perf_counter() - start
        frames += len(imgs)
        keep = seq['visible']  # as SOTMetric: visible frames, mean over videos
        per_video.append(ope_scores(boxes.numpy()[keep], seq['bboxes'][keep]))
    scores = {k: float(np.mean([v[k] for v in per_video])) for k in per_video[0]}
    return scores, seconds / frames, flags


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', default='data/synthetic_sot')
    parser.add_argument('--split', default='val')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--num-sequences', type=int, default=None,
                        help='only the first N sequences (a quicker run)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    register_all_modules()
    sequences = GOT10kDataset(args.data_root, split=args.split, test_mode=True,
                              pipeline=[]).sequences[:args.num_sequences]
    print(f'{len(sequences)} sequences, {sum(len(s["img_paths"]) for s in sequences)} frames')
    print('| variant | success AUC | precision@20 | norm. precision | s/frame | flags |')
    print('|---|---|---|---|---|---|')
    rows = [(name, load_model(args.config, args.checkpoint, cfg), False)
            for name, cfg in VARIANTS.items()]
    rows.append(('static', rows[0][1], True))
    for name, model, static in rows:
        scores, per_frame, flags = run(model, sequences, static)
        flag_text = ', '.join(f'{k} {v}' for k, v in sorted(flags.items())) or '-'
        print(f'| {name} | {100 * scores["success_auc"]:.1f} | {100 * scores["precision"]:.1f} '
              f'| {100 * scores["norm_precision"]:.1f} | {per_frame:.3f} | {flag_text} |')


if __name__ == '__main__':
    main()
