"""``IKUN``: the insertable referring network of iKUN (Du et al., CVPR 2024).

Per (track window, expression), as the official ``model.py`` (dyhBUPT/iKUN, ``Model.forward``)::

    local crops (B, T, 3, h, w), global frames (B, T, 3, H, W)
        -> visual encoder (backbone + positional terms)       [once per window]
        -> [TextFirstKUM] -> local-global fusion -> [CascadeAttention / CrossCorrelation KUM]
        -> mean over tokens, mean over T, Linear C->D = v
    expression -> text encoder -> tokens (L, D_tok), sentence feature f
        -> Linear-ReLU-Linear head = s                          [once per expression]
    score = cos(v, s)

The KUM sees the token features (cascade attention) or the sentence embedding s (the
convolutional variants; see :mod:`.kum`).

Two ways to run it, with identical maths:

* :meth:`IKUN.forward_pairs` — the naive path and the entry point that mirrors the official
  ``forward`` in evaluation mode: B normalised local/global inputs and B sentences -> B cosine
  logits;
* :meth:`IKUN.score_windows` — the fast path: the visual encoder runs once per window (it does
  not depend on the text), then KUM, fusion and head run for all expressions in one batch.

Both run :meth:`IKUN.score_pairs`: given W windows, E expressions and M (window, expression)
pairs it computes the text-only parts once per expression, the window-only parts once per window
and only the rest per pair. Training (:meth:`loss`) and validation (:meth:`predict`) use it too.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from ikun_mm.registry import MODELS
from .encoders import TextFeatures
from .kum import KUMText, LocalGlobalFusion


@MODELS.register_module()
class IKUN(BaseModel):
    """iKUN: scores a track window against free-text expressions.

    Args:
        visual_encoder: config of :class:`~.encoders.IKUNVisualEncoder`.
        text_encoder: config of a text encoder (:class:`~.encoders.CLIPTextEncoder`,
            :class:`~.encoders.SentenceTransformerTextEncoder`).
        kum: config of the KUM; its ``type`` selects the variant (``CascadeAttentionKUM``,
            ``CrossCorrelationKUM``, ``TextFirstKUM``, ``NoTextKUM``). Dimensions are filled in.
        num_heads: heads of the local–global fusion (paper: 4).
        feature_dim: dimension D of the joint space (official ``feature_dim``, 1024); ``None``:
            the text encoder's sentence dimension.
        loss: config of the loss (:class:`~.losses.CosineFocalLoss`).
        calibration: optional config of :class:`~.calibration.SimilarityCalibration` (test
            time; ``enabled=False`` switches it off). Without its own ``text_encoder`` it uses
            this model's.
        data_preprocessor: config of :class:`~.data_preprocessor.IKUNDataPreprocessor`.
        max_pairs: (window, expression) pairs per KUM + head call in :meth:`score_windows`
            (bounds memory; does not change the results).
        residual_text_head: opt-in; ``s = f + head(f)`` with the head's last layer
            zero-initialised, instead of the official ``s = head(f)``. The sentence embedding
            then starts as the frozen encoder's own and stays close to it, so with a real
            language model (MiniLM) unseen sentences keep their semantic distances. Needs
            ``feature_dim`` equal to the sentence dimension.

    Differences from the original iKUN code that do not change its outputs: every weight file
    that fails to load raises; nothing is cached across calls; cascade attention is evaluated
    in a factored order (see :class:`~.kum.CascadeAttentionKUM`); the pooled visual feature and
    the sentence embedding are not L2-normalised before the cosine (the official evaluation
    normalises both, which leaves the cosine unchanged).
    """

    def __init__(self,
                 visual_encoder: dict,
                 text_encoder: dict,
                 kum: dict = dict(type='CascadeAttentionKUM'),
                 num_heads: int = 4,
                 feature_dim: Optional[int] = None,
                 loss: dict = dict(type='CosineFocalLoss', gamma=2.0, reduction='sum'),
                 calibration: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = dict(type='IKUNDataPreprocessor'),
                 max_pairs: int = 256,
                 residual_text_head: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.max_pairs = int(max_pairs)
        self.visual_encoder = MODELS.build(visual_encoder)
        self.text_encoder = MODELS.build(text_encoder)
        c = self.visual_encoder.out_channels
        dt, ds = self.text_encoder.token_dim, self.text_encoder.sentence_dim
        d = int(feature_dim or ds)
        self.residual_text_head = bool(residual_text_head)
        if self.residual_text_head and d != ds:
            raise ValueError(f'residual_text_head needs feature_dim ({d}) equal to the '
                             f'sentence dimension of the text encoder ({ds})')
        kum = dict(kum)
        kum.setdefault('visual_dims', c)
        kum.setdefault('token_dims', dt)
        kum.setdefault('sentence_dims', d)
        kum.setdefault('num_heads', num_heads)
        self.kum = MODELS.build(kum)
        self.fusion = LocalGlobalFusion(c, num_heads)
        self.text_head = nn.Sequential(nn.Linear(ds, ds), nn.ReLU(inplace=True), nn.Linear(ds, d))
        if self.residual_text_head:
            nn.init.zeros_(self.text_head[2].weight)
            nn.init.zeros_(self.text_head[2].bias)
        self.visual_proj = nn.Linear(c, d)
        self.loss_module = MODELS.build(loss)
        self.calibration = MODELS.build(calibration) if calibration else None
        if self.calibration is not None:
            self.calibration.bind_text_encoder(self.text_encoder)

    @property
    def local_size(self) -> int:
        return self.visual_encoder.local_size

    @property
    def global_size(self) -> int:
        return self.visual_encoder.global_size

    # ------------------------------------------------------------------ building blocks
    def encode_text(self, sentences: Sequence[str]) -> TextFeatures:
        """Frozen text features of E sentences (see :class:`~.encoders.TextFeatures`)."""
        return self.text_encoder(list(sentences))

    def encode_visual(self, local: torch.Tensor,
                      glob: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Backbone + positional terms of B windows.

        Args:
            local: Tensor of shape (B, T, 3, h, w), normalised.
            glob: Tensor of shape (B, T, 3, H, W), normalised.

        Returns:
            local tokens Tensor (B, T, N_local, C) and global tokens Tensor (B, T, N_global, C).

        Raises:
            ValueError: the crops are not of the sizes the model was built for (its positional
                terms have one entry per token of a ``local_size``² / ``global_size``² input);
                the message names both sizes.
        """
        want = (self.local_size, self.global_size)
        got = (tuple(local.shape[-2:]), tuple(glob.shape[-2:]))
        if got != ((want[0], ) * 2, (want[1], ) * 2):
            raise ValueError(
                f'IKUN was built for local crops {want[0]}x{want[0]} and global frames '
                f'{want[1]}x{want[1]} (model.visual_encoder.local_size/global_size) but received '
                f'local {got[0][0]}x{got[0][1]} and global {got[1][0]}x{got[1][1]}: crop at the '
                "model's sizes (leave CropLocalGlobal's sizes unset in the config, or give these)")
        b, t = local.shape[:2]
        loc, glo = self.visual_encoder(local.flatten(0, 1), glob.flatten(0, 1))
        return loc.unflatten(0, (b, t)), glo.unflatten(0, (b, t))

    def sentence_embedding(self, text: TextFeatures) -> torch.Tensor:
        """Trainable head on the sentence feature: Tensor (E, D)."""
        out = self.text_head(text.sentence)
        return text.sentence + out if self.residual_text_head else out

    def kum_text(self, text: TextFeatures) -> KUMText:
        """What the KUM reads of E expressions: token features and sentence embeddings."""
        return KUMText(text.tokens, text.mask, self.sentence_embedding(text))

    def unify_pairs(self, local: torch.Tensor, glob: Optional[torch.Tensor],
                    text: KUMText, win_idx: torch.Tensor,
                    expr_idx: torch.Tensor) -> torch.Tensor:
        """KUM, fusion and pooling of M (window, expression) pairs.

        Args:
            local: Tensor of shape (W, T, N_local, C): local tokens of W windows.
            glob: Tensor of shape (W, T, N_global, C), or ``None`` when ``local`` already holds
                the fused tokens (post-fusion KUMs only).
            text: KUMText of E expressions (tokens and sentence embeddings).
            win_idx, expr_idx: LongTensors of shape (M,): window and expression of each pair.

        Returns:
            Tensor of shape (M, D): the text-conditioned visual feature of each pair (mean over
            tokens and frames, then Linear C→D).
        """
        m = len(win_idx)
        if self.kum.conditions_before_fusion:
            if glob is None:
                raise ValueError(f'{type(self.kum).__name__} conditions the tokens before the '
                                 'fusion: give the unfused global tokens')
            t = local.shape[1]
            loc = local[win_idx].flatten(0, 1)
            glo = glob[win_idx].flatten(0, 1)
            # one text row per (pair, frame), as the official code repeats the text T times
            query, key = self.kum.pre_fusion(loc, glo, text.index(expr_idx.repeat_interleave(t)))
            fused = self.fusion(query, key, glo, loc).unflatten(0, (m, t))
            idx = torch.arange(m, device=fused.device)
            out = self.kum.post_fusion_pairs(fused, text.index(expr_idx), idx, idx)
        else:
            fused = local
            if glob is not None:  # the fusion does not depend on the text: once per window
                w, t = local.shape[:2]
                fused = self.fusion(local.flatten(0, 1), glob.flatten(0, 1)).unflatten(0, (w, t))
            out = self.kum.post_fusion_pairs(fused, text, win_idx, expr_idx)
        return self.visual_proj(out.mean(dim=(1, 2)))

    def score_pairs(self, local: torch.Tensor, glob: Optional[torch.Tensor], text: TextFeatures,
                    win_idx: torch.Tensor, expr_idx: torch.Tensor) -> torch.Tensor:
        """Cosine between :meth:`unify_pairs` and the sentence embedding (computed once per
        expression): Tensor (M,) in [-1, 1]."""
        kum_text = self.kum_text(text)
        visual = self.unify_pairs(local, glob, kum_text, win_idx, expr_idx)
        return F.cosine_similarity(visual, kum_text.embedding[expr_idx], dim=-1)

    # ------------------------------------------------------------------ the two paths
    def forward_pairs(self, local: torch.Tensor, glob: torch.Tensor,
                      sentences: Sequence[str]) -> torch.Tensor:
        """Naive path: full forward of B (window, expression) pairs, text encoded here too.

        Args:
            local: Tensor (B, T, 3, h, w); glob: Tensor (B, T, 3, H, W); sentences: B strings.

        Returns:
            Tensor of shape (B,).
        """
        if len(sentences) != local.shape[0]:
            raise ValueError(f'{local.shape[0]} windows but {len(sentences)} sentences')
        loc, glo = self.encode_visual(local, glob)
        idx = torch.arange(local.shape[0], device=loc.device)
        return self.score_pairs(loc, glo, self.encode_text(sentences), idx, idx)

    def score_windows(self, local: torch.Tensor, glob: torch.Tensor,
                      text: Union[TextFeatures, Sequence[str]],
                      pairs: Optional[Sequence[Sequence[int]]] = None) -> List[torch.Tensor]:
        """Fast path: visual encoder once per window, KUM + head for its expressions batched.

        Args:
            local: Tensor (B, T, 3, h, w); glob: Tensor (B, T, 3, H, W).
            text: TextFeatures of E expressions (or the E sentences).
            pairs: per window, the indices (into the E expressions) to score; ``None`` scores
                every window against all E.

        Returns:
            list of B Tensors; the b-th has shape (len(pairs[b]),) (or (E,)).
        """
        if not isinstance(text, TextFeatures):
            text = self.encode_text(text)
        num_expr = text.sentence.shape[0]
        b = local.shape[0]
        if pairs is None:
            pairs = [range(num_expr)] * b
        loc, glo = self.encode_visual(local, glob)
        device = loc.device
        win_idx = torch.cat([torch.full((len(p), ), i, dtype=torch.long)
                             for i, p in enumerate(pairs)]).to(device)
        expr_idx = torch.cat([torch.as_tensor(list(p), dtype=torch.long)
                              for p in pairs]).to(device)
        scores = torch.cat([
            self.score_pairs(loc, glo, text, w, e)
            for w, e in zip(win_idx.split(self.max_pairs), expr_idx.split(self.max_pairs))
        ])
        return list(scores.split([len(p) for p in pairs]))

    # ------------------------------------------------------------------ mmengine API
    def _batch_text(self, data_samples: Sequence[BaseDataElement]
                    ) -> Tuple[TextFeatures, List[List[int]], List[str]]:
        """Unique sentences of a batch, their features, and each sample's indices into them."""
        unique: Dict[str, int] = {}
        pairs = []
        for sample in data_samples:
            pairs.append([unique.setdefault(s, len(unique)) for s in sample.sentences])
        sentences = list(unique)
        return self.encode_text(sentences), pairs, sentences

    def forward(self, inputs: dict, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            text, pairs, _ = self._batch_text(data_samples)
            return self.score_windows(inputs['local'], inputs['global'], text, pairs)
        raise ValueError(f'mode must be "loss", "predict" or "tensor", got {mode!r}')

    def loss(self, inputs: dict, data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """Focal BCE over every (window, expression) pair of the batch.

        Args:
            inputs: ``{'local': Tensor (B, T, 3, h, w), 'global': Tensor (B, T, 3, H, W)}``.
            data_samples: B samples with ``sentences`` (list) and ``labels`` (Tensor, one per
                sentence).
        """
        text, pairs, _ = self._batch_text(data_samples)
        scores = torch.cat(self.score_windows(inputs['local'], inputs['global'], text, pairs))
        labels = torch.cat([s.labels for s in data_samples]).to(scores)
        with torch.no_grad():
            acc = ((scores > 0).float() == labels).float().mean()
        return dict(loss_ikun=self.loss_module(scores, labels), acc=acc)

    def predict(self, inputs: dict,
                data_samples: List[BaseDataElement]) -> List[BaseDataElement]:
        """Scores of every window against its sentences.

        Returns:
            the B samples with ``scores`` (Tensor (E,), raw cosine) and, when calibration is
            configured and enabled, ``calibrated_scores`` (Tensor (E,)).
        """
        text, pairs, sentences = self._batch_text(data_samples)
        scores = self.score_windows(inputs['local'], inputs['global'], text, pairs)
        freq = None
        if self.calibration is not None and self.calibration.enabled:
            freq = self.calibration.pseudo_frequency(sentences)
        for sample, p, s in zip(data_samples, pairs, scores):
            sample.scores = s.detach()
            if freq is not None:
                idx = torch.as_tensor(p, device=freq.device)
                sample.calibrated_scores = self.calibration(s.detach(), None, freq[idx])
        return list(data_samples)
