"""``STARK``: spatio-temporal transformer tracking (Yan et al., ICCV 2021), STARK-ST.

* backbone: ResNet up to layer3 (stride 16; mmdet's ``ResNet`` with ``num_stages=3``), then a
  1x1 ``bottleneck`` to the transformer width; the features of the templates (the initial one
  and a dynamic one) and of the search region are flattened and concatenated;
* transformer: DETR's encoder-decoder (mmdet's ``DetrTransformerEncoder`` / ``Decoder``, sine
  position encoding) with one learned target query (``query_embed``);
* corner head :class:`~ikun_mm.models.sot.stark_head.STARKCornerHead` on the search part of the
  encoder output weighted by its similarity to the decoded query (``enc * (enc . q)``);
* stage 1 (``stage=1``): L1 (x5) + GIoU (x2) on (x1, y1, x2, y2) normalised by the crop side;
* stage 2 (``stage=2``): everything but the score head
  (:class:`~ikun_mm.models.sot.stark_head.STARKScoreHead`) is frozen and the score head learns,
  with binary cross-entropy, whether the search crop holds the template's target (the sampler's
  negatives come from other sequences);
* tracking: every ``update_interval`` frames, when the score exceeds ``update_threshold``, the
  dynamic template is re-cropped around the current box.

Deliberate differences from the official code: crops are not padded with masks (pad pixels are
the mean colour, position encodings see a full grid). The score head exists from stage 1 on but
only learns in stage 2, so stage-1 configs set ``test_cfg.use_score=False`` (the dynamic template
is then refreshed on schedule without the score gate).
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.models.layers import (DetrTransformerDecoder, DetrTransformerEncoder,
                                 SinePositionalEncoding)
from torch import Tensor, nn

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample
from ikun_mm.structures.sot_crop import clip_box
from .base_sot import BaseSOTModel


@MODELS.register_module()
class STARK(BaseSOTModel):
    """STARK-ST tracker.

    Args:
        backbone: mmdet ``ResNet`` config ending at layer3 (``out_indices=(2,)``).
        backbone_channels: channels of the backbone output (1024 for ResNet-50 layer3).
        encoder, decoder: configs of mmdet's ``DetrTransformerEncoder`` / ``Decoder``.
        positional_encoding: config of mmdet's ``SinePositionalEncoding`` (``num_feats`` =
            width / 2).
        box_head, cls_head: configs of the corner and score heads.
        template_size, search_size: crop sides; template_factor, search_factor: area factors.
        stage: 1 (box training) or 2 (score-head training, the rest frozen).
        num_templates: templates per forward (2: initial + dynamic).
        loss_l1, loss_giou, loss_cls: mmdet loss configs.
        test_cfg: ``update_interval`` (frames, default 200 as on LaSOT), ``update_threshold``
            (0.5), ``use_score`` (update only when the score passes, default True).
    """

    def __init__(self,
                 backbone: dict,
                 encoder: dict,
                 decoder: dict,
                 box_head: dict,
                 cls_head: dict,
                 backbone_channels: int = 1024,
                 positional_encoding: dict = dict(num_feats=128, normalize=True),
                 template_size: int = 128,
                 search_size: int = 320,
                 template_factor: float = 2.0,
                 search_factor: float = 5.0,
                 stage: int = 1,
                 num_templates: int = 2,
                 loss_l1: dict = dict(type='mmdet.L1Loss', loss_weight=5.0),
                 loss_giou: dict = dict(type='mmdet.GIoULoss', loss_weight=2.0),
                 loss_cls: dict = dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                                       loss_weight=1.0),
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if stage not in (1, 2):
            raise ValueError(f'STARK stage must be 1 or 2, got {stage}')
        self.backbone = MODELS.build(backbone)
        self.encoder = DetrTransformerEncoder(**encoder)
        self.decoder = DetrTransformerDecoder(**decoder)
        dims = self.encoder.embed_dims
        self.bottleneck = nn.Conv2d(backbone_channels, dims, 1)
        self.positional_encoding = SinePositionalEncoding(**positional_encoding)
        self.query_embed = nn.Embedding(1, dims)
        self.box_head = MODELS.build(box_head)
        self.cls_head = MODELS.build(cls_head)
        self.loss_l1 = MODELS.build(loss_l1)
        self.loss_giou = MODELS.build(loss_giou)
        self.loss_cls = MODELS.build(loss_cls)
        self.template_size = template_size
        self.search_size = search_size
        self.template_factor = template_factor
        self.search_factor = search_factor
        self.stage = stage
        self.num_templates = num_templates
        self.test_cfg = {'update_interval': 200, 'update_threshold': 0.5, 'use_score': True,
                         **(test_cfg or {})}
        self.templates: List[Tensor] = []
        if stage == 2:
            for name, p in self.named_parameters():
                p.requires_grad_(name.startswith('cls_head.'))

    def train(self, mode: bool = True) -> 'STARK':
        super().train(mode)
        if self.stage == 2 and mode:  # frozen parts keep BN statistics and no dropout
            for name, module in self.named_children():
                if name not in ('cls_head', 'data_preprocessor'):
                    module.eval()
        return self

    # ------------------------------------------------------------------ network
    def extract(self, img: Tensor) -> Tuple[Tensor, Tensor]:
        """Crop images (B, 3, S, S) -> tokens (B, (S/16)^2, C) and position embeddings (same)."""
        feat = self.bottleneck(self.backbone(img)[-1])
        b, _, h, w = feat.shape
        pos = self.positional_encoding(feat.new_zeros(b, h, w, dtype=torch.bool))
        return feat.flatten(2).transpose(1, 2), pos.flatten(2).transpose(1, 2)

    def transformer_heads(self, templates: List[Tuple[Tensor, Tensor]],
                          search: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Tensor]:
        """Run the transformer and heads on extracted tokens.

        Args:
            templates: (tokens, pos) pairs of the templates, each Tensor (B, Lz, C).
            search: (tokens, pos) of the search region, Tensors (B, Lx, C).

        Returns:
            boxes Tensor of shape (B, 4) (x1y1x2y2 normalised by the search side) and score
            logits Tensor of shape (B,).
        """
        tokens = torch.cat([t for t, _ in templates] + [search[0]], dim=1)
        pos = torch.cat([p for _, p in templates] + [search[1]], dim=1)
        memory = self.encoder(query=tokens, query_pos=pos, key_padding_mask=None)
        b = tokens.shape[0]
        query_pos = self.query_embed.weight[None].expand(b, -1, -1)
        hs = self.decoder(query=torch.zeros_like(query_pos), key=memory, value=memory,
                          query_pos=query_pos, key_pos=pos, key_padding_mask=None)[-1]
        lx = search[0].shape[1]
        enc = memory[:, -lx:]  # (B, Lx, C)
        att = enc @ hs.transpose(1, 2)  # (B, Lx, 1)
        side = int(round(lx**0.5))
        fmap = (enc * att).transpose(1, 2).reshape(b, -1, side, side)
        return self.box_head(fmap), self.cls_head(hs[:, 0])

    def _forward(self, inputs: Dict[str, Tensor],
                 data_samples: Optional[List[SOTDataSample]] = None) -> Tuple[Tensor, Tensor]:
        """Boxes (B, 4) and score logits (B,) for ``template`` (B, Nt, 3, h, h) and the first
        search crop of ``search`` (B, Ns, 3, H, H)."""
        z = inputs['template']
        templates = [self.extract(z[:, i]) for i in range(z.shape[1])]
        return self.transformer_heads(templates, self.extract(inputs['search'][:, 0]))

    def loss(self, inputs: Dict[str, Tensor], data_samples: List[SOTDataSample]) -> dict:
        boxes, logits = self._forward(inputs)
        gt_boxes, labels = self.split_gt(data_samples)
        labels = labels[:, 0]
        if self.stage == 2:
            return dict(loss_cls=self.loss_cls(logits[:, None], labels[:, None].float()))
        gt = gt_boxes[:, 0] / self.search_size
        pos = labels > 0
        if not pos.any():
            return dict(loss_l1=boxes.sum() * 0, loss_giou=boxes.sum() * 0)
        # GIoU is undefined for inverted boxes (a bottom-right corner left of / above the
        # top-left one, which soft-argmax can give early in training): those samples get only
        # the L1 loss, as in the official trainer, which drops GIoU on invalid boxes
        valid = pos & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        loss_giou = (self.loss_giou(boxes[valid], gt[valid], avg_factor=int(pos.sum()))
                     if valid.any() else boxes.sum() * 0)
        return dict(loss_l1=self.loss_l1(boxes[pos], gt[pos]), loss_giou=loss_giou)

    # ------------------------------------------------------------------ tracking
    def init(self, img: Tensor, bbox: Tensor) -> None:
        z, _ = self.crop(img, bbox, self.template_factor, self.template_size)
        feat = self.extract(z)
        self.templates = [feat] * self.num_templates
        self.state = bbox.float().clone()

    def track(self, img: Tensor) -> Tuple[Tensor, float]:
        x, region = self.crop(img, self.state, self.search_factor, self.search_size)
        box, logit = self.transformer_heads(self.templates, self.extract(x))
        box = clip_box(self.uncrop(box[0] * self.search_size, region, self.search_size),
                       img.shape[-2], img.shape[-1])
        score = float(logit[0].sigmoid())
        self.state = box
        interval = self.test_cfg['update_interval']
        if (self.num_templates > 1 and interval > 0 and (self.frame_id + 1) % interval == 0
                and (not self.test_cfg['use_score']
                     or score > self.test_cfg['update_threshold'])):
            z, _ = self.crop(img, box, self.template_factor, self.template_size)
            self.templates = self.templates[:-1] + [self.extract(z)]
        return box, score
