"""The ATOM model: configs build, training lowers the IoU loss, tracking runs end to end."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two threads oversubscribe the cores and
    make these small ops many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

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
    assert set(before) == {'loss_iou', 'mean_iou_target'}
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
    import ikun_mm.models.sot.atom as atom_module
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
    assert torch.isclose(model.classifier.weights[stored + 1] / model.classifier.weights[stored],
                         torch.tensor(0.02 / (0.01 * (1 - 0.02))), rtol=1e-3)
    flag['value'] = 'not_found'
    before = model.state.clone()
    box, _ = model.track(frame)  # lost: the box stays, nothing is learnt
    assert torch.equal(box, before) and model.classifier.num_stored == stored + 2
