"""Look at a Refer-KITTI-layout dataset: which objects does an expression refer to?

    python tools/analysis/browse_dataset.py DATA_ROOT VIDEO --list
    python tools/analysis/browse_dataset.py DATA_ROOT VIDEO "red cars" ["cars moving left" ...] \
        --out work_dirs/browse/0005.jpg [--frames 4] [--upscale 2] [--overwrite]

``--list`` prints every expression of the video with its number of referred boxes and objects.
Otherwise the ground-truth boxes of the given expressions are drawn (the same drawing as the demo:
``#id [expression number]``, score 1.00) and written as a picture (``.jpg``/``.png``: a 2-column
grid of evenly spaced frames) or a video (``.mp4``/``.avi``: every frame). Boxes follow the
``corrected`` frame convention: image ``f`` shows the objects listed under frame ``f`` of the
expression's JSON. Works on the generated mini Refer-KITTI and on a real Refer-KITTI tree alike.
"""
import argparse
import difflib
import os.path as osp
import sys
from typing import Dict, List, Sequence

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw the ground truth of Refer-KITTI expressions')
    parser.add_argument('data_root', help='dataset root (KITTI/..., expression/...)')
    parser.add_argument('video', help='video name, e.g. 0005')
    parser.add_argument('expressions', nargs='*', help='sentences to draw (see --list)')
    parser.add_argument('--list', action='store_true', help="print the video's expressions")
    parser.add_argument('--out', help='picture (.jpg/.png) or video (.mp4/.avi) to write')
    parser.add_argument('--frames', type=int, default=4, help='frames in a picture')
    parser.add_argument('--upscale', type=float, default=1.0, help='enlarge frames before drawing')
    parser.add_argument('--fps', type=float, default=10.0, help='fps of a video output')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output')
    return parser.parse_args(argv)


def referred_gt(annotation, expressions: Sequence) -> Dict[str, np.ndarray]:
    """Ground truth of each expression in the demo's row format.

    Returns:
        ``{sentence: array (M, 7) frame, id, x1, y1, x2, y2, score=1}`` (0-based frames,
        corrected convention: the MOT GT rows of :func:`expression_gt_rows`, converted back).
    """
    from ikun_mm.datasets.refer_kitti_io import expression_gt_rows
    out = {}
    for expr in expressions:
        mot = expression_gt_rows(expr, annotation, 'corrected')  # frame+1, id, x1, y1, w, h
        rows = np.empty((len(mot), 7))
        rows[:, 0] = mot[:, 0] - 1
        rows[:, 1:4] = mot[:, 1:4]
        rows[:, 4:6] = mot[:, 2:4] + mot[:, 4:6]
        rows[:, 6] = 1.0
        out[expr.sentence] = rows
    return out


def pick_expressions(available: List, wanted: Sequence[str], where: str) -> List:
    """The expressions named in ``wanted``, in that order; a clear error names unknown ones."""
    by_sentence = {e.sentence: e for e in available}
    missing = [s for s in wanted if s not in by_sentence]
    if missing:
        hints = difflib.get_close_matches(missing[0], list(by_sentence), n=3)
        hint = f'; did you mean {", ".join(map(repr, hints))}?' if hints else ''
        raise SystemExit(f'{where}: no expression {missing[0]!r}{hint} '
                         '(--list prints them all)')
    return [by_sentence[s] for s in wanted]


def main(argv=None) -> int:
    args = parse_args(argv)
    from ikun_mm.datasets import load_expressions, load_video_annotation
    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
    from ikun_mm.visualization import (evenly_spaced, render_referred, write_snapshot,
                                       write_video)
    try:
        ann = load_video_annotation(args.data_root, args.video)
        exprs = load_expressions(args.data_root, args.video, ann)
    except ReferKittiFormatError as err:  # names the file and the problem
        raise SystemExit(str(err)) from None
    where = osp.join(args.data_root, 'expression', args.video)
    if args.list:
        gt = referred_gt(ann, exprs)
        width = max(len(e.sentence) for e in exprs) if exprs else 10
        print(f'{"expression":<{width}}  boxes  objects')
        for e in exprs:
            rows = gt[e.sentence]
            print(f'{e.sentence:<{width}}  {len(rows):5d}  {len(np.unique(rows[:, 1])):7d}')
        return 0
    if not args.expressions or not args.out:
        raise SystemExit('give one or more expressions and --out (or --list)')
    ext = osp.splitext(args.out)[1].lower()
    if ext not in ('.jpg', '.jpeg', '.png', '.mp4', '.avi'):
        raise SystemExit(f'{args.out}: write a .jpg/.png picture or an .mp4/.avi video')
    if osp.exists(args.out) and not args.overwrite:
        raise SystemExit(f'{args.out} exists; pass --overwrite to replace it')
    chosen = pick_expressions(exprs, args.expressions, where)
    referred = referred_gt(ann, chosen)
    frames = ann.img_paths
    drawn = render_referred(frames, referred, args.expressions, args.upscale)
    if ext in ('.mp4', '.avi'):
        count = write_video(drawn, args.out, args.fps)
        print(f'{count} frames -> {args.out}')
        return 0
    picks = set(evenly_spaced(len(frames), args.frames))
    kept = {f: img for f, img in enumerate(drawn) if f in picks}
    print(f'{write_snapshot(kept, args.out)} frames -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
