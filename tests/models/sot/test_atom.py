"""The ATOM model: configs build, training lowers the IoU loss, tracking runs end to end."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample

pytestmark = pytest.mark.usefixtures('one_torch_thread')

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'atom')

TINY_ATOM = dict(
    type='ATOM',
    backbone=dict(type='mmdet.ResNet', depth=18, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(1, 2), base_channels=8, frozen_stages=-1,
                  norm_eval=False, init_cfg=None),
    iou_net=dict(type='ATOMIoUNet', in_channels=(16, 32), ref_channels=(16, 32), test_channels=32,
                 pred_channels=(32, 32), inter_channels=(32, 32)),
    classifier=dict(compressed_dim=8, init_gn_iter=2, init_cg_iter=10, memory_size=20),
    test_cfg=dict(search_size=64, update_interval=2, augmentation=dict(rotations=(10, -10),
                                                                       blurs=((1, 1), ))))


@pytest.mark.parametrize('name', ['atom_r18_8xb8-50e_lasot-got10k.py',
                                  'atom_r18-small_1xb8-40e_synthetic.py'])
def test_config_builds(name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    model = MODELS.build(cfg.model)
    assert model.stride == 16
    assert model.classifier_cfg['in_channels'] == cfg.model.iou_net.in_channels[1]
    if 'lasot' in name:  # the paper setting: frozen ResNet-18, only the IoU predictor learns
        assert all(not p.requires_grad for p in model.backbone.parameters())
        assert model.test_cfg['search_size'] == 288 and model.train_cfg['num_proposals'] == 16
        # pytracking/parameter/atom/default.py
        cfg = model.test_cfg
        assert cfg['score_upsample_factor'] == 1 and cfg['output_sigma_factor'] == 0.25
        assert cfg['update_interval'] == 10 and cfg['search_factor'] == 5
        assert cfg['localization'] == dict(
            target_not_found_threshold=0.25, distractor_threshold=0.8,
            hard_negative_threshold=0.5, target_neighborhood_scale=2.2, displacement_scale=0.8)
        assert model.train_cfg['sigma_factors'] == (0.01, 0.05, 0.1, 0.2, 0.3)


def _batch(num=4, size=64):
    gen = torch.Generator().manual_seed(0)
    inputs = dict(template=torch.randn(num, 1, 3, size, size, generator=gen),
                  search=torch.randn(num, 1, 3, size, size, generator=gen))
    samples = []
    for i in range(num):
        # paint the targets so there is something to localise
        ref = torch.tensor([20.0 + i, 22.0, 40.0 + i, 38.0])
        test = torch.tensor([14.0 + 2 * i, 18.0, 38.0 + 2 * i, 42.0 - i])
        for img, box in ((inputs['template'][i, 0], ref), (inputs['search'][i, 0], test)):
            x1, y1, x2, y2 = box.long().tolist()
            img[:, y1:y2, x1:x2] += 2.0
        sample = SOTDataSample(metainfo=dict(num_templates=1))
        sample.gt_instances = InstanceData(bboxes=torch.stack([ref, test]),
                                           labels=torch.ones(2, dtype=torch.long))
        samples.append(sample)
    return inputs, samples


def test_training_steps_lower_the_iou_loss():
    torch.manual_seed(0)
    model = MODELS.build(TINY_ATOM)
    inputs, samples = _batch()

    def loss_value():
        torch.manual_seed(1)  # the same proposals every time
        return model.loss(inputs, samples)

    before = loss_value()
    assert set(before) == {'loss_iou', 'mean_proposal_iou'}
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(8):
        torch.manual_seed(100 + step)
        loss = model.loss(inputs, samples)['loss_iou']
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss_value()['loss_iou'] < 0.5 * before['loss_iou']
    raw = model(inputs, samples, mode='tensor')  # predicted IoU of the ground-truth boxes
    assert raw.shape == (4, 1)


def test_tracking_runs_and_keeps_a_valid_box():
    torch.manual_seed(0)
    model = MODELS.build(TINY_ATOM).eval()
    with pytest.raises(RuntimeError, match='before init'):
        model.track(torch.zeros(3, 48, 64))
    frames = []
    for t in range(5):
        img = torch.zeros(3, 48, 64)
        img[:, 16:28, 10 + 2 * t:26 + 2 * t] = 1.5  # a bright block moving right
        frames.append(img)
    init = torch.tensor([10.0, 16.0, 26.0, 28.0])
    boxes, scores = model.track_video(frames, init)
    assert boxes.shape == (5, 4) and scores.shape == (5, )
    assert torch.equal(boxes[0], init) and torch.isfinite(boxes).all()
    sizes = boxes[:, 2:] - boxes[:, :2]
    assert (sizes >= model.test_cfg['min_target_size'] - 1e-5).all()
    assert (sizes[:, 0] <= 64).all() and (sizes[:, 1] <= 48).all()
    losses = model.classifier.history['init_losses']
    assert losses[-1] < losses[0]  # the first-frame Gauss-Newton fit lowered the objective
    assert model.classifier.num_stored >= model.classifier.num_init


def test_unknown_test_cfg_key_is_rejected():
    with pytest.raises(KeyError, match='unknown keys'):
        MODELS.build(dict(TINY_ATOM, test_cfg=dict(serach_size=64)))


def test_hard_negatives_update_at_once_and_lost_targets_freeze_the_state(monkeypatch):
    import ikun_mm.models.sot.atom.tracker as atom_module
    torch.manual_seed(0)
    model = MODELS.build(dict(TINY_ATOM, test_cfg=dict(TINY_ATOM['test_cfg'],
                                                       update_interval=100))).eval()
    frame = torch.zeros(3, 48, 64)
    frame[:, 16:28, 10:26] = 1.5
    model.init(frame, torch.tensor([10.0, 16.0, 26.0, 28.0]))
    updates = []
    original = model.classifier.update_filter
    monkeypatch.setattr(model.classifier, 'update_filter',
                        lambda *a: updates.append(a) or original(*a))
    flag = {'value': 'normal'}

    def fake_localize(scores, target_size, **kwargs):
        return scores.new_tensor([4.0, 4.0]), flag['value']

    monkeypatch.setattr(atom_module, 'localize_target', fake_localize)
    stored = model.classifier.num_stored
    model.track(frame)  # normal frame, not an update frame: a sample, no refit
    assert model.classifier.num_stored == stored + 1 and not updates
    flag['value'] = 'hard_negative'
    model.track(frame)  # hard negative: a sample with the larger weight and an immediate refit
    assert model.classifier.num_stored == stored + 2 and len(updates) == 1
    # pytracking's rule: the new weight is the previous new sample's / (1 - 0.02)
    assert torch.isclose(model.classifier.weights[stored + 1] / model.classifier.weights[stored],
                         torch.tensor(1 / (1 - 0.02)), rtol=1e-5)
    flag['value'] = 'not_found'
    before = model.state.clone()
    box, _ = model.track(frame)  # lost: the box stays, nothing is learnt
    assert torch.equal(box, before) and model.classifier.num_stored == stored + 2


def test_iou_target_is_two_iou_minus_one_with_mse(monkeypatch):
    # pytracking: ATOMProcessing maps the proposal IoU to 2 * IoU - 1, AtomActor takes the MSE
    import ikun_mm.models.sot.atom.tracker as atom_module
    torch.manual_seed(0)
    model = MODELS.build(TINY_ATOM)
    inputs, samples = _batch()
    props = torch.tensor([[10.0, 12.0, 20.0, 18.0], [14.0, 16.0, 12.0, 30.0]]).expand(4, -1, -1)
    ious = torch.tensor([[0.25, 0.75]]).expand(4, -1)
    monkeypatch.setattr(atom_module, 'sample_proposals', lambda *a, **k: (props, ious))
    model.eval()  # fixed batch-norm statistics: the same prediction twice
    losses = model.loss(inputs, samples)
    ref_feats, test_feats, ref_boxes, _ = model._pairs(inputs, samples)
    pred = model.iou_net(ref_feats, test_feats, ref_boxes, props)
    expected = ((pred - torch.tensor([[-0.5, 0.5]])) ** 2).mean()
    assert torch.allclose(losses['loss_iou'], expected)
    assert torch.isclose(losses['mean_proposal_iou'], torch.tensor(0.5))


def _block_frame(x=10.0):
    frame = torch.zeros(3, 48, 64)
    frame[:, 16:28, int(x):int(x) + 16] = 1.5
    return frame


def test_label_sigma_is_isotropic_and_fixed_from_the_first_frame():
    # pytracking: sigma = output_sigma_factor * sqrt(prod(target size / stride)), in feature
    # cells, one value for x and y, computed once in initialize
    torch.manual_seed(0)
    model = MODELS.build(TINY_ATOM).eval()
    model.init(_block_frame(), torch.tensor([10.0, 16.0, 26.0, 28.0]))
    crop_side = 64 / (5.0 * (16 * 12) ** 0.5)  # crop pixels per frame pixel
    expected = 0.25 * (16 * 12) ** 0.5 * crop_side / 16
    assert torch.allclose(model.sigma, torch.tensor([expected, expected]), rtol=1e-5)
    model.track(_block_frame(12.0))
    assert torch.allclose(model.sigma, torch.tensor([expected, expected]), rtol=1e-5)


def test_peak_is_read_on_the_upsampled_map_at_pixel_precision(monkeypatch):
    # the raw 4 x 4 score map holds a band-limited bump whose peak lies between score cells;
    # upsampled to one value per crop pixel, the classifier position must be that peak
    torch.manual_seed(0)
    cfg = dict(TINY_ATOM['test_cfg'], num_boxes=1, refine_steps=0)
    model = MODELS.build(dict(TINY_ATOM, test_cfg=cfg)).eval()
    frame = _block_frame()
    model.init(frame, torch.tensor([10.0, 16.0, 26.0, 28.0]))
    center, size = model.center.clone(), model.size.clone()
    peak = torch.tensor([1.7, 2.3])  # (x, y) in score cells of the 4 x 4 map
    n = torch.arange(4, dtype=torch.float32)

    def bump(t, c):  # 1 + cos: a single frequency, exactly band limited
        return 1 + torch.cos(2 * math.pi * (t - c) / 4)

    raw = 0.5 * bump(n, peak[1])[:, None] * bump(n, peak[0])[None] / 2
    monkeypatch.setattr(model.classifier, 'score', lambda feats: raw[None])
    box, score = model.track(frame)
    assert math.isclose(score, 1.0, rel_tol=1e-3)
    # score cell t sits at crop pixel (t + score_offset + 0.5) * stride = 16 t (4x4 kernel)
    crop_side = 5.0 * float(size.prod().sqrt())
    expected = center + (16 * peak - 32) * crop_side / 64
    got = (box[:2] + box[2:]) / 2
    assert torch.allclose(got, expected, atol=crop_side / 64 + 1e-4), (got, expected)


def test_filter_updates_on_schedule_whatever_the_flag(monkeypatch):
    import ikun_mm.models.sot.atom.tracker as atom_module
    torch.manual_seed(0)
    model = MODELS.build(dict(TINY_ATOM, test_cfg=dict(TINY_ATOM['test_cfg'],
                                                       update_interval=2))).eval()
    model.init(_block_frame(), torch.tensor([10.0, 16.0, 26.0, 28.0]))
    updates = []
    original = model.classifier.update_filter
    monkeypatch.setattr(model.classifier, 'update_filter',
                        lambda *a: updates.append(a) or original(*a))
    monkeypatch.setattr(atom_module, 'localize_target',
                        lambda scores, size, **kw: (scores.new_tensor([32.0, 32.0]), 'uncertain'))
    stored = model.classifier.num_stored
    model.track(_block_frame())  # frame 1: no update
    model.track(_block_frame())  # frame 2: update_interval reached, uncertain or not
    assert len(updates) == 1 and model.classifier.num_stored == stored  # but no new sample
