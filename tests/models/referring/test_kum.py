"""Each KUM variant makes the visual feature depend on the expression; the baseline does not."""
import pytest
import torch

from ikun_mm.registry import MODELS
from ._tiny import build_tiny_ikun, random_windows, tiny_ikun_cfg

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
        win, expr = torch.zeros(2, dtype=torch.long), torch.arange(2)
        feats = model.unify_pairs(loc, glo, model.kum_text(text), win, expr)
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


def test_text_encoder_trains_only_its_embeddings_as_the_official_code():
    """Official ``_freeze_text_encoder``: transformer, ln_final and text_projection frozen; the
    token and positional embeddings train. ``train_embeddings=False`` freezes everything."""
    model = build_tiny_ikun()
    model.train()
    trainable = {n for n, p in model.text_encoder.named_parameters() if p.requires_grad}
    assert trainable == {'tower.token_embedding.weight', 'tower.positional_embedding'}
    assert not model.text_encoder.training
    assert all(p.requires_grad for n, p in model.named_parameters()
               if not n.startswith('text_encoder.'))
    local, glob = random_windows(batch=2)
    model.forward_pairs(local, glob, SENTENCES).sum().backward()
    grad = model.text_encoder.tower.token_embedding.weight.grad
    used = model.text_encoder.tokenizer(SENTENCES, context_length=16).unique()
    assert grad[used].abs().sum() > 0
    unused = torch.ones(len(grad), dtype=torch.bool)
    unused[used] = False
    assert grad[unused].abs().sum() == 0
    frozen = build_tiny_ikun(text_encoder=dict(
        type='CLIPTextEncoder', model_name='RN50', embed_dim=32, train_embeddings=False,
        text_cfg=dict(width=32, heads=2, layers=1, context_length=16)))
    assert frozen.text_encoder.is_frozen
    assert not frozen.encode_text(SENTENCES).sentence.requires_grad


def test_text_first_updates_its_kernel_norm_once_per_token_set():
    """The official text-first model runs its conv1+BN once for the local and once for the
    global tokens: in training the running statistics are updated twice per step, in
    evaluation not at all."""
    model = build_tiny_ikun('TextFirstKUM')
    bn = model.kum.kernel[1]
    local, glob = random_windows(batch=2)
    model.train()
    before = int(bn.num_batches_tracked)
    model.forward_pairs(local, glob, SENTENCES)
    assert int(bn.num_batches_tracked) == before + 2
    model.eval()
    with torch.no_grad():
        model.forward_pairs(local, glob, SENTENCES)
    assert int(bn.num_batches_tracked) == before + 2


@pytest.mark.parametrize('kum', ['CrossCorrelationKUM', 'TextFirstKUM'])
def test_kernel_sees_the_normalised_embedding_in_eval_only(kum):
    """Official: the text head's output is L2-normalised in eval mode only, so in training the
    kernel sees the raw embedding (its scale matters); ``sentence_norm='always'`` (opt-in)
    normalises in both modes."""
    from ikun_mm.models.referring.kum import SENTENCE_NORMS
    assert SENTENCE_NORMS[0] == 'eval'
    for norm, train_invariant in (('eval', False), ('always', True)):
        cfg = tiny_ikun_cfg(kum)
        cfg['kum'] = dict(type=kum, dropout=0.0, sentence_norm=norm)
        model = MODELS.build(cfg)
        emb = torch.randn(6, model.kum.kernel[0].in_channels)
        model.kum.eval()
        torch.testing.assert_close(model.kum.sentence_kernel(emb),
                                   model.kum.sentence_kernel(3 * emb))
        model.kum.train()
        same = torch.allclose(model.kum.sentence_kernel(emb), model.kum.sentence_kernel(3 * emb),
                              atol=1e-5)
        assert same == train_invariant


def test_residual_text_head_starts_at_the_encoder_embedding():
    model = build_tiny_ikun(residual_text_head=True)
    text = model.encode_text(SENTENCES)
    torch.testing.assert_close(model.sentence_embedding(text), text.sentence)
    plain = build_tiny_ikun()
    assert (plain.sentence_embedding(text) - text.sentence).abs().max() > 1e-3
