"""Track cached detections (MOTChallenge txt) with a tracker config; write MOTChallenge results.

    python tools/track_detections.py --config configs/neuralsort/neuralsort_mini_refer_kitti.py \
        --det data/mini_refer_kitti/KITTI/detections/image_02/0005.txt --img-size 384 128 \
        --out work_dirs/neuralsort/0005.txt [--num-frames N] [--overwrite] [--cfg-options k=v ...]

Input lines: ``frame,id,x,y,w,h,score[,cls,...]`` (1-based frames; a malformed line is reported
with its file and line number). Output lines: ``frame,id,x,y,w,h,score,-1,-1,-1`` (1-based frames
and ids), written atomically; an existing output file is only replaced with ``--overwrite``.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

import numpy as np
from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', required=True, help='tracking config (model.tracker, ...)')
    parser.add_argument('--det', required=True, help='MOTChallenge detection file')
    parser.add_argument('--img-size', type=int, nargs=2, required=True, metavar=('W', 'H'),
                        help='image width and height in pixels')
    parser.add_argument('--out', required=True, help='output MOTChallenge result file')
    parser.add_argument('--num-frames', type=int, default=None,
                        help='frames in the video (default: the last frame with a detection)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, "key=value" pairs')
    return parser.parse_args(argv)


def write_mot_results(path: str, results: np.ndarray, overwrite: bool = False) -> None:
    """Write rows ``frame (0-based), id (0-based), x1, y1, x2, y2, score, ...`` as a MOTChallenge
    file (1-based frames and ids) atomically (temporary file in the same folder, then rename).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    if osp.exists(path) and not overwrite:
        raise FileExistsError(f'{path} exists; pass --overwrite to replace it')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    lines = ''.join(
        f'{int(r[0]) + 1},{int(r[1]) + 1},{r[2]:.2f},{r[3]:.2f},{r[4] - r[2]:.2f},'
        f'{r[5] - r[3]:.2f},{r[6]:.4f},-1,-1,-1\n' for r in results)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(lines)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} does not exist')
    if not osp.isfile(args.det):
        raise SystemExit(f'detection file {args.det} does not exist')
    if osp.exists(args.out) and not args.overwrite:
        raise SystemExit(f'{args.out} exists; pass --overwrite to replace it')
    width, height = args.img_size
    if width <= 0 or height <= 0:
        raise SystemExit(f'--img-size must be positive, got {width} {height}')

    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
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
        num_frames = args.num_frames or model.detector.num_frames(args.det)
        results = track_video(model, num_frames, (width, height),
                              video=osp.splitext(osp.basename(args.det))[0],
                              progress=not args.no_progress)
    except ReferKittiFormatError as exc:
        raise SystemExit(str(exc))
    write_mot_results(args.out, results, args.overwrite)
    print(f'{len(results)} boxes, {len(np.unique(results[:, 1])) if len(results) else 0} '
          f'tracks over {num_frames} frames -> {args.out}', file=sys.stderr)


if __name__ == '__main__':
    main()
