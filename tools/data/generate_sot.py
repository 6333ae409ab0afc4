"""Generate the synthetic SOT sequences (GOT-10k layout) used by the small SOT configs.

    python tools/data/generate_sot.py data/synthetic_sot [--train 200] [--val 6] [--frames 40]
                                      [--size 160 120] [--seed 0]

Writes ``<out>/train`` and ``<out>/val`` (val uses ``seed + 1``).
"""
import argparse

from ikun_mm.datasets.synthetic import generate_sot_sequences


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='output root')
    parser.add_argument('--train', type=int, default=200, help='training sequences')
    parser.add_argument('--val', type=int, default=6, help='validation sequences')
    parser.add_argument('--frames', type=int, default=40, help='frames per sequence')
    parser.add_argument('--size', type=int, nargs=2, default=(160, 120), metavar=('W', 'H'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    for split, n, seed in (('train', args.train, args.seed), ('val', args.val, args.seed + 1)):
        names = generate_sot_sequences(args.out, split, n, args.frames, tuple(args.size), seed)
        print(f'{split}: {len(names)} sequences of {args.frames} frames in {args.out}/{split}')


if __name__ == '__main__':
    main()
