"""iKUN computes what the official model computes: converted official checkpoints give the
official logits (reference: :mod:`.official_reference`, the official eval forward restated on
the official parameter names), and cascade attention's factored evaluation equals torch's
``nn.MultiheadAttention``."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from ikun_mm.models.referring.official_weights import (KUM_TYPES, convert_official_state_dict,
                                                       official_state_dict)
from ikun_mm.registry import MODELS
from tests.utils import ROOT, load_tool
from .official_reference import (load_towers, naive_attention, official_eval_logits,
                                 random_official_state)

KUMS = ['none', 'cascade', 'cross_correlation', 'text_first']
SENTENCES = ['red cars in the left', 'moving pedestrian', 'black cars', 'women in the right']


def small_config(kum: str) -> dict:
    """An iKUN with the official architecture at small sizes: CLIP ModifiedResNet (1,1,1,1)
    width 8 (256 channels) on 64/128 inputs (2×2 / 4×4 tokens), 1-layer 32-d text tower."""
    return dict(
        type='IKUN',
        visual_encoder=dict(type='IKUNVisualEncoder',
                            backbone=dict(type='CLIPResNetBackbone', layers=(1, 1, 1, 1),
                                          width=8),
                            local_size=64, global_size=128),
        text_encoder=dict(type='CLIPTextEncoder', model_name='RN50', embed_dim=32,
                          text_cfg=dict(width=32, heads=2, layers=1, context_length=16)),
        kum=dict(type=KUM_TYPES[kum]),
        calibration=dict(type='SimilarityCalibration', sentences=['cars', 'people'],
                         shares=[0.6, 0.4], a=8.0, b=-0.1))


def _inputs(seed=1, b=4, t=2):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, t, 3, 64, 64, generator=g),
            torch.randn(b, t, 3, 128, 128, generator=g))


@pytest.mark.parametrize('kum', KUMS)
def test_converted_checkpoint_gives_the_official_logits(tmp_path, kum):
    torch.set_num_threads(2)
    state = random_official_state(kum)
    src = tmp_path / 'official.pth'
    torch.save({'model': {f'module.{k}': v for k, v in state.items()}, 'epoch': 99}, src)
    cfg_file = tmp_path / 'small_ikun.py'
    cfg_file.write_text(f'model = {small_config(kum)!r}\n')
    dst = tmp_path / 'converted.pth'
    tool = load_tool('model_converters', 'ikun_official_to_mm.py')
    assert tool.main([str(src), str(dst), '--kum', kum, '--config', str(cfg_file)]) == 0

    ckpt = torch.load(dst, map_location='cpu', weights_only=False)
    expected_dropped = {'clip.logit_scale'} | {k for k in state if '.attnpool.' in k}
    expected_dropped |= {k for k in state if k.startswith('fusion_ffn.')}
    if kum == 'text_first':
        expected_dropped |= {k for k in state if k.startswith('fusion_conv2.')}
    assert set(ckpt['meta']['dropped_unused']) == expected_dropped
    assert ckpt['meta']['kept_from_config'] == ['calibration.a', 'calibration.b']

    model = MODELS.build(small_config(kum))
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    local, glob = _inputs()
    towers = load_towers(state)
    ids = model.text_encoder.tokenizer(SENTENCES, context_length=16)
    with torch.no_grad():
        ours = model.forward_pairs(local, glob, SENTENCES)
        ref = official_eval_logits(state, towers, local, glob, ids, kum)
    assert ref.std() > 1e-3  # not a degenerate comparison
    torch.testing.assert_close(ours, ref, atol=2e-5, rtol=0)
    # the fast path (one visual encoding per window, all expressions) scores the same pairs
    with torch.no_grad():
        fast = model.score_windows(local, glob, SENTENCES)
    torch.testing.assert_close(torch.stack([fast[i][i] for i in range(4)]), ref, atol=2e-5,
                               rtol=0)


def test_converter_refuses_mismatches(tmp_path):
    tool = load_tool('model_converters', 'ikun_official_to_mm.py')
    state = random_official_state('cascade')
    src = tmp_path / 'official.pth'
    torch.save({'model': state}, src)
    cfg_file = tmp_path / 'small_ikun.py'
    cfg_file.write_text(f'model = {small_config("cascade")!r}\n')
    # a cascade-attention checkpoint converted as another variant: unknown keys are an error
    with pytest.raises(ValueError, match='fusion_fc'):
        tool.convert(str(src), str(tmp_path / 'a.pth'), 'cross_correlation', str(cfg_file))
    # a config of another variant
    torch.save({'model': random_official_state('none')}, tmp_path / 'baseline.pth')
    with pytest.raises(ValueError, match='builds CascadeAttentionKUM, but --kum none needs'):
        tool.convert(str(tmp_path / 'baseline.pth'), str(tmp_path / 'b.pth'), 'none',
                     str(cfg_file))
    # an official tensor of the wrong shape
    bad = dict(state, pos_emb_local=torch.zeros(5))
    torch.save({'model': bad}, tmp_path / 'bad.pth')
    with pytest.raises(RuntimeError, match='local_pos'):
        tool.convert(str(tmp_path / 'bad.pth'), str(tmp_path / 'c.pth'), 'cascade',
                     str(cfg_file))
    # never overwrites
    (tmp_path / 'exists.pth').write_bytes(b'mine')
    assert tool.main([str(src), str(tmp_path / 'exists.pth'), '--kum', 'cascade', '--config',
                      str(cfg_file)]) == 1
    assert (tmp_path / 'exists.pth').read_bytes() == b'mine'
    assert not (tmp_path / 'a.pth').exists()


@pytest.mark.parametrize('kum', KUMS)
def test_refer_kitti_configs_take_the_released_names_and_shapes(kum):
    """Full size (RN50, 224/672): the official state dict (names from OpenAI's CLIP, which
    open_clip shares, and the official layers) maps onto every parameter of the variant's
    Refer-KITTI config with the same shapes. Built on the meta device (no memory)."""
    from open_clip.model import _build_text_tower
    from open_clip.modified_resnet import ModifiedResNet
    with torch.device('meta'):
        visual = ModifiedResNet(layers=[3, 4, 6, 3], output_dim=1024, heads=32, image_size=224,
                                width=64)
        text = _build_text_tower(1024, dict(width=512, heads=8, layers=12, context_length=77),
                                 quick_gelu=True)
        shapes = {f'clip.visual.{k}': v.shape for k, v in visual.state_dict().items()}
        shapes.update({f'clip.{k}': v.shape for k, v in text.state_dict().items()})
        c, d = 2048, 1024
        shapes.update({'pos_emb_local': (49, ), 'pos_emb_global': (441, ),
                       'img_fc.weight': (d, c), 'img_fc.bias': (d, ),
                       'text_fc.0.weight': (d, d), 'text_fc.0.bias': (d, ),
                       'text_fc.2.weight': (d, d), 'text_fc.2.bias': (d, ),
                       'fusion_local_global.in_proj_weight': (3 * c, c),
                       'fusion_local_global.in_proj_bias': (3 * c, ),
                       'fusion_local_global.out_proj.weight': (c, c),
                       'fusion_local_global.out_proj.bias': (c, )})
        if kum == 'cascade':
            shapes.update({'fusion_fc.weight': (c, d), 'fusion_fc.bias': (c, ),
                           'fusion_visual_textual.in_proj_weight': (3 * c, c),
                           'fusion_visual_textual.in_proj_bias': (3 * c, ),
                           'fusion_visual_textual.out_proj.weight': (c, c),
                           'fusion_visual_textual.out_proj.bias': (c, ),
                           'fusion_ffn.mlp.weight': (c, c), 'fusion_ffn.norm.weight': (c, )})
        elif kum != 'none':
            for name, cin in (('fusion_conv1', d), ('fusion_conv2', c)):
                shapes.update({f'{name}.0.weight': (c, cin, 1), f'{name}.1.weight': (c, ),
                               f'{name}.1.bias': (c, ), f'{name}.1.running_mean': (c, ),
                               f'{name}.1.running_var': (c, ),
                               f'{name}.1.num_batches_tracked': ()})
        state = {f'module.{k}': torch.empty(s) for k, s in shapes.items() if k != 'clip.attn_mask'}
        config = load_tool('model_converters', 'ikun_official_to_mm.py').default_config(kum)
        assert osp.dirname(config) == osp.join(ROOT, 'configs', 'ikun')
        model = MODELS.build(Config.fromfile(config).model)
    converted, _ = convert_official_state_dict(official_state_dict({'model': state}), kum)
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()
           if not k.startswith('calibration.')}
    assert {k: tuple(v.shape) for k, v in converted.items()} == own


def test_factored_cascade_attention_equals_multihead_attention():
    """CascadeAttentionKUM.post_fusion_pairs (keys/values once per expression, output
    projection before the weighted sum) == fused ⊙ nn.MultiheadAttention(fused, text, text),
    and == the attention written out head by head."""
    from ikun_mm.models.referring.kum import CascadeAttentionKUM, KUMText
    torch.manual_seed(0)
    kum = CascadeAttentionKUM(visual_dims=16, token_dims=12, sentence_dims=8, num_heads=4).eval()
    for p in kum.parameters():  # non-zero biases everywhere
        torch.nn.init.normal_(p, std=0.3)
    w, t, n, e, length = 3, 2, 5, 4, 10
    fused = torch.randn(w, t, n, 16)
    text = KUMText(torch.randn(e, length, 12), torch.ones(e, length, dtype=torch.bool),
                   torch.randn(e, 8))
    win = torch.tensor([0, 2, 1, 2, 0, 1])
    expr = torch.tensor([3, 3, 0, 1, 2, 0])
    with torch.no_grad():
        out = kum.post_fusion_pairs(fused, text, win, expr)
        tokens = kum.text_fc(text.tokens)
        for m, (i, j) in enumerate(zip(win.tolist(), expr.tolist())):
            q = fused[i].reshape(t * n, 16)
            mha, _ = kum.attn(q[None], tokens[j][None], tokens[j][None])
            torch.testing.assert_close(out[m].reshape(t * n, 16), q * mha[0], atol=1e-6,
                                       rtol=1e-5)
            naive = naive_attention(q, tokens[j], tokens[j], kum.attn.in_proj_weight,
                                    kum.attn.in_proj_bias, kum.attn.out_proj.weight,
                                    kum.attn.out_proj.bias, 4)
            torch.testing.assert_close(out[m].reshape(t * n, 16), q * naive, atol=1e-6,
                                       rtol=1e-5)
    # opt-in padding mask == torch's key_padding_mask
    masked = CascadeAttentionKUM(16, 12, 8, 4, mask_padding=True).eval()
    masked.load_state_dict(kum.state_dict())
    mask = torch.arange(length)[None] < torch.tensor([3, 10, 1, 6])[:, None]
    text = text._replace(mask=mask)
    with torch.no_grad():
        out = masked.post_fusion_pairs(fused, text, win, expr)
        for m, (i, j) in enumerate(zip(win.tolist(), expr.tolist())):
            q = fused[i].reshape(t * n, 16)
            mha, _ = masked.attn(q[None], tokens[j][None], tokens[j][None],
                                 key_padding_mask=~mask[j][None])
            torch.testing.assert_close(out[m].reshape(t * n, 16), q * mha[0], atol=1e-6,
                                       rtol=1e-5)
