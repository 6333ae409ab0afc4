"""``SOTDataPreprocessor``: batches and normalises SOT training crops and test frames."""
from typing import List, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from ikun_mm.registry import MODELS


@MODELS.register_module()
class SOTDataPreprocessor(BaseDataPreprocessor):
    """Normalise SOT inputs: ``(x[rgb] - mean) / std``.

    * training (``inputs`` is a dict from :class:`~ikun_mm.datasets.transforms.PackSOTInputs`,
      each value a list of B Tensors of shape (N, 3, h, w)): returns a dict of float Tensors,
      ``template`` (B, Nt, 3, h, h) and ``search`` (B, Ns, 3, H, H); entries whose name ends in
      ``_mask`` (padding masks of the crops, B Tensors of shape (N, h, w), e.g.
      ``template_mask`` / ``search_mask``) are only stacked and made bool;
    * test (``inputs`` is a list of B Tensors of shape (3, H, W), frames of the same size): returns
      a float Tensor of shape (B, 3, H, W). Cropping happens in the model, on normalised frames.

    Args:
        mean, std: per channel, in RGB order (ImageNet by default).
        bgr_to_rgb: flip the channels first (frames are loaded BGR by OpenCV).
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), bgr_to_rgb: bool = True,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking)
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(3, 1, 1),
                             False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(3, 1, 1), False)
        self.bgr_to_rgb = bgr_to_rgb

    def normalize(self, imgs: Tensor) -> Tensor:
        """Tensor of shape (..., 3, H, W), raw pixels -> normalised float."""
        if imgs.shape[-3] != 3:
            raise ValueError(f'SOTDataPreprocessor expects 3-channel images, got shape '
                             f'{tuple(imgs.shape)}')
        imgs = imgs.float()
        if self.bgr_to_rgb:
            imgs = imgs.flip(-3)
        return (imgs - self.mean) / self.std

    def _stack(self, imgs: Union[Tensor, List[Tensor]]) -> Tensor:
        if isinstance(imgs, Tensor):
            return imgs
        shapes = {tuple(i.shape) for i in imgs}
        if len(shapes) > 1:
            raise ValueError(f'cannot batch SOT inputs of different shapes {sorted(shapes)}; '
                             'test with batch_size=1')
        return torch.stack(list(imgs))

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, dict):
            inputs = {k: (self._stack(v).bool() if k.endswith('_mask') else
                          self.normalize(self._stack(v))) for k, v in inputs.items()}
        else:
            inputs = self.normalize(self._stack(inputs))
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
