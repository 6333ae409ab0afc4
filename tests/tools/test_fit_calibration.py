"""tools/analysis/fit_calibration.py: grid F1 closed form, and a run that writes a new file."""
import os.path as osp

import numpy as np
import pytest
import torch

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    return load_tool('analysis', 'fit_calibration.py')


def test_f1_grid_closed_form():
    tool = _tool()
    raw = np.array([0.3, -0.1, -0.2, 0.05])
    freq = np.array([0.0, 0.5, 0.0, 0.0])
    labels = np.array([True, True, False, False])
    grid = tool.f1_grid(raw, freq, labels, np.array([0.0, 1.0]), np.array([0.0, -0.1]))
    # a=0, b=0: predicted {0, 3}: tp 1, fp 1, fn 1 -> F1 0.5
    # a=0, b=-0.1: predicted {0}: F1 = 2/3
    # a=1, b=0: x = (0.3, 0.4, -0.2, 0.05): predicted {0, 1, 3}: F1 = 0.8
    # a=1, b=-0.1: predicted {0, 1}: F1 = 1
    np.testing.assert_allclose(grid, [[0.5, 2 / 3], [0.8, 1.0]])


def test_fit_calibration_writes_a_new_checkpoint(mini_refer_kitti, tmp_path):
    torch.set_num_threads(1)
    from mmengine.config import Config

    from ikun_mm.registry import MODELS
    cfg_path = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), ckpt)
    before = ckpt.read_bytes()
    summary = _tool().main([cfg_path, str(ckpt), '--cfg-options',
                            f'data_root={mini_refer_kitti}', '--a-range', '0', '4', '5',
                            '--b-range', '-0.5', '0.5', '11'])
    assert ckpt.read_bytes() == before  # the user's file is untouched
    out = torch.load(tmp_path / 'tiny_calibrated.pth', weights_only=False)
    assert out['meta']['calibration']['a'] == summary['a']
    assert out['state_dict']['calibration.b'].item() == pytest.approx(summary['b'])
    assert summary['f1'] >= summary['f1_uncalibrated']
    assert summary['decisions'] > 0 and 0 < summary['positives'] < summary['decisions']
    with pytest.raises(SystemExit, match='input checkpoint'):
        _tool().main([cfg_path, str(ckpt), '--out', str(ckpt)])
