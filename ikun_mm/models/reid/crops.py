"""Crops of boxes for a ReID model, the same way at export time and at tracking time.

The ReID is trained on crops written by ``tools/data/refer_kitti_to_reid.py`` (integer pixel
windows of the boxes, BGR, then resized by the training pipeline and normalised by the ReID's
``ReIDDataPreprocessor``); a tracker crops the frame tensor with the same windows
(:func:`box_window`), resizes bilinearly (:func:`crop_and_resize`) and normalises like the
preprocessor (:func:`reid_normalize`).
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

ArrayLike = Union[np.ndarray, Tensor, Sequence[float]]


def box_window(box: ArrayLike, width: int, height: int) -> Tuple[int, int, int, int]:
    """Integer pixel window ``(x1, y1, x2, y2)`` (x2, y2 exclusive) covering an xyxy box.

    Floor of the top-left and ceiling of the bottom-right corner, clipped to the
    ``width`` x ``height`` image, at least one pixel wide and high.

    Args:
        box: (4,) xyxy box in pixels.
        width: image width.
        height: image height.
    """
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    x1 = int(np.clip(np.floor(x1), 0, width - 1))
    y1 = int(np.clip(np.floor(y1), 0, height - 1))
    x2 = int(np.clip(np.ceil(x2), x1 + 1, width))
    y2 = int(np.clip(np.ceil(y2), y1 + 1, height))
    return x1, y1, x2, y2


def crop_and_resize(img: Tensor, boxes: ArrayLike, out_size: Tuple[int, int]) -> Tensor:
    """Crop boxes out of an image tensor and resize them bilinearly.

    Args:
        img: image tensor of shape (C, H, W) or (1, C, H, W), any dtype.
        boxes: xyxy boxes in the image's pixels, shape (N, 4).
        out_size: ``(h, w)`` of every crop.

    Returns:
        float tensor of shape (N, C, h, w).
    """
    if img.dim() == 4:
        if img.size(0) != 1:
            raise ValueError(f'crop_and_resize: one image at a time, got a batch of {img.size(0)}')
        img = img[0]
    c, height, width = img.shape
    boxes = boxes.detach().cpu().numpy() if isinstance(boxes, Tensor) else np.asarray(boxes)
    boxes = boxes.reshape(-1, 4)
    h, w = int(out_size[0]), int(out_size[1])
    if len(boxes) == 0:
        return img.new_zeros((0, c, h, w), dtype=torch.float32)
    crops = []
    for box in boxes:
        x1, y1, x2, y2 = box_window(box, width, height)
        crop = img[None, :, y1:y2, x1:x2].float()
        crops.append(F.interpolate(crop, size=(h, w), mode='bilinear', align_corners=False))
    return torch.cat(crops)


def reid_normalize(crops: Tensor, preprocessor: Optional[torch.nn.Module]) -> Tensor:
    """Normalise crops as a ReID's ``ReIDDataPreprocessor`` does (BGR -> RGB when its ``to_rgb``,
    then ``(x - mean) / std`` when it has ``mean``/``std``); identity without a preprocessor.

    Args:
        crops: BGR crops, shape (N, 3, h, w), 0..255.
        preprocessor: the ReID model's ``data_preprocessor`` (or None).

    Returns:
        float tensor of shape (N, 3, h, w).
    """
    crops = crops.float()
    if preprocessor is None:
        return crops
    if getattr(preprocessor, 'to_rgb', False) and crops.size(1) == 3:
        crops = crops.flip(1)
    mean, std = getattr(preprocessor, 'mean', None), getattr(preprocessor, 'std', None)
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        crops = (crops - mean.to(crops)) / std.to(crops)
    return crops


def denormalize_pixels(img: Tensor, norm_cfg: Optional[dict]) -> Tensor:
    """Undo an image normalisation ``dict(mean=..., std=..., bgr_to_rgb=...)`` (the keys of a
    detector's ``DetDataPreprocessor``), back to BGR 0..255; identity when ``norm_cfg`` has no
    ``mean``/``std``.

    Args:
        img: normalised image(s), shape (..., 3, H, W).
        norm_cfg: the normalisation the pixels went through, or None.

    Returns:
        float tensor of the same shape.
    """
    img = img.float()
    if not norm_cfg or norm_cfg.get('mean') is None or norm_cfg.get('std') is None:
        return img
    mean = img.new_tensor(norm_cfg['mean']).view(-1, 1, 1)
    std = img.new_tensor(norm_cfg['std']).view(-1, 1, 1)
    img = img * std + mean
    if norm_cfg.get('bgr_to_rgb') or norm_cfg.get('rgb_to_bgr'):
        img = img.flip(-3)
    return img
