"""STARK's stage-2 score head learns to tell positives from negatives (official stage 2 of
researchmm/Stark: ``BCEWithLogitsLoss`` on the score of the target query, only ``cls`` parameters
trained, ``lib/train/actors/stark_st.py`` and ``lib/train/base_functions.py``)."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from scipy.stats import mannwhitneyu

from ikun_mm.registry import MODELS
from .utils import square_batch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _bench():
    spec = importlib.util.spec_from_file_location(
        '_bench_stark_score_separation', osp.join(ROOT, 'benchmarks', 'stark_score_separation.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_auc_is_the_mann_whitney_statistic():
    auc = _bench().mann_whitney_auc
    # (0.9 > 0.5) + (0.9 > 0.1) + (0.5 = 0.5: 1/2) + (0.5 > 0.1) over 4 pairs
    assert auc([0.9, 0.5], [0.5, 0.1]) == pytest.approx(3.5 / 4)
    assert auc([1., 2.], [3., 4.]) == 0. and auc([3., 4.], [1., 2.]) == 1.
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 30).astype(float), rng.integers(0, 4, 20).astype(float)
    u = mannwhitneyu(pos, neg, alternative='two-sided').statistic  # U of the first sample
    assert auc(pos, neg) == pytest.approx(u / (30 * 20))


def _pairs(num: int, seed: int):
    """``num`` positives (the template's red square in the search crop) and ``num`` negatives
    (a green square instead: another object, as the official negatives from other sequences);
    raw pixels, labels 1 / 0 on the search frame."""
    inputs, samples = square_batch(2 * num, template=32, search=64, num_templates=2, seed=seed)
    for i in range(num, 2 * num):
        x = inputs['search'][i, 0]
        red = (x[2] == 220.) & (x[0] == 30.)
        x[:, red] = torch.tensor([30., 220., 30.])[:, None]
        samples[i].gt_instances.labels[-1] = 0
    return inputs, samples, torch.tensor([1] * num + [0] * num)


def test_stage2_score_head_learns_to_separate_positives_from_negatives():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/stark/stark-st2_tiny_1xb16-20e_synthetic.py'))
    small = dict(template_size=32, search_size=64, box_head=dict(cfg.model.box_head, img_size=64))
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model, **small))
    # stage 2 starts from stage-1 weights (here a random stage-1 model of the same config)
    model.load_state_dict(MODELS.build(dict(cfg.model, stage=1, **small)).state_dict())
    optim = build_optim_wrapper(model, cfg.optim_wrapper)  # the config's AdamW and clipping
    inputs, samples, labels = _pairs(8, seed=0)
    inputs = {k: model.data_preprocessor.normalize(v) for k, v in inputs.items()}
    auc = _bench().mann_whitney_auc

    def evaluate(x, y):
        model.eval()
        with torch.no_grad():
            logits = model._forward(x)[1]
        model.train()
        p = logits.sigmoid().numpy()
        return auc(p[y.numpy() == 1], p[y.numpy() == 0])

    model.train()
    auc_before = evaluate(inputs, labels)
    losses = []
    for _ in range(60):
        loss = model.loss(inputs, samples)['loss_cls']
        optim.update_params(loss)
        losses.append(loss.item())
    auc_after = evaluate(inputs, labels)
    # BCE starts at log 2 (an untrained head says ~0.5 for everything) and falls
    assert losses[0] == pytest.approx(np.log(2), abs=0.05), losses
    assert losses[-1] < 0.75 * losses[0], losses
    assert auc_after > max(0.95, auc_before), (auc_before, auc_after)
