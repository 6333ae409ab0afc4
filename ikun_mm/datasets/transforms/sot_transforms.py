"""Training transforms of single-object tracking: load the sampled frames, augment, crop.

Input: the dict of :class:`~ikun_mm.datasets.SOTFrameSampler` (``img_paths``, ``gt_bboxes``
(N, 4) image pixels, ``gt_labels``, ``num_templates``...).

The official OSTrack / STARK training pipeline (``lib/train/base_functions.py``,
``lib/train/data/processing.py`` and ``transforms.py``) is, in this order:

1. joint transform, one random roll for all frames of the sample (templates and search):
   ``ToGrayscale(0.05)`` then ``RandomHorizontalFlip(0.5)`` on the full frames
   (:class:`SOTGrayscale`, :class:`SOTJointFlip`; ATOM: grayscale only);
2. jitter and crop (:class:`SOTTemplateSearchCrop`, ``sample_target``), rejecting samples whose
   crops are all padding;
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
from ikun_mm.structures.sot_crop import (box_to_crop, box_to_crop_official, crop_image,
                                         crop_region, jitter_box, sample_target_region)

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

    The frame is mirrored (pixel column ``i`` -> ``W - 1 - i``). Boxes: the official
    ``transform_coords`` maps box corners ``x -> W - 1 - x``, so ``(x1, x2) -> (W - 1 - x2,
    W - 1 - x1)`` (default). With ``x1`` the first target column and ``x2 = x1 + w`` one past the
    last (how ``x, y, w, h`` boxes read), the mirrored target covers ``[W - x2, W - x1)``: the
    official box lands one pixel left of it. ``exact=True`` (opt-in) maps ``x -> W - x``, which
    follows the target's pixels. Acts on ``imgs`` and ``gt_bboxes`` (before cropping).

    Args:
        prob: probability per sample (official 0.5).
        exact: mirror boxes with ``W - x`` instead of the official ``W - 1 - x``.
    """

    def __init__(self, prob: float = 0.5, exact: bool = False) -> None:
        self.prob = prob
        self.exact = exact

    def transform(self, results: dict) -> dict:
        if self.prob > 0 and np.random.random() < self.prob:
            boxes = np.array(results['gt_bboxes'], np.float32)
            imgs = []
            for k, img in enumerate(results['imgs']):
                right = img.shape[1] if self.exact else img.shape[1] - 1
                boxes[k, [0, 2]] = right - boxes[k, [2, 0]]
                imgs.append(np.ascontiguousarray(img[:, ::-1]))
            results['imgs'], results['gt_bboxes'] = imgs, boxes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, exact={self.exact})'


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

    Acts on ``template_imgs``, ``search_imgs``, their padding masks ``template_att`` /
    ``search_att`` when present, and ``gt_bboxes`` (crop pixels; rows in the order templates then
    search frames), after :class:`SOTTemplateSearchCrop`.

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
        for key, att_key in (('template_imgs', 'template_att'), ('search_imgs', 'search_att')):
            crops = list(results[key])
            atts = list(results[att_key]) if att_key in results else None
            for k, crop in enumerate(crops):
                if np.random.random() < self.prob:
                    size = crop.shape[1]
                    boxes[row, [0, 2]] = size - boxes[row, [2, 0]]
                    crops[k] = np.ascontiguousarray(crop[:, ::-1])
                    if atts is not None and atts[k] is not None:
                        atts[k] = np.ascontiguousarray(atts[k][:, ::-1])
                row += 1
            results[key] = crops
            if atts is not None:
                results[att_key] = atts
        results['gt_bboxes'] = boxes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class SOTTemplateSearchCrop(BaseTransform):
    """Crop the template and search regions of a training sample, with jitter.

    Every frame is cropped around its box jittered by ``(centre, scale)`` jitter factors (see
    :func:`~ikun_mm.structures.jitter_box`, the official ``_get_jittered_box``) to a square of
    side ``sqrt(w h) * factor`` and resized: template frames with ``template_factor`` /
    ``template_size``, search frames with ``search_factor`` / ``search_size``. The target is
    thus off-centre and rescaled in the crop the way it is after a tracker's drift.

    ``crop_mode`` chooses how the region is cut (``crop_sz = ceil(sqrt(w h) * factor)`` and
    ``x1 = round(cx - crop_sz / 2)`` in the official modes,
    :func:`~ikun_mm.structures.sot_crop.sample_target_region`):

    * ``'ostrack'`` (default): OSTrack's / STARK's ``sample_target`` of
      ``lib/train/data/processing_utils.py``: the integer region, black padding (0) outside the
      frame (the right / bottom pads one pixel wider than the overhang, as officially), OpenCV
      bilinear resize, and the padding mask (``template_att`` / ``search_att``, bool (S, S)). As in
      ``STARKProcessing``, a sample is rejected (the transform returns None and the dataset draws
      another) when a crop is smaller than one pixel, lies outside the frame, or its padding
      mask is all True at full size or on the ``mask_stride`` grid (nearest sampling);
    * ``'pytracking'``: pytracking's ``sample_target`` (ATOM): the same region, border pixels
      replicated, no mask checks;
    * ``'continuous'``: our sub-pixel region, ``pad_value`` outside the frame, jitter redrawn (up
      to ``max_tries``) while the target's centre falls outside the crop.

    In the official modes, boxes map into the crop relative to the jittered box's centre with the
    region's integer side, as the official ``transform_image_to_crop``: the centre goes to
    ``(S - 1) / 2 + (c - c_jittered) * S / crop_sz`` (``box_mapping='official'``,
    :func:`~ikun_mm.structures.sot_crop.box_to_crop_official`). The official trackers invert it
    at test time with ``S / 2`` in place of ``(S - 1) / 2`` (half a crop pixel apart);
    ``box_mapping='continuous'`` (opt-in) maps with ``S / 2``, the exact inverse of the test-time
    mapping in continuous pixel coordinates. ``crop_mode='continuous'`` always maps continuously.

    Added keys: ``template_imgs`` (list of (h, h, 3)), ``search_imgs`` (list of (H, H, 3));
    ``gt_bboxes`` becomes crop pixels (array (N, 4)). Defaults: OSTrack-256 (template 128 at
    factor 2, search 256 at factor 4, search centre jitter 3 and scale jitter 0.25).

    Args:
        template_factor, template_size: template crop.
        search_factor, search_size: search crop.
        template_jitter: (centre, scale) jitter factors of templates.
        search_jitter: (centre, scale) jitter factors of search frames.
        crop_mode: ``'ostrack'``, ``'pytracking'`` or ``'continuous'``.
        box_mapping: ``'official'`` or ``'continuous'`` (official crop modes only).
        mask_stride: backbone stride of the mask check of ``'ostrack'`` (official 16).
        pad_value: colour outside the image in ``'continuous'`` mode (per channel, in the
            loaded channel order).
        max_tries: redraws of a jitter that loses the target (``'continuous'``).
    """

    MODES = ('ostrack', 'pytracking', 'continuous')

    def __init__(self,
                 template_factor: float = 2.0,
                 template_size: int = 128,
                 search_factor: float = 4.0,
                 search_size: int = 256,
                 template_jitter: Tuple[float, float] = (0., 0.),
                 search_jitter: Tuple[float, float] = (3., 0.25),
                 crop_mode: str = 'ostrack',
                 box_mapping: str = 'official',
                 mask_stride: int = 16,
                 pad_value: Sequence[float] = IMAGENET_MEAN_BGR,
                 max_tries: int = 20) -> None:
        if crop_mode not in self.MODES:
            raise ValueError(f'crop_mode must be one of {self.MODES}, got {crop_mode!r}')
        self.template_factor = template_factor
        self.template_size = template_size
        self.search_factor = search_factor
        self.search_size = search_size
        self.template_jitter = tuple(template_jitter)
        self.search_jitter = tuple(search_jitter)
        if box_mapping not in ('official', 'continuous'):
            raise ValueError(f"box_mapping must be 'official' or 'continuous', got {box_mapping!r}")
        self.crop_mode = crop_mode
        self.box_mapping = box_mapping
        self.mask_stride = mask_stride
        self.pad_value = tuple(pad_value)
        self.max_tries = max_tries

    def _crop_continuous(self, img: np.ndarray, box: np.ndarray, factor: float, size: int,
                         jitter: Tuple[float, float], rng: np.random.Generator):
        center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        for _ in range(self.max_tries):
            cx, cy, side = crop_region(jitter_box(box, jitter[0], jitter[1], rng), factor)
            if abs(center[0] - cx) < side / 2 and abs(center[1] - cy) < side / 2:
                break
        else:
            cx, cy, side = crop_region(box, factor)
        crop = crop_image(img, (cx, cy), side, size, self.pad_value)
        return crop, box_to_crop(box, (cx, cy), side, size), None

    def _crop_official(self, img: np.ndarray, box: np.ndarray, factor: float, size: int,
                       jitter: Tuple[float, float], rng: np.random.Generator):
        jittered = jitter_box(box, jitter[0], jitter[1], rng)
        try:
            x1, y1, crop_sz = sample_target_region(jittered, factor)
        except ValueError:
            return None  # official: 'Too small bounding box', the sample is redrawn
        h, w = img.shape[:2]
        x2, y2 = x1 + crop_sz, y1 + crop_sz
        x1_pad, y1_pad = max(0, -x1), max(0, -y1)
        x2_pad, y2_pad = max(x2 - w + 1, 0), max(y2 - h + 1, 0)
        inner = img[y1 + y1_pad:y2 - y2_pad, x1 + x1_pad:x2 - x2_pad]
        if inner.shape[0] <= 0 or inner.shape[1] <= 0:
            return None  # the region misses the frame: the official crop fails, redrawn
        border = cv2.BORDER_REPLICATE if self.crop_mode == 'pytracking' else cv2.BORDER_CONSTANT
        padded = cv2.copyMakeBorder(inner, y1_pad, y2_pad, x1_pad, x2_pad, border, value=0)
        crop = cv2.resize(padded, (size, size)).reshape(size, size, -1)
        att = None
        if self.crop_mode == 'ostrack':
            full = np.ones((crop_sz, crop_sz))
            full[y1_pad:crop_sz - y2_pad, x1_pad:crop_sz - x2_pad] = 0
            att = cv2.resize(full, (size, size)).astype(bool)
            grid = (np.arange(size // self.mask_stride) * size /
                    max(size // self.mask_stride, 1)).astype(int)
            if att.all() or att[np.ix_(grid, grid)].all():
                return None
        if self.box_mapping == 'official':
            return crop, box_to_crop_official(box, jittered, crop_sz, size), att
        cx, cy = (jittered[0] + jittered[2]) / 2, (jittered[1] + jittered[3]) / 2
        return crop, box_to_crop(box, (cx, cy), crop_sz, size), att

    def transform(self, results: dict) -> Optional[dict]:
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        crop_fn = (self._crop_continuous
                   if self.crop_mode == 'continuous' else self._crop_official)
        nt = results['num_templates']
        templates, searches, boxes, t_att, s_att = [], [], [], [], []
        for i, (img, box) in enumerate(zip(results['imgs'], results['gt_bboxes'])):
            box = np.asarray(box, np.float64)
            if i < nt:
                out = crop_fn(img, box, self.template_factor, self.template_size,
                              self.template_jitter, rng)
            else:
                out = crop_fn(img, box, self.search_factor, self.search_size,
                              self.search_jitter, rng)
            if out is None:
                return None
            crop, cbox, att = out
            (templates if i < nt else searches).append(crop)
            (t_att if i < nt else s_att).append(att)
            boxes.append(cbox)
        results['template_imgs'] = templates
        results['search_imgs'] = searches
        if self.crop_mode == 'ostrack':
            results['template_att'] = t_att
            results['search_att'] = s_att
        results['gt_bboxes'] = np.stack(boxes).astype(np.float32)
        results['template_size'] = self.template_size
        results['search_size'] = self.search_size
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(template={self.template_size}@'
                f'{self.template_factor}, search={self.search_size}@{self.search_factor}, '
                f'search_jitter={self.search_jitter}, crop_mode={self.crop_mode!r})')
