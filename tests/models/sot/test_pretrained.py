"""Official OSTrack / STARK checkpoint names load into our models."""
import re

import pytest
import torch

from ikun_mm.models.sot import load_official_checkpoint
from ikun_mm.registry import MODELS

from .utils import TINY_OSTRACK, TINY_STARK


def _official_ostrack_names(state):
    """Our OSTrack state dict written the way the official code names it."""
    out = {('box_head.' + k[5:] if k.startswith('head.') else k): v for k, v in state.items()}
    out['backbone.cls_token'] = torch.zeros(1, 1, 64)
    out['backbone.pos_embed'] = torch.zeros(1, 197, 64)
    return out


def _official_stark_name(key):
    """Hand-written official STARK names (DETR-style transformer, torchvision ResNet)."""
    rules = [
        (r'^backbone\.', 'backbone.0.body.'),
        (r'^(encoder|decoder)\.layers\.(\d+)\.self_attn\.attn\.',
         r'transformer.\1.layers.\2.self_attn.'),
        (r'^decoder\.layers\.(\d+)\.cross_attn\.attn\.',
         r'transformer.decoder.layers.\1.multihead_attn.'),
        (r'^(encoder|decoder)\.layers\.(\d+)\.ffn\.layers\.0\.0\.',
         r'transformer.\1.layers.\2.linear1.'),
        (r'^(encoder|decoder)\.layers\.(\d+)\.ffn\.layers\.1\.',
         r'transformer.\1.layers.\2.linear2.'),
        (r'^decoder\.post_norm\.', 'transformer.decoder.norm.'),
    ]
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key)
    m = re.match(r'^(encoder|decoder)\.layers\.(\d+)\.norms\.(\d)\.(.*)$', key)
    if m:
        key = f'transformer.{m[1]}.layers.{m[2]}.norm{int(m[3]) + 1}.{m[4]}'
    return key


def test_official_ostrack_checkpoint_loads(tmp_path):
    torch.manual_seed(0)
    src = MODELS.build(TINY_OSTRACK).eval()
    path = tmp_path / 'OSTrack_ep0300.pth.tar'
    torch.save({'net': _official_ostrack_names(src.state_dict()), 'epoch': 300}, path)
    assert 'box_head.conv5_ctr.weight' in torch.load(path, weights_only=False)['net']
    torch.manual_seed(1)
    dst = MODELS.build(TINY_OSTRACK).eval()
    assert load_official_checkpoint(dst, str(path), 'ostrack') == []
    z, x = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64)
    for a, b in zip(src.head(src.backbone(z, x)[0]), dst.head(dst.backbone(z, x)[0])):
        torch.testing.assert_close(a, b)


def test_official_stark_checkpoint_loads(tmp_path):
    torch.manual_seed(0)
    src = MODELS.build(TINY_STARK).eval()
    official = {_official_stark_name(k): v for k, v in src.state_dict().items()
                if not k.endswith('num_batches_tracked')}  # frozen BN has no such buffer
    assert 'transformer.decoder.layers.0.multihead_attn.in_proj_weight' in official
    assert 'transformer.encoder.layers.0.norm2.weight' in official
    assert 'backbone.0.body.layer3.0.downsample.0.weight' in official
    path = tmp_path / 'STARKST_ep0050.pth.tar'
    torch.save({'net': official}, path)
    torch.manual_seed(1)
    dst = MODELS.build(TINY_STARK).eval()
    tolerated = load_official_checkpoint(dst, str(path), 'stark')
    assert tolerated and all(k.endswith('num_batches_tracked') for k in tolerated)
    inputs = dict(template=torch.randn(1, 2, 3, 32, 32), search=torch.randn(1, 1, 3, 64, 64))
    for a, b in zip(src._forward(inputs), dst._forward(inputs)):
        torch.testing.assert_close(a, b)


def test_checkpoint_that_does_not_fit_raises_with_file_name(tmp_path):
    model = MODELS.build(TINY_OSTRACK)
    state = _official_ostrack_names(model.state_dict())
    del state['backbone.norm.weight']
    state['box_head.extra.weight'] = torch.zeros(1)
    path = tmp_path / 'broken.pth'
    torch.save({'net': state}, path)
    with pytest.raises(RuntimeError, match=r'broken\.pth.*backbone\.norm\.weight.*head\.extra'):
        load_official_checkpoint(model, str(path), 'ostrack')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_official_checkpoint(model, str(tmp_path / 'missing.pth'), 'ostrack')
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(RuntimeError, match='holds no state dict'):
        load_official_checkpoint(model, str(tmp_path / 'list.pth'), 'ostrack')
