"""Convert a Refer-KITTI tree to MOTChallenge layout + CocoVideo json for mmdet's MOT datasets.

Example (then train FairMOT on it with
configs/fairmot/fairmot_dla-tiny_1xb8-5e_mini-refer-kitti.py)::

    python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0
    python tools/data/refer_kitti_to_cocovid.py data/mini_refer_kitti data/mini_refer_kitti_mot

Prints, per split, the number of identities (``num_instances``): FairMOT's ``head.num_ids`` must
be at least the training split's.
"""
import argparse
import json

from ikun_mm.datasets.refer_kitti_cocovid import convert_refer_kitti_to_mot


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='root of the Refer-KITTI tree')
    parser.add_argument('out', help='output root (MOTChallenge layout + annotations/)')
    parser.add_argument('--splits', nargs='+', default=['train', 'test'],
                        help='splits of data_root/split.json to convert')
    parser.add_argument('--copy', action='store_true', help='copy frames instead of linking')
    return parser.parse_args()


def main():
    args = parse_args()
    summary = convert_refer_kitti_to_mot(args.data_root, args.out, args.splits,
                                         link=not args.copy)
    print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
