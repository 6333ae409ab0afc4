"""KUM — the knowledge unification module of iKUN (SPEC §3.3, §3.5).

A KUM conditions the visual tokens of a track window on an expression. It has two hook points
around the local–global fusion (:class:`LocalGlobalFusion`):

* :meth:`BaseKUM.pre_fusion` (local, global tokens, text) -> (local, global): used by
  :class:`TextFirstKUM`;
* :meth:`BaseKUM.post_fusion` (fused tokens, text) -> fused: used by
  :class:`CascadeAttentionKUM` and :class:`CrossCorrelationKUM`.

:class:`NoTextKUM` is the paper's no-text baseline (both hooks are the identity). The variant is
selected by one config field, ``model.kum.type``.

All tensors are batch-aligned: row m of the visual tokens is paired with row m of the
:class:`~.encoders.TextFeatures`; the caller repeats visual tokens (fast inference) or text
features (T frames) to align them.

Deliberate differences from the original code: the sentence feature fed to the two
convolutional variants is L2-normalised in training *and* evaluation (the original normalised
it only in eval mode), and the 1×1 convolutions on a 1×1 map are written as ``nn.Linear``.
"""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ikun_mm.registry import MODELS
from .encoders import TextFeatures


class LocalGlobalFusion(BaseModule):
    """Local tokens query the global tokens (multi-head cross-attention) plus a residual.

    ``fused = local + MHA(q=local, k=v=global)``; Tensor shapes (M, N_local, C) and
    (M, N_global, C) -> (M, N_local, C).
    """

    def __init__(self, dims: int, num_heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dims, num_heads, dropout=dropout, batch_first=True)

    def forward(self, local: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
        out, _ = self.attn(local, glob, glob, need_weights=False)
        return local + out


class BaseKUM(BaseModule):
    """Common interface; see the module docstring.

    Args:
        visual_dims: channels C of the visual tokens.
        token_dims: dimension of the text token features.
        sentence_dims: dimension of the (frozen encoder's) sentence feature.
        num_heads: attention heads (paper: 4).
        dropout: dropout of the text-conditioned branch.
    """

    #: whether :meth:`pre_fusion` uses the text (then the fusion must run per expression).
    conditions_before_fusion = False
    #: whether the visual feature depends on the text at all.
    uses_text = True

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        self.visual_dims = visual_dims

    def pre_fusion(self, local: torch.Tensor, glob: torch.Tensor,
                   text: TextFeatures) -> Tuple[torch.Tensor, torch.Tensor]:
        return local, glob

    def post_fusion(self, fused: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        return fused


@MODELS.register_module()
class NoTextKUM(BaseKUM):
    """The paper's baseline: no text guidance; the visual feature ignores the expression."""

    uses_text = False


@MODELS.register_module()
class CascadeAttentionKUM(BaseKUM):
    """Cascade attention (paper default): the fused visual tokens attend to the text token
    features projected to C (MHA, ``num_heads``), and the attention output multiplies them:
    ``V' = V ⊙ MHA(q=V, k=v=W·tokens)``; Tensor (M, N, C) -> (M, N, C).
    """

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__(visual_dims, token_dims, sentence_dims, num_heads, dropout)
        self.text_proj = nn.Linear(token_dims, visual_dims)
        self.attn = nn.MultiheadAttention(visual_dims, num_heads, dropout=dropout,
                                          batch_first=True)

    def post_fusion(self, fused: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        keys = self.text_proj(text.tokens)
        out, _ = self.attn(fused, keys, keys, key_padding_mask=~text.mask, need_weights=False)
        return fused * out


def _sentence_kernel(linear: nn.Linear, norm: nn.BatchNorm1d,
                     sentence: torch.Tensor) -> torch.Tensor:
    """Per-channel kernel from the L2-normalised sentence feature: (M, D) -> (M, 1, C)."""
    return norm(linear(F.normalize(sentence, dim=-1))).unsqueeze(1)


@MODELS.register_module()
class CrossCorrelationKUM(BaseKUM):
    """Cross correlation: a 1×1 conv + BN turns the sentence feature into a per-channel kernel k
    (depth-wise correlation with a 1-tap kernel = channel scaling) applied to the fused tokens:
    ``V' = conv2(V + dropout(V ⊙ k))``; Tensor (M, N, C) -> (M, N, C).
    """

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__(visual_dims, token_dims, sentence_dims, num_heads, dropout)
        self.kernel = nn.Linear(sentence_dims, visual_dims)
        self.kernel_norm = nn.BatchNorm1d(visual_dims)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Linear(visual_dims, visual_dims)

    def post_fusion(self, fused: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        k = _sentence_kernel(self.kernel, self.kernel_norm, text.sentence)
        return self.conv2(fused + self.dropout(fused * k))


@MODELS.register_module()
class TextFirstKUM(BaseKUM):
    """Text-first modulation: the sentence feature (1×1 conv + BN, one kernel for the local and
    one for the global tokens) modulates both token sets *before* the local–global fusion:
    ``V' = V + dropout(V ⊙ k)``.
    """

    conditions_before_fusion = True

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__(visual_dims, token_dims, sentence_dims, num_heads, dropout)
        self.local_kernel = nn.Linear(sentence_dims, visual_dims)
        self.local_norm = nn.BatchNorm1d(visual_dims)
        self.global_kernel = nn.Linear(sentence_dims, visual_dims)
        self.global_norm = nn.BatchNorm1d(visual_dims)
        self.dropout = nn.Dropout(dropout)

    def pre_fusion(self, local: torch.Tensor, glob: torch.Tensor,
                   text: TextFeatures) -> Tuple[torch.Tensor, torch.Tensor]:
        kl = _sentence_kernel(self.local_kernel, self.local_norm, text.sentence)
        kg = _sentence_kernel(self.global_kernel, self.global_norm, text.sentence)
        return local + self.dropout(local * kl), glob + self.dropout(glob * kg)
