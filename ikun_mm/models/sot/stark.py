"""``STARK``: spatio-temporal transformer tracking (Yan et al., ICCV 2021), STARK-ST.

* backbone: ResNet up to layer3 (stride 16; mmdet's ``ResNet`` with ``num_stages=3``), then a
  1x1 ``bottleneck`` to the transformer width; the features of the templates (the initial one
  and a dynamic one) and of the search region are flattened and concatenated. The official
  backbone starts from torchvision's ImageNet ResNet-50 with the stem and layer1 frozen and
  frozen batch norms: give it with ``backbone.init_cfg=dict(type='Pretrained', checkpoint=PATH)``
  (a local torchvision file, loaded strictly by :meth:`STARK.init_weights`); a stage-1 model
  whose backbone freezes stages or BN without such an init is refused at build time;
* transformer: DETR's encoder-decoder (mmdet's ``DetrTransformerEncoder`` / ``Decoder``, post-norm,
  sine position encoding, Xavier-uniform initialisation as the official ``Transformer``) with one
  learned target query (``query_embed``); padded crop areas are masked: the crop's padding mask
  (:meth:`~ikun_mm.models.sot.base_sot.BaseSOTModel.sample_target`) is shrunk to the feature grid
  by nearest interpolation, the sine encoding counts only unpadded cells, and the encoder and the
  decoder's cross-attention ignore padded keys (``lib/models/stark/backbone.py``,
  ``transformer.py``);
* corner head :class:`~ikun_mm.models.sot.stark_head.STARKCornerHead` on the search part of the
  encoder output weighted by its similarity to the decoded query (``enc * (enc . q)``);
* stage 1 (``stage=1``): L1 (x5) + GIoU (x2) on (x1, y1, x2, y2) normalised by the crop side;
* stage 2 (``stage=2``): everything but the score head
  (:class:`~ikun_mm.models.sot.stark_head.STARKScoreHead`) is frozen and the score head learns,
  with binary cross-entropy, whether the search crop holds the template's target (the sampler's
  negatives, as the official ``getitem_cls``: a frame of the same video where the target is not
  visible, cropped around a centre box; another sequence's frame when the video has none).
  ``benchmarks/stark_score_separation.py`` measures how well the learned score separates held-out
  positives from negatives. Stage 2 must start from a stage-1 checkpoint
  (``load_from``): its first loss raises if no weights were loaded into the model;
* tracking (``lib/test/tracker/stark_st.py``): the search crop around the last box, the box mapped
  back around its centre and clipped with a 10 px margin; on every frame whose index is a
  multiple of ``update_interval`` and whose score (sigmoid of the score head) exceeds
  ``update_threshold`` (0.5), the dynamic template is re-cropped around the new box. Official
  intervals (``TEST.UPDATE_INTERVALS`` of ``experiments/stark_st2/baseline.yaml``): LaSOT 200,
  GOT-10k 200, TrackingNet 25, VOT20 10.

Deliberate differences from the official code: training crops use padding masks only when the
pipeline packs them (``inputs['template_mask']`` / ``['search_mask']``; test crops always have
them); the score head exists from stage 1 on but only learns in stage 2, so tracking with a
stage-1 model sets ``test_cfg.use_score=False`` (the dynamic template is then refreshed on
schedule without the score gate; the official code only tracks with stage-2 models).
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.layers import (DetrTransformerDecoder, DetrTransformerEncoder,
                                 SinePositionalEncoding)
from torch import Tensor, nn

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample
from ikun_mm.structures.sot_crop import clip_box_margin
from .base_sot import BaseSOTModel
from .pretrained import load_resnet_pretrained

Feat = Tuple[Tensor, Tensor, Tensor]  # tokens (B, L, C), position embeddings (B, L, C), mask (B, L)


@MODELS.register_module()
class STARK(BaseSOTModel):
    """STARK-ST tracker.

    Args:
        backbone: mmdet ``ResNet`` config ending at layer3 (``out_indices=(2,)``); its
            ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` names a local torchvision
            ResNet file, loaded by :meth:`init_weights` with
            :func:`~ikun_mm.models.sot.pretrained.load_resnet_pretrained` (strict, unlike
            mmengine's loader).
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
            (0.5), ``use_score`` (update only when the score passes, default True),
            ``clip_margin`` (pixels, default 10).

    Raises:
        ValueError: a stage-1 model whose backbone freezes stages (``frozen_stages >= 0``) or
            batch norms (``norm_cfg.requires_grad=False`` / ``norm_eval=True``) without a
            pretrained init.
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
        backbone = dict(backbone)
        init = backbone.get('init_cfg')
        self.backbone_checkpoint: Optional[str] = None
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            self.backbone_checkpoint = init.get('checkpoint')
            backbone['init_cfg'] = None  # loaded strictly by init_weights, not by mmengine
        norm = backbone.get('norm_cfg') or {}
        frozen = (backbone.get('frozen_stages', -1) >= 0 or norm.get('requires_grad') is False
                  or bool(backbone.get('norm_eval', False)))
        if stage == 1 and frozen and not self.backbone_checkpoint and not backbone.get(
                'pretrained'):
            raise ValueError(
                'STARK backbone freezes stages or batch norms (frozen_stages='
                f'{backbone.get("frozen_stages", -1)}, norm_cfg={norm}, norm_eval='
                f'{backbone.get("norm_eval", False)}) but has no pretrained weights: give '
                "backbone.init_cfg=dict(type='Pretrained', checkpoint='checkpoints/pretrained/"
                "resnet50-0676ba61.pth') (torchvision's ImageNet ResNet-50, as the official "
                'STARK), or train it from scratch with frozen_stages=-1, '
                "norm_cfg=dict(type='BN', requires_grad=True) and norm_eval=False")
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
                         'clip_margin': 10., **(test_cfg or {})}
        self.templates: List[Feat] = []
        #: set when a state dict with backbone weights is loaded (stage 2 needs stage 1's)
        self.weights_loaded = False
        if stage == 2:
            for name, p in self.named_parameters():
                p.requires_grad_(name.startswith('cls_head.'))

    def train(self, mode: bool = True) -> 'STARK':
        """In stage 2 the frozen backbone and box head keep their BN statistics (eval mode);
        the transformer stays in train mode, so its dropout is active while the score head
        learns, as in the official stage-2 trainer (the whole network in ``train()``, only the
        parameters frozen; its backbone BNs are frozen ones)."""
        super().train(mode)
        if self.stage == 2 and mode:
            for module in (self.backbone, self.bottleneck, self.box_head):
                module.eval()
        return self

    def init_weights(self) -> None:
        """mmengine's initialisation of the parts, Xavier-uniform transformer weights (the
        official ``Transformer._reset_parameters``), then the backbone's pretrained file."""
        super().init_weights()
        for part in (self.encoder, self.decoder):
            for p in part.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
        if self.backbone_checkpoint:
            load_resnet_pretrained(self.backbone, self.backbone_checkpoint)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # called by torch's and mmengine's loaders (load_from) for this module
        if any(k.startswith(prefix + 'backbone.') for k in state_dict):
            self.weights_loaded = True
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ network
    def extract(self, img: Tensor, mask: Optional[Tensor] = None) -> Feat:
        """Crop images (B, 3, S, S) and their padding masks (B, S, S) (True on padding, None:
        no padding) -> tokens (B, (S/16)^2, C), position embeddings (same) and the token
        padding mask (B, (S/16)^2)."""
        feat = self.bottleneck(self.backbone(img)[-1])
        b, _, h, w = feat.shape
        if mask is None:
            fmask = feat.new_zeros(b, h, w, dtype=torch.bool)
        else:  # nearest interpolation to the feature grid, as the official backbone
            fmask = F.interpolate(mask[None].float(), size=(h, w)).to(torch.bool)[0]
        pos = self.positional_encoding(fmask)
        return (feat.flatten(2).transpose(1, 2), pos.flatten(2).transpose(1, 2),
                fmask.flatten(1))

    def transformer_heads(self, templates: List[Feat], search: Feat) -> Tuple[Tensor, Tensor]:
        """Run the transformer and heads on extracted tokens.

        Args:
            templates: (tokens, pos, mask) of the templates, Tensors (B, Lz, C), (B, Lz, C),
                (B, Lz).
            search: (tokens, pos, mask) of the search region.

        Returns:
            boxes Tensor of shape (B, 4) (x1y1x2y2 normalised by the search side) and score
            logits Tensor of shape (B,).
        """
        feats = list(templates) + [search]
        tokens = torch.cat([f[0] for f in feats], dim=1)
        pos = torch.cat([f[1] for f in feats], dim=1)
        mask = torch.cat([f[2] for f in feats], dim=1)
        mask = mask if mask.any() else None
        memory = self.encoder(query=tokens, query_pos=pos, key_padding_mask=mask)
        b = tokens.shape[0]
        query_pos = self.query_embed.weight[None].expand(b, -1, -1)
        hs = self.decoder(query=torch.zeros_like(query_pos), key=memory, value=memory,
                          query_pos=query_pos, key_pos=pos, key_padding_mask=mask)[-1]
        lx = search[0].shape[1]
        enc = memory[:, -lx:]  # (B, Lx, C)
        att = enc @ hs.transpose(1, 2)  # (B, Lx, 1)
        side = int(round(lx**0.5))
        fmap = (enc * att).transpose(1, 2).reshape(b, -1, side, side)
        return self.box_head(fmap), self.cls_head(hs[:, 0])

    def _forward(self, inputs: Dict[str, Tensor],
                 data_samples: Optional[List[SOTDataSample]] = None) -> Tuple[Tensor, Tensor]:
        """Boxes (B, 4) and score logits (B,) for ``template`` (B, Nt, 3, h, h) and the first
        search crop of ``search`` (B, Ns, 3, H, H); padding masks ``template_mask`` (B, Nt, h, h)
        and ``search_mask`` (B, Ns, H, H) are used when the pipeline provides them."""
        z = inputs['template']
        zmask, xmask = inputs.get('template_mask'), inputs.get('search_mask')
        templates = [self.extract(z[:, i], None if zmask is None else zmask[:, i])
                     for i in range(z.shape[1])]
        return self.transformer_heads(
            templates, self.extract(inputs['search'][:, 0], None if xmask is None else xmask[:, 0]))

    def loss(self, inputs: Dict[str, Tensor], data_samples: List[SOTDataSample]) -> dict:
        boxes, logits = self._forward(inputs)
        gt_boxes, labels = self.split_gt(data_samples)
        labels = labels[:, 0]
        if self.stage == 2:
            if not self.weights_loaded:
                raise RuntimeError(
                    'STARK stage 2 trains only the score head on a frozen stage-1 network, but no '
                    'weights were loaded into this model: start it from a stage-1 checkpoint, e.g. '
                    '--cfg-options load_from=work_dirs/<stage-1 config>/epoch_N.pth (or a '
                    'converted official STARK-ST checkpoint)')
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
        z, mask, _ = self.sample_target(img, bbox, self.template_factor, self.template_size)
        feat = self.extract(z, mask)
        self.templates = [feat] * self.num_templates
        self.state = bbox.float().clone()

    def track(self, img: Tensor) -> Tuple[Tensor, float]:
        x, mask, region = self.sample_target(img, self.state, self.search_factor,
                                             self.search_size)
        box, logit = self.transformer_heads(self.templates, self.extract(x, mask))
        box = clip_box_margin(self.uncrop(box[0] * self.search_size, region, self.search_size),
                              img.shape[-2], img.shape[-1], self.test_cfg['clip_margin'])
        score = float(logit[0].sigmoid())
        self.state = box
        if self.should_update(self.frame_id + 1, score):
            z, zmask, _ = self.sample_target(img, box, self.template_factor, self.template_size)
            self.templates = self.templates[:-1] + [self.extract(z, zmask)]
        return box, score

    def should_update(self, frame_id: int, score: float) -> bool:
        """Whether frame ``frame_id`` (0 = the first frame) replaces the dynamic template: its
        index is a multiple of ``update_interval`` and (with ``use_score``) its score exceeds
        ``update_threshold``, as ``frame_id % interval == 0 and conf_score > 0.5`` in the
        official tracker."""
        interval = self.test_cfg['update_interval']
        return (self.num_templates > 1 and interval > 0 and frame_id % interval == 0
                and (not self.test_cfg['use_score']
                     or score > self.test_cfg['update_threshold']))
