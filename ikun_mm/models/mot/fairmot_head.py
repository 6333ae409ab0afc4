"""FairMOT's joint detection + re-ID head.

Four branches on the stride-4 map, each ``conv3x3(in, feat) -> ReLU -> conv1x1(feat, out)``:

* ``heatmap`` (num_classes): object centres, Gaussian focal loss (CenterNet);
* ``ltrb`` (4): distances from the centre to the box sides, L1 at the centres (weight 0.1); the
  output is used as is, without an activation, as in FairMOT (``opts.py``: ``ltrb=True``, head
  ``wh`` of 4 channels; ``mot_decode`` reads it raw);
* ``offset`` (2): sub-cell centre offset, L1 at the centres (weight 1);
* ``embedding`` (128): re-ID features; at each object centre the L2-normalised embedding, scaled by
  ``sqrt(2) * log(num_ids - 1)``, is classified into the training identities (cross-entropy).

Detection and identity losses are combined with learned task uncertainties (Kendall et al.):
``loss = 0.5 * (exp(-s_det) * L_det + exp(-s_id) * L_id + s_det + s_id)`` with ``s_det``, ``s_id``
initialised at FairMOT's -1.85 and -1.05.

Initialisation as FairMOT's ``DLASeg``: the last heatmap bias is -2.19; every other branch keeps
PyTorch's default conv weights with zero biases (``fill_fc_weights``).

Only ``loss`` enters the optimiser (mmengine sums the keys that contain ``'loss'``); the parts are
logged as ``heatmap_focal``, ``ltrb_l1``, ``offset_l1``, ``det_cost``, ``id_ce``, ``s_det`` and
``s_id``.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from ikun_mm.registry import MODELS
from .fairmot_targets import (build_centre_targets, decode_centres, gather_at_centres)


def _branch(in_channels: int, feat_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, feat_channels, 3, padding=1, bias=True), nn.ReLU(inplace=True),
        nn.Conv2d(feat_channels, out_channels, 1, bias=True))


def uncertainty_weighted_loss(det_loss: Tensor, id_loss: Tensor, s_det: Tensor,
                              s_id: Tensor) -> Tensor:
    """``0.5 * (exp(-s_det) * det_loss + exp(-s_id) * id_loss + s_det + s_id)``."""
    return 0.5 * (torch.exp(-s_det) * det_loss + torch.exp(-s_id) * id_loss + s_det + s_id)


@MODELS.register_module()
class FairMOTHead(BaseModule):
    """Centre heatmap, box (ltrb), offset and re-ID embedding branches with their losses.

    Args:
        in_channels: channels of the backbone map.
        num_ids: number of training identities (classes of the identity classifier). Identities in
            the targets must be in ``[0, num_ids)``; ``-1`` marks boxes without identity.
        num_classes: heatmap channels (FairMOT: 1).
        feat_channels: hidden width of every branch (FairMOT: 256).
        embed_channels: re-ID embedding size (FairMOT: 128).
        stride: input pixels per map cell.
        min_overlap: IoU guaranteed by the Gaussian radius (see ``fairmot_targets``).
        radius_formula: ``'centernet'`` (FairMOT's) or ``'corrected'`` (mmdet's).
        loss_heatmap, loss_ltrb, loss_offset: mmdet loss configs.
        s_det_init, s_id_init: initial task uncertainties.
        max_objs: boxes per image that get targets (FairMOT's ``opt.K``: 500).
        test_cfg: ``topk`` (max detections per image, FairMOT: 500) and ``score_thr`` (detections
            below it are dropped before tracking; the tracker has its own thresholds).
    """

    def __init__(self,
                 in_channels: int,
                 num_ids: int,
                 num_classes: int = 1,
                 feat_channels: int = 256,
                 embed_channels: int = 128,
                 stride: int = 4,
                 min_overlap: float = 0.7,
                 radius_formula: str = 'centernet',
                 loss_heatmap: dict = dict(type='GaussianFocalLoss', loss_weight=1.0),
                 loss_ltrb: dict = dict(type='L1Loss', loss_weight=0.1),
                 loss_offset: dict = dict(type='L1Loss', loss_weight=1.0),
                 s_det_init: float = -1.85,
                 s_id_init: float = -1.05,
                 max_objs: int = 500,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_ids < 2:
            raise ValueError(f'FairMOTHead: num_ids must be >= 2 (identities in the training '
                             f'set), got {num_ids}')
        self.num_ids = num_ids
        self.num_classes = num_classes
        self.stride = stride
        self.min_overlap = min_overlap
        self.radius_formula = radius_formula
        self.max_objs = max_objs
        self.heatmap = _branch(in_channels, feat_channels, num_classes)
        self.ltrb = _branch(in_channels, feat_channels, 4)
        self.offset = _branch(in_channels, feat_channels, 2)
        self.embedding = _branch(in_channels, feat_channels, embed_channels)
        self.id_classifier = nn.Linear(embed_channels, num_ids)
        self.embed_scale = math.sqrt(2) * math.log(num_ids - 1) if num_ids > 2 else 1.0
        self.loss_heatmap = MODELS.build(loss_heatmap)
        self.loss_ltrb = MODELS.build(loss_ltrb)
        self.loss_offset = MODELS.build(loss_offset)
        self.s_det = nn.Parameter(torch.full((1, ), s_det_init))
        self.s_id = nn.Parameter(torch.full((1, ), s_id_init))
        self.test_cfg = dict(topk=500, score_thr=0.01)
        self.test_cfg.update(test_cfg or {})

    def init_weights(self) -> None:
        super().init_weights()
        # FairMOT's DLASeg: CenterNet's prior sigmoid(-2.19) ~= 0.1 on every heatmap location;
        # the other branches keep the default conv weights, with zero biases (fill_fc_weights).
        nn.init.constant_(self.heatmap[-1].bias, -2.19)
        for branch in (self.ltrb, self.offset, self.embedding):
            for m in branch.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.zeros_(m.bias)

    def forward(self, feat: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Args: feat, Tensor of shape (B, C, H, W).

        Returns:
            tuple: heatmap logits (B, num_classes, H, W), ltrb (B, 4, H, W) (raw, as FairMOT:
            no activation, so it can be negative),
            offset (B, 2, H, W), embedding (B, embed_channels, H, W) (not normalised).
        """
        return (self.heatmap(feat), self.ltrb(feat), self.offset(feat),
                self.embedding(feat))

    def loss(self, feat: Tensor, gt_instances: Sequence[InstanceData]) -> Dict[str, Tensor]:
        """Losses of a batch.

        Args:
            feat: Tensor of shape (B, C, H, W).
            gt_instances: per image, ``bboxes`` (N, 4) in input pixels, ``labels`` (N, ) and
                ``instances_ids`` (N, ) (identities in ``[0, num_ids)`` or -1).
        """
        heatmap, ltrb, offset, embed = self(feat)
        targets = [
            build_centre_targets(g.bboxes, g.labels, g.instances_ids, heatmap.shape[-2:],
                                 self.num_classes, self.stride, self.min_overlap,
                                 self.radius_formula, self.max_objs)
            for g in gt_instances
        ]
        hm_target = torch.stack([t.heatmap for t in targets]).to(heatmap)
        centres = torch.cat([t.centres for t in targets]).to(feat.device)
        batch_inds = torch.cat([torch.full((len(t.centres), ), i, dtype=torch.long)
                                for i, t in enumerate(targets)]).to(feat.device)
        num_pos = max(1, len(centres))
        hm_pred = heatmap.sigmoid().clamp(1e-4, 1 - 1e-4)
        loss_hm = self.loss_heatmap(hm_pred, hm_target, avg_factor=num_pos)
        if len(centres):
            ltrb_t = torch.cat([t.ltrb for t in targets]).to(feat)
            off_t = torch.cat([t.offsets for t in targets]).to(feat)
            loss_ltrb = self.loss_ltrb(gather_at_centres(ltrb, batch_inds, centres), ltrb_t,
                                       avg_factor=num_pos * 4)
            loss_off = self.loss_offset(gather_at_centres(offset, batch_inds, centres), off_t,
                                        avg_factor=num_pos * 2)
        else:
            loss_ltrb = loss_off = ltrb.sum() * 0
        ids = torch.cat([t.ids for t in targets]).to(feat.device)
        if ids.numel() and int(ids.max()) >= self.num_ids:
            raise ValueError(f'FairMOTHead: identity {int(ids.max())} in the targets but '
                             f'num_ids={self.num_ids}; set model.head.num_ids to the number of '
                             'identities of the training set (the converters print it)')
        valid = ids >= 0
        if valid.any():
            emb = F.normalize(gather_at_centres(embed, batch_inds[valid], centres[valid]), dim=1)
            logits = self.id_classifier(self.embed_scale * emb)
            loss_id = F.cross_entropy(logits, ids[valid])
        else:
            loss_id = embed.sum() * 0 + self.id_classifier.weight.sum() * 0
        det_cost = loss_hm + loss_ltrb + loss_off  # the loss weights are inside each loss
        total = uncertainty_weighted_loss(det_cost, loss_id, self.s_det, self.s_id)
        return dict(loss=total.squeeze(0), heatmap_focal=loss_hm.detach(),
                    ltrb_l1=loss_ltrb.detach(), offset_l1=loss_off.detach(),
                    det_cost=det_cost.detach(), id_ce=loss_id.detach(),
                    s_det=self.s_det.detach().squeeze(0), s_id=self.s_id.detach().squeeze(0))

    def predict(self, feat: Tensor) -> List[InstanceData]:
        """Detections with their embeddings, per image, in input pixels.

        Returns:
            list of InstanceData with ``bboxes`` (K, 4), ``scores`` (K, ), ``labels`` (K, ) and
            ``embeds`` (K, embed_channels), L2-normalised, sorted by score.
        """
        heatmap, ltrb, offset, embed = self(feat)
        bboxes, scores, labels, inds = decode_centres(heatmap.sigmoid(), ltrb, offset,
                                                      self.test_cfg['topk'], self.stride)
        embed = F.normalize(embed, dim=1).flatten(2)  # (B, E, H*W)
        results = []
        for b in range(feat.shape[0]):
            keep = scores[b] > self.test_cfg['score_thr']
            res = InstanceData()
            res.bboxes = bboxes[b][keep]
            res.scores = scores[b][keep]
            res.labels = labels[b][keep].long()
            res.embeds = embed[b][:, inds[b][keep]].t().contiguous()
            results.append(res)
        return results
