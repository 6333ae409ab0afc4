"""KUM — the knowledge unification module of iKUN (Du et al., CVPR 2024), and the local–global
fusion it wraps.

Every variant computes what the official ``model.py`` (dyhBUPT/iKUN, ``Model.visual_local_global``
and ``Model.cross_modal_fusion``) computes, in evaluation *and* in training mode, unless an
opt-in argument documented below says otherwise. Per frame of a track window (tokens of shape
(N, C), C = 2048 for CLIP RN50):

* local–global fusion (:class:`LocalGlobalFusion`, every variant):
  ``fused = local + MHA(q=local, k=global, v=global)`` (4 heads, no dropout);
* :class:`CascadeAttentionKUM` (paper default): the first 10 text token features
  (after CLIP's ``text_projection``, all of them, padding included) -> Linear 1024→C ->
  keys/values of a 4-head MHA (no dropout) whose queries are the fused tokens;
  ``V' = fused ⊙ MHA(fused, tokens, tokens)``;
* :class:`CrossCorrelationKUM`: ``k = BN(Conv1×1(s))`` from the sentence embedding s (the
  trainable text head's output, L2-normalised in evaluation mode only, as the official code);
  ``V' = BN(Conv1×1(fused + dropout(fused ⊙ k)))`` (depth-wise correlation with a one-tap
  kernel is a per-channel product);
* :class:`TextFirstKUM`: one kernel ``k = BN(Conv1×1(s))`` shared by both token sets, applied
  *before* the fusion and purely multiplicatively; the fusion then takes
  ``q = local ⊙ dropout(k)``, ``k = global ⊙ dropout(k)``, ``v = global`` (unmodulated) and the
  residual is the unmodulated local tokens;
* :class:`NoTextKUM`: the paper's no-text baseline (the fused tokens as they are).

A KUM has two hook points: :meth:`BaseKUM.pre_fusion` (text-first modulation) and
:meth:`BaseKUM.post_fusion_pairs` (cascade attention, cross correlation). Its text input is a
:class:`KUMText`: the token features of the frozen encoder and the sentence *embedding* (the
trainable head's output). All tensors are batch-aligned: row m of the visual tokens goes with
row m of the text.

Official parameters a KUM does not have: the official cascade-attention model also builds
``fusion_ffn`` and ``fusion_drop`` and the text-first model ``fusion_conv2``, none of which its
forward uses; the checkpoint converter drops them by name.
"""
from typing import NamedTuple, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ikun_mm.registry import MODELS

#: accepted values of the ``sentence_norm`` argument of the convolutional KUMs.
SENTENCE_NORMS = ('eval', 'always', 'never')


class KUMText(NamedTuple):
    """Text input of a KUM for E expressions.

    Attributes:
        tokens: Tensor of shape (E, L, D_tok): token features of the frozen text encoder.
        mask: bool Tensor of shape (E, L): True where the token exists (before CLIP's padding).
        embedding: Tensor of shape (E, D): the sentence embedding (trainable head's output).
    """
    tokens: torch.Tensor
    mask: torch.Tensor
    embedding: torch.Tensor

    def index(self, idx: torch.Tensor) -> 'KUMText':
        """Rows ``idx`` (LongTensor of shape (M,)) of every field."""
        return KUMText(self.tokens[idx], self.mask[idx], self.embedding[idx])


class LocalGlobalFusion(BaseModule):
    """Local tokens query the global tokens (multi-head cross-attention), plus a residual.

    ``out = residual + MHA(q=query, k=key, v=value)``; by default ``value = key`` and
    ``residual = query`` (the official fusion of every variant but text-first modulation,
    which passes modulated query/key and the unmodulated value and residual).
    """

    def __init__(self, dims: int, num_heads: int = 4) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dims, num_heads, dropout=0.0, batch_first=True)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor = None,
                residual: torch.Tensor = None) -> torch.Tensor:
        """Args: query Tensor (M, N_local, C); key (and value) Tensor (M, N_global, C);
        residual Tensor (M, N_local, C). Returns Tensor (M, N_local, C)."""
        value = key if value is None else value
        residual = query if residual is None else residual
        out, _ = self.attn(query, key, value, need_weights=False)
        return residual + out


class BaseKUM(BaseModule):
    """Common interface; see the module docstring.

    Args:
        visual_dims: channels C of the visual tokens.
        token_dims: dimension of the text token features.
        sentence_dims: dimension of the sentence embedding.
        num_heads: attention heads (paper: 4).
    """

    #: whether :meth:`pre_fusion` uses the text (then the fusion must run per expression).
    conditions_before_fusion = False
    #: whether the visual feature depends on the text at all.
    uses_text = True

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4) -> None:
        super().__init__()
        self.visual_dims = visual_dims

    def pre_fusion(self, local: torch.Tensor, glob: torch.Tensor,
                   text: KUMText) -> Tuple[torch.Tensor, torch.Tensor]:
        """Query and key tokens of the local–global fusion: Tensors (M, N_local, C),
        (M, N_global, C). The fusion's value and residual stay the unmodulated global and
        local tokens."""
        return local, glob

    def post_fusion(self, fused: torch.Tensor, text: KUMText) -> torch.Tensor:
        """Condition M aligned fused token sets Tensor (M, N, C) on M texts."""
        idx = torch.arange(fused.shape[0], device=fused.device)
        return self.post_fusion_pairs(fused[:, None], text, idx, idx)[:, 0]

    def post_fusion_pairs(self, fused: torch.Tensor, text: KUMText,
                          win_idx: torch.Tensor, expr_idx: torch.Tensor) -> torch.Tensor:
        """Condition the fused tokens of M (window, expression) pairs.

        Args:
            fused: Tensor of shape (W, T, N, C): fused tokens of W windows.
            text: KUMText of E expressions.
            win_idx, expr_idx: LongTensors of shape (M,): the pairs.

        Returns:
            Tensor of shape (M, T, N, C).
        """
        return fused[win_idx]


@MODELS.register_module()
class NoTextKUM(BaseKUM):
    """The paper's baseline: no text guidance; the visual feature ignores the expression."""

    uses_text = False


@MODELS.register_module()
class CascadeAttentionKUM(BaseKUM):
    """Cascade attention (paper default): ``V' = V ⊙ MHA(q=V, k=v=W_t·tokens)`` with the token
    features projected to C by ``text_fc``; Tensor (M, N, C) -> (M, N, C).

    ``attn`` is a standard ``nn.MultiheadAttention`` (the official ``fusion_visual_textual``:
    same parameters, same maths); :meth:`post_fusion_pairs` evaluates it in a factored order.
    The output projection is applied to the values *before* the weighted sum
    (``W_o Σ_j a_j v_j = Σ_j a_j (W_o v_j)``), so per expression the keys and the projected
    values are computed once, per window the queries once, and a (window, expression) pair costs
    only the attention weights and their weighted sum.

    Args:
        attn_drop: dropout on the attention weights (official: 0).
        mask_padding: opt-in; when True the tokens after CLIP's end-of-text token are not
            attended to. Off by default: the official code attends to all 10 token features
            (the padding positions of a causal transformer carry the sentence too).
    """

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, attn_drop: float = 0.0,
                 mask_padding: bool = False) -> None:
        super().__init__(visual_dims, token_dims, sentence_dims, num_heads)
        if visual_dims % num_heads:
            raise ValueError(f'visual_dims {visual_dims} must be divisible by num_heads '
                             f'{num_heads}')
        self.num_heads = num_heads
        self.mask_padding = bool(mask_padding)
        self.text_fc = nn.Linear(token_dims, visual_dims)
        self.attn = nn.MultiheadAttention(visual_dims, num_heads, dropout=attn_drop,
                                          batch_first=True)

    def _proj(self, x: torch.Tensor, which: int) -> torch.Tensor:
        """The q (0), k (1) or v (2) input projection of ``attn``."""
        c = self.visual_dims
        w = self.attn.in_proj_weight[which * c:(which + 1) * c]
        b = self.attn.in_proj_bias[which * c:(which + 1) * c]
        return F.linear(x, w, b)

    def text_memory(self, text: KUMText) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-expression keys Tensor (E, H, L, d) and out-projected values Tensor
        (E, H, L, C) (``W_o[:, head h] · v_hj``, output bias excluded); d = C / H."""
        e, l, _ = text.tokens.shape
        h, c = self.num_heads, self.visual_dims
        tokens = self.text_fc(text.tokens)
        keys = self._proj(tokens, 1).view(e, l, h, c // h).transpose(1, 2)
        values = self._proj(tokens, 2).view(e, l, h, c // h)
        w_out = self.attn.out_proj.weight.view(c, h, c // h)
        return keys, torch.einsum('elhd,chd->ehlc', values, w_out)

    def post_fusion_pairs(self, fused: torch.Tensor, text: KUMText,
                          win_idx: torch.Tensor, expr_idx: torch.Tensor) -> torch.Tensor:
        w, t, n, c = fused.shape
        h = self.num_heads
        queries = self._proj(fused, 0).view(w, t * n, h, c // h)  # once per window
        keys, values = self.text_memory(text)  # once per expression
        logits = torch.einsum('mqhd,mhld->mhql', queries[win_idx], keys[expr_idx])
        logits = logits * (c // h)**-0.5
        if self.mask_padding:
            mask = text.mask[expr_idx][:, None, None, :]
            logits = logits.masked_fill(~mask, float('-inf'))
        attn = F.dropout(logits.softmax(dim=-1), self.attn.dropout, self.training)
        # weighted sum of the out-projected values, one expression at a time (no (M, H, L, C)
        # gather of the values)
        order = torch.argsort(expr_idx, stable=True)
        uniq, counts = torch.unique_consecutive(expr_idx[order], return_counts=True)
        chunks = [torch.einsum('mhql,hlc->mqc', attn[idx], values[e])
                  for e, idx in zip(uniq.tolist(), order.split(counts.tolist()))]
        out = torch.cat(chunks)[torch.argsort(order)] + self.attn.out_proj.bias
        return fused[win_idx] * out.view(len(win_idx), t, n, c)


class _SentenceKernelKUM(BaseKUM):
    """Shared part of the convolutional KUMs: ``kernel = BN(Conv1×1(s))``, Tensor (R, D) ->
    (R, C), with s the sentence embedding.

    Args:
        dropout: dropout of the text-conditioned branch (official: 0.1).
        sentence_norm: when s is L2-normalised before the kernel. ``'eval'`` (default, the
            official behaviour): in evaluation mode only — the official text head returns a
            normalised embedding in eval mode and a raw one in training, so the kernel's
            BatchNorm statistics are collected on raw embeddings and applied to normalised
            ones. ``'always'`` (opt-in) normalises in both modes, so training and evaluation
            see the same input; ``'never'`` in neither.
    """

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, dropout: float = 0.1, sentence_norm: str = 'eval') -> None:
        super().__init__(visual_dims, token_dims, sentence_dims, num_heads)
        if sentence_norm not in SENTENCE_NORMS:
            raise ValueError(f'sentence_norm must be one of {SENTENCE_NORMS}, got '
                             f'{sentence_norm!r}')
        self.sentence_norm = sentence_norm
        self.kernel = nn.Sequential(nn.Conv1d(sentence_dims, visual_dims, 1, bias=False),
                                    nn.BatchNorm1d(visual_dims))
        self.dropout = nn.Dropout(dropout)

    def sentence_kernel(self, embedding: torch.Tensor) -> torch.Tensor:
        """Per-channel kernel of R sentence embeddings: Tensor (R, D) -> Tensor (R, C)."""
        if self.sentence_norm == 'always' or (self.sentence_norm == 'eval'
                                              and not self.training):
            embedding = F.normalize(embedding, p=2, dim=-1)
        return self.kernel(embedding[:, :, None])[:, :, 0]


@MODELS.register_module()
class CrossCorrelationKUM(_SentenceKernelKUM):
    """Cross correlation: ``V' = BN(Conv1×1(V + dropout(V ⊙ k)))`` with the per-channel kernel
    ``k = BN(Conv1×1(s))``; Tensor (M, N, C) -> (M, N, C). Arguments: see
    :class:`_SentenceKernelKUM`.
    """

    def __init__(self, visual_dims: int, token_dims: int, sentence_dims: int,
                 num_heads: int = 4, dropout: float = 0.1, sentence_norm: str = 'eval') -> None:
        super().__init__(visual_dims, token_dims, sentence_dims, num_heads, dropout,
                         sentence_norm)
        self.out = nn.Sequential(nn.Conv1d(visual_dims, visual_dims, 1, bias=False),
                                 nn.BatchNorm1d(visual_dims))

    def post_fusion_pairs(self, fused: torch.Tensor, text: KUMText,
                          win_idx: torch.Tensor, expr_idx: torch.Tensor) -> torch.Tensor:
        _, t, n, c = fused.shape
        m = len(win_idx)
        if self.training:
            # one kernel row per (pair, frame), as the official code repeats the text T times:
            # the BatchNorm statistics are those of that batch
            kernel = self.sentence_kernel(text.embedding[expr_idx.repeat_interleave(t)])
            kernel = kernel.view(m, t, 1, c)
        else:  # evaluation: BatchNorm is per row, one kernel per expression is enough
            kernel = self.sentence_kernel(text.embedding)[expr_idx].view(m, 1, 1, c)
        x = fused[win_idx]
        x = x + self.dropout(x * kernel)
        x = self.out(x.reshape(m * t, n, c).transpose(1, 2)).transpose(1, 2)
        return x.reshape(m, t, n, c)


@MODELS.register_module()
class TextFirstKUM(_SentenceKernelKUM):
    """Text-first modulation: one kernel ``k = BN(Conv1×1(s))`` scales the local and the global
    tokens *before* the local–global fusion, purely multiplicatively:
    ``q = local ⊙ dropout(k)``, ``key = global ⊙ dropout(k)``; the fusion keeps the unmodulated
    global tokens as values and the unmodulated local tokens as residual. Arguments: see
    :class:`_SentenceKernelKUM`.

    In training mode the kernel is computed once per token set, as the official code calls its
    ``fusion_conv1`` twice: same values, but the BatchNorm running statistics are updated twice
    per step, and each token set draws its own element-wise dropout mask.
    """

    conditions_before_fusion = True

    def pre_fusion(self, local: torch.Tensor, glob: torch.Tensor,
                   text: KUMText) -> Tuple[torch.Tensor, torch.Tensor]:
        k_local = self.sentence_kernel(text.embedding)[:, None, :]  # (M, 1, C)
        k_global = (self.sentence_kernel(text.embedding)[:, None, :] if self.training
                    else k_local)
        return local * self._drop_kernel(k_local, local), glob * self._drop_kernel(k_global, glob)

    def _drop_kernel(self, kernel: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Dropout of the kernel repeated over the tokens (one mask element per token and
        channel, as the official code drops the repeated kernel); the broadcast kernel itself
        when dropout is inactive."""
        if not self.training or self.dropout.p == 0:
            return kernel
        return self.dropout(kernel.expand_as(tokens).contiguous())
