"""Track cached detections (MOTChallenge txt) with a tracker config; write MOTChallenge results.

    python tools/track_detections.py --config configs/neuralsort/neuralsort_mini_refer_kitti.py \
        --det data/mini_refer_kitti/KITTI/detections/image_02/0005.txt --img-size 384 128 \
        --out work_dirs/neuralsort/0005.txt [--num-frames N] [--overwrite] [--cfg-options k=v ...]

    # or: the frame count and size from the video's frames (headers only)
    python tools/track_detections.py --config ... --det .../0005.txt \
        --frames data/mini_refer_kitti/KITTI/training/image_02/0005 --out ...

Input lines: ``frame,id,x,y,w,h,score[,cls,...]`` (1-based frames; a malformed line is reported
with its file and line number). Output lines: ``frame,id,x,y,w,h,score,-1,-1,-1`` (1-based frames
and ids), written atomically; an existing output file is only replaced with ``--overwrite``.

The detections are checked against the video before tracking, each problem an error naming the
file and line: a frame beyond ``--num-frames`` (or the frames of ``--frames``), a box wholly
outside the ``--img-size`` image (width and height swapped?), and, when the frame count is read
from the file itself, a gap of more than 1000 frames without any detection (a typo'd frame
number such as 10000000 would otherwise make the tracker step through every empty frame).
Paths may contain spaces, in ``--cfg-options`` values too (quote the whole ``key=value``).
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

import numpy as np
from mmengine.config import Config

from ikun_mm.structures import TRACK_ROW, xyxy_to_xywh
from ikun_mm.utils.config import CfgOptionsAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', required=True, help='tracking config (model.tracker, ...)')
    parser.add_argument('--det', required=True, help='MOTChallenge detection file')
    parser.add_argument('--img-size', type=int, nargs=2, metavar=('W', 'H'),
                        help='image width and height in pixels (or give --frames)')
    parser.add_argument('--frames', metavar='DIR',
                        help='folder of the video\'s frames (<frame:06d>.png/.jpg): the frame '
                        'count and image size are read from it (file headers only)')
    parser.add_argument('--out', required=True, help='output MOTChallenge result file')
    parser.add_argument('--num-frames', type=int, default=None,
                        help='frames in the video (default: the frames of --frames, else the '
                        'last frame with a detection)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, "key=value" pairs')
    args = parser.parse_args(argv)
    if args.img_size is None and args.frames is None:
        parser.error('give the image size: --img-size W H, or --frames DIR')
    return args


def write_mot_results(path: str, results: np.ndarray, overwrite: bool = False) -> None:
    """Write tracker rows (:data:`~ikun_mm.structures.TRACK_ROW`: ``frame (0-based), id
    (0-based), x1, y1, x2, y2, score, ...``) as a MOTChallenge file (1-based frames and ids,
    ``x, y, w, h``) atomically (temporary file in the same folder, then rename).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    if osp.exists(path) and not overwrite:
        raise FileExistsError(f'{path} exists; pass --overwrite to replace it')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    col = TRACK_ROW
    lines = ''.join(
        f'{int(r[col.frame]) + 1},{int(r[col.id]) + 1},{x:.2f},{y:.2f},{w:.2f},{h:.2f},'
        f'{r[col.score]:.4f},-1,-1,-1\n'
        for r, (x, y, w, h) in zip(results, xyxy_to_xywh(col.boxes(results))))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(lines)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _video_frames(folder: str):
    """``(frame count, (W, H))`` of a folder of frames, from the file headers."""
    from ikun_mm.datasets.refer_kitti_io import (ReferKittiFormatError, check_frame_sizes,
                                                 list_frame_files)
    if not osp.isdir(folder):
        raise SystemExit(f'--frames {folder}: no such folder')
    try:
        frames = list_frame_files(folder)
        if not frames:
            raise SystemExit(f'--frames {folder}: no frames named <frame:06d>.png/.jpg')
        missing = [f for f in range(max(frames) + 1) if f not in frames]
        if missing:
            raise SystemExit(f'--frames {folder}: missing frame(s) {missing[:10]}')
        return len(frames), check_frame_sizes([frames[f] for f in sorted(frames)])
    except ReferKittiFormatError as exc:
        raise SystemExit(str(exc))


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} does not exist')
    if not osp.isfile(args.det):
        raise SystemExit(f'detection file {args.det} does not exist')
    if osp.exists(args.out) and not args.overwrite:
        raise SystemExit(f'{args.out} exists; pass --overwrite to replace it')
    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
    frames_count, size_source = None, '--img-size'
    if args.frames is not None:
        frames_count, frame_size = _video_frames(args.frames)
        if args.img_size is not None and tuple(args.img_size) != frame_size:
            raise SystemExit(f'--img-size {args.img_size[0]} {args.img_size[1]} differs from the '
                             f'{frame_size[0]}x{frame_size[1]} frames of {args.frames} (W H '
                             'order: width first)')
        if args.num_frames is not None and args.num_frames != frames_count:
            raise SystemExit(f'--num-frames {args.num_frames} differs from the {frames_count} '
                             f'frames of {args.frames}')
        args.img_size, size_source = list(frame_size), f'the frames of {args.frames}'
    width, height = args.img_size
    if width <= 0 or height <= 0:
        raise SystemExit(f'--img-size must be positive, got {width} {height}')
    if args.num_frames is not None and args.num_frames < 1:
        raise SystemExit(f'--num-frames must be at least 1, got {args.num_frames}')

    from ikun_mm.registry import MODELS
    from ikun_mm.models.trackers import track_video
    from ikun_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)

    cfg = Config.fromfile(args.config)
    from ikun_mm.utils.config import merge_cfg_options
    merge_cfg_options(cfg, args.cfg_options)
    det_cfg = cfg.model.detector
    if det_cfg.get('type') != 'DetectionsFromFile':
        raise SystemExit(f'{args.config}: model.detector must be DetectionsFromFile, got '
                         f'{det_cfg.get("type")}')
    det_cfg.pop('det_dir', None)
    det_cfg.det_file = args.det
    model = MODELS.build(cfg.model)
    model.eval()
    try:
        num_frames = args.num_frames or frames_count or model.detector.num_frames(args.det)
        model.detector.check_video(args.det, num_frames, (width, height), size_source,
                                   beyond_video='error')
        results = track_video(model, num_frames, (width, height),
                              video=osp.splitext(osp.basename(args.det))[0],
                              progress=not args.no_progress)
    except ReferKittiFormatError as exc:
        raise SystemExit(str(exc))
    write_mot_results(args.out, results, args.overwrite)
    print(f'{len(results)} boxes, '
          f'{len(np.unique(results[:, TRACK_ROW.id])) if len(results) else 0} '
          f'tracks over {num_frames} frames -> {args.out}', file=sys.stderr)


if __name__ == '__main__':
    main()
