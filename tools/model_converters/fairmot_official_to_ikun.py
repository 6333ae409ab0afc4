"""Convert an official DLA-34 / CenterNet / FairMOT checkpoint into an ikun_mm FairMOT checkpoint.

    python tools/model_converters/fairmot_official_to_ikun.py CONFIG SRC OUT.pth \
        --source imagenet|centernet_coco|fairmot

The model of CONFIG is built and initialised (its own ``model.init_from`` is ignored), the
official tensors are mapped onto it as ``ikun_mm/models/mot/fairmot_pretrained.py`` describes
(a file that does not fit raises, naming the tensors), and the result is saved as
``{'state_dict': ..., 'meta': {...}}`` for ``load_from`` / ``tools/test.py``. Tensors the file does
not hold (the identity classifier, the task uncertainties, and for ``imagenet`` the up-sampling
path and heads) keep the initialisation of CONFIG.

Without a converted file, ``model.init_from=dict(checkpoint=SRC, source=...)`` in a config does
the same conversion at the start of training. An existing OUT.pth is never replaced unless
``--overwrite`` is given; the file is written whole or not at all.
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.runner import set_random_seed

from ikun_mm.models.mot.fairmot_pretrained import SOURCES, load_official_fairmot
from ikun_mm.registry import MODELS
from ikun_mm.utils import register_all_modules, save_new_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('src', help='official checkpoint (local file)')
    parser.add_argument('dst', help='output checkpoint (an existing file is kept unless '
                        '--overwrite)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing DST')
    parser.add_argument('--source', choices=SOURCES, required=True)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the initialisation of what the file does not hold')
    args = parser.parse_args(argv)
    if osp.exists(args.dst) and not args.overwrite:  # before the work, not only at the end
        raise SystemExit(f'{args.dst} exists; pass --overwrite to replace it')
    register_all_modules()
    set_random_seed(args.seed)
    cfg = Config.fromfile(args.config)
    cfg.model.pop('init_from', None)
    model = MODELS.build(cfg.model)
    model.init_weights()
    skipped = load_official_fairmot(model, args.src, args.source)
    save_new_checkpoint({'state_dict': model.state_dict(),
                         'meta': dict(converted_from=args.src, source=args.source,
                                      config=args.config, skipped=skipped)},
                        args.dst, overwrite=args.overwrite)
    print(f'wrote {args.dst}' + (f' (kept the initialisation of {skipped})' if skipped else ''))


if __name__ == '__main__':
    main()
