"""``OSTrack``: one-stream tracking with a ViT (Ye et al., ECCV 2022).

* backbone :class:`~ikun_mm.models.sot.ostrack_vit.OSTrackViT`: template and search crops go
  through one ViT with joint attention and early candidate elimination; its weights start from an
  MAE / timm ViT-B/16 checkpoint (``backbone.init_cfg=dict(type='Pretrained', checkpoint=...)``,
  converted on load, see :mod:`~ikun_mm.models.sot.pretrained`);
* head :class:`~ikun_mm.models.sot.ostrack_head.OSTrackCenterHead` on the (restored, zero-filled)
  search feature map: centre score, offset, size;
* losses (``lib/train/actors/ostrack.py``): Gaussian focal loss on the score map against
  CenterNet's heatmap (:func:`~ikun_mm.models.sot.ostrack_head.generate_heatmap`: Gaussian radius
  with min overlap 0.7, rounded centre), normalised by the number of cells equal to 1; L1 (x5) +
  GIoU (x2) between the box decoded at the score maximum and the gt box clamped to [0, 1], both
  (x1, y1, x2, y2) normalised by the search crop side; mmdet's ``GaussianFocalLoss`` /
  ``L1Loss`` / ``GIoULoss`` (the same formulas);
* tracking (``lib/test/tracker/ostrack.py``): template cropped once at ``template_factor`` (2)
  around the first box; every frame a search crop at ``search_factor`` (4 for 256, 5 for 384)
  around the last box (:meth:`~ikun_mm.models.sot.base_sot.BaseSOTModel.sample_target`: integer
  region, black padding), the score map multiplied by the cosine window
  (:func:`~ikun_mm.models.sot.ostrack_head.hann_window`), the box decoded at its maximum, mapped
  back around the previous box centre and clipped with a 10 px margin
  (:func:`~ikun_mm.structures.sot_crop.clip_box_margin`).

Deliberate differences from the official code: candidate elimination ranks search tokens by the
attention of the template's centre token only (the official ``CE_TEMPLATE_RANGE: CTR_POINT`` of
every released config, not its other options); the returned score is the windowed maximum.
"""
from typing import Dict, List, Optional, Tuple

from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from torch import Tensor

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample
from ikun_mm.structures.sot_crop import clip_box_margin
from .base_sot import BaseSOTModel
from .ostrack_head import decode_center, generate_heatmap, hann_window


@MODELS.register_module()
class OSTrack(BaseSOTModel):
    """OSTrack tracker.

    Args:
        backbone: config of the ViT (``OSTrackViT``); it fixes the crop sizes.
        head: config of the centre head (``OSTrackCenterHead``).
        template_factor, search_factor: area factors of the crops (test time; training crops
            come from the pipeline and must use the same values).
        loss_focal, loss_l1, loss_giou: mmdet loss configs.
        test_cfg: ``window`` (bool, cosine window, default True), ``clip_margin`` (pixels,
            default 10 as in the official tracker).
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
        self.test_cfg = {'window': True, 'clip_margin': 10., **(test_cfg or {})}
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
        h = score.shape[-1]
        heatmap = generate_heatmap(gt, h).to(score)[:, None]
        heatmap[~pos] = 0
        # the official focal loss divides by the number of cells equal to 1 (1 if there is none)
        num_pos = max(int(heatmap.eq(1).sum()), 1)
        loss_focal = self.loss_focal(score, heatmap, avg_factor=num_pos)
        gt = gt.clamp(0, 1)  # the official L1 / GIoU targets are clamped to the crop
        pred = bbox_cxcywh_to_xyxy(decode_center(score, offset, size)[0])
        if pos.any():
            loss_l1 = self.loss_l1(pred[pos], gt[pos])
            loss_giou = self.loss_giou(pred[pos], gt[pos])
        else:
            loss_l1 = loss_giou = pred.sum() * 0
        return dict(loss_focal=loss_focal, loss_l1=loss_l1, loss_giou=loss_giou)

    def init(self, img: Tensor, bbox: Tensor) -> None:
        self.z, _, _ = self.sample_target(img, bbox, self.template_factor, self.template_size)
        self.state = bbox.float().clone()

    def track(self, img: Tensor) -> Tuple[Tensor, float]:
        x, _, region = self.sample_target(img, self.state, self.search_factor, self.search_size)
        fmap, _ = self.backbone(self.z, x)
        score, offset, size = self.head(fmap)
        if self.test_cfg['window']:
            score = score * self.window
        box, best = decode_center(score, offset, size)
        box = bbox_cxcywh_to_xyxy(box[0]) * self.search_size
        box = clip_box_margin(self.uncrop(box, region, self.search_size), img.shape[-2],
                              img.shape[-1], self.test_cfg['clip_margin'])
        self.state = box
        return box, float(best[0])
