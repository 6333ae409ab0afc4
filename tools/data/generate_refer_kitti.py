"""Generate the mini Refer-KITTI (rendered videos in the exact Refer-KITTI layout).

Example::

    python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0
"""
import argparse
import json

from ikun_mm.datasets.synthetic import generate_mini_refer_kitti


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='output root of the Refer-KITTI tree')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--videos', type=int, default=None,
                        help='number of videos (default: the 18 Refer-KITTI video names with '
                        'the paper split)')
    parser.add_argument('--frames', type=int, default=48, help='frames per video')
    parser.add_argument('--size', default='384x128', help='frame size WxH')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        raise SystemExit(f'--size must look like 384x128, got {args.size!r}')
    summary = generate_mini_refer_kitti(args.out, seed=args.seed, videos=args.videos,
                                        frames=args.frames, size=(width, height), progress=True)
    print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
