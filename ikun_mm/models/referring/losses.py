"""iKUN's loss (official iKUN loss.py): focal-style BCE on the cosine logit."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ikun_mm.registry import MODELS


def cosine_focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0,
                      reduction: str = 'sum', logit_scale: float = 1.0) -> torch.Tensor:
    """``BCEWithLogits(x, y) · (1 − p_t)^γ`` with ``p = sigmoid(x)``, ``p_t = p`` for y=1 and
    ``1 − p`` for y=0 (no α weighting).

    Args:
        logits: Tensor of shape (N,): cosine similarities used as logits.
        labels: Tensor of shape (N,) in {0, 1}.
        gamma: focusing parameter (paper: 2).
        reduction: 'sum' (paper), 'mean' or 'none'.
        logit_scale: the loss sees ``logit_scale · x`` (paper: 1).
    """
    logits = logits * logit_scale
    labels = labels.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction='none')
    p = torch.sigmoid(logits)
    p_t = p * labels + (1 - p) * (1 - labels)
    loss = bce * (1 - p_t).pow(gamma)
    if reduction == 'sum':
        return loss.sum()
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'none':
        return loss
    raise ValueError(f"reduction must be 'sum', 'mean' or 'none', got {reduction!r}")


@MODELS.register_module()
class CosineFocalLoss(nn.Module):
    """Module form of :func:`cosine_focal_loss` (``gamma``, ``reduction``, ``loss_weight``,
    ``logit_scale``).

    ``logit_scale`` differs from the paper (which uses the bare cosine, i.e. 1): a cosine logit
    lies in [-1, 1], so ``sigmoid`` never leaves [0.27, 0.73], easy pairs keep a large gradient
    and outweigh the hard ones (same class, other colour or direction). Scaling the logit in the
    loss, as CLIP's temperature does, lets easy pairs saturate. Scores, the > 0 decision and the
    calibration stay on the cosine scale.
    """

    def __init__(self, gamma: float = 2.0, reduction: str = 'sum',
                 loss_weight: float = 1.0, logit_scale: float = 1.0) -> None:
        super().__init__()
        if logit_scale <= 0:
            raise ValueError(f'logit_scale must be > 0, got {logit_scale}')
        self.gamma, self.reduction, self.loss_weight = gamma, reduction, loss_weight
        self.logit_scale = logit_scale

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * cosine_focal_loss(logits, labels, self.gamma, self.reduction,
                                                    self.logit_scale)
