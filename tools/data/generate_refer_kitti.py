"""Generate the mini Refer-KITTI (rendered videos in the exact Refer-KITTI layout).

Example::

    python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0

The tree is written into a hidden sibling folder of ``--out`` first and moved into place only
when it is complete, so an interrupted or failed run leaves ``--out`` as it was. When ``--out``
already holds files:

* the same tree (same arguments, identical files): nothing is written, exit 0;
* anything else (other arguments, edited or extra files): an error naming the folder, unless
  ``--overwrite`` is given, which replaces the whole tree (no file of the earlier tree stays).
"""
import argparse
import filecmp
import json
import os
import os.path as osp
import shutil
import tempfile


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog='An existing --out folder holding a different tree is an error unless '
        '--overwrite is given; the same tree again is left as it is.')
    parser.add_argument('--out', required=True, help='output root of the Refer-KITTI tree')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--videos', type=int, default=None,
                        help='number of videos (default: the 18 Refer-KITTI video names with '
                        'the paper split)')
    parser.add_argument('--frames', type=int, default=48, help='frames per video')
    parser.add_argument('--size', default='384x128', help='frame size WxH')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out tree that differs (as a whole)')
    return parser.parse_args(argv)


def _files(root: str) -> set:
    """Relative paths of the files under ``root``."""
    out = set()
    for folder, _, names in os.walk(root):
        for name in names:
            out.add(osp.relpath(osp.join(folder, name), root))
    return out


def tree_differences(old: str, new: str) -> dict:
    """Files only in ``old`` (``extra``), only in ``new`` (``missing``), and in both with other
    bytes (``changed``); each a sorted list of relative paths."""
    old_files, new_files = _files(old), _files(new)
    changed = [p for p in sorted(old_files & new_files)
               if not filecmp.cmp(osp.join(old, p), osp.join(new, p), shallow=False)]
    return dict(extra=sorted(old_files - new_files), missing=sorted(new_files - old_files),
                changed=changed)


def _describe(diff: dict) -> str:
    words = dict(extra='files the new tree does not have', changed='files with other contents',
                 missing='files missing')
    parts = [f'{len(v)} {words[k]} (e.g. {v[0]})' for k, v in diff.items() if v]
    return '; '.join(parts)


def main(argv=None):
    args = parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        raise SystemExit(f'--size must look like 384x128, got {args.size!r}')
    out = osp.realpath(args.out)  # a symlinked tree is replaced where it lies
    if osp.exists(out) and not osp.isdir(out):
        raise SystemExit(f'--out {args.out} exists and is not a folder')
    from ikun_mm.datasets.synthetic import generate_mini_refer_kitti
    parent = osp.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f'.{osp.basename(out)}.partial-')
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private
    try:
        try:
            summary = generate_mini_refer_kitti(tmp, seed=args.seed, videos=args.videos,
                                                frames=args.frames, size=(width, height),
                                                progress=True)
        except ValueError as exc:
            raise SystemExit(f'generate_refer_kitti: {exc}')
        if not osp.exists(out) or not os.listdir(out):
            if osp.exists(out):
                os.rmdir(out)
            os.rename(tmp, out)
        elif args.overwrite:
            old = tmp + '-old'
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
            print(f'replaced the earlier tree in {args.out}')
        else:
            diff = tree_differences(out, tmp)
            if any(diff.values()):
                raise SystemExit(
                    f'{args.out} already holds a different tree: {_describe(diff)}. Nothing '
                    f'was changed: pass --overwrite to replace the whole tree, or choose another '
                    f'--out.')
            print(f'{args.out} already holds this tree (same arguments, identical files): '
                  'left as it is')
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == '__main__':
    main()
