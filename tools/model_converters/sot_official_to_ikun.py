"""Convert an official OSTrack / STARK checkpoint into an ikun_mm checkpoint for ``load_from``.

    python tools/model_converters/sot_official_to_ikun.py CONFIG OFFICIAL.pth.tar OUT.pth \
        --arch ostrack|stark

The model is built from CONFIG and the weights are loaded with the name mapping of
``ikun_mm/models/sot/pretrained.py`` (a checkpoint that does not fit raises), then saved as
``{'state_dict': ..., 'meta': {...}}``; use it with ``load_from`` (tools/test.py's checkpoint).
An existing OUT.pth is never replaced unless ``--overwrite`` is given.

Backbone inits need no conversion step: an MAE / timm ViT-B/16 file (OSTrack) or a torchvision
ResNet-50 file (STARK) is named in the config's ``backbone.init_cfg`` and converted on load.
"""
import argparse
import os.path as osp

from mmengine.config import Config

from ikun_mm.models.sot.pretrained import load_official_checkpoint
from ikun_mm.registry import MODELS
from ikun_mm.utils import register_all_modules, save_new_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output checkpoint (an existing file is kept unless '
                        '--overwrite)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing DST')
    parser.add_argument('--arch', choices=['ostrack', 'stark'], required=True)
    args = parser.parse_args(argv)
    if osp.exists(args.dst) and not args.overwrite:  # before the work, not only at the end
        raise SystemExit(f'{args.dst} exists; pass --overwrite to replace it')
    register_all_modules()
    model = MODELS.build(Config.fromfile(args.config).model)
    load_official_checkpoint(model, args.src, args.arch)
    save_new_checkpoint({'state_dict': model.state_dict(),
                         'meta': dict(converted_from=args.src, arch=args.arch)},
                        args.dst, overwrite=args.overwrite)
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    main()
