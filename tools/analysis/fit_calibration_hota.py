"""Deprecated: ``tools/analysis/fit_calibration.py CONFIG CKPT --objective hota`` (same options)."""
import importlib.util
import os.path as osp
import sys
import warnings

_SPEC = importlib.util.spec_from_file_location(
    '_fit_calibration', osp.join(osp.dirname(osp.abspath(__file__)), 'fit_calibration.py'))
_TOOL = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_TOOL)


def _hota(argv):
    return ['--objective', 'hota'] + list(sys.argv[1:] if argv is None else argv)


def parse_args(argv=None):
    return _TOOL.parse_args(_hota(argv))


def main(argv=None):
    warnings.warn('tools/analysis/fit_calibration_hota.py is deprecated: use '
                  'tools/analysis/fit_calibration.py CONFIG CKPT --objective hota', FutureWarning)
    return _TOOL.main(_hota(argv))


if __name__ == '__main__':
    main()
