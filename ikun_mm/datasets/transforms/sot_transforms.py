"""Training transforms of single-object tracking: load the sampled frames, augment, crop.

Input: the dict of :class:`~ikun_mm.datasets.SOTFrameSampler` (``img_paths``, ``gt_bboxes``
(N, 4) image pixels, ``gt_labels``, ``num_templates``...).

The official OSTrack / STARK training pipeline (``lib/train/base_functions.py``,
``lib/train/data/processing.py`` and ``transforms.py``) is, in this order:

1. joint transform, one random roll for all frames of the sample (templates and search):
   ``ToGrayscale(0.05)`` then ``RandomHorizontalFlip(0.5)`` on the full frames
   (:class:`SOTGrayscale`, :class:`SOTJointFlip`; ATOM: grayscale only);
2. jitter and crop (:class:`SOTTemplateSearchCrop`);
3. per crop, each with its own roll: ``ToTensorAndJitter(0.2)`` (brightness),
   ``RandomHorizontalFlip_Norm(0.5)`` and ``Normalize`` (:class:`SOTBrightnessJitter`,
   :class:`SOTCropFlip`; ATOM: brightness only; normalisation is the data preprocessor's).

So the template and the search crop of one sample can be mirrored with respect to each other.
"""
from typing import Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from ikun_mm.registry import TRANSFORMS
from ikun_mm.structures.sot_crop import box_to_crop, crop_image, crop_region, jitter_box

#: ImageNet mean in BGR: the pad colour that becomes 0 after normalisation, which is what the
#: models pad their test-time crops with.
IMAGENET_MEAN_BGR = (103.53, 116.28, 123.675)


def center_box(height: int, width: int, ratio: float = 1 / 8) -> np.ndarray:
    """The official negative-sample box (``get_center_box``): ``ratio`` of the image size at its
    centre, integer-truncated as ``int(cx - w / 2), int(cy - h / 2), int(w), int(h)``.

    Returns:
        np.ndarray (4,) float32, x1y1x2y2.
    """
    w, h = width * ratio, height * ratio
    x, y = int(width / 2 - w / 2), int(height / 2 - h / 2)
    return np.array([x, y, x + int(w), y + int(h)], np.float32)


@TRANSFORMS.register_module()
class LoadSOTImages(BaseTransform):
    """Load the frames named in ``img_paths`` into ``imgs`` (list of (H, W, 3) uint8, BGR).

    A path repeated in the sample (COCO repeats its image for every frame) is read once and
    copied. Rows of ``gt_bboxes`` listed in ``center_box_ids`` (negatives of the frame sampler)
    become :func:`center_box` of the first (template) frame's size, as officially.

    Args:
        backend_args: file backend arguments of ``mmengine.fileio``.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def _load(self, path: str) -> np.ndarray:
        try:
            img = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args),
                                   flag='color')
        except FileNotFoundError:
            raise FileNotFoundError(f'SOT frame {path} does not exist') from None
        if img is None:
            raise ValueError(f'SOT frame {path} could not be decoded')
        return img

    def transform(self, results: dict) -> dict:
        imgs, loaded = [], {}
        for path in results['img_paths']:
            if path in loaded:
                imgs.append(loaded[path].copy())
            else:
                loaded[path] = self._load(path)
                imgs.append(loaded[path])
        results['imgs'] = imgs
        results['ori_shapes'] = [img.shape[:2] for img in imgs]
        if results.get('center_box_ids'):
            boxes = np.array(results['gt_bboxes'], np.float32)
            for k in results['center_box_ids']:
                boxes[k] = center_box(*imgs[0].shape[:2])
            results['gt_bboxes'] = boxes
        return results


@TRANSFORMS.register_module()
class SOTGrayscale(BaseTransform):
    """With probability ``prob``, turn every frame of the sample to grayscale (official
    ``ToGrayscale(0.05)`` of the joint transform: one roll per sample).

    Gray is OpenCV's ``0.299 R + 0.587 G + 0.114 B`` (the official converts RGB with
    ``COLOR_RGB2GRAY``; frames here are BGR, so ``COLOR_BGR2GRAY`` gives the same values),
    repeated on the three channels. Acts on ``imgs`` (before cropping).

    Args:
        prob: probability per sample (official 0.05).
    """

    def __init__(self, prob: float = 0.05) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if self.prob > 0 and np.random.random() < self.prob:
            results['imgs'] = [np.repeat(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None], 3, 2)
                               for img in results['imgs']]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class SOTJointFlip(BaseTransform):
    """With probability ``prob``, mirror every frame of the sample and its box left-right
    (official ``RandomHorizontalFlip(0.5)`` of the joint transform: one roll per sample).

    Boxes are continuous coordinates (pixel ``i`` covers ``[i, i + 1)``), so the mirror of a
    frame of width ``W`` maps ``x`` to ``W - x``: ``(x1, x2) -> (W - x2, W - x1)``. (The official
    code mirrors pixel-centre coordinates, ``x -> W - 1 - x``, the same mirror in its
    convention.) Acts on ``imgs`` and ``gt_bboxes`` (before cropping).

    Args:
        prob: probability per sample (official 0.5).
    """

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if self.prob > 0 and np.random.random() < self.prob:
            boxes = np.array(results['gt_bboxes'], np.float32)
            imgs = []
            for k, img in enumerate(results['imgs']):
                width = img.shape[1]
                boxes[k, [0, 2]] = width - boxes[k, [2, 0]]
                imgs.append(np.ascontiguousarray(img[:, ::-1]))
            results['imgs'], results['gt_bboxes'] = imgs, boxes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class SOTBrightnessJitter(BaseTransform):
    """Scale each crop's pixel values by its own factor drawn uniformly from
    ``[max(0, 1 - jitter), 1 + jitter]``, clipped to [0, 255] (official
    ``ToTensorAndJitter(0.2)``, applied to template and search crops one by one).

    Acts on ``template_imgs`` and ``search_imgs`` (after :class:`SOTTemplateSearchCrop`); the
    crops become float32 (the official computes in float too). The ImageNet-mean padding is
    scaled with the crop.

    Args:
        jitter: brightness jitter (official 0.2); 0 leaves the crops unchanged.
    """

    def __init__(self, jitter: float = 0.2) -> None:
        self.jitter = jitter

    def transform(self, results: dict) -> dict:
        if self.jitter <= 0:
            return results
        for key in ('template_imgs', 'search_imgs'):
            results[key] = [
                np.clip(img.astype(np.float32) *
                        np.float32(np.random.uniform(max(0., 1 - self.jitter), 1 + self.jitter)),
                        0, 255) for img in results[key]
            ]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(jitter={self.jitter})'


@TRANSFORMS.register_module()
class SOTCropFlip(BaseTransform):
    """Mirror each crop left-right with probability ``prob``, each with its own roll (official
    ``RandomHorizontalFlip_Norm(0.5)`` of the template / search transforms of OSTrack and STARK,
    which maps normalised box coordinates ``x -> 1 - x``: here ``x -> S - x`` in crop pixels).

    Acts on ``template_imgs``, ``search_imgs`` and ``gt_bboxes`` (crop pixels; rows in the order
    templates then search frames), after :class:`SOTTemplateSearchCrop`.

    Args:
        prob: probability per crop (official 0.5).
    """

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if self.prob <= 0:
            return results
        boxes = np.array(results['gt_bboxes'], np.float32)
        row = 0
        for key in ('template_imgs', 'search_imgs'):
            crops = list(results[key])
            for k, crop in enumerate(crops):
                if np.random.random() < self.prob:
                    size = crop.shape[1]
                    boxes[row, [0, 2]] = size - boxes[row, [2, 0]]
                    crops[k] = np.ascontiguousarray(crop[:, ::-1])
                row += 1
            results[key] = crops
        results['gt_bboxes'] = boxes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class SOTTemplateSearchCrop(BaseTransform):
    """Crop the template and search regions of a training sample, with jitter.

    Every frame is cropped to a square of side ``sqrt(w h) * factor`` around its (jittered) box
    and resized: template frames with ``template_factor`` / ``template_size``, search frames with
    ``search_factor`` / ``search_size``. Jitter (see
    :func:`~ikun_mm.structures.jitter_box`) is applied to the crop region, not to the box, so the
    target is off-centre and rescaled in the crop the way it is after a tracker's drift; a
    jittered crop is redrawn (up to ``max_tries``) when the target's centre falls outside it.

    Added keys: ``template_imgs`` (list of (h, h, 3)), ``search_imgs`` (list of (H, H, 3));
    ``gt_bboxes`` becomes crop pixels (array (N, 4)). Defaults: OSTrack-256 (template 128 at
    factor 2, search 256 at factor 4, search centre jitter 3 and scale jitter 0.25).

    Args:
        template_factor, template_size: template crop.
        search_factor, search_size: search crop.
        template_jitter: (centre, scale) jitter factors of templates.
        search_jitter: (centre, scale) jitter factors of search frames.
        pad_value: colour outside the image (per channel, in the loaded channel order).
        max_tries: redraws of a jitter that loses the target.
    """

    def __init__(self,
                 template_factor: float = 2.0,
                 template_size: int = 128,
                 search_factor: float = 4.0,
                 search_size: int = 256,
                 template_jitter: Tuple[float, float] = (0., 0.),
                 search_jitter: Tuple[float, float] = (3., 0.25),
                 pad_value: Sequence[float] = IMAGENET_MEAN_BGR,
                 max_tries: int = 20) -> None:
        self.template_factor = template_factor
        self.template_size = template_size
        self.search_factor = search_factor
        self.search_size = search_size
        self.template_jitter = tuple(template_jitter)
        self.search_jitter = tuple(search_jitter)
        self.pad_value = tuple(pad_value)
        self.max_tries = max_tries

    def _crop(self, img: np.ndarray, box: np.ndarray, factor: float, size: int,
              jitter: Tuple[float, float], rng: np.random.Generator):
        center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        for _ in range(self.max_tries):
            cx, cy, side = crop_region(jitter_box(box, jitter[0], jitter[1], rng), factor)
            if abs(center[0] - cx) < side / 2 and abs(center[1] - cy) < side / 2:
                break
        else:
            cx, cy, side = crop_region(box, factor)
        crop = crop_image(img, (cx, cy), side, size, self.pad_value)
        return crop, box_to_crop(box, (cx, cy), side, size)

    def transform(self, results: dict) -> dict:
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        nt = results['num_templates']
        templates, searches, boxes = [], [], []
        for i, (img, box) in enumerate(zip(results['imgs'], results['gt_bboxes'])):
            if i < nt:
                crop, cbox = self._crop(img, box, self.template_factor, self.template_size,
                                        self.template_jitter, rng)
                templates.append(crop)
            else:
                crop, cbox = self._crop(img, box, self.search_factor, self.search_size,
                                        self.search_jitter, rng)
                searches.append(crop)
            boxes.append(cbox)
        results['template_imgs'] = templates
        results['search_imgs'] = searches
        results['gt_bboxes'] = np.stack(boxes).astype(np.float32)
        results['template_size'] = self.template_size
        results['search_size'] = self.search_size
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(template={self.template_size}@'
                f'{self.template_factor}, search={self.search_size}@{self.search_factor}, '
                f'search_jitter={self.search_jitter})')
