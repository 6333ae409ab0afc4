"""Pretrained inits and released-checkpoint converters of OSTrack and STARK.

References that are not ours: timm's ``VisionTransformer`` and torchvision's ``resnet50`` with
random weights (their state dicts are what MAE / ImageNet checkpoints hold), and the parameter
names and shapes of the released checkpoints written out below from the official model
definitions (botaoye/OSTrack ``lib/models/ostrack/vit_ce.py``, ``lib/models/layers/head.py``;
researchmm/Stark ``lib/models/stark/{backbone,resnet,transformer,head,stark_s,stark_st}.py``).
"""
import pytest
import torch
import torch.nn.functional as F

from ikun_mm.models.sot import load_official_checkpoint
from ikun_mm.models.sot.pretrained import convert_vit_to_ostrack_backbone, load_resnet_pretrained
from ikun_mm.registry import MODELS

from .utils import TINY_OSTRACK, TINY_STARK


def _perturb(module: torch.nn.Module, seed: int = 0) -> None:
    """Random values in every parameter and BN statistic (fresh inits leave LayerNorm / BN at 1
    and 0, which would hide a swapped weight / bias)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                noise = torch.randn(t.shape, generator=g) * 0.05
                t.copy_(t.abs() + 0.5 + noise.abs() if 'running_var' in name else t + noise)


# --------------------------------------------------------------------------- timm / MAE ViT
def _timm_vit(img_size: int, patch: int = 8, dim: int = 64, depth: int = 2):
    timm = pytest.importorskip('timm')
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=img_size, patch_size=patch, embed_dim=dim, depth=depth,
                            num_heads=4, mlp_ratio=2., qkv_bias=True, num_classes=10)
    assert timm is not None
    _perturb(vit)
    return vit.eval()


def _ours(template: int, search: int, path, patch: int = 8, dim: int = 64, depth: int = 2):
    vit = MODELS.build(dict(type='OSTrackViT', template_size=template, search_size=search,
                            patch_size=patch, embed_dims=dim, depth=depth, num_heads=4,
                            mlp_ratio=2., ce_layers=(), drop_path_rate=0.,
                            init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    vit.init_weights()
    return vit.eval()


def _timm_features(vit, z, x, pos_z, pos_x):
    """timm's patch embedding and blocks on ``[template tokens, search tokens]`` with the given
    position embeddings; returns the normalised search tokens (B, Nx, C)."""
    def embed(img):  # timm's PatchEmbed (conv, flatten; no norm) at any input size
        return vit.patch_embed.norm(vit.patch_embed.proj(img).flatten(2).transpose(1, 2))

    zt = embed(z) + pos_z
    xt = embed(x) + pos_x
    tokens = torch.cat([zt, xt], dim=1)
    for block in vit.blocks:
        tokens = block(tokens)
    return vit.norm(tokens)[:, zt.shape[1]:]


def _as_tokens(fmap):
    return fmap.flatten(2).transpose(1, 2)


def test_timm_vit_gives_the_same_features_after_conversion(tmp_path):
    vit = _timm_vit(img_size=32)
    path = tmp_path / 'vit_tiny.pth'
    torch.save(vit.state_dict(), path)
    ours = _ours(32, 32, path)  # grid 4 = the checkpoint's grid: the position embedding is kept
    grid = vit.pos_embed[:, 1:]  # timm: class token first
    torch.testing.assert_close(ours.pos_embed_z, grid, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.pos_embed_x, grid, rtol=0, atol=1e-6)
    z, x = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = _timm_features(vit, z, x, grid, grid)
        fmap, _ = ours(z, x, keep_ratio=1.0)
    torch.testing.assert_close(_as_tokens(fmap), ref, rtol=1e-5, atol=1e-5)


def test_mae_checkpoint_resizes_the_position_embedding_bicubically(tmp_path):
    vit = _timm_vit(img_size=24)  # a 3 x 3 grid, resized to 2 x 2 (template) and 4 x 4 (search)
    state = dict(vit.state_dict())
    state.pop('head.weight'), state.pop('head.bias')
    mae = {'model': {**state, 'mask_token': torch.zeros(1, 1, 32),
                     'decoder_embed.weight': torch.zeros(32, 64),
                     'decoder_pos_embed': torch.zeros(1, 10, 32),
                     'decoder_blocks.0.attn.qkv.weight': torch.zeros(96, 32)},
           'epoch': 799}
    path = tmp_path / 'mae_pretrain_vit_tiny.pth'
    torch.save(mae, path)
    ours = _ours(16, 32, path)
    # OSTrack's finetune_track: drop the class token, interpolate the grid bicubically
    grid = vit.pos_embed[:, 1:].transpose(1, 2).reshape(1, 64, 3, 3)
    pos_z = F.interpolate(grid, size=(2, 2), mode='bicubic', align_corners=False)
    pos_x = F.interpolate(grid, size=(4, 4), mode='bicubic', align_corners=False)
    pos_z, pos_x = (p.flatten(2).transpose(1, 2) for p in (pos_z, pos_x))
    torch.testing.assert_close(ours.pos_embed_z, pos_z)
    torch.testing.assert_close(ours.pos_embed_x, pos_x)
    z, x = torch.randn(1, 3, 16, 16), torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = _timm_features(vit, z, x, pos_z, pos_x)
        fmap, _ = ours(z, x, keep_ratio=1.0)
    torch.testing.assert_close(_as_tokens(fmap), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('template,search', [(128, 256), (192, 384)])
def test_vit_b16_position_embedding_splits_into_the_ostrack_grids(template, search):
    # ViT-B/16 at 224 px: pos_embed (1, 1 + 14 * 14, 768); OSTrack-256: 8 x 8 and 16 x 16 grids,
    # OSTrack-384: 12 x 12 and 24 x 24
    pos = torch.randn(1, 197, 768)
    out = convert_vit_to_ostrack_backbone({'pos_embed': pos, 'cls_token': torch.zeros(1, 1, 768)},
                                          template // 16, search // 16, 16)
    grid = pos[:, 1:].transpose(1, 2).reshape(1, 768, 14, 14)
    for key, side in (('pos_embed_z', template // 16), ('pos_embed_x', search // 16)):
        ref = F.interpolate(grid, size=(side, side), mode='bicubic', align_corners=False)
        torch.testing.assert_close(out[key], ref.flatten(2).transpose(1, 2))
    assert set(out) == {'pos_embed_z', 'pos_embed_x'}


def test_vit_checkpoint_that_does_not_fit_raises_with_file_and_key(tmp_path):
    vit = _timm_vit(img_size=32)
    state = dict(vit.state_dict())
    del state['blocks.1.mlp.fc2.weight']
    path = tmp_path / 'broken_vit.pth'
    torch.save(state, path)
    with pytest.raises(RuntimeError, match=r'broken_vit\.pth.*blocks\.1\.mlp\.fc2\.weight'):
        _ours(32, 32, path)
    torch.save({'model': {'conv1.weight': torch.zeros(1)}}, path)
    with pytest.raises(RuntimeError, match=r'broken_vit\.pth has no "pos_embed"'):
        _ours(32, 32, path)
    with pytest.raises(FileNotFoundError, match='missing_mae.pth'):
        _ours(32, 32, tmp_path / 'missing_mae.pth')


# --------------------------------------------------------------------------- torchvision ResNet
_R50_LAYER3 = dict(type='mmdet.ResNet', depth=50, num_stages=3, strides=(1, 2, 2),
                   dilations=(1, 1, 1), out_indices=(2, ), frozen_stages=1,
                   norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,
                   style='pytorch')


def _torchvision_resnet50(tmp_path):
    torchvision = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    tv = torchvision.models.resnet50(weights=None)
    _perturb(tv)
    path = tmp_path / 'resnet50_random.pth'
    torch.save(tv.state_dict(), path)
    return tv.eval(), path


def _torchvision_layer3(tv, x):
    x = tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))
    return tv.layer3(tv.layer2(tv.layer1(x)))


def test_torchvision_resnet50_gives_the_same_layer3_features(tmp_path):
    tv, path = _torchvision_resnet50(tmp_path)
    stark = MODELS.build(dict(
        TINY_STARK, backbone=dict(_R50_LAYER3, init_cfg=dict(type='Pretrained',
                                                              checkpoint=str(path))),
        backbone_channels=1024))
    assert stark.backbone_checkpoint == str(path)
    stark.init_weights()
    stark.train()  # frozen BN (norm_eval) keeps the checkpoint's statistics even in training
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = _torchvision_layer3(tv, x)
        feat = stark.backbone(x)[-1]
    torch.testing.assert_close(feat, ref, rtol=1e-5, atol=1e-5)
    frozen = [n for n, p in stark.backbone.named_parameters() if not p.requires_grad]
    assert any(n.startswith('layer1.') for n in frozen) and 'conv1.weight' in frozen
    assert all(p.requires_grad for n, p in stark.backbone.named_parameters()
               if n.startswith('layer3.') and '.bn' not in n and 'downsample.1' not in n)


def test_resnet_checkpoint_that_does_not_fit_raises(tmp_path):
    tv, path = _torchvision_resnet50(tmp_path)
    state = tv.state_dict()
    del state['layer2.0.conv2.weight']
    torch.save(state, path)
    backbone = MODELS.build(_R50_LAYER3)
    with pytest.raises(RuntimeError, match=r'resnet50_random\.pth.*layer2\.0\.conv2\.weight'):
        load_resnet_pretrained(backbone, str(path))


def test_frozen_backbone_without_init_is_an_error():
    with pytest.raises(ValueError, match=r"init_cfg=dict\(type='Pretrained'"):
        MODELS.build(dict(TINY_STARK, backbone=dict(_R50_LAYER3, init_cfg=None),
                          backbone_channels=1024))
    # a backbone trained from scratch (the tiny configs) needs no init
    assert MODELS.build(TINY_STARK).backbone_checkpoint is None


# --------------------------------------------------------------------------- released checkpoints
def _official_ostrack_shapes(dim, depth, hidden, patch, nz, nx, in_ch, ch):
    """Parameter names and shapes of a released OSTrack checkpoint (``'net'`` entry), from
    ``VisionTransformerCE`` (timm-style blocks, qkv bias, LayerNorm ``norm``; ``cls_token`` and the
    224-px ``pos_embed`` kept though unused; ``pos_embed_z`` / ``pos_embed_x`` made by
    ``finetune_track``) and ``CenterPredictor`` (``conv(...)`` = Conv2d + BatchNorm2d + ReLU)."""
    s = {'backbone.cls_token': (1, 1, dim), 'backbone.pos_embed': (1, 197, dim),
         'backbone.patch_embed.proj.weight': (dim, 3, patch, patch),
         'backbone.patch_embed.proj.bias': (dim, ),
         'backbone.pos_embed_z': (1, nz, dim), 'backbone.pos_embed_x': (1, nx, dim),
         'backbone.norm.weight': (dim, ), 'backbone.norm.bias': (dim, )}
    for i in range(depth):
        b = f'backbone.blocks.{i}.'
        s.update({b + 'norm1.weight': (dim, ), b + 'norm1.bias': (dim, ),
                  b + 'attn.qkv.weight': (3 * dim, dim), b + 'attn.qkv.bias': (3 * dim, ),
                  b + 'attn.proj.weight': (dim, dim), b + 'attn.proj.bias': (dim, ),
                  b + 'norm2.weight': (dim, ), b + 'norm2.bias': (dim, ),
                  b + 'mlp.fc1.weight': (hidden, dim), b + 'mlp.fc1.bias': (hidden, ),
                  b + 'mlp.fc2.weight': (dim, hidden), b + 'mlp.fc2.bias': (dim, )})
    widths = [in_ch, ch, ch // 2, ch // 4, ch // 8]
    for branch, out in (('ctr', 1), ('offset', 2), ('size', 2)):
        for k in range(4):
            p = f'box_head.conv{k + 1}_{branch}.'
            s[p + '0.weight'] = (widths[k + 1], widths[k], 3, 3)
            s[p + '0.bias'] = (widths[k + 1], )
            for n in ('weight', 'bias', 'running_mean', 'running_var'):
                s[p + '1.' + n] = (widths[k + 1], )
            s[p + '1.num_batches_tracked'] = ()
        s[f'box_head.conv5_{branch}.weight'] = (out, ch // 8, 1, 1)
        s[f'box_head.conv5_{branch}.bias'] = (out, )
    return s


def _torchvision_resnet_shapes(prefix, stem, widths, blocks):
    """torchvision / STARK ``resnet.py`` names of a BasicBlock ResNet up to layer3 (``last_layer=
    'layer3'``: no layer4, no fc) with FrozenBatchNorm2d (weight, bias, running_mean,
    running_var; no num_batches_tracked)."""
    def bn(name, c):
        return {f'{prefix}{name}.{n}': (c, )
                for n in ('weight', 'bias', 'running_mean', 'running_var')}

    s = {f'{prefix}conv1.weight': (stem, 3, 7, 7), **bn('bn1', stem)}
    cin = stem
    for li, (c, n) in enumerate(zip(widths, blocks), 1):
        for i in range(n):
            b = f'layer{li}.{i}.'
            s[f'{prefix}{b}conv1.weight'] = (c, cin, 3, 3)
            s.update(bn(b + 'bn1', c))
            s[f'{prefix}{b}conv2.weight'] = (c, c, 3, 3)
            s.update(bn(b + 'bn2', c))
            if i == 0 and li > 1:  # stride 2 (or a width change): 1x1 projection
                s[f'{prefix}{b}downsample.0.weight'] = (c, cin, 1, 1)
                s.update(bn(b + 'downsample.1', c))
            cin = c
    return s


def _official_stark_shapes(dim, ff, enc, dec, backbone_ch, head_ch):
    """A released STARK-ST checkpoint's names and shapes: ``backbone.0.body`` (ResNet),
    ``transformer`` (DETR layers with ``nn.MultiheadAttention`` ``self_attn`` /
    ``multihead_attn``, ``linear1/2``, ``norm1/2(/3)``, decoder ``norm``; post-norm encoder
    without a final norm), ``bottleneck``, ``query_embed``, ``box_head`` (``Corner_Predictor``,
    BatchNorm2d), ``cls_head`` (3-layer ``MLP``)."""
    s = {}

    def mha(p):
        s.update({p + 'in_proj_weight': (3 * dim, dim), p + 'in_proj_bias': (3 * dim, ),
                  p + 'out_proj.weight': (dim, dim), p + 'out_proj.bias': (dim, )})

    def ffn_norms(p, norms):
        s.update({p + 'linear1.weight': (ff, dim), p + 'linear1.bias': (ff, ),
                  p + 'linear2.weight': (dim, ff), p + 'linear2.bias': (dim, )})
        for k in range(1, norms + 1):
            s.update({p + f'norm{k}.weight': (dim, ), p + f'norm{k}.bias': (dim, )})

    for i in range(enc):
        p = f'transformer.encoder.layers.{i}.'
        mha(p + 'self_attn.')
        ffn_norms(p, 2)
    for i in range(dec):
        p = f'transformer.decoder.layers.{i}.'
        mha(p + 'self_attn.')
        mha(p + 'multihead_attn.')
        ffn_norms(p, 3)
    s.update({'transformer.decoder.norm.weight': (dim, ), 'transformer.decoder.norm.bias': (dim, ),
              'bottleneck.weight': (dim, backbone_ch, 1, 1), 'bottleneck.bias': (dim, ),
              'query_embed.weight': (1, dim)})
    widths = [dim, head_ch, head_ch // 2, head_ch // 4, head_ch // 8]
    for corner in ('tl', 'br'):
        for k in range(4):
            p = f'box_head.conv{k + 1}_{corner}.'
            s[p + '0.weight'] = (widths[k + 1], widths[k], 3, 3)
            s[p + '0.bias'] = (widths[k + 1], )
            for n in ('weight', 'bias', 'running_mean', 'running_var'):
                s[p + '1.' + n] = (widths[k + 1], )
            s[p + '1.num_batches_tracked'] = ()
        s[f'box_head.conv5_{corner}.weight'] = (1, head_ch // 8, 1, 1)
        s[f'box_head.conv5_{corner}.bias'] = (1, )
    for k, (a, b) in enumerate([(dim, dim), (dim, dim), (dim, 1)]):
        s[f'cls_head.layers.{k}.weight'] = (b, a)
        s[f'cls_head.layers.{k}.bias'] = (b, )
    return s


def _random_state(shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.tensor(7) if shape == () else torch.rand(shape, generator=g) + 0.5)
            for k, shape in shapes.items()}


def _assert_every_value_landed(model, official, skip=()):
    """Every model tensor (BN counters aside) holds exactly one official tensor, and every
    official tensor (``skip`` aside) is used: the mapping is a bijection on values."""
    used = set()
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            continue
        hits = [k for k, v in official.items() if v.shape == value.shape and torch.equal(v, value)]
        assert len(hits) == 1, f'{key}: {hits}'
        used.add(hits[0])
    left = {k for k in official if k not in used and not k.endswith('num_batches_tracked')}
    assert left == set(skip), left


def test_released_ostrack_checkpoint_loads(tmp_path):
    shapes = _official_ostrack_shapes(dim=64, depth=4, hidden=128, patch=8, nz=16, nx=64,
                                      in_ch=64, ch=32)
    official = _random_state(shapes)
    path = tmp_path / 'OSTrack_ep0300.pth.tar'
    torch.save({'net': official, 'epoch': 300}, path)
    model = MODELS.build(TINY_OSTRACK).eval()
    assert load_official_checkpoint(model, str(path), 'ostrack') == []
    _assert_every_value_landed(model, official, skip={'backbone.cls_token', 'backbone.pos_embed'})
    assert torch.equal(model.head.conv5_offset.weight, official['box_head.conv5_offset.weight'])
    assert torch.equal(model.backbone.blocks[3].mlp.fc1.weight,
                       official['backbone.blocks.3.mlp.fc1.weight'])


def test_released_stark_checkpoint_loads(tmp_path):
    shapes = _official_stark_shapes(dim=32, ff=64, enc=1, dec=1, backbone_ch=32, head_ch=16)
    shapes.update(_torchvision_resnet_shapes('backbone.0.body.', 8, (8, 16, 32), (2, 2, 2)))
    official = _random_state(shapes)
    path = tmp_path / 'STARKST_ep0050.pth.tar'
    torch.save({'net': official}, path)
    model = MODELS.build(TINY_STARK).eval()
    tolerated = load_official_checkpoint(model, str(path), 'stark')
    assert tolerated and all(k.startswith('backbone.') and k.endswith('num_batches_tracked')
                             for k in tolerated)  # frozen BN has no counter
    _assert_every_value_landed(model, official)
    attn = model.decoder.layers[0].cross_attn.attn
    assert torch.equal(attn.in_proj_weight,
                       official['transformer.decoder.layers.0.multihead_attn.in_proj_weight'])
    assert torch.equal(model.backbone.layer3[0].downsample[1].running_var,
                       official['backbone.0.body.layer3.0.downsample.1.running_var'])
    assert model.weights_loaded  # a stage-2 model built from it may train


def test_checkpoint_that_does_not_fit_raises_with_file_name(tmp_path):
    model = MODELS.build(TINY_OSTRACK)
    official = _random_state(_official_ostrack_shapes(64, 4, 128, 8, 16, 64, 64, 32))
    del official['backbone.norm.weight']
    official['box_head.extra.weight'] = torch.zeros(1)
    path = tmp_path / 'broken.pth'
    torch.save({'net': official}, path)
    with pytest.raises(RuntimeError, match=r'broken\.pth.*backbone\.norm\.weight.*head\.extra'):
        load_official_checkpoint(model, str(path), 'ostrack')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_official_checkpoint(model, str(tmp_path / 'missing.pth'), 'ostrack')
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(RuntimeError, match='holds no state dict'):
        load_official_checkpoint(model, str(tmp_path / 'list.pth'), 'ostrack')
