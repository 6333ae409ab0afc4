"""ikun_mm.utils.checkpoint: one reader, one state-dict unwrapper, one strict loader.

References: torch's own ``nn.Module.load_state_dict`` (which keys it calls missing/unexpected,
what a successful load leaves in the module) and files written by ``torch.save`` /
``torch.jit.save``; the errors must name the file. The last tests check that every loader of
official / pretrained / trained weights reads through :func:`read_checkpoint` and loads through
:func:`load_state_dict_strict`.
"""
import os
import os.path as osp
import re
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from ikun_mm.utils import checkpoint as ckpt_utils
from ikun_mm.utils.checkpoint import (CheckpointMismatchError, UnreadableCheckpointError,
                                      load_state_dict_strict, read_checkpoint,
                                      state_dict_from_checkpoint)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4, 2))


# ------------------------------------------------------------------------------ read_checkpoint
def test_read_checkpoint_round_trip_and_missing_file(tmp_path):
    net = _net()
    path = tmp_path / 'ok.pth'
    torch.save({'state_dict': net.state_dict(), 'meta': {'epoch': 3, 'arr': np.ones(2)}}, path)
    obj = read_checkpoint(str(path))
    assert obj['meta']['epoch'] == 3
    for k, v in net.state_dict().items():
        assert torch.equal(obj['state_dict'][k], v)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / 'nowhere.pth'))):
        read_checkpoint(str(tmp_path / 'nowhere.pth'))
    with pytest.raises(FileNotFoundError, match='is a folder'):
        read_checkpoint(str(tmp_path))


@pytest.mark.parametrize('kind', ['truncated', 'random', 'text', 'empty'])
def test_unreadable_files_name_the_file(tmp_path, kind):
    path = tmp_path / f'{kind}.pth'
    if kind == 'truncated':  # an interrupted save or copy
        torch.save(_net().state_dict(), path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == 'random':
        path.write_bytes(np.random.RandomState(0).bytes(2048))
    elif kind == 'text':
        path.write_text('model = dict(type="IKUN")\n')
    else:
        path.write_bytes(b'')
    with pytest.raises(UnreadableCheckpointError,
                       match=rf'^{re.escape(str(path))}: not a readable checkpoint'):
        read_checkpoint(str(path))
    assert isinstance(UnreadableCheckpointError(''), RuntimeError)


def test_weights_only_refuses_pickled_objects(tmp_path):
    path = tmp_path / 'numpy_meta.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'meta': types.SimpleNamespace(a=1)}, path)
    with pytest.raises(UnreadableCheckpointError, match=re.escape(str(path))):
        read_checkpoint(str(path), weights_only=True)
    assert read_checkpoint(str(path))['meta'].a == 1
    torch.save({'w': torch.ones(2)}, tmp_path / 'plain.pth')
    assert torch.equal(read_checkpoint(str(tmp_path / 'plain.pth'), weights_only=True)['w'],
                       torch.ones(2))
    with pytest.raises(ValueError, match='weights_only=False'):
        read_checkpoint(str(path), weights_only=True, tolerate_unknown_classes=True)


class _Settings:
    """Pickled next to the weights by a package the reader does not have (pytracking's
    ``ltr`` pickles its ``NetConstructor`` and settings)."""

    def __init__(self):
        self.lr = 0.01


def test_unknown_classes_are_tolerated_only_when_asked(tmp_path, monkeypatch):
    module = types.ModuleType('ikun_test_missing_pkg')
    cls = type('NetConstructor', (_Settings, ), {'__module__': module.__name__})
    module.NetConstructor = cls
    monkeypatch.setitem(sys.modules, module.__name__, module)
    path = tmp_path / 'pytracking_like.pth'
    torch.save({'net': {'w': torch.arange(3.)}, 'constructor': cls()}, path)
    monkeypatch.delitem(sys.modules, module.__name__)  # the package is not installed
    with pytest.raises(UnreadableCheckpointError, match=re.escape(str(path))):
        read_checkpoint(str(path))
    obj = read_checkpoint(str(path), tolerate_unknown_classes=True)
    assert torch.equal(obj['net']['w'], torch.arange(3.))
    assert obj['constructor'].__dict__ == {'state': {'lr': 0.01}}  # an inert placeholder


# ------------------------------------------------------------------- state_dict_from_checkpoint
@pytest.mark.parametrize('layout', ['plain', 'state_dict', 'model', 'net', 'data_parallel'])
def test_state_dict_unwrapping(layout):
    net = _net()
    state = dict(net.state_dict())
    if layout == 'plain':
        obj = state
    elif layout == 'data_parallel':  # nn.DataParallel(net).state_dict() inside mmengine's layout
        obj = {'state_dict': nn.DataParallel(net).state_dict(), 'meta': {}}
    else:
        obj = {layout: state, 'epoch': 7}
    out = state_dict_from_checkpoint(obj, 'f.pth')
    assert set(out) == set(net.state_dict())
    reference = _net()  # torch's own strict load accepts the result
    reference.load_state_dict(out, strict=True)


def test_unwrapping_order_prefixes_and_torchscript(tmp_path):
    a, b = {'x': torch.zeros(1)}, {'y': torch.ones(1)}
    assert set(state_dict_from_checkpoint({'model': a, 'net': b}, 'f')) == {'x'}
    assert set(state_dict_from_checkpoint({'model': a, 'net': b}, 'f', keys=('net', ))) == {'y'}
    raw = {'module.x': torch.zeros(1)}
    assert set(state_dict_from_checkpoint(raw, 'f')) == {'x'}
    assert set(state_dict_from_checkpoint(raw, 'f', strip_prefixes=())) == {'module.x'}
    path = tmp_path / 'scripted.pt'  # OpenAI's CLIP files are TorchScript archives
    lin = nn.Linear(2, 3)
    torch.jit.save(torch.jit.script(lin), str(path))
    out = state_dict_from_checkpoint(read_checkpoint(str(path)), str(path))
    assert set(out) == {'weight', 'bias'} and torch.equal(out['weight'], lin.weight)


def test_checkpoints_without_a_state_dict_name_the_file():
    with pytest.raises(CheckpointMismatchError, match=r'^g\.pth: holds no state dict'):
        state_dict_from_checkpoint([1, 2], 'g.pth')
    with pytest.raises(CheckpointMismatchError, match=r"g\.pth: holds no state dict.*'epoch'"):
        state_dict_from_checkpoint({'epoch': 1, 'optimizer': {}}, 'g.pth')
    with pytest.raises(CheckpointMismatchError, match=r'g\.pth: .*1 entries are not tensors'):
        state_dict_from_checkpoint({'state_dict': {'w': torch.ones(1), 'n': 3}}, 'g.pth')
    out = state_dict_from_checkpoint({'state_dict': {'w': torch.ones(1), 'n': 3}}, 'g.pth',
                                     tensors_only=False)
    assert list(out) == ['w']


# --------------------------------------------------------------------- load_state_dict_strict
def test_strict_load_equals_torch_load_state_dict():
    source = _net()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)
    ours, reference = _net(), _net()
    assert load_state_dict_strict(ours, source.state_dict(), 'f.pth') == []
    reference.load_state_dict(source.state_dict(), strict=True)
    for (k, v), (k2, v2) in zip(ours.state_dict().items(), reference.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def test_wrong_keys_name_the_file_and_the_keys_torch_names():
    state = dict(_net().state_dict())
    del state['4.bias'], state['1.running_mean']
    state['5.weight'] = torch.zeros(1)
    state['head.fc.weight'] = torch.zeros(1)
    reference = _net().load_state_dict(state, strict=False)  # torch's view of the same dict
    with pytest.raises(CheckpointMismatchError) as exc:
        load_state_dict_strict(_net(), state, '/ckpts/wrong.pth', what='the test net')
    msg = str(exc.value)
    assert msg.startswith('/ckpts/wrong.pth: cannot load the test net: ')
    assert f'{len(reference.missing_keys)} missing keys' in msg
    assert f'{len(reference.unexpected_keys)} unexpected keys' in msg
    for key in reference.missing_keys + reference.unexpected_keys:
        assert repr(key) in msg
    assert 'shape' not in msg
    # what callers of the former loaders caught still catches it
    assert isinstance(exc.value, (RuntimeError)) and isinstance(exc.value, KeyError)
    assert isinstance(exc.value, ValueError)


def test_shape_mismatch_names_both_shapes():
    state = dict(_net().state_dict())
    state['4.weight'] = torch.zeros(3, 4)
    with pytest.raises(RuntimeError, match='size mismatch'):  # torch calls it an error too
        _net().load_state_dict(state, strict=True)
    with pytest.raises(CheckpointMismatchError,
                       match=r"^s\.pth: cannot load Sequential: 1 shape mismatches: "
                       r"\['4\.weight: checkpoint \(3, 4\) vs model \(2, 4\)'\]$"):
        load_state_dict_strict(_net(), state, 's.pth')


def test_long_lists_are_cut_with_counts():
    big = nn.Linear(2, 2)
    state = {f'extra.{i:02d}': torch.zeros(1) for i in range(20)}
    state.update(big.state_dict())
    with pytest.raises(CheckpointMismatchError, match=r"20 unexpected keys .*'extra\.07', "
                       r"'\.\.\.'\]") as exc:
        load_state_dict_strict(big, state, 'l.pth')
    assert 'extra.08' not in str(exc.value)


def test_allowed_missing_and_unexpected_keys():
    source = _net()
    with torch.no_grad():
        source[0].weight.add_(1.0)
    state = {k: v for k, v in source.state_dict().items() if 'num_batches_tracked' not in k}
    state['aux.head.weight'] = torch.zeros(1)
    net = _net()
    before = net[1].num_batches_tracked.clone()
    kept = load_state_dict_strict(net, state, 'a.pth', allow_missing=('*num_batches_tracked', ),
                                  allow_unexpected=('aux.*', ))
    assert kept == ['1.num_batches_tracked']
    assert torch.equal(net[1].num_batches_tracked, before)
    assert torch.equal(net[0].weight, source[0].weight)
    # a predicate works as well; an unexpected key outside the patterns still raises
    load_state_dict_strict(_net(), state, 'a.pth', allow_missing=lambda k: k.startswith('1.'),
                           allow_unexpected=lambda k: k.startswith('aux.'))
    with pytest.raises(CheckpointMismatchError, match=r"a\.pth: .*\['aux\.head\.weight'\]"):
        load_state_dict_strict(_net(), state, 'a.pth', allow_missing=('*num_batches_tracked', ))


def test_hint_is_appended():
    with pytest.raises(CheckpointMismatchError, match=r'missing keys .*\. Expected a ResNet\.$'):
        load_state_dict_strict(nn.Linear(1, 1), {}, 'h.pth', hint='Expected a ResNet.')


# ------------------------------------------------------- every loader goes through the helpers
def _garbage(tmp_path) -> str:
    path = tmp_path / 'garbage.pth'
    path.write_bytes(np.random.RandomState(1).bytes(512))
    return str(path)


def _spy(monkeypatch, module, name):
    """Replace ``module.name`` by a wrapper that records its calls and delegates."""
    real = getattr(module, name)
    calls = []

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def _reid_cfg(checkpoint):
    return dict(type='CheckpointReID', checkpoint=checkpoint,
                data_preprocessor=dict(type='ReIDDataPreprocessor', mean=[0, 0, 0],
                                       std=[1, 1, 1]),
                backbone=dict(type='mmpretrain.ResNet', depth=18, num_stages=1,
                              out_indices=(0, ), base_channels=8, strides=(1, ),
                              dilations=(1, )),
                neck=dict(type='GlobalAveragePooling', kernel_size=None, stride=None),
                head=dict(type='LinearReIDHead', num_fcs=0, in_channels=8, fc_channels=8,
                          out_channels=4, num_classes=3,
                          loss_cls=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))


def _readers():
    """(module holding the reader's ``read_checkpoint``, call reading PATH, expected kwargs)."""
    from ikun_mm.models.mot import fairmot_pretrained
    from ikun_mm.models.motion import nkf
    from ikun_mm.models.referring import encoders
    from ikun_mm.models.reid import checkpoint_reid
    from ikun_mm.models.sot import pretrained
    from ikun_mm.models.sot.atom import weights as atom_weights
    from ikun_mm.registry import MODELS

    return {
        'encoders': (encoders, encoders.read_state_dict, {}),
        'sot_pretrained': (pretrained, pretrained.read_official_state_dict, {}),
        'atom': (atom_weights, atom_weights.read_official_atom_checkpoint,
                 dict(tolerate_unknown_classes=True)),
        'nkf': (nkf, lambda p: nkf.NeuralKalmanFilter(checkpoint=p), {}),
        'fairmot': (fairmot_pretrained, fairmot_pretrained.read_official_state_dict,
                    dict(weights_only=True)),
        'reid': (checkpoint_reid, lambda p: MODELS.build(_reid_cfg(p)), {}),
    }


@pytest.mark.parametrize('name', ['encoders', 'sot_pretrained', 'atom', 'nkf', 'fairmot', 'reid'])
def test_every_reader_reads_through_read_checkpoint(tmp_path, monkeypatch, name):
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    module, read, kwargs = _readers()[name]
    calls = _spy(monkeypatch, module, 'read_checkpoint')
    path = _garbage(tmp_path)
    with pytest.raises(UnreadableCheckpointError, match=re.escape(path)):
        read(path)
    assert len(calls) == 1 and calls[0][0][0] == path
    for key, value in kwargs.items():
        assert calls[0][1][key] == value


def test_ikun_converter_reads_through_read_checkpoint(tmp_path, monkeypatch):
    from tests.utils import load_tool
    tool = load_tool('model_converters', 'ikun_official_to_mm.py')
    calls = _spy(monkeypatch, ckpt_utils, 'read_checkpoint')
    path = _garbage(tmp_path)
    with pytest.raises(UnreadableCheckpointError, match=re.escape(path)):
        tool.convert(path, str(tmp_path / 'out.pth'), 'cascade')
    assert [c[0][0] for c in calls] == [path]
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('tool_file, extra', [('sot_official_to_ikun.py', ['--arch', 'stark']),
                                             ('fairmot_official_to_ikun.py',
                                              ['--source', 'fairmot'])])
def test_converters_never_overwrite(tmp_path, tool_file, extra):
    from tests.utils import load_tool
    tool = load_tool('model_converters', tool_file)
    dst = tmp_path / 'converted.pth'
    dst.write_bytes(b'mine')
    with pytest.raises(SystemExit, match=rf'{re.escape(str(dst))} exists; pass --overwrite'):
        tool.main(['unused_config.py', _garbage(tmp_path), str(dst)] + extra)
    assert dst.read_bytes() == b'mine'


class _FairMOTLike(nn.Module):
    """The part of FairMOT's names a ``'fairmot'`` file must provide: one head conv."""

    def __init__(self):
        super().__init__()
        self.head = nn.ModuleDict(dict(heatmap=nn.Sequential(nn.Conv2d(2, 1, 1))))


def _loaders(tmp_path):
    """(module holding the loader's ``load_state_dict_strict``, call loading a file whose keys
    do not fit)."""
    from ikun_mm.models.mot import fairmot_pretrained
    from ikun_mm.models.motion import nkf
    from ikun_mm.models.referring import encoders
    from ikun_mm.models.reid import checkpoint_reid
    from ikun_mm.models.sot import pretrained
    from ikun_mm.models.sot.atom import weights as atom_weights
    from ikun_mm.registry import MODELS

    def save(obj, name):
        path = str(tmp_path / name)
        torch.save(obj, path)
        return path

    wrong = {'nothing.weight': torch.zeros(1)}
    return {
        'encoders': (encoders, lambda: MODELS.build(dict(
            type='TinyConvBackbone', pretrained=save(wrong, 'enc.pth'))), 'enc.pth'),
        'sot_pretrained': (pretrained, lambda: pretrained.load_official_checkpoint(
            nn.Linear(2, 3), save({'net': wrong}, 'ostrack.pth'), 'ostrack'), 'ostrack.pth'),
        'atom': (atom_weights, lambda: atom_weights.load_official_atom_checkpoint(
            nn.Linear(2, 3), save({'net': {'bb_regressor.iou_predictor.bias': torch.zeros(1)}},
                                  'atom.pth')), 'atom.pth'),
        'nkf': (nkf, lambda: nkf.NeuralKalmanFilter(
            checkpoint=save({'state_dict': wrong}, 'nkf.pth')), 'nkf.pth'),
        'fairmot': (fairmot_pretrained, lambda: fairmot_pretrained.load_official_fairmot(
            _FairMOTLike(), save({'state_dict': {'hm.0.weight': torch.zeros(1, 2, 1, 1)}},
                                 'fairmot.pth'), 'fairmot'), 'fairmot.pth'),
        'reid': (checkpoint_reid, lambda: MODELS.build(_reid_cfg(
            save({'state_dict': wrong}, 'reid.pth'))), 'reid.pth'),
    }


@pytest.mark.parametrize('name', ['encoders', 'sot_pretrained', 'atom', 'nkf', 'fairmot', 'reid'])
def test_every_loader_loads_through_load_state_dict_strict(tmp_path, monkeypatch, name):
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    module, load, file_name = _loaders(tmp_path)[name]
    calls = _spy(monkeypatch, module, 'load_state_dict_strict')
    path = str(tmp_path / file_name)
    with pytest.raises(CheckpointMismatchError, match=rf'^{re.escape(path)}: cannot load '):
        load()
    assert len(calls) == 1


def test_reid_checkpoint_of_tools_train_loads(tmp_path):
    """What mmengine's ``load_checkpoint(strict=True)`` loaded before loads the same way."""
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    trained = MODELS.build(_reid_cfg(None))
    with torch.no_grad():
        for p in trained.parameters():
            p.normal_()
    path = str(tmp_path / 'epoch_2.pth')
    torch.save({'state_dict': trained.state_dict(), 'meta': {'epoch': 2}}, path)
    loaded = MODELS.build(_reid_cfg(path))
    reference = MODELS.build(_reid_cfg(None))
    from mmengine.runner.checkpoint import load_checkpoint
    load_checkpoint(reference, path, map_location='cpu', strict=True)
    for (k, v), (k2, v2) in zip(loaded.state_dict().items(), reference.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert torch.equal(loaded.backbone.conv1.weight, trained.backbone.conv1.weight)


def test_no_other_module_reads_checkpoint_files():
    """Library and tools code calls no checkpoint reader but :func:`read_checkpoint`."""
    readers = re.compile(r'torch\.load\(|torch\.jit\.load\(|pickle\.load|'
                         r'import .*\bload_checkpoint\b|checkpoint import .*_load_checkpoint')
    offenders = []
    for top in ('ikun_mm', 'tools'):
        for folder, dirs, files in os.walk(osp.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
            for file in files:
                path = osp.join(folder, file)
                if not file.endswith('.py') or path == ckpt_utils.__file__:
                    continue
                with open(path) as f:
                    for n, line in enumerate(f, 1):
                        if readers.search(line) and not line.lstrip().startswith('#'):
                            offenders.append(f'{osp.relpath(path, ROOT)}:{n}: {line.strip()}')
    assert not offenders, 'read checkpoints with ikun_mm.utils.checkpoint:\n' + '\n'.join(
        offenders)
