"""``BaseSOTModel``: the interface every single-object tracker of ikun_mm implements.

Life of a tracker (mmdet 3.x has no SOT; this follows its model conventions):

* training: ``loss(inputs, data_samples)`` on template/search crops made by the pipeline
  (:class:`~ikun_mm.datasets.transforms.SOTTemplateSearchCrop`), ``inputs`` a dict of
  normalised Tensors ``template`` (B, Nt, 3, h, h) and ``search`` (B, Ns, 3, H, H),
  ``data_samples[i].gt_instances.bboxes`` (Nt + Ns, 4) in crop pixels, ``.labels`` (Nt + Ns,);
* tracking: ``init(img, bbox)`` on the first frame, then ``track(img)`` per frame, ``img`` a
  normalised frame Tensor of shape (3, H, W) and boxes (x1, y1, x2, y2) in its pixels;
* test through the Runner: ``predict`` receives the frames of the test set one at a time, in
  order (``GOT10kDataset(test_mode=True)`` yields frames); ``frame_id == 0`` initialises the
  tracker with the frame's ground-truth box, later frames are tracked. :meth:`track_video` does
  the same over a whole list of frames.

Subclasses implement :meth:`loss`, :meth:`init`, :meth:`track` and :meth:`_forward`, and may use
:meth:`crop` / :meth:`uncrop` (continuous crop geometry, mean-colour padding) or
:meth:`sample_target` (OSTrack's / STARK's integer crops with black padding and a padding mask)
for the test-time crops (:mod:`ikun_mm.structures.sot_crop`).
"""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor

from ikun_mm.structures import SOTDataSample
from ikun_mm.structures.sot_crop import (box_from_crop, crop_region, crop_tensor,
                                         sample_target_tensor)

SOTInputs = Union[Dict[str, Tensor], Tensor]


class BaseSOTModel(BaseModel, metaclass=ABCMeta):
    """Base class of single-object trackers.

    Args:
        data_preprocessor: config of the preprocessor (``SOTDataPreprocessor``).
        init_cfg: initialisation config.

    Attributes:
        state (Tensor of shape (4,) or None): the current target box (x1, y1, x2, y2) in
            frame pixels, set by :meth:`init` and updated by :meth:`track`.
        frame_id (int): index of the last frame seen in the current video.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SOTDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.state: Optional[Tensor] = None
        self.frame_id = -1

    # ------------------------------------------------------------------ interface
    def forward(self, inputs: SOTInputs, data_samples: Optional[List[SOTDataSample]] = None,
                mode: str = 'tensor'):
        """``mode``: ``'loss'`` -> dict of losses, ``'predict'`` -> list of
        :class:`SOTDataSample` with ``pred_instances``, ``'tensor'`` -> raw head outputs of
        :meth:`_forward` (training crops)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'invalid mode "{mode}"; only "loss", "predict" and "tensor" are '
                           'supported')

    @abstractmethod
    def loss(self, inputs: Dict[str, Tensor], data_samples: List[SOTDataSample]) -> dict:
        """Losses of a batch of training crops (see the module docstring for shapes)."""

    @abstractmethod
    def _forward(self, inputs: Dict[str, Tensor],
                 data_samples: Optional[List[SOTDataSample]] = None):
        """Raw network outputs on training crops ``template`` (B, Nt, 3, h, h) and ``search``
        (B, Ns, 3, H, H)."""

    @abstractmethod
    def init(self, img: Tensor, bbox: Tensor) -> None:
        """Start tracking: ``img`` Tensor (3, H, W) normalised, ``bbox`` Tensor (4,) x1y1x2y2.

        Implementations must set :attr:`state` to the box."""

    @abstractmethod
    def track(self, img: Tensor) -> Tuple[Tensor, float]:
        """Track in the next frame: returns the box (Tensor (4,), x1y1x2y2 in frame pixels)
        and a confidence score. Implementations must update :attr:`state`."""

    # ------------------------------------------------------------------ test-time helpers
    def crop(self, img: Tensor, box: Tensor, factor: float,
             out_size: int) -> Tuple[Tensor, Tuple[float, float, float]]:
        """Crop the square region of side ``sqrt(w h) * factor`` around ``box``.

        Args:
            img: Tensor of shape (3, H, W), normalised (pads with 0 = the mean colour).
            box: Tensor of shape (4,).

        Returns:
            the crop, Tensor of shape (1, 3, out_size, out_size), and the region
            ``(cx, cy, side)`` for :meth:`uncrop`.
        """
        cx, cy, side = crop_region(box.tolist(), factor)
        return crop_tensor(img, (cx, cy), side, out_size)[None], (cx, cy, side)

    def black_pad_value(self) -> Tensor:
        """The normalised value of a black (raw 0) pixel, Tensor of shape (3,): ``-mean / std`` of
        the data preprocessor (0 when it does not normalise)."""
        mean = getattr(self.data_preprocessor, 'mean', None)
        std = getattr(self.data_preprocessor, 'std', None)
        if mean is None or std is None:
            return torch.zeros(3)
        return (-mean / std).flatten()

    def sample_target(self, img: Tensor, box: Tensor, factor: float,
                      out_size: int) -> Tuple[Tensor, Tensor, Tuple[float, float, float]]:
        """OSTrack's / STARK's test-time crop (``sample_target`` of their
        ``lib/train/data/processing_utils.py``): integer square region of side
        ``ceil(sqrt(w h) * factor)``, black padding, bilinear resize
        (:func:`~ikun_mm.structures.sot_crop.sample_target_tensor`).

        Args:
            img: Tensor of shape (3, H, W), normalised.
            box: Tensor of shape (4,), x1y1x2y2.

        Returns:
            the crop, Tensor of shape (1, 3, out_size, out_size); its padding mask, bool Tensor
            of shape (1, out_size, out_size) (True on padding); and the region
            ``(cx, cy, side)`` for :meth:`uncrop` (the box centre and the integer side, which is
            how the official trackers map boxes back).
        """
        crop, mask, region = sample_target_tensor(img, box.tolist(), factor, out_size,
                                                  self.black_pad_value().to(img.device))
        return crop[None], mask[None], region

    @staticmethod
    def uncrop(box: Tensor, region: Tuple[float, float, float], out_size: int) -> Tensor:
        """Map a box (Tensor (..., 4)) from crop pixels of ``region`` back to frame pixels."""
        cx, cy, side = region
        return box_from_crop(box, (cx, cy), side, out_size)

    # ------------------------------------------------------------------ test loops
    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: List[SOTDataSample]) -> List[SOTDataSample]:
        """Track one frame of a video (batch of exactly one frame, videos in order).

        Args:
            inputs: Tensor of shape (1, 3, H, W), the normalised frame.
            data_samples: one :class:`SOTDataSample` with metainfo ``frame_id``; on frame 0
                its ``gt_instances.bboxes`` (1, 4) initialises the tracker.

        Returns:
            the data sample with ``pred_instances.bboxes`` (1, 4) and ``.scores`` (1,).
        """
        if inputs.dim() != 4 or inputs.shape[0] != 1 or len(data_samples) != 1:
            raise ValueError('SOT predict tracks one frame at a time: use batch_size=1 and a '
                             f'sequential sampler (got inputs of shape {tuple(inputs.shape)})')
        sample = data_samples[0]
        frame_id = sample.metainfo['frame_id']
        if frame_id == 0:
            box = sample.gt_instances.bboxes[0].to(inputs.device)
            self.init(inputs[0], box)
            score = 1.0
        else:
            if self.state is None or frame_id != self.frame_id + 1:
                raise RuntimeError(f'SOT predict got frame {frame_id} of video '
                                   f'{sample.metainfo.get("video")} after frame {self.frame_id}:'
                                   ' frames must come in order, starting at 0')
            box, score = self.track(inputs[0])
        self.frame_id = frame_id
        pred = InstanceData()
        pred.bboxes = box.detach().reshape(1, 4).float().cpu()
        pred.scores = torch.tensor([float(score)])
        sample.pred_instances = pred
        return [sample]

    @torch.no_grad()
    def track_video(self, frames: Sequence[Tensor], init_bbox: Tensor) -> Tuple[Tensor, Tensor]:
        """Track a whole video: ``frames`` normalised Tensors (3, H, W), ``init_bbox`` (4,).

        Returns:
            boxes Tensor of shape (T, 4) (the first is ``init_bbox``) and scores (T,).
        """
        self.init(frames[0], init_bbox)
        self.frame_id = 0
        boxes, scores = [init_bbox.float().cpu()], [1.0]
        for i, frame in enumerate(frames[1:], 1):
            box, score = self.track(frame)
            self.frame_id = i
            boxes.append(box.detach().float().cpu())
            scores.append(float(score))
        return torch.stack(boxes), torch.tensor(scores)

    # ------------------------------------------------------------------ training helpers
    @staticmethod
    def split_gt(data_samples: List[SOTDataSample]) -> Tuple[Tensor, Tensor]:
        """Search-frame targets of a batch.

        Returns:
            boxes Tensor of shape (B, Ns, 4) in search-crop pixels and labels (B, Ns).
        """
        boxes, labels = [], []
        for s in data_samples:
            nt = s.metainfo['num_templates']
            boxes.append(s.gt_instances.bboxes[nt:])
            labels.append(s.gt_instances.labels[nt:])
        return torch.stack(boxes), torch.stack(labels)
