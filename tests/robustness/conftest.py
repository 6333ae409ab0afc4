"""Fixtures of the robustness cases: a tiny-iKUN checkpoint, the RMOT config with it as the
referrer, and a small generated Refer-KITTI tree each case may damage (its own copy)."""
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config

from tests.utils import ROOT

TINY = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')
RMOT = osp.join(ROOT, 'configs', 'rmot', 'ikun_cascade_neuralsort_mini_refer_kitti.py')


def _tiny_state_dict():
    from ikun_mm.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(TINY).model).state_dict()


@pytest.fixture(scope='module')
def ikun_ckpt(tmp_path_factory):
    """A readable tiny-iKUN checkpoint as tools/train.py writes it."""
    path = str(tmp_path_factory.mktemp('ckpt') / 'ikun.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=_tiny_state_dict()), path)
    return path


@pytest.fixture(scope='module')
def rmot_tiny_cfg(tmp_path_factory, mini_refer_kitti):
    """The RMOT config with the tiny iKUN as referrer, dumped to a file."""
    cfg = Config.fromfile(RMOT)
    cfg.model.referrer = Config.fromfile(TINY).model
    path = str(tmp_path_factory.mktemp('cfg') / 'rmot_tiny.py')
    cfg.dump(path)
    return path


@pytest.fixture(scope='session')
def _small_tree_source(tmp_path_factory):
    from ikun_mm.datasets.synthetic import generate_mini_refer_kitti
    root = str(tmp_path_factory.mktemp('small_refer_kitti'))
    generate_mini_refer_kitti(root, seed=0, videos=3, frames=8, size=(64, 32))
    return root


@pytest.fixture
def small_tree(_small_tree_source, tmp_path):
    """A fresh copy of a small generated tree (3 videos 0000-0002 of 8 frames, 64x32) in the
    case's own folder, for the case to damage."""
    root = str(tmp_path / 'tree')
    shutil.copytree(_small_tree_source, root)
    return root
