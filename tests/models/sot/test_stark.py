"""STARK: corner soft-argmax, stage-1/2 training, dynamic template update, padding masks."""
import os.path as osp

import pytest
import torch

from ikun_mm.datasets.synthetic import generate_sot_sequences
from ikun_mm.models.sot import corners_to_box, soft_argmax_2d
from ikun_mm.registry import MODELS
from tests.utils import load_tool

from .utils import TINY_STARK, square_batch


def test_soft_argmax_recovers_a_known_corner():
    logits = torch.full((1, 6, 8), -30.)
    logits[0, 4, 5] = 30.  # row 4, column 5
    torch.testing.assert_close(soft_argmax_2d(logits), torch.tensor([[5., 4.]]))
    # two equal peaks: the expectation is their midpoint
    logits[0, 0, 1] = 30.
    torch.testing.assert_close(soft_argmax_2d(logits), torch.tensor([[3., 2.]]))
    # uniform logits: the grid centre
    torch.testing.assert_close(soft_argmax_2d(torch.zeros(2, 5, 5)), torch.full((2, 2), 2.))


def test_corners_to_box_uses_stride_and_crop_size():
    tl = torch.full((1, 4, 4), -30.)
    br = tl.clone()
    tl[0, 1, 0] = 30.
    br[0, 3, 2] = 30.
    box = corners_to_box(tl, br, stride=16, img_size=64)
    torch.testing.assert_close(box, torch.tensor([[0., 16., 32., 48.]]) / 64)


def _train(model, inputs, samples, steps, lr=2e-3, key=None):
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=lr)
    losses = []
    for _ in range(steps):
        parts = model.loss(inputs, samples)
        loss = sum(parts.values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item() if key is None else parts[key].item())
    return losses


def test_stage1_training_steps_lower_the_box_loss():
    torch.manual_seed(0)
    model = MODELS.build(TINY_STARK)
    inputs, samples = square_batch(4, template=32, search=64, num_templates=2)
    inputs = {k: model.data_preprocessor.normalize(v) for k, v in inputs.items()}
    assert set(model.loss(inputs, samples)) == {'loss_l1', 'loss_giou'}
    # L1 is always defined; GIoU only counts once the corners stop being inverted
    losses = _train(model, inputs, samples, 25, key='loss_l1')
    assert losses[-1] < 0.85 * losses[0], losses


def test_stage2_refuses_to_train_without_stage1_weights():
    torch.manual_seed(0)
    model = MODELS.build(dict(TINY_STARK, stage=2)).train()
    inputs, samples = square_batch(2, template=32, search=64, num_templates=2)
    inputs = {k: model.data_preprocessor.normalize(v) for k, v in inputs.items()}
    with pytest.raises(RuntimeError, match='stage 2.*load_from'):
        model.loss(inputs, samples)
    model.load_state_dict(MODELS.build(TINY_STARK).state_dict())  # a stage-1 checkpoint
    assert set(model.loss(inputs, samples)) == {'loss_cls'}


def test_stage2_trains_only_the_score_head():
    torch.manual_seed(0)
    model = MODELS.build(dict(TINY_STARK, stage=2)).train()
    model.load_state_dict(MODELS.build(TINY_STARK).state_dict())
    trainable = {n.split('.')[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'cls_head'}
    assert not model.backbone.training and model.cls_head.training
    assert not model.box_head.training and model.encoder.training  # official: dropout active
    inputs, samples = square_batch(4, template=32, search=64, num_templates=2)
    for s in samples[2:]:  # negatives
        s.gt_instances.labels[-1] = 0
    inputs['search'][2:] = 110.  # no square in the negative search crops
    inputs = {k: model.data_preprocessor.normalize(v) for k, v in inputs.items()}
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith('cls')}
    losses = _train(model, inputs, samples, 15, lr=5e-3)
    assert set(model.loss(inputs, samples)) == {'loss_cls'}
    assert losses[-1] < 0.85 * losses[0], losses
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_dynamic_template_is_replaced_every_interval():
    torch.manual_seed(0)
    model = MODELS.build(TINY_STARK).eval()  # update_interval=2, score not required
    frames = [torch.randn(3, 60, 80) for _ in range(5)]
    model.init(frames[0], torch.tensor([30., 20., 50., 40.]))
    first = model.templates[0][0].clone()
    assert model.templates[1][0] is model.templates[0][0]
    seen = []
    with torch.no_grad():
        for i, frame in enumerate(frames[1:], 1):
            model.frame_id = i - 1
            dynamic = model.templates[1][0]
            box, score = model.track(frame)
            seen.append(model.templates[1][0] is not dynamic)
            assert 0 <= score <= 1 and box.shape == (4, )
    assert seen == [False, True, False, True]  # at frames 2 and 4: every 2nd frame
    assert torch.equal(model.templates[0][0], first)  # the initial template stays


def _score_head_says(model, logit: float) -> None:
    """Make the score head output a constant logit."""
    last = model.cls_head.layers[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(logit)


@pytest.mark.parametrize('logit,updates', [(4., [False, True, False, True, False, True]),
                                           (-4., [False] * 6)])
def test_dynamic_template_update_is_gated_by_the_score(logit, updates):
    # official stark_st tracker: frame_id % interval == 0 and sigmoid(score) > 0.5
    torch.manual_seed(0)
    model = MODELS.build(dict(TINY_STARK, test_cfg=dict(update_interval=2, use_score=True,
                                                        update_threshold=0.5))).eval()
    _score_head_says(model, logit)
    frames = [torch.randn(3, 60, 80) for _ in range(7)]
    model.init(frames[0], torch.tensor([30., 20., 50., 40.]))
    seen = []
    with torch.no_grad():
        for i, frame in enumerate(frames[1:], 1):
            model.frame_id = i - 1
            dynamic = model.templates[1][0]
            _, score = model.track(frame)
            assert (score > 0.5) == (logit > 0)
            seen.append(model.templates[1][0] is not dynamic)
    assert seen == updates
    assert model.should_update(200, 0.51) and not model.should_update(200, 0.5)
    assert not model.should_update(3, 0.9)


def test_padded_keys_are_ignored():
    """With a padding mask, the decoded query (hence the score) does not depend on the padded
    search tokens; the position encoding counts only unpadded cells."""
    torch.manual_seed(0)
    model = MODELS.build(TINY_STARK).eval()
    z = model.extract(torch.randn(1, 3, 32, 32))
    mask = torch.zeros(1, 64, 64, dtype=torch.bool)
    mask[:, :, :32] = True  # left half of the search crop is padding
    x = torch.randn(1, 3, 64, 64)
    tokens, pos, fmask = model.extract(x, mask)
    assert fmask.reshape(4, 4)[:, :2].all() and not fmask.reshape(4, 4)[:, 2:].any()
    assert not torch.equal(pos, model.extract(x)[1])
    changed = tokens.clone()
    changed[fmask] = torch.randn_like(changed[fmask]) * 5
    with torch.no_grad():
        _, logit = model.transformer_heads([z, z], (tokens, pos, fmask))
        _, logit2 = model.transformer_heads([z, z], (changed, pos, fmask))
        _, logit3 = model.transformer_heads([z, z], (changed, pos, torch.zeros_like(fmask)))
    torch.testing.assert_close(logit, logit2)
    assert not torch.allclose(logit, logit3)


def test_tracking_crops_carry_padding_masks_and_clip_with_margin():
    torch.manual_seed(0)
    model = MODELS.build(TINY_STARK).eval()
    frame = torch.randn(3, 60, 80)
    model.init(frame, torch.tensor([0., 0., 12., 12.]))  # the template crop overhangs
    assert model.templates[0][2].any()
    with torch.no_grad():
        model.frame_id = 0
        box, _ = model.track(frame)
    assert float(box[2] - box[0]) >= 10 - 1e-4 and float(box[0]) <= 70


def test_stage2_through_the_train_tool_needs_load_from(tmp_path):
    """tools/train.py: stage 2 without ``load_from`` stops with the error; with a stage-1
    checkpoint it trains."""
    root = str(tmp_path / 'data')
    generate_sot_sequences(root, 'train', num_sequences=2, frames=10, size=(96, 72), seed=0)
    generate_sot_sequences(root, 'val', num_sequences=1, frames=4, size=(96, 72), seed=1)
    train = load_tool('train.py').main
    cfgs = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'stark')

    def run(name, work_dir, *extra):
        train([osp.join(cfgs, name), '--work-dir', str(work_dir), '--cfg-options',
               f'train_dataloader.dataset.data_root={root}',
               f'val_dataloader.dataset.data_root={root}',
               f'test_dataloader.dataset.data_root={root}',
               'train_dataloader.dataset.samples_per_epoch=2', 'train_dataloader.batch_size=2',
               'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
               'default_hooks.checkpoint.interval=1', *extra])

    run('stark-st1_tiny_1xb16-40e_synthetic.py', tmp_path / 's1')
    with pytest.raises(RuntimeError, match='stage 2.*load_from'):
        run('stark-st2_tiny_1xb16-20e_synthetic.py', tmp_path / 's2_scratch')
    run('stark-st2_tiny_1xb16-20e_synthetic.py', tmp_path / 's2',
        f'load_from={tmp_path}/s1/epoch_1.pth')
    assert (tmp_path / 's2' / 'epoch_1.pth').is_file()


def test_training_uses_padding_masks_when_the_pipeline_packs_them():
    torch.manual_seed(0)
    model = MODELS.build(TINY_STARK).eval()
    inputs, samples = square_batch(2, template=32, search=64, num_templates=2)
    masks = dict(template_mask=[torch.zeros(2, 32, 32, dtype=torch.uint8)] * 2,
                 search_mask=[torch.zeros(1, 64, 64, dtype=torch.uint8)] * 2)
    masks['search_mask'][1] = torch.ones(1, 64, 64, dtype=torch.uint8)
    masks['search_mask'][1][:, :, 32:] = 0  # sample 1: left half padded
    data = model.data_preprocessor(dict(inputs=dict(
        template=list(inputs['template']), search=list(inputs['search']), **masks),
        data_samples=samples))
    batch = data['inputs']
    assert batch['search_mask'].dtype == torch.bool and batch['search_mask'].shape == (2, 1, 64, 64)
    torch.testing.assert_close(batch['template'],
                               model.data_preprocessor.normalize(inputs['template']))
    with torch.no_grad():
        masked, _ = model._forward(batch)
        plain, _ = model._forward({k: batch[k] for k in ('template', 'search')})
    torch.testing.assert_close(masked[0], plain[0])  # no padding: same as without masks
    assert not torch.allclose(masked[1], plain[1])
