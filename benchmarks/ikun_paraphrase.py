"""Does a trained iKUN understand paraphrases? (needs a real text encoder, e.g. MiniLM)

    python benchmarks/ikun_paraphrase.py configs/ikun/ikun_cascade_minilm_mini_refer_kitti.py \
        work_dirs/ikun_cascade_minilm_mini_refer_kitti/epoch_100.pth [--data-root ...] [--json]

Scores every GT track of the held-out split against training expressions, paraphrases of them
that never occur in the data, and unrelated sentences (:func:`score_tracks`, raw scores). For each
(expression, paraphrase) pair it reports, on the boxes for which the *original* expression holds
(positives) and on the others: the mean score of the original, of the paraphrase and of the
unrelated sentences, and the AUC with which the paraphrase's score separates them.
"""
import argparse
import json

import numpy as np
import torch

PARAPHRASES = {
    'cars moving left': 'vehicles heading to the left',
    'cars moving right': 'automobiles driving towards the right',
    'red cars': 'vehicles painted red',
    'parked cars': 'stationary vehicles standing at the kerb',
    'pedestrians': 'people walking on foot',
}
UNRELATED = ['a dog sleeping on a sofa', 'a bowl of soup on the table',
             'the night sky full of stars']


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', default=None)
    parser.add_argument('--split', default='test')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    torch.set_num_threads(1)
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from ikun_mm.datasets import load_expressions, load_video_annotation, resolve_videos
    from ikun_mm.evaluation import binary_auc
    from ikun_mm.models.referring import score_tracks
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    data_root = args.data_root or cfg.data_root
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    originals = list(PARAPHRASES)
    sentences = originals + [PARAPHRASES[o] for o in originals] + UNRELATED
    scores = {s: [] for s in sentences}
    labels = {o: [] for o in originals}
    for video in resolve_videos(data_root, args.split):
        ann = load_video_annotation(data_root, video)
        exprs = {e.sentence: e.positives() for e in load_expressions(data_root, video, ann)}
        tracks = ann.track_boxes()
        out = score_tracks(model, ann.img_paths, tracks, sentences, calibrate=False)
        for tid, res in out.items():
            for k, s in enumerate(sentences):
                scores[s].append(res.scores[:, k])
            for o in originals:
                pos = exprs.get(o, set())
                labels[o].append(np.array([(int(f), tid) in pos for f in res.frames]))
    scores = {s: np.concatenate(v) for s, v in scores.items()}
    unrelated = np.stack([scores[u] for u in UNRELATED])  # (U, N)
    rows = []
    for o in originals:
        y = np.concatenate(labels[o])
        p = PARAPHRASES[o]
        rows.append(dict(
            expression=o, paraphrase=p, positives=int(y.sum()), boxes=int(len(y)),
            original_on_pos=float(scores[o][y].mean()),
            paraphrase_on_pos=float(scores[p][y].mean()),
            paraphrase_on_neg=float(scores[p][~y].mean()),
            unrelated_on_pos=float(unrelated[:, y].mean()),
            auc_original=binary_auc(scores[o], y), auc_paraphrase=binary_auc(scores[p], y),
            auc_unrelated=float(np.mean([binary_auc(u, y) for u in unrelated]))))
    if args.json:
        print(json.dumps(rows), file=result_stream)
        return
    head = ('expression', 'paraphrase', 'pos', 'orig@pos', 'para@pos', 'para@neg', 'unrel@pos',
            'AUC orig', 'AUC para', 'AUC unrel')
    print(' | '.join(head))
    for r in rows:
        print(f"{r['expression']} | {r['paraphrase']} | {r['positives']} | "
              f"{r['original_on_pos']:.3f} | {r['paraphrase_on_pos']:.3f} | "
              f"{r['paraphrase_on_neg']:.3f} | {r['unrelated_on_pos']:.3f} | "
              f"{r['auc_original']:.3f} | {r['auc_paraphrase']:.3f} | {r['auc_unrelated']:.3f}")


if __name__ == '__main__':
    main()
