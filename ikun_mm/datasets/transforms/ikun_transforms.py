"""Image preparation of iKUN (official dataloader.py): the local crop of a box and the global
frame, each zero-padded to a centred square and resized; RandomResizedCrop during training.

The maths lives in small numpy functions (:func:`pad_to_square`, :func:`crop_box`,
:func:`random_resized_crop`, :func:`local_and_global`) that the registered transforms and the
inference API (:mod:`ikun_mm.models.referring.inference`) share, so training, validation and
inference see identically prepared pixels. Images are RGB ``uint8`` arrays of shape (H, W, 3);
normalisation with CLIP's mean/std happens in
:class:`~ikun_mm.models.referring.IKUNDataPreprocessor`.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from ikun_mm.registry import TRANSFORMS

#: CLIP's normalisation constants (RGB, 0-255 scale).
CLIP_MEAN = (0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255)
CLIP_STD = (0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255)


def pad_to_square(img: np.ndarray) -> np.ndarray:
    """Zero-pad (H, W, C) to a centred (S, S, C) square, S = max(H, W)."""
    h, w = img.shape[:2]
    side = max(h, w)
    out = np.zeros((side, side) + img.shape[2:], dtype=img.dtype)
    top, left = (side - h) // 2, (side - w) // 2
    out[top:top + h, left:left + w] = img
    return out


def crop_box(img: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """Pixels of ``box`` = (x1, y1, x2, y2) in ``img`` (H, W, C), clipped to the image; the crop
    keeps at least one pixel, so a box outside the image gives its nearest border pixel."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    if not np.all(np.isfinite([x1, y1, x2, y2])):
        raise ValueError(f'box must be finite, got {list(box)}')
    xi1 = int(np.clip(np.floor(x1), 0, w - 1))
    yi1 = int(np.clip(np.floor(y1), 0, h - 1))
    xi2 = int(np.clip(np.ceil(x2), xi1 + 1, w))
    yi2 = int(np.clip(np.ceil(y2), yi1 + 1, h))
    return img[yi1:yi2, xi1:xi2]


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize to (size, size)."""
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)


def random_resized_crop(img: np.ndarray, size: int, scale: Tuple[float, float] = (0.8, 1.0),
                        ratio: Tuple[float, float] = (0.8, 1.0),
                        rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """torchvision-style RandomResizedCrop on a numpy image: a crop of area fraction in
    ``scale`` and aspect ratio (w/h, log-uniform) in ``ratio``, resized to (size, size). Falls
    back to the whole image when 10 draws do not fit."""
    h, w = img.shape[:2]
    uniform = rng.uniform if rng is not None else np.random.uniform
    area = h * w
    for _ in range(10):
        target = area * uniform(*scale)
        aspect = np.exp(uniform(np.log(ratio[0]), np.log(ratio[1])))
        cw = int(round(np.sqrt(target * aspect)))
        ch = int(round(np.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(uniform(0, h - ch + 1))
            left = int(uniform(0, w - cw + 1))
            return resize(img[top:top + ch, left:left + cw], size)
    return resize(img, size)


def local_and_global(frame: np.ndarray, box: Sequence[float], local_size: int,
                     global_size: int, rrc: Optional[dict] = None,
                     rng: Optional[np.random.Generator] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The two inputs of one frame: the padded, resized crop of ``box`` (local_size², 3) and the
    padded, resized full frame (global_size², 3). ``rrc`` (``dict(scale=..., ratio=...)``)
    replaces the plain resize by a RandomResizedCrop."""
    local = pad_to_square(crop_box(frame, box))
    glob = pad_to_square(frame)
    if rrc is None:
        return resize(local, local_size), resize(glob, global_size)
    return (random_resized_crop(local, local_size, rng=rng, **rrc),
            random_resized_crop(glob, global_size, rng=rng, **rrc))


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
