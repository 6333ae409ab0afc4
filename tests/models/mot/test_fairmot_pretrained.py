"""Official DLA / CenterNet / FairMOT checkpoints load into our FairMOT.

The "official" checkpoints here are built from the parameter names and shapes of FairMOT's
``src/lib/models/networks/pose_dla_dcn.py`` (``DLA``, ``Tree``, ``Root``, ``BasicBlock``,
``DeformConv`` with DCNv2's ``DCN``, ``IDAUp``, ``DLAUp``, ``DLASeg`` heads), enumerated by
:func:`official_dlaseg_entries` below, which follows that file's construction rules and nothing of
ours. Running the official ``DLASeg('dla34', {'hm': 1, 'wh': 4, 'id': 128, 'reg': 2},
head_conv=256)`` (with the ImageNet ``base.fc`` that ``load_pretrained_model`` adds) gives 404
state-dict tensors and 20,349,711 parameters; the enumeration is pinned to those numbers.
"""
import math

import pytest
import torch

from ikun_mm.models.mot.fairmot_pretrained import (load_official_fairmot, map_official_name,
                                                   read_official_state_dict)
from ikun_mm.registry import MODELS

DLA34 = dict(levels=(1, 1, 1, 2, 2, 1), channels=(16, 32, 64, 128, 256, 512))
FAIRMOT_HEADS = {'hm': 1, 'wh': 4, 'id': 128, 'reg': 2}
COCO_HEADS = {'hm': 80, 'wh': 2, 'reg': 2}


def _bn(prefix, c):
    return [(f'{prefix}.weight', (c, )), (f'{prefix}.bias', (c, )),
            (f'{prefix}.running_mean', (c, )), (f'{prefix}.running_var', (c, )),
            (f'{prefix}.num_batches_tracked', ())]


def _tree(prefix, levels, cin, cout, level_root=False, root_dim=0):
    """Official ``Tree(levels, BasicBlock, cin, cout, level_root, root_dim)`` entries."""
    out = []
    if root_dim == 0:
        root_dim = 2 * cout
    if level_root:
        root_dim += cin
    if levels == 1:
        for name, ci in (('tree1', cin), ('tree2', cout)):
            out += [(f'{prefix}.{name}.conv1.weight', (cout, ci, 3, 3))]
            out += _bn(f'{prefix}.{name}.bn1', cout)
            out += [(f'{prefix}.{name}.conv2.weight', (cout, cout, 3, 3))]
            out += _bn(f'{prefix}.{name}.bn2', cout)
        out += [(f'{prefix}.root.conv.weight', (cout, root_dim, 1, 1))]
        out += _bn(f'{prefix}.root.bn', cout)
    else:
        out += _tree(f'{prefix}.tree1', levels - 1, cin, cout, root_dim=0)
        out += _tree(f'{prefix}.tree2', levels - 1, cout, cout, root_dim=root_dim + cout)
    if cin != cout:
        out += [(f'{prefix}.project.0.weight', (cout, cin, 1, 1))]
        out += _bn(f'{prefix}.project.1', cout)
    return out


def _deform_conv(prefix, cin, cout):
    """Official ``DeformConv(cin, cout)``: DCNv2 ``DCN`` (3x3, 1 deformable group) + BN."""
    return ([(f'{prefix}.conv.weight', (cout, cin, 3, 3)), (f'{prefix}.conv.bias', (cout, )),
             (f'{prefix}.conv.conv_offset_mask.weight', (27, cin, 3, 3)),
             (f'{prefix}.conv.conv_offset_mask.bias', (27, ))] + _bn(f'{prefix}.actf.0', cout))


def _ida_up(prefix, o, channels, up_f):
    out = []
    for i in range(1, len(channels)):
        f = int(up_f[i])
        out += _deform_conv(f'{prefix}.proj_{i}', channels[i], o)
        out += [(f'{prefix}.up_{i}.weight', (o, 1, 2 * f, 2 * f))]
        out += _deform_conv(f'{prefix}.node_{i}', o, o)
    return out


def official_dlaseg_entries(levels, channels, heads, head_conv=256, first_level=2, last_level=5,
                            with_fc=False):
    """(name, shape) of every state-dict tensor of the official ``DLASeg``."""
    c = channels
    out = [('base.base_layer.0.weight', (c[0], 3, 7, 7))] + _bn('base.base_layer.1', c[0])
    for level, (cin, cout) in enumerate(((c[0], c[0]), (c[0], c[1]))):
        for i in range(levels[level]):
            out += [(f'base.level{level}.{3 * i}.weight', (cout, cin if i == 0 else cout, 3, 3))]
            out += _bn(f'base.level{level}.{3 * i + 1}', cout)
    for k in range(2, 6):
        out += _tree(f'base.level{k}', levels[k], c[k - 1], c[k], level_root=k > 2)
    if with_fc:
        out += [('base.fc.weight', (1000, c[5], 1, 1)), ('base.fc.bias', (1000, ))]
    # DLAUp(first_level, channels[first_level:], scales)
    up_ch = list(c[first_level:])
    in_ch = list(up_ch)
    scales = [2**i for i in range(len(up_ch))]
    for i in range(len(up_ch) - 1):
        j = -i - 2
        out += _ida_up(f'dla_up.ida_{i}', up_ch[j], in_ch[j:], [s // scales[j] for s in scales[j:]])
        scales[j + 1:] = [scales[j]] * len(scales[j + 1:])
        in_ch[j + 1:] = [up_ch[j]] * len(in_ch[j + 1:])
    out += _ida_up('ida_up', c[first_level], c[first_level:last_level],
                   [2**i for i in range(last_level - first_level)])
    for head, classes in heads.items():
        out += [(f'{head}.0.weight', (head_conv, c[first_level], 3, 3)),
                (f'{head}.0.bias', (head_conv, )),
                (f'{head}.2.weight', (classes, head_conv, 1, 1)), (f'{head}.2.bias', (classes, ))]
    return out


def _random_state(entries, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in entries:
        if name.endswith('num_batches_tracked'):
            state[name] = torch.tensor(7)
        elif name.endswith('running_var'):
            state[name] = torch.rand(shape, generator=g) + 0.5
        else:
            state[name] = torch.randn(shape, generator=g) * 0.1
    return state


def _model(levels=DLA34['levels'], channels=DLA34['channels'], num_ids=5, **kw):
    cfg = dict(type='FairMOT',
               backbone=dict(type='DLASeg', depth=None, levels=levels, channels=channels,
                             conv_cfg=dict(type='DCNv2', deform_groups=1)),
               head=dict(type='FairMOTHead', in_channels=channels[2], num_ids=num_ids), **kw)
    return MODELS.build(cfg)


def test_enumeration_matches_the_official_dla34_counts():
    entries = official_dlaseg_entries(**DLA34, heads=FAIRMOT_HEADS, with_fc=True)
    assert len(entries) == 404
    assert len({n for n, _ in entries}) == 404
    params = sum(math.prod(s) for n, s in entries
                 if not n.endswith(('running_mean', 'running_var', 'num_batches_tracked')))
    assert params == 20349711


def test_released_fairmot_dla34_maps_one_to_one(tmp_path):
    entries = official_dlaseg_entries(**DLA34, heads=FAIRMOT_HEADS, with_fc=True)
    model = _model()
    ours = model.state_dict()
    mapped = {}
    for name, shape in entries:
        target = map_official_name(name)
        if name.startswith('base.fc.'):
            assert target is None
            continue
        assert target in ours, (name, target)
        assert tuple(ours[target].shape) == shape, (name, target, tuple(ours[target].shape))
        mapped[target] = name
    assert len(mapped) == len(entries) - 2  # one to one
    # everything of ours but the loss-side parameters comes from the file
    rest = sorted(set(ours) - set(mapped))
    assert rest == ['head.id_classifier.bias', 'head.id_classifier.weight', 'head.s_det',
                    'head.s_id']
    # and loading a file with those names puts every tensor in its place
    state = _random_state(entries)
    path = tmp_path / 'fairmot_dla34.pth'
    torch.save({'epoch': 30, 'state_dict': state}, path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert load_official_fairmot(model, str(path), 'fairmot') == []
    after = model.state_dict()
    for target, name in mapped.items():
        torch.testing.assert_close(after[target], state[name], rtol=0, atol=0)
    torch.testing.assert_close(after['head.id_classifier.weight'],
                               before['head.id_classifier.weight'])


def test_centernet_coco_skips_its_class_and_size_outputs(tmp_path):
    # ctdet_coco_dla_2x.pth: {'epoch', 'state_dict'} with 'module.' names, 80-class hm, 2-d wh
    entries = official_dlaseg_entries(**DLA34, heads=COCO_HEADS, with_fc=True)
    state = _random_state(entries, seed=1)
    path = tmp_path / 'ctdet_coco_dla_2x.pth'
    torch.save({'epoch': 230, 'state_dict': {'module.' + k: v for k, v in state.items()}}, path)
    model = _model()
    model.init_weights()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    skipped = load_official_fairmot(model, str(path), 'centernet_coco')
    assert sorted(s.split(' ')[0] for s in skipped) == ['hm.2.bias', 'hm.2.weight', 'wh.2.bias',
                                                        'wh.2.weight']
    after = model.state_dict()
    torch.testing.assert_close(after['head.heatmap.0.weight'], state['hm.0.weight'])
    torch.testing.assert_close(after['head.offset.2.weight'], state['reg.2.weight'])
    torch.testing.assert_close(after['backbone.dla_up.0.proj.0.conv.conv_offset.weight'],
                               state['dla_up.ida_0.proj_1.conv.conv_offset_mask.weight'])
    for kept in ('head.heatmap.2.bias', 'head.ltrb.2.weight', 'head.embedding.0.weight'):
        torch.testing.assert_close(after[kept], before[kept])
    assert float(after['head.heatmap.2.bias'][0]) == pytest.approx(-2.19)


def test_imagenet_dla34_fills_the_base_only(tmp_path):
    # dla34-ba72cf86.pth: a bare DLA state dict (no 'base.' prefix) with its 1000-class fc
    entries = [(n[len('base.'):], s)
               for n, s in official_dlaseg_entries(**DLA34, heads={}, with_fc=True)
               if n.startswith('base.')]
    state = _random_state(entries, seed=2)
    path = tmp_path / 'dla34-ba72cf86.pth'
    torch.save(state, path)
    assert set(read_official_state_dict(str(path))) == {'base.' + n for n, _ in entries}
    model = _model(init_from=dict(checkpoint=str(path), source='imagenet'))
    model.init_weights()  # the config field: converted at the end of init_weights
    after = model.state_dict()
    torch.testing.assert_close(after['backbone.stem.0.weight'], state['base_layer.0.weight'])
    torch.testing.assert_close(after['backbone.trees.1.right.node.conv.weight'],
                               state['level3.tree2.root.conv.weight'])
    torch.testing.assert_close(after['backbone.trees.1.left.project.1.running_var'],
                               state['level3.tree1.project.1.running_var'])
    with pytest.raises(ValueError, match='init_from'):
        _model(init_from=dict(checkpoint=str(path), source='coco'))


def test_wrong_files_raise_with_names(tmp_path):
    entries = official_dlaseg_entries(**DLA34, heads=FAIRMOT_HEADS)
    state = _random_state(entries)
    del state['ida_up.node_2.conv.bias']
    path = tmp_path / 'partial.pth'
    torch.save({'state_dict': state}, path)
    with pytest.raises(ValueError, match=r'partial\.pth.*ida_up\.node\.1\.conv\.bias'):
        load_official_fairmot(_model(), str(path), 'fairmot')
    # DCN weights into a backbone without deformable convs: the offsets have no place
    plain = MODELS.build(dict(type='FairMOT',
                              backbone=dict(type='DLASeg', depth=34, conv_cfg=None),
                              head=dict(type='FairMOTHead', in_channels=64, num_ids=5)))
    torch.save({'state_dict': _random_state(entries)}, path)
    with pytest.raises(ValueError, match='conv_offset_mask'):
        load_official_fairmot(plain, str(path), 'fairmot')
    with pytest.raises(FileNotFoundError, match='init_from=None'):
        load_official_fairmot(plain, str(tmp_path / 'missing.pth'), 'fairmot')


def test_deformable_layer_matches_the_dcnv2_forward_on_converted_weights(tmp_path):
    """Official ``DeformConv.conv`` (DCNv2 ``DCN``) written out with mmcv's modulated deformable
    op: offsets/mask from ``conv_offset_mask``, chunked in three, the first two concatenated, the
    third through a sigmoid; then the modulated deformable conv with the DCN's weight and bias."""
    from mmcv.ops import modulated_deform_conv2d
    levels, channels = (1, 1, 1, 1, 1, 1), (4, 4, 8, 8, 16, 16)
    entries = official_dlaseg_entries(levels, channels, FAIRMOT_HEADS, head_conv=8)
    state = _random_state(entries, seed=3)
    # offsets of a few pixels, so a wrong channel order or split would show
    state['dla_up.ida_0.proj_1.conv.conv_offset_mask.weight'] *= 5
    state['dla_up.ida_0.proj_1.conv.conv_offset_mask.bias'] = torch.linspace(-2, 2, 27)
    path = tmp_path / 'small.pth'
    torch.save({'state_dict': state}, path)
    model = MODELS.build(dict(type='FairMOT',
                              backbone=dict(type='DLASeg', depth=None, levels=levels,
                                            channels=channels,
                                            conv_cfg=dict(type='DCNv2', deform_groups=1)),
                              head=dict(type='FairMOTHead', in_channels=8, num_ids=5,
                                        feat_channels=8)))
    load_official_fairmot(model, str(path), 'fairmot')
    x = torch.randn(2, 16, 6, 7)
    p = 'dla_up.ida_0.proj_1.conv.'
    out = torch.nn.functional.conv2d(x, state[p + 'conv_offset_mask.weight'],
                                     state[p + 'conv_offset_mask.bias'], padding=1)
    o1, o2, mask = torch.chunk(out, 3, dim=1)
    expected = modulated_deform_conv2d(x, torch.cat((o1, o2), 1), torch.sigmoid(mask),
                                       state[p + 'weight'], state[p + 'bias'], 1, 1, 1, 1, 1)
    layer = model.backbone.dla_up[0].proj[0]
    assert float(torch.cat((o1, o2), 1).abs().max()) > 1
    torch.testing.assert_close(layer.conv(x), expected, rtol=1e-5, atol=1e-5)
    # and the BN after it uses the official actf.0 statistics (eval mode)
    layer.eval()
    bn = 'dla_up.ida_0.proj_1.actf.0.'
    ref = torch.relu((expected - state[bn + 'running_mean'][:, None, None]) /
                     torch.sqrt(state[bn + 'running_var'][:, None, None] + 1e-5) *
                     state[bn + 'weight'][:, None, None] + state[bn + 'bias'][:, None, None])
    torch.testing.assert_close(layer(x), ref, rtol=1e-4, atol=1e-5)


def test_converter_tool_writes_a_load_from_checkpoint(tmp_path):
    import importlib.util
    import os.path as osp
    repo = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    spec = importlib.util.spec_from_file_location(
        'fairmot_official_to_ikun',
        osp.join(repo, 'tools/model_converters/fairmot_official_to_ikun.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg = osp.join(repo, 'configs/fairmot',
                   'fairmot_dla34_2xb6-30e_mot17halftrain_test-mot17halfval.py')
    state = _random_state(official_dlaseg_entries(**DLA34, heads=FAIRMOT_HEADS, with_fc=True))
    src, dst = tmp_path / 'fairmot_dla34.pth', tmp_path / 'out.pth'
    torch.save({'epoch': 30, 'state_dict': state}, src)
    tool.main([cfg, str(src), str(dst), '--source', 'fairmot'])
    out = torch.load(dst, map_location='cpu', weights_only=False)
    assert out['meta']['source'] == 'fairmot'
    torch.testing.assert_close(out['state_dict']['head.embedding.2.weight'], state['id.2.weight'])
    torch.testing.assert_close(out['state_dict']['backbone.ida_up.up.1.weight'],
                               state['ida_up.up_2.weight'])
    from mmengine.config import Config
    num_ids = Config.fromfile(cfg).model.head.num_ids
    assert out['state_dict']['head.id_classifier.weight'].shape == (num_ids, 128)
