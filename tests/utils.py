"""Helpers shared by the tests."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(*path: str):
    """Import a script of ``tools/`` (a folder of scripts, not a package) as a module, from this
    checkout: ``load_tool('analysis', 'fit_calibration.py')``."""
    file = osp.join(ROOT, 'tools', *path)
    name = '_tool_' + '_'.join(p.replace('.py', '') for p in path)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
