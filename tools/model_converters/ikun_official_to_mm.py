"""Convert an official iKUN checkpoint (dyhBUPT/iKUN) into an ikun_mm checkpoint.

    python tools/model_converters/ikun_official_to_mm.py SRC DST \
        --kum {none,cascade,cross_correlation,text_first} [--config CONFIG]

``--kum`` is the variant the checkpoint was trained with: ``none`` for ``iKUN.pth`` (no text
guidance), ``cascade`` for ``iKUN_cascade_attention.pth``, ``cross_correlation`` for
``iKUN_cross_correlation.pth``, ``text_first`` for ``iKUN_test-first_modulation.pth``.

The parameters are renamed (:mod:`ikun_mm.models.referring.official_weights`; keys with or
without ``module.``; an official key with no place in the variant is an error), then loaded
*strictly* into the model of CONFIG (default: ``configs/ikun/ikun_<variant>_refer_kitti.py``).
The only values not taken from SRC are the ones an official checkpoint cannot hold: the
similarity calibration's ``a``/``b`` buffers, which keep the config's values (paper: a=8,
b=-0.1) and are listed. DST holds ``{'state_dict', 'meta'}`` and is loaded by
``tools/test.py CONFIG DST``; an existing DST is never overwritten.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

VARIANT_CONFIGS = dict(none='ikun_baseline_refer_kitti.py',
                       cascade='ikun_cascade_refer_kitti.py',
                       cross_correlation='ikun_cross_correlation_refer_kitti.py',
                       text_first='ikun_text_first_refer_kitti.py')


def default_config(kum: str) -> str:
    """``configs/ikun/ikun_<variant>_refer_kitti.py`` of the source tree or of the installed
    package (``ikun_mm/.mim/configs``)."""
    here = osp.dirname(osp.abspath(__file__))
    for root in (osp.join(here, '..', '..', 'configs'), osp.join(here, '..', '..', '..',
                                                                  'configs')):
        path = osp.normpath(osp.join(root, 'ikun', VARIANT_CONFIGS[kum]))
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'cannot find configs/ikun/{VARIANT_CONFIGS[kum]}; give --config')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official checkpoint (e.g. iKUN_cascade_attention.pth)')
    parser.add_argument('dst', help='output checkpoint (must not exist)')
    parser.add_argument('--kum', required=True,
                        choices=['none', 'cascade', 'cross_correlation', 'text_first'],
                        help='KUM variant the checkpoint was trained with')
    parser.add_argument('--config', default=None,
                        help='ikun_mm config to load into (default: the variant\'s Refer-KITTI '
                        'config)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    return parser.parse_args(argv)


def convert(src: str, dst: str, kum: str, config: str = None, cfg_options=None) -> dict:
    """Convert SRC into DST; returns the ``meta`` written."""
    from ikun_mm.models.referring.official_weights import KUM_TYPES, convert_official_state_dict
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    from ikun_mm.utils.checkpoint import (load_state_dict_strict, read_checkpoint,
                                          save_new_checkpoint, state_dict_from_checkpoint)
    if osp.exists(dst):
        raise FileExistsError(f'{dst} exists; choose another output path (nothing is '
                              'overwritten)')
    obj = read_checkpoint(src, map_location='cpu')
    official = state_dict_from_checkpoint(obj, src, keys=('model', 'state_dict'))
    try:
        state, dropped = convert_official_state_dict(official, kum)
    except ValueError as exc:
        raise ValueError(f'{src}: {exc}') from exc

    config = config or default_config(kum)
    register_all_modules()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = cfg.model
    if model_cfg.get('type') != 'IKUN':
        raise ValueError(f'{config}: model.type must be IKUN, got {model_cfg.get("type")!r}')
    if model_cfg.kum.type != KUM_TYPES[kum]:
        raise ValueError(f'{config} builds {model_cfg.kum.type}, but --kum {kum} needs '
                         f'{KUM_TYPES[kum]}')
    model = MODELS.build(model_cfg)
    own = model.state_dict()
    from_config = sorted(k for k in own if k.startswith('calibration.') and k not in state)
    for key in from_config:
        state[key] = own[key]
    load_state_dict_strict(model, state, src, what=f'the model of {config}')
    meta = dict(converted_from=osp.abspath(src), kum=kum, config=osp.abspath(config),
                dropped_unused=dropped, kept_from_config=from_config,
                epoch=obj.get('epoch') if isinstance(obj, dict) else None)
    save_new_checkpoint({'state_dict': model.state_dict(), 'meta': meta}, dst)
    return meta


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        meta = convert(args.src, args.dst, args.kum, args.config, args.cfg_options)
    except (FileExistsError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'wrote {args.dst} (kum={args.kum}; dropped {len(meta["dropped_unused"])} official '
          f'keys the official forward never uses; from the config: '
          f'{meta["kept_from_config"] or "nothing"})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
