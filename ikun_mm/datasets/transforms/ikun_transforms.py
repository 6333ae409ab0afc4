"""Image preparation of iKUN (official dataloader.py): the local crop of a box and the global
frame, each zero-padded to a centred square and resized; RandomResizedCrop during training.

The pixel maths lives in :mod:`ikun_mm.structures.ikun_crop`, shared with the inference API
(:mod:`ikun_mm.models.referring.inference`), so training, validation and inference see
identically prepared pixels.
"""
from typing import List, Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from ikun_mm.registry import TRANSFORMS
from ikun_mm.structures.ikun_crop import local_and_global


@TRANSFORMS.register_module()
class LoadTrackWindowFrames(BaseTransform):
    """Read the sampled frames of a track window.

    Required keys: ``img_paths`` (list of T paths). Added: ``imgs`` (list of T RGB uint8
    arrays (H, W, 3)). A frame that cannot be read raises naming the file.
    """

    def transform(self, results: dict) -> dict:
        imgs = []
        for path in results['img_paths']:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise FileNotFoundError(f'{path}: cannot read image')
            imgs.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        results['imgs'] = imgs
        return results


@TRANSFORMS.register_module()
class CropLocalGlobal(BaseTransform):
    """Make the local (box crop) and global (full frame) inputs of every sampled frame.

    Required keys: ``imgs`` (T RGB arrays), ``boxes`` (array (T, 4) x1, y1, x2, y2 in pixels).
    Added: ``local_imgs`` (T, local_size, local_size, 3) and ``global_imgs``
    (T, global_size, global_size, 3), uint8 RGB. ``imgs`` is dropped.

    The crop geometry has one source, the model: the iKUN configs leave ``local_size`` and
    ``global_size`` unset here and :class:`~ikun_mm.engine.hooks.CropSizeFromModelHook` gives
    every such transform of the runner's dataloaders the sizes of
    ``model.visual_encoder`` (the sizes its positional terms, and so its checkpoints, are built
    for) before the first batch is loaded; test-time inference
    (:func:`~ikun_mm.models.referring.score_tracks`) crops at the same model sizes. Outside a
    runner, give the sizes here or call :func:`fill_crop_sizes`.

    Args:
        local_size: side of the local input (paper: 224); ``None``: the model's.
        global_size: side of the global input (paper: 672); ``None``: the model's.
        random_resized_crop: ``dict(scale=(lo, hi), ratio=(lo, hi))`` for training
            augmentation; ``None`` (test) resizes plainly.
    """

    def __init__(self, local_size: Optional[int] = None, global_size: Optional[int] = None,
                 random_resized_crop: Optional[dict] = None) -> None:
        if (local_size is None) != (global_size is None):
            raise ValueError('CropLocalGlobal: give both local_size and global_size or neither '
                             f'(neither: the model\'s), got local_size={local_size}, '
                             f'global_size={global_size}')
        self.local_size = None if local_size is None else int(local_size)
        self.global_size = None if global_size is None else int(global_size)
        self.rrc = None if random_resized_crop is None else dict(random_resized_crop)

    def transform(self, results: dict) -> dict:
        if self.local_size is None:
            raise RuntimeError(
                'CropLocalGlobal has no crop sizes: in the iKUN configs they are the model\'s '
                '(model.visual_encoder.local_size/global_size), set by CropSizeFromModelHook '
                'when a runner starts; a pipeline built outside a runner needs '
                'fill_crop_sizes(dataset, local_size, global_size) or explicit sizes')
        imgs = results.pop('imgs')
        boxes = np.asarray(results['boxes'], dtype=np.float64).reshape(len(imgs), -1)
        pairs = [local_and_global(img, b, self.local_size, self.global_size, self.rrc)
                 for img, b in zip(imgs, boxes)]
        results['local_imgs'] = np.stack([p[0] for p in pairs])
        results['global_imgs'] = np.stack([p[1] for p in pairs])
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(local_size={self.local_size}, '
                f'global_size={self.global_size}, random_resized_crop={self.rrc})')


def _crop_transforms(obj) -> List[CropLocalGlobal]:
    """The :class:`CropLocalGlobal` transforms of a dataset (wrappers included), a
    ``Compose`` or a list of transforms."""
    if isinstance(obj, CropLocalGlobal):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _crop_transforms(item)]
    for attr in ('datasets', 'dataset', 'pipeline', 'transforms'):
        inner = getattr(obj, attr, None)
        if inner is not None and inner is not obj:
            return _crop_transforms(inner)
    return []


def fill_crop_sizes(obj, local_size: int, global_size: int) -> int:
    """Give the size-less :class:`CropLocalGlobal` transforms of ``obj`` (a dataset, possibly
    wrapped, a ``Compose`` or a list of transforms) the model's crop sizes.

    Transforms with explicit sizes are left as they are (a mismatch with the model is then
    reported by the model at its first batch, naming both sizes).

    Returns:
        the number of transforms filled.
    """
    filled = 0
    for t in _crop_transforms(obj):
        if t.local_size is None:
            t.local_size, t.global_size = int(local_size), int(global_size)
            filled += 1
    return filled
