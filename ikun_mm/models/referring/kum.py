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
import math
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

    def post_fusion_pairs(self, fused: torch.Tensor, text: TextFeatures,
                          win_idx: torch.Tensor, expr_idx: torch.Tensor) -> torch.Tensor:
        """:meth:`post_fusion` of M (window, expression) pairs given per window and per
        expression.

        Args:
            fused: Tensor of shape (W, T, N, C): fused tokens of W windows.
            text: TextFeatures of E expressions.
            win_idx, expr_idx: LongTensors of shape (M,): the pairs.

        Returns:
            Tensor of shape (M, T, N, C). Subclasses may compute the text- and window-only
            parts once (see :class:`CascadeAttentionKUM`); the result is the same.
        """
        m, t = len(win_idx), fused.shape[1]
        x = fused[win_idx].flatten(0, 1)
        text_t = text.index(expr_idx.repeat_interleave(t))
        return self.post_fusion(x, text_t).unflatten(0, (m, t))


@MODELS.register_module()
class NoTextKUM(BaseKUM):
    """The paper's baseline: no text guidance; the visual feature ignores the expression."""

    uses_text = False


@MODELS.register_module()
class CascadeAttentionKUM(BaseKUM):
    """Cascade attention (paper default): the fused visual tokens attend to the text token
    features projected to C (multi-head attention, ``num_heads``), and the attention output
    multiplies them: ``V' = V ⊙ MHA(q=V, k=v=W_t·tokens)``; Tensor (M, N, C) -> (M, N, C).

    The attention is standard scaled dot-product MHA with q/k/v/out projections, written out
    so that the output projection can be applied to the values *before* the weighted sum
    (``W_o Σ_j a_j v_j = Σ_j a_j (W_o v_j)``): per expression the keys and the projected values
    are computed once, per window the queries once, and a (window, expression) pair costs only
    the attention weights and their weighted sum. Exactly the same maths for one pair
    (:meth:`post_fusion`) and many (:meth:`post_fusion_pairs`).
    """

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__(visual_dims, token_dims, sentence_dims, num_heads, dropout)
        if visual_dims % num_heads:
            raise ValueError(f'visual_dims {visual_dims} must be divisible by num_heads '
                             f'{num_heads}')
        self.num_heads = num_heads
        self.text_proj = nn.Linear(token_dims, visual_dims)
        self.q_proj = nn.Linear(visual_dims, visual_dims)
        self.k_proj = nn.Linear(visual_dims, visual_dims)
        self.v_proj = nn.Linear(visual_dims, visual_dims)
        self.out_proj = nn.Linear(visual_dims, visual_dims)
        self.attn_drop = nn.Dropout(dropout)
        # initialised like nn.MultiheadAttention: Xavier-uniform over the stacked q/k/v
        # (3C x C) matrix, zero q/k/v and output biases
        bound = math.sqrt(6.0 / (4 * visual_dims))
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.uniform_(proj.weight, -bound, bound)
            nn.init.zeros_(proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def text_memory(self, text: TextFeatures) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-expression keys Tensor (E, H, L, d) and out-projected values Tensor
        (E, H, L, C) (``W_o[:, head h] · v_hj``, output bias excluded)."""
        e, l, _ = text.tokens.shape
        h, c = self.num_heads, self.visual_dims
        tokens = self.text_proj(text.tokens)
        keys = self.k_proj(tokens).view(e, l, h, c // h).transpose(1, 2)
        values = self.v_proj(tokens).view(e, l, h, c // h)
        w_out = self.out_proj.weight.view(c, h, c // h)
        return keys, torch.einsum('elhd,chd->ehlc', values, w_out)

    def post_fusion_pairs(self, fused: torch.Tensor, text: TextFeatures,
                          win_idx: torch.Tensor, expr_idx: torch.Tensor) -> torch.Tensor:
        w, t, n, c = fused.shape
        h = self.num_heads
        queries = self.q_proj(fused).view(w, t * n, h, c // h)  # once per window
        keys, values = self.text_memory(text)  # once per expression
        logits = torch.einsum('mqhd,mhld->mhql', queries[win_idx], keys[expr_idx])
        logits = logits * (c // h)**-0.5
        mask = text.mask[expr_idx][:, None, None, :]
        attn = self.attn_drop(logits.masked_fill(~mask, float('-inf')).softmax(dim=-1))
        # weighted sum of the out-projected values, one expression at a time (no (M, H, L, C)
        # gather of the values)
        order = torch.argsort(expr_idx, stable=True)
        uniq, counts = torch.unique_consecutive(expr_idx[order], return_counts=True)
        chunks = [torch.einsum('mhql,hlc->mqc', attn[idx], values[e])
                  for e, idx in zip(uniq.tolist(), order.split(counts.tolist()))]
        out = torch.cat(chunks)[torch.argsort(order)] + self.out_proj.bias
        return fused[win_idx] * out.view(len(win_idx), t, n, c)

    def post_fusion(self, fused: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        idx = torch.arange(fused.shape[0], device=fused.device)
        return self.post_fusion_pairs(fused[:, None], text, idx, idx)[:, 0]


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
