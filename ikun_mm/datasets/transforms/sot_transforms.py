"""Training transforms of single-object tracking: load the sampled frames, crop template/search.

Input: the dict of :class:`~ikun_mm.datasets.SOTFrameSampler` (``img_paths``, ``gt_bboxes``
(N, 4) image pixels, ``gt_labels``, ``num_templates``...).
"""
from typing import Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from ikun_mm.registry import TRANSFORMS
from ikun_mm.structures.sot_crop import box_to_crop, crop_image, crop_region, jitter_box

#: ImageNet mean in BGR: the pad colour that becomes 0 after normalisation, which is what the
#: models pad their test-time crops with.
IMAGENET_MEAN_BGR = (103.53, 116.28, 123.675)


@TRANSFORMS.register_module()
class LoadSOTImages(BaseTransform):
    """Load the frames named in ``img_paths`` into ``imgs`` (list of (H, W, 3) uint8, BGR).

    Args:
        backend_args: file backend arguments of ``mmengine.fileio``.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        imgs = []
        for path in results['img_paths']:
            try:
                img = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args),
                                       flag='color')
            except FileNotFoundError:
                raise FileNotFoundError(f'SOT frame {path} does not exist') from None
            if img is None:
                raise ValueError(f'SOT frame {path} could not be decoded')
            imgs.append(img)
        results['imgs'] = imgs
        results['ori_shapes'] = [img.shape[:2] for img in imgs]
        return results


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
