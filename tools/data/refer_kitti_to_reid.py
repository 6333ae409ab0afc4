"""Export ground-truth crops of a Refer-KITTI split as an mmdet ReID dataset.

    python tools/data/refer_kitti_to_reid.py DATA OUT [--split train] [--val-ratio 0.2]
        [--min-size 4] [--min-crops 2] [--frame-stride 1] [--seed 0] [--overwrite]

Every ground-truth track of the split's videos is one identity, ``(video, track id)``; its camera
id is the video's index in the split. Layout of ``OUT`` (mmdet's ``ReIDDataset``: an
``ann_file`` of ``<image path> <label>`` lines, labels ``0..K-1``, paths relative to
``data_prefix.img_path``)::

    imgs/<video>_<track:06d>/<frame:06d>.png   one BGR crop per box (integer pixel window)
    meta/train.txt                             training identities
    meta/val.txt                               held-out identities of the same videos
    meta/identities.json                       per identity: video, track_id, camid, cls,
                                               subset, label, num_crops; plus the totals

``--val-ratio`` of each video's identities (at least one when the ratio is positive and the video
has two or more) are held out for validation, chosen with ``--seed``. The test split is refused
unless ``--allow-test`` is given. ``head.num_classes`` of the ReID config must equal the number of
training identities printed at the end.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

IMG_DIR = 'imgs'
META_DIR = 'meta'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='root of the Refer-KITTI tree')
    parser.add_argument('out', help='output root of the ReID dataset')
    parser.add_argument('--split', default='train',
                        help='split of DATA/split.json (or the paper split) to export, or a '
                        'comma-separated list of video names (default: train)')
    parser.add_argument('--val-ratio', type=float, default=0.2,
                        help="fraction of each video's identities held out for validation")
    parser.add_argument('--min-size', type=int, default=4,
                        help='skip boxes whose pixel window is narrower or lower than this')
    parser.add_argument('--min-crops', type=int, default=2,
                        help='skip identities with fewer crops than this')
    parser.add_argument('--frame-stride', type=int, default=1,
                        help='export every N-th frame of each video')
    parser.add_argument('--seed', type=int, default=0, help='seed of the held-out identities')
    parser.add_argument('--allow-test', action='store_true',
                        help='allow exporting the test split (never needed for training)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the imgs/ and meta/ folders of an existing OUT')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if not 0 <= args.val_ratio < 1:
        parser.error(f'--val-ratio must be in [0, 1), got {args.val_ratio}')
    if args.min_size < 1 or args.min_crops < 1 or args.frame_stride < 1:
        parser.error('--min-size, --min-crops and --frame-stride must be >= 1')
    return args


def held_out_identities(ids_per_video: Dict[str, List[int]], val_ratio: float,
                        seed: int) -> set:
    """``(video, track_id)`` pairs held out for validation: ``round(val_ratio * n)`` of each
    video's ``n`` identities (at least one when ``val_ratio > 0`` and ``n >= 2``), drawn with
    ``seed``."""
    rng = np.random.default_rng(seed)
    held = set()
    for video in sorted(ids_per_video):
        ids = sorted(ids_per_video[video])
        k = int(round(val_ratio * len(ids)))
        if val_ratio > 0 and len(ids) >= 2:
            k = min(max(k, 1), len(ids) - 1)
        for tid in rng.permutation(ids)[:k]:
            held.add((video, int(tid)))
    return held


def prepare_out(out: str, overwrite: bool) -> None:
    """Create ``out``; refuse to touch an existing non-empty one unless ``overwrite``."""
    if osp.exists(out) and not osp.isdir(out):
        raise SystemExit(f'{out} exists and is not a folder')
    if osp.isdir(out) and os.listdir(out):
        if not overwrite:
            raise SystemExit(f'{out} exists and is not empty; pass --overwrite to replace its '
                             f'{IMG_DIR}/ and {META_DIR}/')
        for sub in (IMG_DIR, META_DIR):
            if osp.isdir(osp.join(out, sub)):
                shutil.rmtree(osp.join(out, sub))
    os.makedirs(osp.join(out, IMG_DIR), exist_ok=True)
    os.makedirs(osp.join(out, META_DIR), exist_ok=True)


def export(args: argparse.Namespace) -> dict:
    """Write the crops and annotation files; return the summary written to identities.json."""
    import cv2

    from ikun_mm.datasets.refer_kitti_io import (ReferKittiFormatError, load_video_annotation,
                                                 resolve_videos)
    from ikun_mm.models.reid.crops import box_window

    split = args.split.split(',') if ',' in args.split else args.split
    videos = resolve_videos(args.data_root, split)
    try:
        test_videos = set(resolve_videos(args.data_root, 'test'))
    except ReferKittiFormatError:  # a split file without a test split
        test_videos = set()
    if test_videos & set(videos) and not args.allow_test:
        raise SystemExit(f'refusing to export test video(s) {sorted(test_videos & set(videos))} '
                         f'as ReID data; pass --allow-test if you really mean it')
    anns = {v: load_video_annotation(args.data_root, v) for v in videos}

    # identities and their boxes
    crops: Dict[tuple, list] = {}
    classes: Dict[tuple, int] = {}
    for video, ann in anns.items():
        width, height = ann.img_size
        for row in ann.boxes:
            frame, tid, cls = int(row[0]), int(row[1]), int(row[2])
            if frame % args.frame_stride:
                continue
            x1, y1, x2, y2 = box_window(row[3:7], width, height)
            if x2 - x1 < args.min_size or y2 - y1 < args.min_size:
                continue
            crops.setdefault((video, tid), []).append((frame, (x1, y1, x2, y2)))
            classes[(video, tid)] = cls
    crops = {k: v for k, v in crops.items() if len(v) >= args.min_crops}
    ids_per_video: Dict[str, List[int]] = {}
    for video, tid in crops:
        ids_per_video.setdefault(video, []).append(tid)
    held = held_out_identities(ids_per_video, args.val_ratio, args.seed)

    prepare_out(args.out, args.overwrite)
    camid = {v: i for i, v in enumerate(videos)}
    labels = {'train': 0, 'val': 0}
    identities = {}
    lines = {'train': [], 'val': []}
    by_frame: Dict[tuple, list] = {}
    for key in sorted(crops, key=lambda k: (camid[k[0]], k[1])):
        subset = 'val' if key in held else 'train'
        name = f'{key[0]}_{key[1]:06d}'
        identities[name] = dict(video=key[0], track_id=key[1], camid=camid[key[0]],
                                cls=classes[key], subset=subset, label=labels[subset],
                                num_crops=len(crops[key]))
        os.makedirs(osp.join(args.out, IMG_DIR, name), exist_ok=True)
        for frame, window in crops[key]:
            rel = f'{name}/{frame:06d}.png'
            lines[subset].append(f'{rel} {labels[subset]}')
            by_frame.setdefault((key[0], frame), []).append((rel, window))
        labels[subset] += 1

    from tqdm import tqdm
    for (video, frame), items in tqdm(sorted(by_frame.items()), desc='crops', unit='frame',
                                      disable=args.no_progress):
        path = anns[video].img_paths[frame]
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f'{path}: cannot read image')
        for rel, (x1, y1, x2, y2) in items:
            dst = osp.join(args.out, IMG_DIR, rel)
            if not cv2.imwrite(dst, img[y1:y2, x1:x2]):
                raise SystemExit(f'{dst}: cannot write crop')

    for subset in ('train', 'val'):
        with open(osp.join(args.out, META_DIR, f'{subset}.txt'), 'w') as f:
            f.write(''.join(line + '\n' for line in lines[subset]))
    summary = dict(data_root=osp.abspath(args.data_root), split=args.split, videos=videos,
                   val_ratio=args.val_ratio, seed=args.seed, min_size=args.min_size,
                   min_crops=args.min_crops, frame_stride=args.frame_stride,
                   num_train_ids=labels['train'], num_val_ids=labels['val'],
                   num_train_crops=len(lines['train']), num_val_crops=len(lines['val']),
                   identities=identities)
    with open(osp.join(args.out, META_DIR, 'identities.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
    try:
        summary = export(args)
    except ReferKittiFormatError as exc:
        raise SystemExit(str(exc))
    print(f'train: {summary["num_train_ids"]} identities, {summary["num_train_crops"]} crops; '
          f'val: {summary["num_val_ids"]} identities, {summary["num_val_crops"]} crops '
          f'-> {args.out} (set the ReID head.num_classes={summary["num_train_ids"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
