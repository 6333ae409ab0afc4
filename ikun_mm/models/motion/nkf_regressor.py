"""``NKFRegressor``: the Runner-trainable wrapper of :class:`NeuralKalmanFilter`."""
from typing import Dict, Optional, Union

import torch
from mmdet.structures.bbox import bbox_cxcyah_to_xyxy
from mmengine.model import BaseModel
from torch import Tensor

from ikun_mm.registry import MODELS, TASK_UTILS


def box_regression_error(boxes: Tensor, gt: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error of ``(cx, cy, w, h)`` normalised by the GT height.

    Args:
        boxes: Tensor of shape (..., 4), ``(cx, cy, a, h)``.
        gt: Tensor of shape (..., 4), ``(cx, cy, a, h)``.
        mask: bool Tensor of shape (...), entries that count.

    Returns:
        scalar: mean over masked entries and the 4 coordinates (0 when the mask is empty).
    """
    def cxcywh(b):
        return torch.stack([b[..., 0], b[..., 1], b[..., 2] * b[..., 3], b[..., 3]], -1)
    err = (cxcywh(boxes) - cxcywh(gt)) / gt[..., 3:4].abs().clamp_min(1e-6)
    err = err.square().mean(-1)
    mask = mask.to(err.dtype)
    return (err * mask).sum() / mask.sum().clamp_min(1.)


@MODELS.register_module()
class NKFRegressor(BaseModel):
    """Trains a :class:`~ikun_mm.models.motion.NeuralKalmanFilter` by unrolling it over sequences.

    The loss is the paper's regression: MSE between the filter's estimates and the ground truth,
    here on both the one-step-ahead predictions (what association uses) and the filtered
    estimates (what the tracker outputs), with boxes normalised by the GT height so every scale
    counts alike. MSE alone does not calibrate the covariances (a filter can reach a low MSE
    with a far too confident R for some coordinates, which then breaks Mahalanobis gating in a
    tracker); ``nll_weight`` adds the observations' negative log-likelihood under the predicted
    innovation distribution, our addition to the paper's loss. Computation is in float64 (the
    filter's covariances span many orders of magnitude).

    Args:
        motion: config of the filter (``type='NeuralKalmanFilter'``).
        predicted_weight: weight of the one-step-ahead prediction loss.
        filtered_weight: weight of the filtered-estimate loss.
        nll_weight: weight of the innovation negative log-likelihood (0 = the paper's MSE only).
        data_preprocessor: mmengine data preprocessor config (moves the batch to the device).
    """

    def __init__(self,
                 motion: dict = dict(type='NeuralKalmanFilter'),
                 predicted_weight: float = 1.0,
                 filtered_weight: float = 1.0,
                 nll_weight: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.motion = TASK_UTILS.build(motion)
        self.predicted_weight = predicted_weight
        self.filtered_weight = filtered_weight
        self.nll_weight = nll_weight

    def forward(self, inputs: Dict[str, Tensor], data_samples=None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], list]:
        """Args:
            inputs: batch dict of tensors: ``obs`` (B, T, 4) observations ``(cx, cy, a, h)``,
                ``scores`` (B, T), ``valid`` (B, T) bool, ``gt`` (B, T, 4), ``gt_valid`` (B, T).
            mode: ``'loss'`` -> dict of losses; ``'tensor'``/``'predict'`` -> list with a dict
                per sequence of ``predicted``/``filtered`` boxes (T, 4) as ``x1, y1, x2, y2``.
        """
        inputs = {k: v.to(torch.float64) if v.is_floating_point() else v
                  for k, v in inputs.items()}
        out = self.motion.filter_sequence(inputs['obs'], inputs['scores'], inputs['valid'].bool())
        if mode == 'loss':
            mask = inputs['gt_valid'].bool().clone()
            mask[:, 0] = False  # the first step is the observation itself
            losses = dict(
                loss_predicted=self.predicted_weight
                * box_regression_error(out['predicted'], inputs['gt'], mask),
                loss_filtered=self.filtered_weight
                * box_regression_error(out['filtered'], inputs['gt'], mask))
            if self.nll_weight:
                observed = inputs['valid'].bool().clone()
                observed[:, 0] = False
                losses['loss_nll'] = self.nll_weight * (out['nll'] * observed).sum() / \
                    observed.sum().clamp_min(1)
            return losses
        if mode in ('tensor', 'predict'):
            return [dict(predicted=bbox_cxcyah_to_xyxy(p),
                         filtered=bbox_cxcyah_to_xyxy(f))
                    for p, f in zip(out['predicted'], out['filtered'])]
        raise ValueError(f'NKFRegressor: unknown mode {mode!r} (loss, tensor, predict)')
