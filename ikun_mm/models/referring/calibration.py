"""Similarity calibration of iKUN (the paper's "similarity calibration"; official code
dyhBUPT/iKUN ``similarity_calibration.py``), test time only.

Pseudo-frequency of an expression e: cosine similarities s_j between e and every training
expression j under a frozen text encoder (paper: CLIP ViT-B/32), min-max normalised to [0, 1],
softmax with temperature τ (paper: 100) -> weights w_j; ``p(e) = Σ_j w_j p_j``. Calibrated score
= ``score + a·p(e) + b`` (paper: a=8, b=−0.1), added per window before the frame average.

``p_j`` (:func:`box_shares` of the counts of :func:`ikun_mm.datasets.positive_box_counts`), as
the official code counts it: the number of positive (frame, track) boxes of training expression
j (summed over the training videos) divided by the number of positive boxes of all training
expressions. The shares sum to 1, so their mean is 1/J (J = number of training expressions;
≈ 0.0125 on Refer-KITTI), and p(e), a convex combination of them, lies between the smallest and
the largest share. With ``synonyms`` (the
official code always maps them) the table is built over canonical texts
(:mod:`ikun_mm.structures.expression_synonyms`): ``cars in red`` and ``vehicles in red`` count as
one expression, and the queries are mapped the same way before they are embedded.

``a`` and ``b`` are buffers: they travel with the model's state dict. The training table
(expressions and p_j) travels with it too once it is set (``state_dict['calibration.table']``,
a dict ``{'sentences': [...], 'shares': [...]}``; :meth:`SimilarityCalibration.set_table`).
``tools/analysis/fit_calibration.py`` (:mod:`ikun_mm.evaluation.calibration`) fits a, b on a
validation split and writes them with the table into a new checkpoint, so a model loaded from it
never reads the dataset files. This module reads no files: a table given by ``data_root`` is
built by :func:`ikun_mm.evaluation.positive_box_shares`, found through the ``TASK_UTILS``
registry.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ikun_mm.registry import MODELS, TASK_UTILS
from ikun_mm.structures.expression_synonyms import canonical_sentence, resolve_synonyms

#: The ``TASK_UTILS`` name of the function that builds the table from a dataset tree
#: (:func:`ikun_mm.evaluation.positive_box_shares`).
TABLE_BUILDER = 'positive_box_shares'

#: ``None`` (off), a table name (``'refer_kitti'``) or a dict ``{phrase: replacement}``; see
#: :mod:`ikun_mm.structures.expression_synonyms`.
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


def _canonical(sentence: str, synonyms: Synonyms) -> str:
    if synonyms is None:
        return sentence
    return canonical_sentence(sentence, synonyms)


@MODELS.register_module()
class SimilarityCalibration(BaseModule):
    """``score + a·p(e) + b`` with the pseudo-frequency p(e) of :func:`pseudo_frequency`.

    The training table (expressions and p_j) is, in this order:

    1. the table loaded with a state dict (``<prefix>table``, written by
       ``tools/analysis/fit_calibration.py``) or set by :meth:`set_table`; it is saved with the
       state dict from then on;
    2. the one given directly (``sentences`` + ``shares``; with ``synonyms``, shares of
       synonymous sentences add up);
    3. the official p_j of the ``data_root``/``split`` tree, built on first use by the function
       registered as ``TASK_UTILS['positive_box_shares']``
       (:func:`ikun_mm.evaluation.positive_box_shares`).

    With none of them, :meth:`table` raises. The table and the training expressions' text
    features are kept for the module's lifetime (they depend only on the training files and the
    frozen encoder).

    Args:
        text_encoder: config of a frozen text encoder (paper: CLIP ViT-B/32). ``None`` uses the
            owning IKUN's text encoder (set by :meth:`bind_text_encoder`).
        data_root / split: where the training statistics are read when no table was loaded or
            given.
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

    #: state-dict key (after the module prefix) of a carried table
    TABLE_KEY = 'table'

    def __init__(self, text_encoder: Optional[dict] = None, data_root: Optional[str] = None,
                 split: Union[str, Sequence[str]] = 'train',
                 sentences: Optional[Sequence[str]] = None,
                 shares: Optional[Sequence[float]] = None, synonyms: Synonyms = None,
                 a: float = 8.0, b: float = -0.1, tau: float = 100.0, enabled: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (sentences is None) != (shares is None):
            raise ValueError('give both `sentences` and `shares`, or neither')
        if synonyms is not None:
            resolve_synonyms(synonyms)  # fail at build time on a bad table
        self.register_buffer('a', torch.tensor(float(a)))
        self.register_buffer('b', torch.tensor(float(b)))
        self.tau = float(tau)
        self.enabled = bool(enabled)
        self.synonyms = synonyms
        self.data_root, self.split = data_root, split
        self._table = (None if sentences is None else
                       merge_shares(list(sentences), list(shares), synonyms))
        self._carried = False  # the table travels with the state dict
        self._keys: Optional[torch.Tensor] = None
        # kept out of the module tree: frozen, not part of the checkpoint
        encoder = MODELS.build(text_encoder) if text_encoder else None
        for param in (encoder.parameters() if encoder is not None else ()):
            param.requires_grad_(False)  # its own encoder never trains (paper: frozen CLIP)
        self.__dict__['_encoder'] = encoder

    # -- the training table ---------------------------------------------------------------------
    def set_table(self, sentences: Sequence[str], shares: Sequence[float]) -> None:
        """Use the table (J canonical sentences, shares (J,)) and save it with the state dict."""
        sentences = [str(s) for s in sentences]
        shares = np.asarray(shares, dtype=np.float64).reshape(-1)
        if not sentences or len(sentences) != len(shares):
            raise ValueError(f'a calibration table needs J >= 1 sentences and J shares, got '
                             f'{len(sentences)} sentences and {len(shares)} shares')
        self._table = (sentences, shares)
        self._carried = True
        self._keys = None

    def table(self) -> Tuple[List[str], np.ndarray]:
        """The training expressions and their shares p_j (summing to 1 when read from files).

        Raises:
            RuntimeError: no table was loaded or given and no ``data_root`` is configured.
        """
        if self._table is None:
            if self.data_root is None:
                raise RuntimeError(
                    'SimilarityCalibration has no training-expression table: the loaded '
                    'checkpoint carries none (tools/analysis/fit_calibration.py writes one into '
                    "state_dict['calibration.table']) and the config gives neither `data_root` "
                    '(the training tree) nor `sentences` + `shares`')
            build = TASK_UTILS.get(TABLE_BUILDER)
            if build is None:
                raise RuntimeError(
                    f'TASK_UTILS has no {TABLE_BUILDER!r} to read the calibration table of '
                    f'{self.data_root!r}: call ikun_mm.utils.register_all_modules() (or import '
                    'ikun_mm.evaluation) first')
            self._table = build(self.data_root, self.split, self.synonyms)
        return self._table

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self._carried:
            sentences, shares = self._table
            destination[prefix + self.TABLE_KEY] = dict(sentences=list(sentences),
                                                        shares=[float(p) for p in shares])

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        table = state_dict.pop(prefix + self.TABLE_KEY, None)
        if table is not None:  # absent: keep the configured table
            try:
                self.set_table(table['sentences'], table['shares'])
            except (KeyError, TypeError, ValueError) as exc:
                error_msgs.append(f'{prefix}{self.TABLE_KEY}: not a calibration table '
                                  f"{{'sentences': [...], 'shares': [...]}} ({exc})")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    # -- scoring --------------------------------------------------------------------------------
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
