"""STARK: corner soft-argmax, stage-1/2 training, dynamic template update."""
import torch

from ikun_mm.models.sot import corners_to_box, soft_argmax_2d
from ikun_mm.registry import MODELS

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


def test_stage2_trains_only_the_score_head():
    torch.manual_seed(0)
    model = MODELS.build(dict(TINY_STARK, stage=2)).train()
    trainable = {n.split('.')[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'cls_head'}
    assert not model.backbone.training and model.cls_head.training
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
