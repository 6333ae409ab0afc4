"""Similarity calibration of iKUN (SPEC §3.10), test time only.

Pseudo-frequency of an expression e: cosine similarities s_j between e and every training
expression j under a frozen text encoder, min-max normalised to [0, 1], softmax with temperature
τ (paper: 100) -> weights w_j; ``p(e) = Σ_j w_j p_j`` where p_j is expression j's share of
positive boxes in the training set. Calibrated score = ``score + a·p(e) + b`` (paper: a=8,
b=−0.1), added per window before the frame average.

``p_j`` (:func:`positive_box_shares`): the number of (frame, track) boxes for which expression j
holds divided by the number of GT boxes, both summed over the training videos that have
expression j (Refer-KITTI only writes an expression for videos it occurs in).

``a`` and ``b`` are buffers: they travel with the model's state dict, and
``tools/analysis/fit_calibration.py`` fits them on a validation split and stores them (state dict
and ``meta['calibration']``) in a new checkpoint.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ikun_mm.registry import MODELS


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


def positive_box_shares(data_root: str,
                        split: Union[str, Sequence[str]] = 'train') -> Tuple[List[str], np.ndarray]:
    """Training expressions and their positive-box shares p_j (see the module docstring).

    Returns:
        (sentences, shares): J sorted unique sentences and a float array (J,).
    """
    from ikun_mm.datasets.refer_kitti_io import (load_expressions, load_video_annotation,
                                                 resolve_videos)
    positives: Dict[str, int] = {}
    boxes: Dict[str, int] = {}
    for video in resolve_videos(data_root, split):
        ann = load_video_annotation(data_root, video)
        for expr in load_expressions(data_root, video, ann):
            positives[expr.sentence] = positives.get(expr.sentence, 0) + len(expr.positives())
            boxes[expr.sentence] = boxes.get(expr.sentence, 0) + len(ann.boxes)
    sentences = sorted(positives)
    if not sentences:
        raise ValueError(f'{data_root}: split {split!r} has no expressions to calibrate with')
    shares = np.array([positives[s] / max(boxes[s], 1) for s in sentences], dtype=np.float64)
    return sentences, shares


@MODELS.register_module()
class SimilarityCalibration(BaseModule):
    """``score + a·p(e) + b`` with the pseudo-frequency p(e) of :func:`pseudo_frequency`.

    The training table (expressions and p_j) comes from ``data_root``/``split``
    (:func:`positive_box_shares`) or is given directly (``sentences`` + ``shares``). It and the
    training expressions' text features are computed on first use and kept for the module's
    lifetime (they depend only on the training files and the frozen encoder).

    Args:
        text_encoder: config of a frozen text encoder (paper: CLIP ViT-B/32). ``None`` uses the
            owning IKUN's text encoder (set by :meth:`bind_text_encoder`).
        data_root / split: where the training statistics are read.
        sentences / shares: the table given directly instead.
        a, b: calibration parameters (buffers; fitted by ``tools/analysis/fit_calibration.py``).
        tau: softmax temperature.
        enabled: ``False`` makes :meth:`forward` return the scores unchanged.
    """

    def __init__(self, text_encoder: Optional[dict] = None, data_root: Optional[str] = None,
                 split: Union[str, Sequence[str]] = 'train',
                 sentences: Optional[Sequence[str]] = None,
                 shares: Optional[Sequence[float]] = None, a: float = 8.0, b: float = -0.1,
                 tau: float = 100.0, enabled: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (sentences is None) != (shares is None):
            raise ValueError('give both `sentences` and `shares`, or neither')
        if sentences is None and data_root is None:
            raise ValueError('SimilarityCalibration needs `data_root` (training statistics) '
                             'or `sentences` + `shares`')
        if sentences is not None and len(sentences) != len(shares):
            raise ValueError(f'{len(sentences)} sentences but {len(shares)} shares')
        self.register_buffer('a', torch.tensor(float(a)))
        self.register_buffer('b', torch.tensor(float(b)))
        self.tau = float(tau)
        self.enabled = bool(enabled)
        self.data_root, self.split = data_root, split
        self._table = (None if sentences is None else
                       (list(sentences), np.asarray(shares, dtype=np.float64)))
        self._keys: Optional[torch.Tensor] = None
        # kept out of the module tree: frozen, not part of the checkpoint
        self.__dict__['_encoder'] = MODELS.build(text_encoder) if text_encoder else None

    def bind_text_encoder(self, encoder: nn.Module) -> None:
        """Use ``encoder`` when no own text encoder was configured."""
        if self.__dict__['_encoder'] is None:
            self.__dict__['_encoder'] = encoder

    def _embed(self, sentences: Sequence[str]) -> torch.Tensor:
        encoder = self.__dict__['_encoder']
        if encoder is None:
            raise RuntimeError('SimilarityCalibration has no text encoder: configure '
                               '`text_encoder` or bind one with bind_text_encoder()')
        return encoder(list(sentences)).sentence.to(self.a.device)

    def table(self) -> Tuple[List[str], np.ndarray]:
        """The training expressions and their shares p_j."""
        if self._table is None:
            self._table = positive_box_shares(self.data_root, self.split)
        return self._table

    def pseudo_frequency(self, sentences: Sequence[str]) -> torch.Tensor:
        """Tensor of shape (E,): p(e) of each sentence."""
        train_sentences, shares = self.table()
        if self._keys is None:
            self._keys = self._embed(train_sentences)
        return pseudo_frequency(self._embed(sentences), self._keys.to(self.a.device),
                                torch.as_tensor(shares), self.tau)

    def forward(self, scores: torch.Tensor, sentences: Sequence[str],
                frequency: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Calibrate scores of shape (..., E) whose last axis runs over ``sentences``;
        ``frequency`` (E,) reuses a pseudo-frequency computed before."""
        if not self.enabled:
            return scores
        if frequency is None:
            frequency = self.pseudo_frequency(sentences)
        return scores + self.a * frequency.to(scores) + self.b
