"""A tiny iKUN for CPU tests: 32² local / 64² global inputs, 32 channels, 1-layer text tower."""
import copy

import torch

LOCAL, GLOBAL = 32, 64
#: the convolutional KUMs have a dropout (official 0.1); off in the tiny tests
KUM_NO_DROPOUT = dict(CrossCorrelationKUM=dict(dropout=0.0), TextFirstKUM=dict(dropout=0.0))


def tiny_ikun_cfg(kum: str = 'CascadeAttentionKUM', **overrides) -> dict:
    cfg = dict(
        type='IKUN',
        visual_encoder=dict(type='IKUNVisualEncoder',
                            backbone=dict(type='TinyConvBackbone', channels=(8, 8, 16, 16, 32)),
                            local_size=LOCAL, global_size=GLOBAL),
        text_encoder=dict(type='CLIPTextEncoder', model_name='RN50', embed_dim=32,
                          text_cfg=dict(width=32, heads=2, layers=1, context_length=16)),
        kum=dict(type=kum, **KUM_NO_DROPOUT.get(kum, {})))
    cfg.update(copy.deepcopy(overrides))
    return cfg


def build_tiny_ikun(kum: str = 'CascadeAttentionKUM', seed: int = 0, **overrides):
    from ikun_mm.registry import MODELS
    torch.manual_seed(seed)
    return MODELS.build(tiny_ikun_cfg(kum, **overrides))


def random_windows(batch: int = 2, t: int = 2, seed: int = 0):
    """Normalised-looking inputs: Tensors (B, T, 3, 32, 32) and (B, T, 3, 64, 64)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, t, 3, LOCAL, LOCAL, generator=g),
            torch.randn(batch, t, 3, GLOBAL, GLOBAL, generator=g))
