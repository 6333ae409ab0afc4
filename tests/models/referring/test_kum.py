"""Each KUM variant makes the visual feature depend on the expression; the baseline does not."""
import pytest
import torch

from ._tiny import build_tiny_ikun, random_windows

SENTENCES = ['red cars moving left', 'pedestrians in white on the right']


@pytest.mark.parametrize('kum', ['CascadeAttentionKUM', 'CrossCorrelationKUM', 'TextFirstKUM',
                                 'NoTextKUM'])
def test_visual_feature_depends_on_text(kum):
    torch.set_num_threads(1)
    model = build_tiny_ikun(kum).eval()
    local, glob = random_windows(batch=1)
    with torch.no_grad():
        loc, glo = model.encode_visual(local, glob)
        text = model.encode_text(SENTENCES)
        # the same window paired with two expressions
        feats = model.unify(loc.expand(2, -1, -1, -1), glo.expand(2, -1, -1, -1), text)
    assert feats.shape == (2, model.text_encoder.sentence_dim)
    diff = (feats[0] - feats[1]).abs().max().item()
    if kum == 'NoTextKUM':
        assert diff == 0.0
    else:
        assert diff > 1e-4 * feats.abs().max().item()


def test_kum_selected_by_one_field():
    from ikun_mm.models.referring import CrossCorrelationKUM, TextFirstKUM
    assert isinstance(build_tiny_ikun('CrossCorrelationKUM').kum, CrossCorrelationKUM)
    model = build_tiny_ikun('TextFirstKUM')
    assert isinstance(model.kum, TextFirstKUM) and model.kum.conditions_before_fusion


def test_text_encoder_is_frozen_and_stays_in_eval():
    model = build_tiny_ikun()
    model.train()
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    assert not model.text_encoder.training
    assert all(p.requires_grad for n, p in model.named_parameters()
               if not n.startswith('text_encoder.'))


def test_residual_text_head_starts_at_the_encoder_embedding():
    model = build_tiny_ikun(residual_text_head=True)
    text = model.encode_text(SENTENCES)
    torch.testing.assert_close(model.sentence_embedding(text), text.sentence)
    plain = build_tiny_ikun()
    assert (plain.sentence_embedding(text) - text.sentence).abs().max() > 1e-3
