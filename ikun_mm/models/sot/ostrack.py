"""``OSTrack``: one-stream tracking with a ViT (Ye et al., ECCV 2022).

* backbone :class:`~ikun_mm.models.sot.ostrack_vit.OSTrackViT`: template and search crops go
  through one ViT with joint attention and early candidate elimination;
* head :class:`~ikun_mm.models.sot.ostrack_head.OSTrackCenterHead` on the (restored, zero-filled)
  search feature map: centre score, offset, size;
* losses: Gaussian focal loss on the score map (target: a Gaussian at the gt centre cell with
  CenterNet's radius), and L1 (x5) + GIoU (x2) between the box decoded at the score maximum and
  the gt box, both (x1, y1, x2, y2) normalised by the search crop side; mmdet's
  ``GaussianFocalLoss`` / ``L1Loss`` / ``GIoULoss``;
* tracking: template cropped once at ``template_factor`` (2) around the first box; every frame a
  search crop at ``search_factor`` (4 for 256, 5 for 384) around the last box, the score map
  multiplied by a Hanning window (penalising large moves), the box decoded at its maximum and
  mapped back to the frame.

Deliberate differences from the official code: no CE keep-ratio warm-up (see
:mod:`~ikun_mm.models.sot.ostrack_vit`); the predicted box is clipped to the image rather than
to a 10 px margin.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.models.utils import gaussian_radius, gen_gaussian_target
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from torch import Tensor

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample
from ikun_mm.structures.sot_crop import clip_box
from .base_sot import BaseSOTModel
from .ostrack_head import decode_center, hann_window


@MODELS.register_module()
class OSTrack(BaseSOTModel):
    """OSTrack tracker.

    Args:
        backbone: config of the ViT (``OSTrackViT``); it fixes the crop sizes.
        head: config of the centre head (``OSTrackCenterHead``).
        template_factor, search_factor: area factors of the crops (test time; training crops
            come from the pipeline and must use the same values).
        loss_focal, loss_l1, loss_giou: mmdet loss configs.
        test_cfg: ``window`` (bool, Hanning window, default True).
        data_preprocessor, init_cfg: of :class:`BaseSOTModel`.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 template_factor: float = 2.0,
                 search_factor: float = 4.0,
                 loss_focal: dict = dict(type='mmdet.GaussianFocalLoss', reduction='mean',
                                         loss_weight=1.0),
                 loss_l1: dict = dict(type='mmdet.L1Loss', loss_weight=5.0),
                 loss_giou: dict = dict(type='mmdet.GIoULoss', loss_weight=2.0),
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.loss_focal = MODELS.build(loss_focal)
        self.loss_l1 = MODELS.build(loss_l1)
        self.loss_giou = MODELS.build(loss_giou)
        self.template_factor = template_factor
        self.search_factor = search_factor
        self.template_size = self.backbone.z_grid * self.backbone.patch_size
        self.search_size = self.backbone.x_grid * self.backbone.patch_size
        self.test_cfg = {'window': True, **(test_cfg or {})}
        self.register_buffer('window', hann_window(self.backbone.x_grid), persistent=False)
        self.z: Optional[Tensor] = None

    def _forward(self, inputs: Dict[str, Tensor],
                 data_samples: Optional[List[SOTDataSample]] = None):
        """Score, offset and size maps, each (B, c, H/p, H/p), of the first template and the
        first search crop of each sample."""
        fmap, _ = self.backbone(inputs['template'][:, 0], inputs['search'][:, 0])
        return self.head(fmap)

    def loss(self, inputs: Dict[str, Tensor], data_samples: List[SOTDataSample]) -> dict:
        score, offset, size = self._forward(inputs)
        boxes, labels = self.split_gt(data_samples)
        gt = boxes[:, 0] / self.search_size  # (B, 4) normalised xyxy
        pos = labels[:, 0] > 0
        b, _, h, w = score.shape
        heatmap = score.new_zeros(b, 1, h, w)
        for i in torch.nonzero(pos).flatten().tolist():
            x1, y1, x2, y2 = gt[i].tolist()
            cx = min(max(int((x1 + x2) / 2 * w), 0), w - 1)
            cy = min(max(int((y1 + y2) / 2 * h), 0), h - 1)
            radius = max(0, int(gaussian_radius(((y2 - y1) * h, (x2 - x1) * w), 0.7)))
            gen_gaussian_target(heatmap[i, 0], (cx, cy), radius)
        num_pos = max(int(pos.sum()), 1)
        loss_focal = self.loss_focal(score, heatmap, avg_factor=num_pos)
        pred = bbox_cxcywh_to_xyxy(decode_center(score, offset, size)[0])
        if pos.any():
            loss_l1 = self.loss_l1(pred[pos], gt[pos])
            loss_giou = self.loss_giou(pred[pos], gt[pos])
        else:
            loss_l1 = loss_giou = pred.sum() * 0
        return dict(loss_focal=loss_focal, loss_l1=loss_l1, loss_giou=loss_giou)

    def init(self, img: Tensor, bbox: Tensor) -> None:
        self.z, _ = self.crop(img, bbox, self.template_factor, self.template_size)
        self.state = bbox.float().clone()

    def track(self, img: Tensor) -> Tuple[Tensor, float]:
        x, region = self.crop(img, self.state, self.search_factor, self.search_size)
        fmap, _ = self.backbone(self.z, x)
        score, offset, size = self.head(fmap)
        if self.test_cfg['window']:
            score = score * self.window
        box, best = decode_center(score, offset, size)
        box = bbox_cxcywh_to_xyxy(box[0]) * self.search_size
        box = clip_box(self.uncrop(box, region, self.search_size), img.shape[-2], img.shape[-1])
        self.state = box
        return box, float(best[0])
