"""tools/train.py and tools/test.py on generated SOT sequences."""
import math
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from ikun_mm.datasets import GOT10kDataset
from ikun_mm.datasets.synthetic import generate_sot_sequences
from ikun_mm.engine.hooks import CEKeepRatioWarmupHook
from ikun_mm.evaluation.sot_metric import ope_scores
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _tool(name):
    return load_tool(f'{name}.py').main


@pytest.fixture(scope='module')
def sot_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sot_tools'))
    generate_sot_sequences(root, 'train', num_sequences=2, frames=10, size=(96, 72), seed=0)
    generate_sot_sequences(root, 'val', num_sequences=2, frames=10, size=(96, 72), seed=1)
    return root


def _options(root, work_dir, train=True):
    opts = ['--work-dir', str(work_dir), '--cfg-options',
            f'val_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.data_root={root}']
    return opts + ([f'train_dataloader.dataset.data_root={root}'] if train else [])


def test_static_baseline_through_test_tool_matches_the_metric(sot_data, tmp_path):
    test_main = _tool('test')
    ckpt = tmp_path / 'empty.pth'
    torch.save({'state_dict': {}}, ckpt)
    cfg = osp.join(ROOT, 'configs', 'sot', 'static_box_synthetic.py')
    test_main([cfg, str(ckpt), '--out', str(tmp_path / 'res.pkl')] +
              _options(sot_data, tmp_path / 'wd', train=False))
    preds = pickle.load(open(tmp_path / 'res.pkl', 'rb'))
    assert len(preds) == 20
    # the same numbers straight from the ground truth
    ds = GOT10kDataset(sot_data, split='val', pipeline=[])
    expected = np.mean([ope_scores(np.repeat(s['bboxes'][:1], s['visible'].sum(), 0).astype(float),
                                   s['bboxes'][s['visible']].astype(float))['success_auc']
                        for s in ds.sequences])
    log = open(next((tmp_path / 'wd').glob('*/*.log'))).read()
    assert f'success_auc {100 * expected:.2f}' in log


def test_train_tool_runs_ostrack_tiny(sot_data, tmp_path):
    train_main = _tool('train')
    cfg = osp.join(ROOT, 'configs', 'ostrack', 'ostrack_vit-tiny_1xb16-150e_synthetic.py')
    train_main([cfg] + _options(sot_data, tmp_path) + [
        'train_dataloader.dataset.samples_per_epoch=4', 'train_dataloader.batch_size=2',
        'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1',
        'val_dataloader.dataset.split=train'])
    assert (tmp_path / 'epoch_1.pth').is_file()


def test_ce_warmup_schedule():
    # official adjust_keep_rate at 1-based epoch E: 1 before start, then
    # r + (1 - r) (cos(pi t) + 1) / 2 with t = (E - start) / warm; progress = (1 - cos(pi t)) / 2
    hook = CEKeepRatioWarmupHook(start_epoch=2, warmup_epochs=4)
    expected = [0, 0, (1 - math.cos(math.pi / 4)) / 2, 0.5, (1 - math.cos(3 * math.pi / 4)) / 2,
                1, 1, 1]
    assert [hook.progress(e) for e in range(8)] == pytest.approx(expected, abs=1e-12)
