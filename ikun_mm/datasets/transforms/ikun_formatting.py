"""Packing an iKUN track window (its local and global crops, expressions and labels) into
``inputs`` + a data sample, after the crops of :mod:`.ikun_transforms`."""
from typing import Dict

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from ikun_mm.registry import TRANSFORMS


def to_chw_tensor(imgs: np.ndarray) -> torch.Tensor:
    """(T, S, S, 3) uint8 -> Tensor of shape (T, 3, S, S), uint8."""
    return torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))


@TRANSFORMS.register_module()
class PackIKUNInputs(BaseTransform):
    """Pack a track window and its expressions for :class:`~ikun_mm.models.referring.IKUN`.

    Output: ``inputs = {'local': Tensor (T, 3, h, w) uint8, 'global': Tensor (T, 3, H, W) uint8}``
    and ``data_samples`` a :class:`~mmengine.structures.BaseDataElement` with metainfo
    ``video``, ``track_id``, ``frames`` (the T frame indices), ``window`` (the window's frame
    indices), ``sentences`` (list of E expressions) and data field ``labels`` (Tensor (E,),
    float, 1 = the expression holds for the object in the reference frame).
    """

    META_KEYS = ('video', 'track_id', 'frames', 'window', 'sentences', 'ref_frame')

    def transform(self, results: dict) -> Dict[str, object]:
        sample = BaseDataElement(metainfo={k: results[k] for k in self.META_KEYS if k in results})
        sample.labels = torch.as_tensor(np.asarray(results['labels'], dtype=np.float32))
        inputs = {'local': to_chw_tensor(results['local_imgs']),
                  'global': to_chw_tensor(results['global_imgs'])}
        return dict(inputs=inputs, data_samples=sample)
