"""Loading pytracking's released ATOM checkpoint (``atom_default.pth``) into our ATOM model.

The checkpoint here is written from the official definitions, not from our mapping:
``feature_extractor`` is torchvision's ResNet-18 (pytracking's ``ltr/models/backbone/resnet.py``
uses the same parameter names) and ``bb_regressor`` holds the parameters listed below, copied by
hand from ``AtomIoUNet.__init__`` in ``ltr/models/bbreg/atom_iou_net.py`` with its defaults
``input_dim=(128, 256), pred_input_dim=(256, 256), pred_inter_dim=(256, 256)``: a ``conv`` block
is ``Sequential(Conv2d(bias=True), BatchNorm2d, ReLU)``, a ``LinearBlock(in, out, s)`` is
``linear = Linear(in * s * s, out)`` and ``bn = BatchNorm2d(out)``. The reference forward below
(:func:`_official_iou`) follows ``AtomIoUNet.get_modulation`` / ``get_iou_feat`` /
``predict_iou`` name by name, so a swapped or misrouted parameter changes the prediction.
"""
import sys
import types

import pytest
import torch
import torch.nn.functional as F
import torchvision

from ikun_mm.models.sot.atom.prroi_pool import PrRoIPool2d
from ikun_mm.models.sot.atom.weights import convert_official_atom_key, load_official_atom_checkpoint
from ikun_mm.registry import MODELS

pytestmark = pytest.mark.usefixtures('one_torch_thread')


# the paper's model at full width: ResNet-18 up to layer3, the default IoU predictor
MODEL = dict(
    type='ATOM',
    backbone=dict(type='mmdet.ResNet', depth=18, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(1, 2), init_cfg=None),
    iou_net=dict(type='ATOMIoUNet'))

# AtomIoUNet: conv blocks (name: (in, out, kernel)) and linear blocks (name: (in, out))
OFFICIAL_CONV_BLOCKS = {
    'conv3_1r': (128, 128, 3), 'conv3_1t': (128, 256, 3), 'conv3_2t': (256, 256, 3),
    'fc3_1r': (128, 256, 3), 'conv4_1r': (256, 256, 3), 'conv4_1t': (256, 256, 3),
    'conv4_2t': (256, 256, 3), 'fc34_3r': (512, 256, 1), 'fc34_4r': (512, 256, 1),
}
OFFICIAL_LINEAR_BLOCKS = {'fc3_rt': (256 * 5 * 5, 256), 'fc4_rt': (256 * 3 * 3, 256)}


def official_bb_regressor_shapes():
    """name -> shape of every ``bb_regressor.*`` tensor of ``AtomIoUNet()``."""
    shapes = {}
    for name, (cin, cout, k) in OFFICIAL_CONV_BLOCKS.items():
        shapes[f'{name}.0.weight'] = (cout, cin, k, k)
        shapes[f'{name}.0.bias'] = (cout, )
        for part in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{name}.1.{part}'] = (cout, )
        shapes[f'{name}.1.num_batches_tracked'] = ()
    for name, (cin, cout) in OFFICIAL_LINEAR_BLOCKS.items():
        shapes[f'{name}.linear.weight'] = (cout, cin)
        shapes[f'{name}.linear.bias'] = (cout, )
        for part in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{name}.bn.{part}'] = (cout, )
        shapes[f'{name}.bn.num_batches_tracked'] = ()
    shapes['iou_predictor.weight'] = (1, 512)
    shapes['iou_predictor.bias'] = (1, )
    return {'bb_regressor.' + k: v for k, v in shapes.items()}


def _random_resnet18(gen):
    """torchvision's ResNet-18 (random weights) with random batch-norm statistics too."""
    net = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(0.1 * torch.randn(module.num_features, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=gen))
                module.weight.copy_(0.5 + torch.rand(module.num_features, generator=gen))
                module.bias.copy_(0.1 * torch.randn(module.num_features, generator=gen))
    return net


def _official_checkpoint(path, drop_key=None, bad_shape_key=None):
    """Write a checkpoint as pytracking does: ``{'net': ATOMnet state dict, 'constructor': an
    object of pytracking's own class, ...}``; returns the torchvision net and the state dict."""
    gen = torch.Generator().manual_seed(0)
    resnet = _random_resnet18(gen)
    state = {'feature_extractor.' + k: v.clone() for k, v in resnet.state_dict().items()}
    for key, shape in official_bb_regressor_shapes().items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(1000)
        elif key.endswith('running_var'):
            state[key] = 0.5 + torch.rand(shape, generator=gen)
        else:
            fan_in = shape[1] * (shape[2] * shape[3] if len(shape) == 4 else 1) \
                if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=gen) / fan_in ** 0.5
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
    return resnet, state


def _official_iou(state, feat3, feat4, ref_box, proposals):
    """pytracking's AtomIoUNet forward written out with the official parameter names."""
    def get(name):
        return state['bb_regressor.' + name]

    def conv_block(name, x, padding):
        x = F.conv2d(x, get(f'{name}.0.weight'), get(f'{name}.0.bias'), padding=padding)
        x = F.batch_norm(x, get(f'{name}.1.running_mean'), get(f'{name}.1.running_var'),
                         get(f'{name}.1.weight'), get(f'{name}.1.bias'), training=False)
        return F.relu(x)

    def linear_block(name, x):
        x = F.linear(x.reshape(x.shape[0], -1), get(f'{name}.linear.weight'),
                     get(f'{name}.linear.bias'))
        x = F.batch_norm(x, get(f'{name}.bn.running_mean'), get(f'{name}.bn.running_var'),
                         get(f'{name}.bn.weight'), get(f'{name}.bn.bias'), training=False)
        return F.relu(x)

    def rois(boxes):  # (K, 4) xywh -> (K, 5) with batch index 0
        return torch.cat([torch.zeros(len(boxes), 1), boxes[:, :2], boxes[:, :2] + boxes[:, 2:]],
                         dim=1)

    # get_modulation
    roi1 = rois(ref_box[None])
    roi3r = PrRoIPool2d(3, 1 / 8)(conv_block('conv3_1r', feat3, 1), roi1)
    roi4r = PrRoIPool2d(1, 1 / 16)(conv_block('conv4_1r', feat4, 1), roi1)
    fc34_r = torch.cat([conv_block('fc3_1r', roi3r, 0), roi4r], dim=1)
    mod3, mod4 = conv_block('fc34_3r', fc34_r, 0), conv_block('fc34_4r', fc34_r, 0)
    # get_iou_feat
    c3_t = conv_block('conv3_2t', conv_block('conv3_1t', feat3, 1), 1)
    c4_t = conv_block('conv4_2t', conv_block('conv4_1t', feat4, 1), 1)
    # predict_iou
    roi2 = rois(proposals)
    fc3_rt = linear_block('fc3_rt', PrRoIPool2d(5, 1 / 8)(c3_t * mod3, roi2))
    fc4_rt = linear_block('fc4_rt', PrRoIPool2d(3, 1 / 16)(c4_t * mod4, roi2))
    return F.linear(torch.cat([fc3_rt, fc4_rt], dim=1), get('iou_predictor.weight'),
                    get('iou_predictor.bias'))[:, 0]


def test_official_checkpoint_names_and_shapes_load_onto_every_parameter(tmp_path):
    path = str(tmp_path / 'atom_default.pth')
    _, official = _official_checkpoint(path)
    model = MODELS.build(MODEL)
    dropped = load_official_atom_checkpoint(model, path)
    # only the ImageNet classifier and layer4 (our backbone stops at layer3) are left out
    assert sorted(dropped) == sorted(k for k in official if k.startswith(
        ('feature_extractor.fc.', 'feature_extractor.layer4.')))
    # every tensor of our model came from the checkpoint: the multiset of values matches
    ours = model.state_dict()
    used = [v for k, v in official.items() if k not in dropped]
    assert len(ours) == len(used)
    assert sorted(float(v.double().sum()) for v in ours.values()) == pytest.approx(
        sorted(float(v.double().sum()) for v in used))


def test_converted_resnet18_matches_torchvision(tmp_path):
    path = str(tmp_path / 'atom_default.pth')
    resnet, _ = _official_checkpoint(path)
    model = MODELS.build(MODEL).eval()
    load_official_atom_checkpoint(model, path)
    img = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(img))))
        layer2 = resnet.layer2(resnet.layer1(x))
        layer3 = resnet.layer3(layer2)
        ours = model.extract_feat(img)
    assert torch.allclose(ours[0], layer2, atol=1e-5)
    assert torch.allclose(ours[1], layer3, atol=1e-5)


def test_converted_iou_net_matches_the_official_forward(tmp_path):
    path = str(tmp_path / 'atom_default.pth')
    _, official = _official_checkpoint(path)
    model = MODELS.build(MODEL).eval()
    load_official_atom_checkpoint(model, path)
    gen = torch.Generator().manual_seed(2)
    feat3 = torch.rand(1, 128, 12, 12, generator=gen)
    feat4 = torch.rand(1, 256, 6, 6, generator=gen)
    ref_box = torch.tensor([30.0, 34.0, 40.0, 28.0])
    proposals = torch.tensor([[30.0, 34.0, 40.0, 28.0], [26.0, 30.0, 44.0, 36.0],
                              [40.0, 20.0, 30.0, 30.0]])
    expected = _official_iou(official, feat3, feat4, ref_box, proposals)
    with torch.no_grad():
        net = model.iou_net
        modulation = net.get_modulation((feat3, feat4), ref_box[None])
        got = net.predict_iou(modulation, net.get_iou_feat((feat3, feat4)), proposals[None])[0]
    assert expected.abs().max() > 1e-3  # not a degenerate all-zero comparison
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_incomplete_or_wrong_checkpoints_raise(tmp_path):
    model = MODELS.build(MODEL)
    path = str(tmp_path / 'missing.pth')
    _official_checkpoint(path, drop_key='bb_regressor.fc3_rt.bn.weight')
    with pytest.raises(KeyError, match=r"missing\.pth: .*1 missing keys .*\['iou_net.fc3.bn.w"):
        load_official_atom_checkpoint(model, path)
    path = str(tmp_path / 'shape.pth')
    _official_checkpoint(path, bad_shape_key='bb_regressor.iou_predictor.weight')
    with pytest.raises(ValueError, match=r'shape\.pth: .*iou_net.iou_predictor.weight: checkpoint'):
        load_official_atom_checkpoint(model, path)
    path = str(tmp_path / 'not_atom.pth')
    torch.save({'state_dict': {}}, path)
    with pytest.raises(ValueError, match='not an official ATOM checkpoint'):
        load_official_atom_checkpoint(model, path)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_official_atom_checkpoint(model, str(tmp_path / 'nowhere.pth'))
    with pytest.raises(KeyError, match='not a parameter of the official ATOM'):
        convert_official_atom_key('bb_regressor.conv5_1t.0.weight')
