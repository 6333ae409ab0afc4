"""Shared fixtures: a small generated Refer-KITTI tree, made once per test session."""
import os

import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

#: Small enough to generate in about a second; big enough for every window/split code path.
MINI_KWARGS = dict(seed=0, videos=6, frames=24, size=(192, 64))


@pytest.fixture(scope='session')
def mini_refer_kitti(tmp_path_factory):
    """Root of a generated mini Refer-KITTI (6 videos, 5 train / 1 test, 24 frames, 192x64)."""
    from ikun_mm.datasets.synthetic import generate_mini_refer_kitti
    root = tmp_path_factory.mktemp('mini_refer_kitti')
    generate_mini_refer_kitti(str(root), **MINI_KWARGS)
    return str(root)


@pytest.fixture(scope='session', autouse=True)
def _registered():
    """Register every module once; one torch thread (the test models are tiny, and extra threads
    only add contention on a 2-core machine)."""
    import torch

    from ikun_mm.utils import register_all_modules
    torch.set_num_threads(1)
    register_all_modules(init_default_scope=True)
