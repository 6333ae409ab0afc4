"""FairMOT (Zhang et al., IJCV 2021): one-shot detection and re-ID, tracked online by JDE's
association.

Data flow of one frame: image -> ``backbone`` (DLA-34 + deformable IDA up-sampling, one map at
stride 4) -> :class:`~ikun_mm.models.mot.FairMOTHead` (centre heatmap, ltrb box, offset, 128-d
embedding) -> top-k centres with their embeddings -> ``tracker``
(:class:`~ikun_mm.models.trackers.JDETracker`) -> ``pred_track_instances``.

Training uses single frames (``TrackDataSample`` with one frame each, as produced by mmdet's
``MOTChallengeDataset`` + ``TrackImgSampler`` + ``BaseFrameSample``); every frame of a sample is
treated as one training image.

Pre-trained weights (``init_from``) are official files converted on load by
:mod:`~ikun_mm.models.mot.fairmot_pretrained`: the ImageNet DLA-34, CenterNet's COCO DLA-34 (the
official FairMOT recipe starts from it) or a released FairMOT model.
"""
from typing import Dict, Optional

from mmdet.models.mot import BaseMOTModel
from mmdet.structures import DetDataSample, TrackSampleList
from mmdet.utils import OptConfigType, OptMultiConfig
from torch import Tensor

from ikun_mm.registry import MODELS
from .fairmot_pretrained import SOURCES, load_official_fairmot


@MODELS.register_module()
class FairMOT(BaseMOTModel):
    """FairMOT as an mmdet 3.x MOT model.

    Args:
        backbone: config of the feature extractor returning a tuple whose first Tensor is the
            stride-4 map, e.g. ``DLASeg``.
        head: ``FairMOTHead`` config (``in_channels`` must match the backbone).
        tracker: ``JDETracker`` config (only needed for ``predict``).
        data_preprocessor: usually ``TrackDataPreprocessor`` with ``pad_size_divisor=32``.
        init_from: ``dict(checkpoint=LOCAL_PATH, source=S)`` with ``S`` one of ``'imagenet'``
            (DLA-34 ``dla34-ba72cf86.pth``, backbone base only), ``'centernet_coco'``
            (``ctdet_coco_dla_2x.pth``, FairMOT's official start) or ``'fairmot'`` (a released
            ``fairmot_dla34.pth``): loaded and converted at the end of ``init_weights``.
        init_cfg: mmengine initialisation (e.g. a checkpoint already in our names).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 tracker: Optional[dict] = None,
                 data_preprocessor: OptConfigType = None,
                 init_from: Optional[dict] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if init_from is not None:
            if set(init_from) != {'checkpoint', 'source'} or init_from['source'] not in SOURCES:
                raise ValueError(f'FairMOT: init_from must be dict(checkpoint=PATH, source=S) '
                                 f'with S in {SOURCES}, got {init_from}')
        self.init_from = init_from
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.tracker = MODELS.build(tracker) if tracker is not None else None

    def init_weights(self) -> None:
        """mmengine initialisation, then the official checkpoint of ``init_from`` if set."""
        super().init_weights()
        if self.init_from is not None:
            from mmengine.logging import MMLogger
            load_official_fairmot(self, self.init_from['checkpoint'], self.init_from['source'],
                                  logger=MMLogger.get_current_instance())

    @staticmethod
    def _frames(inputs: Tensor) -> Tensor:
        if inputs.dim() != 5:
            raise ValueError(f'FairMOT expects inputs of shape (N, T, C, H, W), got '
                             f'{tuple(inputs.shape)}; use TrackDataPreprocessor')
        return inputs.flatten(0, 1)

    def extract_feat(self, imgs: Tensor) -> Tensor:
        """Tensor of shape (B, 3, H, W) -> stride-4 map of shape (B, C, H / 4, W / 4)."""
        return self.backbone(imgs)[0]

    def _forward(self, inputs: Tensor, data_samples: Optional[TrackSampleList] = None,
                 **kwargs) -> tuple:
        """Raw head outputs of every frame (see ``FairMOTHead.forward``)."""
        return self.head(self.extract_feat(self._frames(inputs)))

    def loss(self, inputs: Tensor, data_samples: TrackSampleList, **kwargs) -> Dict[str, Tensor]:
        """Args:
            inputs: Tensor of shape (N, T, C, H, W).
            data_samples: N ``TrackDataSample`` of T frames each, with ``gt_instances``
                (``bboxes``, ``labels``, ``instances_ids``).
        """
        gts = [frame.gt_instances for sample in data_samples for frame in sample]
        return self.head.loss(self.extract_feat(self._frames(inputs)), gts)

    def predict(self, inputs: Tensor, data_samples: TrackSampleList, rescale: bool = True,
                **kwargs) -> TrackSampleList:
        """Track a video (or one frame of it) with the stateful tracker.

        Args:
            inputs: Tensor of shape (1, T, C, H, W); frames are processed in order.
            data_samples: one ``TrackDataSample`` of T frames, each with ``frame_id``,
                ``scale_factor`` in its metainfo.
            rescale: map boxes back to the original image size.

        Returns:
            the input samples, each frame with ``pred_instances`` (detections) and
            ``pred_track_instances`` (``bboxes``, ``scores``, ``labels``, ``instances_id``).
        """
        if self.tracker is None:
            raise RuntimeError('FairMOT.predict needs model.tracker (e.g. dict(type="JDETracker"))')
        if inputs.size(0) != 1 or len(data_samples) != 1:
            raise ValueError('FairMOT tracks one video per batch (batch_size=1 at test time), '
                             f'got {inputs.size(0)}')
        track_sample = data_samples[0]
        for t in range(len(track_sample)):
            frame: DetDataSample = track_sample[t]
            det = self.head.predict(self.extract_feat(inputs[:, t].contiguous()))[0]
            if rescale and 'scale_factor' in frame.metainfo:
                sx, sy = frame.metainfo['scale_factor']
                det.bboxes = det.bboxes / det.bboxes.new_tensor([sx, sy, sx, sy])
            frame.pred_instances = det
            frame.pred_track_instances = self.tracker.track(data_sample=frame, **kwargs)
        return [track_sample]
