"""Every SOT config builds: its model and its pipelines; crop sizes agree between them."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from ikun_mm.registry import MODELS, TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'ostrack', '*.py')) +
                 glob.glob(osp.join(ROOT, 'configs', 'stark', '*.py')) +
                 glob.glob(osp.join(ROOT, 'configs', 'sot', '*.py')))


def _pipelines(cfg):
    ds = cfg.train_dataloader.dataset if cfg.get('train_dataloader') else None
    datasets = ds.datasets if ds is not None and 'datasets' in ds else [ds] if ds else []
    return [d.pipeline for d in datasets] + [cfg.test_dataloader.dataset.pipeline]


def test_configs_found():
    names = {osp.basename(c) for c in CONFIGS}
    assert {'ostrack_vitb16-ce_256_300e_lasot-got10k.py',
            'ostrack_vitb16-ce_384_300e_lasot-got10k.py', 'ostrack_tiny_synthetic.py',
            'stark-st50_stage1_500e_lasot-got10k.py', 'stark-st50_stage2_50e_lasot-got10k.py',
            'stark_tiny_synthetic_stage1.py', 'stark_tiny_synthetic_stage2.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'ikun_mm'
    with torch.device('meta'):  # no memory for ViT-B / ResNet-50 weights
        model = MODELS.build(cfg.model)
    for pipeline in _pipelines(cfg):
        steps = [TRANSFORMS.build(t) for t in pipeline]
        for step in steps:
            if type(step).__name__ == 'SOTTemplateSearchCrop' and cfg.model.type != \
                    'StaticBoxTracker':
                assert step.template_size == model.template_size
                assert step.search_size == model.search_size
                assert step.search_factor == model.search_factor
    for d in (cfg.train_dataloader.dataset.get('datasets', [cfg.train_dataloader.dataset])
              if cfg.get('train_dataloader') else []):
        assert d.type in ('GOT10kDataset', 'LaSOTDataset') and 'frame_sampler' in d
    if cfg.model.type == 'OSTrack':
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    if 'stage2' in path:
        assert model.stage == 2
        ds = cfg.train_dataloader.dataset
        assert all(d.frame_sampler.pos_prob == 0.5 for d in ds.get('datasets', [ds]))
