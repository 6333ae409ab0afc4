"""Image preparation of iKUN (official ``dataloader.py``): the local crop of a box and the
global frame, each zero-padded to a centred square and resized; RandomResizedCrop during
training.

Small numpy functions shared by the registered transforms
(:mod:`ikun_mm.datasets.transforms.ikun_transforms`) and the inference API
(:mod:`ikun_mm.models.referring.inference`), so training, validation and inference see identically
prepared pixels. Images are RGB ``uint8`` arrays of shape (H, W, 3); normalisation with CLIP's
mean/std happens in :class:`~ikun_mm.models.referring.IKUNDataPreprocessor`.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

#: CLIP's normalisation constants on the 0-255 scale (RGB): open_clip's, the values the official
#: iKUN dataloader normalises with.
CLIP_MEAN = tuple(255 * m for m in OPENAI_DATASET_MEAN)
CLIP_STD = tuple(255 * s for s in OPENAI_DATASET_STD)


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
