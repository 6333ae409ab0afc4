"""Save the freshly initialised weights of a config as a checkpoint (the 'untrained' baseline).

    python benchmarks/fairmot_init_checkpoint.py CONFIG OUT.pth [--seed 0]

``tools/test.py CONFIG OUT.pth`` then measures what the untrained model gives. A pre-trained
init of the config (``model.init_from``) is left out unless ``--with-init-from`` is given.
"""
import argparse

import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed

from ikun_mm.registry import MODELS
from ikun_mm.utils import register_all_modules


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('out')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--with-init-from', action='store_true',
                        help='also load the official checkpoint of model.init_from')
    args = parser.parse_args()
    register_all_modules()
    set_random_seed(args.seed)
    cfg = Config.fromfile(args.config)
    if not args.with_init_from:
        cfg.model.pop('init_from', None)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict(seed=args.seed)), args.out)
    print(f'saved the initial weights of {args.config} to {args.out}')


if __name__ == '__main__':
    main()
