"""Loading pytracking's official ATOM checkpoint layout into our ATOM model."""
import sys
import types

import pytest
import torch
import torchvision
from torch import nn

from ikun_mm.models.sot.atom_weights import (convert_official_atom_key,
                                             load_official_atom_checkpoint)
from ikun_mm.registry import MODELS

# our model: the paper's backbone (ResNet-18 up to layer3) with a slim IoU predictor
MODEL = dict(
    type='ATOM',
    backbone=dict(type='mmdet.ResNet', depth=18, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(1, 2), init_cfg=None),
    iou_net=dict(type='ATOMIoUNet', in_channels=(128, 256), ref_channels=(16, 32),
                 test_channels=24, pred_channels=(20, 28), inter_channels=(12, 10)))


def _cbr(cin, cout, kernel=3, padding=1):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=padding, bias=True),
                         nn.BatchNorm2d(cout), nn.ReLU())


class _OfficialLinearBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Linear(cin, cout)
        self.bn = nn.BatchNorm2d(cout)


class _OfficialIoUNet(nn.Module):
    """The parameter layout of pytracking's ``AtomIoUNet`` (names and shapes only)."""

    def __init__(self, c3=128, c4=256, r3=16, r4=32, t=24, p3=20, p4=28, i3=12, i4=10):
        super().__init__()
        self.conv3_1r = _cbr(c3, r3)
        self.conv3_1t = _cbr(c3, t)
        self.conv3_2t = _cbr(t, p3)
        self.fc3_1r = _cbr(r3, r4, padding=0)
        self.conv4_1r = _cbr(c4, r4)
        self.conv4_1t = _cbr(c4, t)
        self.conv4_2t = _cbr(t, p4)
        self.fc34_3r = _cbr(2 * r4, p3, 1, 0)
        self.fc34_4r = _cbr(2 * r4, p4, 1, 0)
        self.fc3_rt = _OfficialLinearBlock(p3 * 25, i3)
        self.fc4_rt = _OfficialLinearBlock(p4 * 9, i4)
        self.iou_predictor = nn.Linear(i3 + i4, 1)


def _official_checkpoint(path, drop_key=None, bad_shape_key=None):
    """Write a checkpoint the way pytracking does: {'net': ATOMnet state dict, 'constructor':
    an object of pytracking's own class, ...}, with every tensor random."""
    net = nn.Module()
    net.feature_extractor = torchvision.models.resnet18(weights=None)
    net.bb_regressor = _OfficialIoUNet()
    gen = torch.Generator().manual_seed(0)
    state = {k: (torch.rand(v.shape, generator=gen) if v.is_floating_point() else v)
             for k, v in net.state_dict().items()}
    if drop_key:
        state.pop(drop_key)
    if bad_shape_key:
        state[bad_shape_key] = torch.zeros(3)
    # pytracking pickles its NetConstructor: make that class importable only while saving
    module = types.ModuleType('ltr.admin.model_constructor')

    class NetConstructor:
        def __init__(self):
            self.fun_name, self.fun_module = 'atom_resnet18', 'ltr.models.bbreg.atom'

    NetConstructor.__module__, NetConstructor.__qualname__ = module.__name__, 'NetConstructor'
    module.NetConstructor = NetConstructor
    packages = {'ltr': types.ModuleType('ltr'), 'ltr.admin': types.ModuleType('ltr.admin'),
                module.__name__: module}
    sys.modules.update(packages)
    try:
        torch.save(dict(epoch=50, net_type='ATOMnet', net=state, constructor=NetConstructor(),
                        net_info=None), path)
    finally:
        for name in packages:
            del sys.modules[name]
    return state


def test_official_checkpoint_loads_onto_every_parameter(tmp_path):
    path = str(tmp_path / 'atom_default.pth')
    official = _official_checkpoint(path)
    model = MODELS.build(MODEL)
    dropped = load_official_atom_checkpoint(model, path)
    assert dropped and all(k.startswith(('feature_extractor.fc.', 'feature_extractor.layer4.'))
                           for k in dropped)
    ours = model.state_dict()
    table = {  # the documented mapping, spelled out
        'bb_regressor.conv3_1r.0.weight': 'iou_net.ref_conv3.conv.weight',
        'bb_regressor.conv3_1r.1.running_var': 'iou_net.ref_conv3.bn.running_var',
        'bb_regressor.conv4_1r.0.bias': 'iou_net.ref_conv4.conv.bias',
        'bb_regressor.fc3_1r.1.weight': 'iou_net.ref_fc3.bn.weight',
        'bb_regressor.fc34_3r.0.weight': 'iou_net.ref_fuse3.conv.weight',
        'bb_regressor.fc34_4r.1.running_mean': 'iou_net.ref_fuse4.bn.running_mean',
        'bb_regressor.conv3_1t.0.weight': 'iou_net.test_conv3.0.conv.weight',
        'bb_regressor.conv3_2t.1.bias': 'iou_net.test_conv3.1.bn.bias',
        'bb_regressor.conv4_1t.1.weight': 'iou_net.test_conv4.0.bn.weight',
        'bb_regressor.conv4_2t.0.weight': 'iou_net.test_conv4.1.conv.weight',
        'bb_regressor.fc3_rt.linear.weight': 'iou_net.fc3.fc.weight',
        'bb_regressor.fc4_rt.bn.running_var': 'iou_net.fc4.bn.running_var',
        'bb_regressor.iou_predictor.bias': 'iou_net.iou_predictor.bias',
        'feature_extractor.conv1.weight': 'backbone.conv1.weight',
        'feature_extractor.layer3.1.bn2.running_mean': 'backbone.layer3.1.bn2.running_mean',
        'feature_extractor.layer2.0.downsample.0.weight': 'backbone.layer2.0.downsample.0.weight',
    }
    for official_key, our_key in table.items():
        assert convert_official_atom_key(official_key) == our_key
        assert torch.equal(ours[our_key], official[official_key]), official_key
    # and every one of our tensors came from the checkpoint
    used = {convert_official_atom_key(k): v for k, v in official.items() if k not in dropped}
    assert set(used) == set(ours)
    assert all(torch.equal(ours[k], v) for k, v in used.items())


def test_incomplete_or_wrong_checkpoints_raise(tmp_path):
    model = MODELS.build(MODEL)
    path = str(tmp_path / 'missing.pth')
    _official_checkpoint(path, drop_key='bb_regressor.fc3_rt.bn.weight')
    with pytest.raises(KeyError, match=r'missing in the checkpoint: \[\'iou_net.fc3.bn.weight'):
        load_official_atom_checkpoint(model, path)
    path = str(tmp_path / 'shape.pth')
    _official_checkpoint(path, bad_shape_key='bb_regressor.iou_predictor.weight')
    with pytest.raises(ValueError, match='iou_net.iou_predictor.weight: checkpoint'):
        load_official_atom_checkpoint(model, path)
    path = str(tmp_path / 'not_atom.pth')
    torch.save({'state_dict': {}}, path)
    with pytest.raises(ValueError, match='not an official ATOM checkpoint'):
        load_official_atom_checkpoint(model, path)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_official_atom_checkpoint(model, str(tmp_path / 'nowhere.pth'))
    with pytest.raises(KeyError, match='not a parameter of the official ATOM'):
        convert_official_atom_key('bb_regressor.conv5_1t.0.weight')
