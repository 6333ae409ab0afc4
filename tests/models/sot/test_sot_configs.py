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


def _train_datasets(cfg):
    """The training dataset configs, each with the pipeline and frame sampler it is built with
    (a SOTMixedDataset gives its own to datasets that have none)."""
    ds = cfg.train_dataloader.dataset if cfg.get('train_dataloader') else None
    if ds is None or 'datasets' not in ds:
        return [ds] if ds else []
    shared = {k: ds[k] for k in ('pipeline', 'frame_sampler') if ds.get(k) is not None}
    return [Config(dict(shared, **d)) for d in ds.datasets]


def _pipelines(cfg):
    return [d.pipeline for d in _train_datasets(cfg)] + [cfg.test_dataloader.dataset.pipeline]


def test_configs_found():
    names = {osp.basename(c) for c in CONFIGS}
    assert {'ostrack_vit-b16-ce-256_4xb32-300e_lasot-got10k.py',
            'ostrack_vit-b16-ce-384_4xb32-300e_lasot-got10k.py',
            'ostrack_vit-tiny_1xb16-150e_synthetic.py',
            'stark-st1_r50_8xb16-500e_lasot-got10k.py', 'stark-st2_r50_8xb16-50e_lasot-got10k.py',
            'stark-st1_tiny_1xb16-40e_synthetic.py',
            'stark-st2_tiny_1xb16-20e_synthetic.py'} <= names


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
    for d in _train_datasets(cfg):
        assert d.type in ('GOT10kDataset', 'LaSOTDataset', 'COCOSeqDataset',
                          'TrackingNetDataset') and 'frame_sampler' in d
    if cfg.model.type == 'OSTrack':
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    if '-st2_' in path:
        assert model.stage == 2
        assert all(d.frame_sampler.pos_prob == 0.5 for d in _train_datasets(cfg))


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', *name.split('/')))


def test_full_size_configs_start_from_documented_pretrained_files():
    for name in ('ostrack/ostrack_vit-b16-ce-256_4xb32-300e_lasot-got10k.py',
                 'ostrack/ostrack_vit-b16-ce-384_4xb32-300e_lasot-got10k.py'):
        init = _cfg(name).model.backbone.init_cfg
        assert init == dict(type='Pretrained',
                            checkpoint='checkpoints/pretrained/mae_pretrain_vit_base.pth')
    stage1 = _cfg('stark/stark-st1_r50_8xb16-500e_lasot-got10k.py').model
    assert stage1.backbone.init_cfg.checkpoint == 'checkpoints/pretrained/resnet50-0676ba61.pth'
    assert stage1.backbone.frozen_stages == 1 and stage1.backbone.norm_eval
    # stage 2 starts from stage 1 (load_from), not from ImageNet
    stage2 = _cfg('stark/stark-st2_r50_8xb16-50e_lasot-got10k.py').model
    assert stage2.backbone.init_cfg is None and stage2.stage == 2
    # tiny configs train from scratch
    for name in ('ostrack/ostrack_vit-tiny_1xb16-150e_synthetic.py',
                 'stark/stark-st1_tiny_1xb16-40e_synthetic.py'):
        assert _cfg(name).model.backbone.get('init_cfg') is None


def test_stark_update_gate_is_consistent_with_the_official_tracker():
    # official experiments/stark_st2/baseline.yaml: UPDATE_INTERVALS LaSOT/GOT-10k 200, gate 0.5
    stage1 = _cfg('stark/stark-st1_r50_8xb16-500e_lasot-got10k.py').model.test_cfg
    stage2 = _cfg('stark/stark-st2_r50_8xb16-50e_lasot-got10k.py').model.test_cfg
    assert stage2.update_interval == 200 and stage2.update_threshold == 0.5 and stage2.use_score
    assert stage1.update_interval == 200 and not stage1.use_score  # untrained score head
    tiny2 = _cfg('stark/stark-st2_tiny_1xb16-20e_synthetic.py').model.test_cfg
    assert tiny2.use_score and tiny2.update_threshold == 0.5
    assert not _cfg('stark/stark-st1_tiny_1xb16-40e_synthetic.py').model.test_cfg.use_score
