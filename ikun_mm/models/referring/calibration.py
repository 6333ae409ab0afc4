"""Similarity calibration of iKUN (the paper's "similarity calibration"; official code
dyhBUPT/iKUN ``similarity_calibration.py``), test time only.

Pseudo-frequency of an expression e: cosine similarities s_j between e and every training
expression j under a frozen text encoder (paper: CLIP ViT-B/32), min-max normalised to [0, 1],
softmax with temperature τ (paper: 100) -> weights w_j; ``p(e) = Σ_j w_j p_j``. Calibrated score
= ``score + a·p(e) + b`` (paper: a=8, b=−0.1), added per window before the frame average.

``p_j`` (:func:`positive_box_shares`), as the official code counts it: the number of positive
(frame, track) boxes of training expression j (summed over the training videos) divided by the
number of positive boxes of all training expressions. The shares sum to 1, so their mean is
1/J (J = number of training expressions; ≈ 0.0125 on Refer-KITTI), and p(e), a convex
combination of them, lies between the smallest and the largest share. With ``synonyms`` (the
official code always maps them) the table is built over canonical texts
(:mod:`ikun_mm.datasets.expression_synonyms`): ``cars in red`` and ``vehicles in red`` count as
one expression, and the queries are mapped the same way before they are embedded.

``a`` and ``b`` are buffers: they travel with the model's state dict, and
``tools/analysis/fit_calibration.py`` fits them on a validation split and stores them (state dict
and ``meta['calibration']``) in a new checkpoint.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ikun_mm.registry import MODELS

#: ``None`` (off), a table name (``'refer_kitti'``) or a dict ``{phrase: replacement}``; see
#: :mod:`ikun_mm.datasets.expression_synonyms` (imported only when synonyms are used).
Synonyms = Union[None, str, Mapping[str, str]]


def pseudo_frequency(query: torch.Tensor, keys: torch.Tensor, shares: torch.Tensor,
                     tau: float = 100.0) -> torch.Tensor:
    """Pseudo-frequency p(e) of Q query expressions.

    Args:
        query: Tensor of shape (Q, D): text features of the expressions to calibrate.
        keys: Tensor of shape (J, D): text features of the training expressions.
        shares: Tensor of shape (J,): positive-box share p_j of each training expression.
        tau: softmax temperature applied to the min-max normalised similarities.

    Returns:
        Tensor of shape (Q,). With a single training expression (or all similarities equal)
        the weights are uniform.
    """
    sim = F.normalize(query.float(), dim=-1) @ F.normalize(keys.float(), dim=-1).T  # (Q, J)
    lo = sim.min(dim=1, keepdim=True).values
    hi = sim.max(dim=1, keepdim=True).values
    norm = (sim - lo) / (hi - lo).clamp_min(1e-12)
    weights = torch.softmax(tau * norm, dim=1)
    return weights @ shares.to(weights)


def box_shares(counts: Mapping[str, float]) -> Tuple[List[str], np.ndarray]:
    """``{expression: positive boxes}`` -> (J sorted expressions, shares p_j = count_j / Σ count).

    Raises:
        ValueError: no expressions, a negative count, or no positive box at all.
    """
    sentences = sorted(counts)
    values = np.array([float(counts[s]) for s in sentences], dtype=np.float64)
    if not sentences:
        raise ValueError('no training expressions to calibrate with')
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError('positive-box counts must be finite and non-negative')
    total = values.sum()
    if total <= 0:
        raise ValueError(f'the {len(sentences)} training expressions have no positive box')
    return sentences, values / total


def merge_shares(sentences: Sequence[str], shares: Sequence[float],
                 synonyms: Synonyms = None) -> Tuple[List[str], np.ndarray]:
    """A table given as (sentences, shares) over canonical texts: shares of sentences with the
    same canonical text add up (as their box counts would). ``synonyms=None`` only sorts it."""
    if len(sentences) != len(shares):
        raise ValueError(f'{len(sentences)} sentences but {len(shares)} shares')
    merged: Dict[str, float] = {}
    for sentence, share in zip(sentences, shares):
        key = _canonical(sentence, synonyms)
        merged[key] = merged.get(key, 0.0) + float(share)
    keys = sorted(merged)
    return keys, np.array([merged[k] for k in keys], dtype=np.float64)


def positive_box_shares(data_root: str, split: Union[str, Sequence[str]] = 'train',
                        synonyms: Synonyms = None) -> Tuple[List[str], np.ndarray]:
    """The official p_j table of a Refer-KITTI tree: the positive boxes of each (canonical, with
    ``synonyms``) expression of ``split`` over those of all of them
    (:func:`ikun_mm.datasets.positive_box_counts`, then :func:`box_shares`).

    Returns:
        (sentences, shares): J sorted texts and a float array (J,) summing to 1.
    """
    from ikun_mm.datasets.refer_kitti import positive_box_counts  # only the expression files
    counts = positive_box_counts(data_root, split, synonyms)
    if not counts:
        raise ValueError(f'{data_root}: split {split!r} has no expressions to calibrate with')
    return box_shares(counts)


def _canonical(sentence: str, synonyms: Synonyms) -> str:
    if synonyms is None:
        return sentence
    from ikun_mm.datasets.expression_synonyms import canonical_sentence
    return canonical_sentence(sentence, synonyms)


@MODELS.register_module()
class SimilarityCalibration(BaseModule):
    """``score + a·p(e) + b`` with the pseudo-frequency p(e) of :func:`pseudo_frequency`.

    The training table (expressions and p_j) comes from ``data_root``/``split``
    (:func:`positive_box_shares`, read on first use) or is given directly (``sentences`` +
    ``shares``; with ``synonyms``, shares of synonymous sentences add up). It and the training
    expressions' text features are kept for the module's lifetime (they depend only on the
    training files and the frozen encoder).

    Args:
        text_encoder: config of a frozen text encoder (paper: CLIP ViT-B/32). ``None`` uses the
            owning IKUN's text encoder (set by :meth:`bind_text_encoder`).
        data_root / split: where the training statistics are read.
        sentences / shares: the table given directly instead.
        synonyms: ``None`` (off), ``'refer_kitti'`` or a dict ``{phrase: replacement}``: the
            table is built over canonical texts and every query is mapped to its canonical text
            before it is embedded (as the official code does; the dataset option of the same
            name gives the model the same texts).
        a, b: calibration parameters (buffers; fitted by ``tools/analysis/fit_calibration.py``).
            The paper's a=8, b=−0.1 shift a score by ``8·p(e) − 0.1`` with p(e) ≤ max_j p_j.
        tau: softmax temperature.
        enabled: ``False`` makes :meth:`forward` return the scores unchanged.
    """

    def __init__(self, text_encoder: Optional[dict] = None, data_root: Optional[str] = None,
                 split: Union[str, Sequence[str]] = 'train',
                 sentences: Optional[Sequence[str]] = None,
                 shares: Optional[Sequence[float]] = None, synonyms: Synonyms = None,
                 a: float = 8.0, b: float = -0.1, tau: float = 100.0, enabled: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (sentences is None) != (shares is None):
            raise ValueError('give both `sentences` and `shares`, or neither')
        if sentences is None and data_root is None:
            raise ValueError('SimilarityCalibration needs `data_root` (training statistics) '
                             'or `sentences` + `shares`')
        if synonyms is not None:
            from ikun_mm.datasets.expression_synonyms import resolve_synonyms
            resolve_synonyms(synonyms)  # fail at build time on a bad table
        self.register_buffer('a', torch.tensor(float(a)))
        self.register_buffer('b', torch.tensor(float(b)))
        self.tau = float(tau)
        self.enabled = bool(enabled)
        self.synonyms = synonyms
        self.data_root, self.split = data_root, split
        self._table = (None if sentences is None else
                       merge_shares(list(sentences), list(shares), synonyms))
        self._keys: Optional[torch.Tensor] = None
        # kept out of the module tree: frozen, not part of the checkpoint
        encoder = MODELS.build(text_encoder) if text_encoder else None
        for param in (encoder.parameters() if encoder is not None else ()):
            param.requires_grad_(False)  # its own encoder never trains (paper: frozen CLIP)
        self.__dict__['_encoder'] = encoder

    def bind_text_encoder(self, encoder: nn.Module) -> None:
        """Use ``encoder`` when no own text encoder was configured."""
        if self.__dict__['_encoder'] is None:
            self.__dict__['_encoder'] = encoder

    def _embed(self, sentences: Sequence[str]) -> torch.Tensor:
        encoder = self.__dict__['_encoder']
        if encoder is None:
            raise RuntimeError('SimilarityCalibration has no text encoder: configure '
                               '`text_encoder` or bind one with bind_text_encoder()')
        with torch.no_grad():  # test time only: the frozen table never takes gradients
            return encoder(list(sentences)).sentence.detach().to(self.a.device)

    def canonical(self, sentences: Sequence[str]) -> List[str]:
        """The texts the table and the encoder see (canonical with ``synonyms``)."""
        return [_canonical(s, self.synonyms) for s in sentences]

    def table(self) -> Tuple[List[str], np.ndarray]:
        """The training expressions and their shares p_j (summing to 1 when read from files)."""
        if self._table is None:
            self._table = positive_box_shares(self.data_root, self.split, self.synonyms)
        return self._table

    def pseudo_frequency(self, sentences: Sequence[str]) -> torch.Tensor:
        """Tensor of shape (E,): p(e) of each sentence."""
        train_sentences, shares = self.table()
        encoder = self.__dict__['_encoder']
        if getattr(encoder, 'is_frozen', True):
            if self._keys is None:  # a frozen encoder's features never change
                self._keys = self._embed(train_sentences)
            keys = self._keys
        else:  # the bound iKUN text encoder trains its embeddings: never reuse old features
            keys = self._embed(train_sentences)
        return pseudo_frequency(self._embed(self.canonical(sentences)),
                                keys.to(self.a.device), torch.as_tensor(shares), self.tau)

    def forward(self, scores: torch.Tensor, sentences: Sequence[str],
                frequency: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Calibrate scores of shape (..., E) whose last axis runs over ``sentences``;
        ``frequency`` (E,) reuses a pseudo-frequency computed before."""
        if not self.enabled:
            return scores
        if frequency is None:
            frequency = self.pseudo_frequency(sentences)
        return scores + self.a * frequency.to(scores) + self.b
