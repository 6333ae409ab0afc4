"""Data preprocessor of iKUN: stack, cast to float, normalise with CLIP's mean/std."""
from typing import Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from ikun_mm.registry import MODELS
from ikun_mm.structures.ikun_crop import CLIP_MEAN, CLIP_STD


@MODELS.register_module()
class IKUNDataPreprocessor(BaseDataPreprocessor):
    """Turn collated track windows into normalised float tensors.

    Input ``data['inputs']``: ``{'local': list of B uint8 Tensors (T, 3, h, w) (or one stacked
    Tensor (B, T, 3, h, w)), 'global': same with (T, 3, H, W)}``. Output ``inputs``:
    ``{'local': Tensor (B, T, 3, h, w), 'global': Tensor (B, T, 3, H, W)}``, float32,
    ``(x - mean) / std`` per RGB channel. ``data_samples`` pass through (moved to the device).

    Args:
        mean, std: per-channel RGB statistics on the 0-255 scale (default: CLIP's).
    """

    def __init__(self, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(3, 1, 1),
                             persistent=False)

    def normalize(self, imgs: torch.Tensor) -> torch.Tensor:
        """Tensor (..., 3, H, W) of 0-255 values -> normalised float32."""
        return (imgs.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        out = {}
        for key in ('local', 'global'):
            value = inputs[key]
            if isinstance(value, (list, tuple)):
                value = torch.stack(list(value))
            if value.dim() != 5 or value.shape[2] != 3:
                raise ValueError(f'inputs[{key!r}] must have shape (B, T, 3, H, W), got '
                                 f'{tuple(value.shape)}')
            out[key] = self.normalize(value)
        return dict(inputs=out, data_samples=data.get('data_samples'))
