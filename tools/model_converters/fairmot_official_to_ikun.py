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
the same conversion at the start of training.
"""
import argparse

import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed

from ikun_mm.models.mot.fairmot_pretrained import SOURCES, load_official_fairmot
from ikun_mm.registry import MODELS
from ikun_mm.utils import register_all_modules


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('src', help='official checkpoint (local file)')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--source', choices=SOURCES, required=True)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the initialisation of what the file does not hold')
    args = parser.parse_args(argv)
    register_all_modules()
    set_random_seed(args.seed)
    cfg = Config.fromfile(args.config)
    cfg.model.pop('init_from', None)
    model = MODELS.build(cfg.model)
    model.init_weights()
    skipped = load_official_fairmot(model, args.src, args.source)
    torch.save({'state_dict': model.state_dict(),
                'meta': dict(converted_from=args.src, source=args.source, config=args.config,
                             skipped=skipped)}, args.dst)
    print(f'wrote {args.dst}' + (f' (kept the initialisation of {skipped})' if skipped else ''))


if __name__ == '__main__':
    main()
