"""Prepare a Refer-KITTI-style tree (Refer-KITTI, Refer-KITTI-V2, Refer-Dance, or the generated
mini Refer-KITTI) for training and evaluation.

Checks every video that has an expression folder: frames (every frame's size from its header,
the same for the whole video; truncated PNG/JPEG files; two files for one frame), labels
(fields, finite integer ids, boxes normalised by the image size), expression files (UTF-8,
valid JSON without ``NaN``/``Infinity``, integer frames and ids present in the labels, a list
``ignore``) and ``split.json``. A broken video is skipped with a warning naming it and the
first problem found in it (file and line or key), the other videos are prepared, and the tool
exits with status 1; an unreadable ``split.json`` is reported the same way (no seqmap is
written from it). Then it writes, under ``--out`` (default: the data root):

* ``gt_template/<video>/<sentence-with-dashes>/gt.txt``: MOTChallenge GT per expression in the
  chosen frame convention (``corrected`` by default; ``legacy`` reproduces the original writer,
  see :func:`ikun_mm.datasets.refer_kitti_io.expression_gt_rows`);
* ``refer_kitti_objects.json``: per video, per object: class, and per frame its box and the
  expressions that hold for it;
* ``split.json`` (only when absent and ``--train``/``--test`` are given) and
  ``seqmap_<split>.txt``: the evaluated ``<video>+<expression>`` sequences of each split.

Example::

    python tools/data/prepare_refer_kitti.py data/refer-kitti --test 0005 0011 0013 \
        --train 0001 0002 ...
"""
import argparse
import json
import os
import os.path as osp
import sys

from tqdm import tqdm

from ikun_mm.datasets.refer_kitti_io import (EXPRESSION_DIR, FRAME_CONVENTIONS, IMAGE_DIR,
                                             SPLIT_FILE, ReferKittiFormatError,
                                             load_expressions, load_video_annotation,
                                             resolve_videos, write_gt_templates)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root')
    parser.add_argument('--out', help='output root (default: data_root)')
    parser.add_argument('--convention', choices=FRAME_CONVENTIONS, default='corrected')
    parser.add_argument('--train', nargs='*', help='train videos (writes split.json if absent)')
    parser.add_argument('--test', nargs='*', help='test videos (writes split.json if absent)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    root, out = args.data_root, args.out or args.data_root
    img_root = osp.join(root, IMAGE_DIR)
    if not osp.isdir(img_root):
        raise SystemExit(f'{img_root}: not a Refer-KITTI tree (no {IMAGE_DIR} folder)')
    videos = sorted(v for v in os.listdir(img_root) if osp.isdir(osp.join(img_root, v)))
    problems, objects, valid = [], {}, []
    for video in tqdm(videos, desc='checking videos', unit='video'):
        if not osp.isdir(osp.join(root, EXPRESSION_DIR, video)):
            continue  # videos without expressions are not part of the benchmark
        try:
            ann = load_video_annotation(root, video)
            exprs = load_expressions(root, video, ann)
        except (ReferKittiFormatError, OSError) as exc:
            problems.append(f'video {video} skipped: {exc}')
            print(f'warning: video {video} skipped: {exc}', file=sys.stderr, flush=True)
            continue
        valid.append(video)
        per_object = {}
        for frame, tid, cls, x1, y1, x2, y2 in ann.boxes:
            obj = per_object.setdefault(str(int(tid)), dict(cls=int(cls), frames={}))
            obj['frames'][str(int(frame))] = dict(bbox=[round(v, 2) for v in (x1, y1, x2, y2)],
                                                  expressions=[])
        for expr in exprs:
            for frame, tid in expr.positives():
                per_object[str(tid)]['frames'][str(frame)]['expressions'].append(expr.sentence)
        objects[video] = per_object
        write_gt_templates(root, video, args.convention, osp.join(out, 'gt_template'))

    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'refer_kitti_objects.json'), 'w') as f:
        json.dump(objects, f)
    if (args.train or args.test) and not osp.isfile(osp.join(root, SPLIT_FILE)):
        with open(osp.join(out, SPLIT_FILE), 'w') as f:
            json.dump(dict(train=args.train or [], test=args.test or []), f, indent=1)
    split_root = out if osp.isfile(osp.join(out, SPLIT_FILE)) else root
    for split in ('train', 'test'):
        try:
            split_videos = resolve_videos(split_root, split)
        except ReferKittiFormatError as exc:
            if 'has no split' not in str(exc) and osp.isfile(osp.join(split_root, SPLIT_FILE)):
                problem = f'{exc} (no seqmap_{split}.txt written)'
                print(f'warning: {problem}', file=sys.stderr, flush=True)
                problems.append(problem)
            continue
        lines = ['name']
        for video in split_videos:
            if video in objects:
                folder = osp.join(root, EXPRESSION_DIR, video)
                lines += [f'{video}+{osp.splitext(n)[0]}' for n in sorted(os.listdir(folder))
                          if n.endswith('.json')]
        with open(osp.join(out, f'seqmap_{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')

    print(f'{len(valid)} video(s) prepared into {out} ({args.convention} frame convention)')
    if problems:
        print(f'{len(problems)} problem(s); the other videos are prepared:', file=sys.stderr)
        for p in problems:
            print(f'  {p}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
