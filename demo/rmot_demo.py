"""Referring MOT demo: track a video, refer it with free-text expressions, draw the result.

    python demo/rmot_demo.py VIDEO_OR_FRAME_DIR "cars moving left" ["red cars" ...] \
        --config configs/rmot/ikun_cascade_neuralsort_mini_refer_kitti.py \
        --checkpoint work_dirs/ikun_cascade_mini_refer_kitti/epoch_200.pth \
        --out work_dirs/demo/cars.mp4 [--det DET.txt | --hog] [--max-frames N] [--fps F] \
        [--upscale 2] [--snapshot work_dirs/demo/cars.jpg [--snapshot-frames 4]]

Input: a video file (.mp4, .avi, ...) or a folder of frames (in natural order: ``2.png`` before
``10.png``; ``--max-frames N`` keeps the first N, N >= 1). Detections come
from the config's detector, from a MOTChallenge file given with ``--det``, or from OpenCV's
built-in HOG people detector with ``--hog`` (both replace the config's detector). Writes OUT.mp4
(every frame, referred boxes with id, expression number and score, the expressions in the
corner) and, next to it, one MOTChallenge txt per expression
(``<out stem>_<expression-with-dashes>.txt``; characters other than letters, digits, ``.``,
``_`` and ``-`` become dashes, e.g. ``cars/trucks`` -> ``cars-trucks``). Frames and track ids
are 1-based in the txt files and on the drawn boxes, as ``tools/track_detections.py`` writes
them. Existing outputs are never overwritten unless
``--overwrite`` is given. ``--snapshot PIC.jpg`` also writes a still picture: a 2-column grid
of evenly spaced drawn frames (first and last included), each labelled with its frame number.
Paths may contain spaces, ``--cfg-options`` values too (quote the whole ``key=value``).
"""
import argparse
import os
import os.path as osp
import re
import sys
import tempfile

import cv2
import numpy as np
from mmengine.config import Config
from tqdm import tqdm

from ikun_mm.datasets.refer_kitti_io import IMAGE_EXTS, format_mot_rows
from ikun_mm.evaluation import mot_rows_from_boxes
from ikun_mm.registry import MODELS
from ikun_mm.structures import REFERRED_ROW
from ikun_mm.utils import CfgOptionsAction, register_all_modules
from ikun_mm.visualization import evenly_spaced, render_referred, write_snapshot, write_video


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number >= 1, got {text!r}')
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def natural_key(name: str):
    """Sort key putting ``2.png`` before ``10.png`` (digit runs compare as numbers)."""
    return [(0, int(part), part) if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r'(\d+)', name) if part]


def expression_file_names(stem: str, expressions) -> dict:
    """``{expression: '<stem>_<sanitised expression>.txt'}``: whitespace and characters other
    than letters, digits, ``.``, ``_``, ``-`` become single dashes (no ``/`` reaches the file
    name); expressions that sanitise alike get ``_2``, ``_3``... suffixes."""
    out, taken = {}, set()
    for i, sentence in enumerate(dict.fromkeys(expressions)):
        name = re.sub(r'[^\w.-]+', '-', sentence.strip()).strip('-.') or f'expression{i + 1}'
        candidate, n = name, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f'{name}_{n}'
        taken.add(candidate.lower())
        out[sentence] = f'{stem}_{candidate}.txt'
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Referring MOT demo')
    parser.add_argument('source', help='video file or folder of frames')
    parser.add_argument('expressions', nargs='+', help='free-text expressions')
    parser.add_argument('--config', required=True, help='referring tracker config')
    parser.add_argument('--checkpoint', required=True, help='iKUN (or whole model) checkpoint')
    parser.add_argument('--out', required=True, help='output video (.mp4 or .avi)')
    parser.add_argument('--det', help='MOTChallenge detection file replacing the detector')
    parser.add_argument('--hog', action='store_true',
                        help="use OpenCV's built-in HOG people detector (no weights needed)")
    parser.add_argument('--max-frames', type=_positive_int, metavar='N',
                        help='use only the first N frames (N >= 1)')
    parser.add_argument('--fps', type=float, default=10.0, help='fps of the output video')
    parser.add_argument('--upscale', type=float, default=1.0,
                        help='enlarge frames by this factor before drawing (small videos)')
    parser.add_argument('--snapshot', help='also write a picture (.jpg/.png) of a few drawn frames')
    parser.add_argument('--snapshot-frames', type=int, default=4,
                        help='how many evenly spaced frames the snapshot shows')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, "key=value" pairs')
    return parser.parse_args(argv)


def list_frames(source: str, tmp_dir: str, max_frames=None) -> list:
    """Frame paths of a folder of images, or of a video decoded into ``tmp_dir``."""
    if osp.isdir(source):
        names = sorted((n for n in os.listdir(source)
                        if osp.splitext(n)[1].lower() in IMAGE_EXTS), key=natural_key)
        if not names:
            raise SystemExit(f'{source}: no .png/.jpg frames in this folder')
        return [osp.join(source, n) for n in names][:max_frames]
    if not osp.isfile(source):
        raise SystemExit(f'{source}: no such video file or frame folder')
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise SystemExit(f'{source}: OpenCV cannot open this video')
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if max_frames and total:
        total = min(total, max_frames)
    paths = []
    with tqdm(total=total, desc='decoding', unit='frame') as bar:
        while max_frames is None or len(paths) < max_frames:
            ok, img = cap.read()
            if not ok:
                break
            paths.append(osp.join(tmp_dir, f'{len(paths):06d}.jpg'))
            cv2.imwrite(paths[-1], img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            bar.update()
    cap.release()
    if not paths:
        raise SystemExit(f'{source}: the video has no readable frame')
    return paths


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    stem = osp.splitext(args.out)[0]
    txt_outs = expression_file_names(stem, args.expressions)
    if args.snapshot and osp.splitext(args.snapshot)[1].lower() not in ('.jpg', '.jpeg', '.png'):
        raise SystemExit(f'{args.snapshot}: the snapshot must be a .jpg or .png file')
    if args.snapshot_frames < 1:
        raise SystemExit('--snapshot-frames must be at least 1')
    outputs = [args.out, *txt_outs.values()] + ([args.snapshot] if args.snapshot else [])
    existing = [p for p in outputs if osp.exists(p)]
    if existing and not args.overwrite:
        raise SystemExit(f'{existing[0]} exists; pass --overwrite to replace it')
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    from ikun_mm.utils.config import merge_cfg_options
    cfg = merge_cfg_options(Config.fromfile(args.config), args.cfg_options)
    if args.det and args.hog:
        raise SystemExit('give --det or --hog, not both')
    if args.det:
        cfg.model.detector = dict(type='DetectionsFromFile', det_file=args.det)
    elif args.hog:
        cfg.model.detector = dict(type='HOGPersonDetector')
    if args.max_frames and cfg.model.detector.get('type') == 'DetectionsFromFile':
        cfg.model.detector['beyond_video'] = 'skip'  # the later frames' rows are expected
    model = MODELS.build(cfg.model)
    from ikun_mm.utils.checkpoint import UnreadableCheckpointError
    try:
        model.load_referrer_checkpoint(args.checkpoint)
    except UnreadableCheckpointError as exc:  # names the file; no traceback needed
        raise SystemExit(str(exc))
    model.eval()

    with tempfile.TemporaryDirectory(prefix='rmot_demo_') as tmp:
        frames = list_frames(args.source, tmp, args.max_frames)
        from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
        try:
            referred = model.refer_video(frames, args.expressions, progress=True)
        except ReferKittiFormatError as exc:  # e.g. --det rows beyond the video; names the file
            raise SystemExit(f'{type(exc).__name__}: {exc}')
        for rows in referred.values():
            # 1-based track ids, as tools/track_detections.py writes them
            rows[:, REFERRED_ROW.id] += 1
        picks = set(evenly_spaced(len(frames), args.snapshot_frames) if args.snapshot else [])
        kept = {}

        def keep(images):
            for f, img in enumerate(images):
                if f in picks:
                    kept[f] = img
                yield img

        drawn = tqdm(keep(render_referred(frames, referred, args.expressions, args.upscale)),
                     total=len(frames), desc='drawing', unit='frame')
        count = write_video(drawn, args.out, args.fps)
    if args.snapshot:
        print(f'{write_snapshot(kept, args.snapshot)} frames -> {args.snapshot}')
    for sentence, path in txt_outs.items():
        rows = referred[sentence]
        text = format_mot_rows(mot_rows_from_boxes(rows)) if len(rows) else ''
        tmp_path = path + '.partial'
        try:
            with open(tmp_path, 'w') as f:
                f.write(text)
            os.replace(tmp_path, path)
        except BaseException:  # Ctrl-C included: no partial file is left
            if osp.exists(tmp_path):
                os.remove(tmp_path)
            raise
        tracks = len(np.unique(rows[:, REFERRED_ROW.id])) if len(rows) else 0
        print(f'{sentence!r}: {len(rows)} boxes in {tracks} tracks -> {path}')
    print(f'{count} frames -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
