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
    summary = _tool().main([cfg_path, str(ckpt), '--split', '0003,0004', '--cfg-options',
                            f'data_root={mini_refer_kitti}', '--a-range', '0', '4', '5',
                            '--b-range', '-0.5', '0.5', '11'])
    assert ckpt.read_bytes() == before  # the user's file is untouched
    out = torch.load(tmp_path / 'tiny_calibrated.pth', weights_only=False)
    assert out['meta']['calibration']['a'] == summary['a']
    assert out['state_dict']['calibration.b'].item() == pytest.approx(summary['b'])
    assert summary['f1'] >= summary['f1_uncalibrated']
    assert summary['decisions'] > 0 and 0 < summary['positives'] < summary['decisions']
    assert summary['split'] == ['0003', '0004']
    with pytest.raises(SystemExit, match='input checkpoint'):
        _tool().main([cfg_path, str(ckpt), '--split', '0004', '--out', str(ckpt)])


def _split_tree(tmp_path, **splits):
    import json
    with open(tmp_path / 'split.json', 'w') as f:
        json.dump(splits, f)
    return str(tmp_path)


def _cfg(val_split, test_split='test'):
    from mmengine.config import Config
    cfg = dict(test_dataloader=dict(dataset=dict(split=test_split)))
    if val_split is not None:
        cfg['val_dataloader'] = dict(dataset=dict(split=val_split))
    return Config(cfg)


def test_default_split_is_the_validation_split_never_the_test_split(tmp_path):
    tool = _tool()
    root = _split_tree(tmp_path, train=['a', 'b'], val=['c'], test=['d'])
    assert tool.default_split(_cfg('val'), root) == 'val'
    # a config that validates on the test split (as the real Refer-KITTI configs do)
    with pytest.raises(SystemExit, match='--split'):
        tool.default_split(_cfg('test'), root)
    # ... under another name, or the test dataloader's own split
    with pytest.raises(SystemExit, match='--split'):
        tool.default_split(_cfg(['d']), root)
    with pytest.raises(SystemExit, match='--split'):
        tool.default_split(_cfg('val', test_split='val'), root)
    # no validation split at all
    with pytest.raises(SystemExit, match='--split'):
        tool.default_split(_cfg(None), root)


def test_fit_calibration_refuses_a_config_validating_on_test(mini_refer_kitti, tmp_path):
    # the tiny config validates on the test videos: without --split the tool stops before
    # reading the checkpoint (which does not even exist)
    cfg_path = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')
    with pytest.raises(SystemExit, match='test split'):
        _tool().main([cfg_path, str(tmp_path / 'missing.pth'), '--cfg-options',
                      f'data_root={mini_refer_kitti}'])
