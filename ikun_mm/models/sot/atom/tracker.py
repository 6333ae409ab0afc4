"""ATOM: Accurate Tracking by Overlap Maximization (Danelljan et al., CVPR 2019).

Two components on shared ResNet-18 features of a square search region (``search_factor`` = 5
times ``sqrt(w h)`` around the previous target, resized to ``search_size`` = 288):

* **target estimation**, learnt offline: :class:`~.iou_net.ATOMIoUNet` predicts the IoU of a
  candidate box with the target, conditioned on the first frame through a modulation vector.
  Training (:meth:`ATOM.loss`) samples 16 jittered proposals around the test-frame target
  (pytracking's ``perturb_box``) and regresses ``2 * IoU - 1`` with MSE, as pytracking's
  ``ATOMProcessing`` and ``AtomActor``; the backbone is frozen in the paper setting.
* **target classification**, learnt online: :class:`~.classifier.OnlineClassifier` (1x1
  projection to 64 channels + 4x4 filter on layer3 features) is fitted with Gauss-Newton + CG on
  the augmented first frame, refitted every ``update_interval`` frames (ATOM's
  ``train_skipping``) whatever the frame's flag, and at once after a hard negative.

Tracking one frame (:meth:`ATOM.track`), as pytracking's ``ATOM.track`` with the values of
``pytracking/parameter/atom/default.py``: classifier scores on the feature grid (18 x 18) ->
Fourier-upsampled to one value per search-crop pixel (288 x 288, ``score_upsample_factor`` = 1)
-> advanced localisation (not found / uncertain / hard negative, :func:`localize_target`) ->
10 boxes around the peak (the current size plus 9 jittered ones) refined by 5 steps of gradient
ascent on the predicted IoU -> mean of the best 3 -> new box -> new sample into the classifier's
memory with a Gaussian label of standard deviation ``output_sigma_factor * sqrt(w h) / stride``
feature cells (isotropic, fixed from the first frame).

Differences from pytracking's tracker, on purpose: the first-frame augmentations warp the crop
itself (see :mod:`.augment`); the target size is clamped to the frame and to at least
``min_target_size`` pixels, and the centre to the frame (pytracking keeps the centre within
0.3 target sizes outside the frame and does not clamp the size); when every refined box has an
extreme aspect ratio the mean of the best ``top_k`` of all boxes is used (pytracking keeps the
previous box); ``update_scale_when_uncertain=False`` keeps the whole size in an uncertain frame
(pytracking keeps only the search scale). The last two only matter in rare frames or with
non-default settings.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample, xyxy_to_xywh
from ..base_sot import BaseSOTModel
from .augment import augment_first_frame
from .boxes import fuse_top_k, jitter_boxes, refine_boxes_by_iou, sample_proposals
from .classifier import OnlineClassifier, fourier_upsample, gaussian_label, localize_target
from .iou_net import ATOMIoUNet  # noqa: F401 (registers the default IoU predictor)

FeatPair = Tuple[Tensor, Tensor]


def normalize_features(feats: Tensor) -> Tensor:
    """Scale each sample's features (N, C, H, W) to unit mean square (ATOM's ``normalize_power
    = 2``), which makes the classifier's regularisation independent of the feature scale."""
    rms = feats.pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-10).sqrt()
    return feats / rms


@MODELS.register_module()
class ATOM(BaseSOTModel):
    """The ATOM tracker.

    Args:
        backbone (dict): returns two levels (stride 8 and 16), e.g. mmdet's ``ResNet`` with
            ``depth=18, num_stages=3, out_indices=(1, 2)`` (layer2, layer3).
        iou_net (dict): the IoU predictor (:class:`ATOMIoUNet`).
        loss_iou (dict): regression loss of the predicted IoU (MSE in the paper).
        classifier (dict): keyword arguments of :class:`OnlineClassifier` (its ``in_channels``
            is taken from ``iou_net.in_channels[1]``).
        train_cfg (dict): ``num_proposals`` (16), ``sigma_factors`` ((0.01, 0.05, 0.1, 0.2,
            0.3)), ``min_iou`` (0.1).
        test_cfg (dict): tracking parameters, see ``DEFAULT_TEST_CFG``.
        data_preprocessor (dict, optional): ``SOTDataPreprocessor`` by default.
        init_cfg (dict, optional): mmengine init config.
    """

    DEFAULT_TEST_CFG = dict(
        search_factor=5.0,  # search region side / sqrt(w h)
        search_size=288,  # crop side in pixels (18 x 16)
        output_sigma_factor=0.25,  # label sigma / sqrt(w h) of the first-frame target
        score_upsample_factor=1.0,  # upsampled score map side / search_size (ATOM: 1)
        update_interval=10,  # frames between filter updates (ATOM's train_skipping)
        augmentation=dict(),  # arguments of augment_first_frame
        feature_dropout=(7, 0.2),  # extra first-frame samples: copies with channel dropout
        num_boxes=10,  # boxes refined by IoU ascent (current + 9 jittered)
        box_jitter=(0.1, 0.5),  # position / size jitter of those boxes
        refine_steps=5,
        step_length=1.0,
        step_decay=1.0,
        top_k=3,
        max_aspect_ratio=6.0,
        localization=dict(target_not_found_threshold=0.25, distractor_threshold=0.8,
                          hard_negative_threshold=0.5, target_neighborhood_scale=2.2,
                          displacement_scale=0.8),
        update_scale_when_uncertain=True,
        min_target_size=4.0,
        seed=0)

    def __init__(self, backbone: dict, iou_net: dict,
                 loss_iou: dict = dict(type='mmdet.MSELoss', loss_weight=1.0),
                 classifier: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.iou_net = MODELS.build(iou_net)
        self.loss_iou = MODELS.build(loss_iou)
        self.classifier_cfg = dict(classifier or {})
        self.classifier_cfg.setdefault('in_channels', self.iou_net.ref_conv4.conv.in_channels)
        self.train_cfg = dict(num_proposals=16, sigma_factors=(0.01, 0.05, 0.1, 0.2, 0.3),
                              min_iou=0.1)
        self.train_cfg.update(train_cfg or {})
        self.test_cfg = dict(self.DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        unknown = set(self.test_cfg) - set(self.DEFAULT_TEST_CFG)
        if unknown:
            raise KeyError(f'ATOM test_cfg: unknown keys {sorted(unknown)}; known: '
                           f'{sorted(self.DEFAULT_TEST_CFG)}')
        unknown = set(self.test_cfg['localization']) - set(
            self.DEFAULT_TEST_CFG['localization'])
        if unknown:
            raise KeyError(f'ATOM test_cfg.localization: unknown keys {sorted(unknown)}; known: '
                           f'{sorted(self.DEFAULT_TEST_CFG["localization"])}')
        self.test_cfg['localization'] = dict(self.DEFAULT_TEST_CFG['localization'],
                                             **self.test_cfg['localization'])
        self.stride = int(round(1 / self.iou_net.test_pool4.spatial_scale))
        self.classifier: Optional[OnlineClassifier] = None
        self.modulation: Optional[FeatPair] = None

    # ------------------------------------------------------------------ features
    def extract_feat(self, imgs: Tensor) -> FeatPair:
        """Backbone levels (stride 8, stride 16) of images (N, 3, S, S)."""
        feats = self.backbone(imgs)
        if len(feats) != 2:
            raise ValueError(f'ATOM needs a backbone with two outputs (layer2, layer3), got '
                             f'{len(feats)}; set out_indices=(1, 2)')
        return feats[0], feats[1]

    # ------------------------------------------------------------------ training
    def _pairs(self, inputs: Dict[str, Tensor],
               data_samples: List[SOTDataSample]) -> Tuple[FeatPair, FeatPair, Tensor, Tensor]:
        """Reference/test features and boxes of a batch, one pair per search frame.

        Returns:
            tuple: reference features, test features (both levels, B * Ns first), reference
            boxes (B * Ns, 4) and test boxes (B * Ns, 4), ``(x, y, w, h)`` in crop pixels.
        """
        template, search = inputs['template'], inputs['search']
        num_batch, num_search = search.shape[:2]
        boxes = xyxy_to_xywh(torch.stack([s.gt_instances.bboxes for s in data_samples]))
        boxes = boxes.to(search.device)
        num_templates = template.shape[1]
        ref_boxes = boxes[:, 0].repeat_interleave(num_search, 0)
        test_boxes = boxes[:, num_templates:].reshape(-1, 4)
        ref_feats = self.extract_feat(template[:, 0])
        ref_feats = tuple(f.repeat_interleave(num_search, 0) for f in ref_feats)
        test_feats = self.extract_feat(search.flatten(0, 1))
        return ref_feats, test_feats, ref_boxes, test_boxes

    def loss(self, inputs: Dict[str, Tensor], data_samples: List[SOTDataSample]) -> dict:
        """MSE between the predicted and the target ``2 * IoU - 1`` of jittered proposals.

        Args:
            inputs (dict): ``template`` (B, Nt, 3, S, S) reference crops (the first is used) and
                ``search`` (B, Ns, 3, S, S) test crops, normalised.
            data_samples (list[SOTDataSample]): ``gt_instances.bboxes`` (Nt + Ns, 4),
                ``(x1, y1, x2, y2)`` in crop pixels.

        Returns:
            dict: ``loss_iou`` and the monitoring value ``mean_proposal_iou``.
        """
        ref_feats, test_feats, ref_boxes, test_boxes = self._pairs(inputs, data_samples)
        cfg = self.train_cfg
        proposals, ious = sample_proposals(test_boxes, cfg['num_proposals'],
                                           cfg['sigma_factors'], cfg['min_iou'])
        pred = self.iou_net(ref_feats, test_feats, ref_boxes, proposals)
        return dict(loss_iou=self.loss_iou(pred, 2 * ious - 1),
                    mean_proposal_iou=ious.mean().detach())

    def _forward(self, inputs: Dict[str, Tensor],
                 data_samples: Optional[List[SOTDataSample]] = None) -> Tensor:
        """Predicted ``2 * IoU - 1`` (B * Ns, 1) of each search frame's ground-truth box given its
        reference box; ATOM's raw output needs boxes, so ``data_samples`` are required."""
        if data_samples is None:
            raise ValueError('ATOM._forward needs data_samples with the reference and search '
                             'boxes (the IoU predictor scores boxes)')
        ref_feats, test_feats, ref_boxes, test_boxes = self._pairs(inputs, data_samples)
        return self.iou_net(ref_feats, test_feats, ref_boxes, test_boxes[:, None])

    # ------------------------------------------------------------------ tracking
    def _label(self, center: Tensor, feat_size: Tuple[int, int]) -> Tensor:
        """Gaussian label (Ho, Wo) for a target at ``center`` (2,), in crop pixels, with the
        standard deviation fixed at :meth:`init` (pytracking's ``init_label_function`` /
        ``get_label_function``)."""
        clf = self.classifier
        score_center = center / self.stride - 0.5 - clf.score_offset()
        return gaussian_label(score_center, self.sigma, clf.score_size(feat_size))

    def _score_grid(self) -> Tuple[Tensor, Tensor]:
        """Where the upsampled score map is evaluated.

        pytracking samples the scores' Fourier series on ``output_sz = score_upsample_factor *
        img_support_sz`` points and rolls the result so that cell ``output_sz // 2`` is the crop
        centre and one cell is ``img_support_sz / output_sz`` crop pixels. Here: cell ``j`` is
        crop pixel ``p_j = S / 2 + (j - M // 2) * S / M`` (``S`` = ``search_size``, ``M`` =
        ``round(score_upsample_factor * S)``), i.e. score-cell coordinate ``p_j / stride - 0.5 -
        score_offset`` (see :mod:`.classifier`).

        Returns:
            tuple: crop pixels (M,) of the cells and their score-cell coordinates (M,).
        """
        size = self.test_cfg['search_size']
        num = int(round(self.test_cfg['score_upsample_factor'] * size))
        pixels = size / 2 + (torch.arange(num, dtype=torch.float64) - num // 2) * size / num
        return pixels, pixels / self.stride - 0.5 - self.classifier.score_offset()

    def _crop_box(self, img: Tensor, center: Tensor,
                  size: Tensor) -> Tuple[Tensor, tuple, float]:
        """Search crop (1, 3, S, S) of ``img`` (3, H, W) around ``center`` (2,) for a target of
        ``size`` (2,), its region ``(cx, cy, side)`` and the scale (crop pixels per frame
        pixel)."""
        box = torch.cat([center - size / 2, center + size / 2])
        crop, region = self.crop(img, box, self.test_cfg['search_factor'],
                                 self.test_cfg['search_size'])
        return crop, region, self.test_cfg['search_size'] / region[2]

    @torch.no_grad()
    def init(self, img: Tensor, bbox: Tensor) -> None:
        """Fit the classifier on the augmented first frame and compute the IoU modulation.

        Args:
            img (Tensor): shape (3, H, W), the normalised first frame.
            bbox (Tensor): shape (4,), the target ``(x1, y1, x2, y2)`` in frame pixels.
        """
        cfg = self.test_cfg
        bbox = bbox.to(img.device, torch.float32)
        self.center = (bbox[:2] + bbox[2:]) / 2
        self.size = bbox[2:] - bbox[:2]
        self.frame_num = 0
        self.state = bbox.clone()
        crop, region, scale = self._crop_box(img, self.center, self.size)
        size_crop = self.size * scale
        center_crop = (self.center - crop.new_tensor(region[:2])) * scale + crop.shape[-1] / 2

        # IoU modulation from the un-augmented crop
        feats2, feats3 = self.extract_feat(crop)
        ref_box = torch.cat([center_crop - size_crop / 2, size_crop])[None]
        self.modulation = self.iou_net.get_modulation((feats2, feats3), ref_box)

        # classifier on the augmented crops (+ feature-dropout copies of the original)
        crops, centers = augment_first_frame(crop, center_crop, **cfg['augmentation'])
        aug_feats = self.extract_feat(crops)[1]
        num_drop, drop_p = cfg['feature_dropout']
        if num_drop > 0:
            gen = torch.Generator(device='cpu').manual_seed(cfg['seed'])
            keep = (torch.rand(num_drop, aug_feats.shape[1], 1, 1, generator=gen) > drop_p)
            drop = aug_feats[:1] * keep.to(aug_feats) / (1 - drop_p)
            aug_feats = torch.cat([aug_feats, drop])
            centers = torch.cat([centers, centers[:1].expand(num_drop, -1)])
        aug_feats = normalize_features(aug_feats)
        self.classifier = OnlineClassifier(**dict(self.classifier_cfg, seed=cfg['seed']))
        # pytracking: sigma = output_sigma_factor * sqrt(prod(feature_sz / img_support_sz *
        # base_target_sz)), in feature cells, the same in x and y, fixed for the sequence
        sigma = cfg['output_sigma_factor'] * float(size_crop.prod().sqrt()) / self.stride
        self.sigma = size_crop.new_full((2, ), sigma)
        labels = torch.stack([self._label(c, aug_feats.shape[-2:]) for c in centers])
        self.classifier.initialize(aug_feats, labels)

    @torch.no_grad()
    def track(self, img: Tensor) -> Tuple[Tensor, float]:
        """Track the target into the next frame.

        Args:
            img (Tensor): shape (3, H, W), the normalised frame.

        Returns:
            tuple: the box (Tensor (4,), ``(x1, y1, x2, y2)`` in frame pixels) and the
            classifier's peak score.
        """
        if self.classifier is None:
            raise RuntimeError('ATOM.track called before init()')
        cfg = self.test_cfg
        self.frame_num += 1
        crop, region, scale = self._crop_box(img, self.center, self.size)
        origin = crop.new_tensor(region[:2]) - region[2] / 2  # frame pixel of crop pixel 0
        feats2, feats3 = self.extract_feat(crop)
        raw_scores = self.classifier.score(normalize_features(feats3))[0]
        pixels, cells = self._score_grid()
        scores = fourier_upsample(raw_scores, cells, cells)  # (M, M), one cell per crop pixel
        size_crop = self.size * scale
        cell_size = cfg['search_size'] / len(pixels)  # crop pixels per upsampled cell
        pos, flag = localize_target(scores, size_crop / cell_size, **cfg['localization'])
        score = float(scores.max())

        if flag != 'not_found':
            center_crop = pixels[pos.long()].to(size_crop)
            iou_feats = self.iou_net.get_iou_feat((feats2, feats3))
            box = torch.cat([center_crop - size_crop / 2, size_crop])
            box = self._refine(box, iou_feats)
            new_center = (box[:2] + box[2:] / 2) / scale + origin
            new_size = box[2:] / scale
            self.center = new_center
            if flag != 'uncertain' or cfg['update_scale_when_uncertain']:
                self.size = new_size
            self._clamp_state(img.shape[-2:])

        # pytracking's update: a sample unless not found / uncertain; the filter is refitted
        # after a hard negative, else every update_interval frames whatever the flag
        hard = flag == 'hard_negative'
        if flag not in ('not_found', 'uncertain'):
            center_crop = (self.center - origin) * scale
            label = self._label(center_crop, feats3.shape[-2:])
            self.classifier.add_sample(normalize_features(feats3), label, hard_negative=hard)
        if hard:
            self.classifier.update_filter(self.classifier.hard_negative_cg_iter)
        elif self.frame_num % cfg['update_interval'] == 0:
            self.classifier.update_filter()

        self.state = torch.cat([self.center - self.size / 2, self.center + self.size / 2])
        self.last_flag = flag
        return self.state.clone(), score

    def _refine(self, box: Tensor, iou_feats: FeatPair) -> Tensor:
        """IoU-guided refinement of a box (4,) ``(x, y, w, h)`` in crop pixels."""
        cfg = self.test_cfg
        gen = torch.Generator(device='cpu').manual_seed(cfg['seed'] + self.frame_num)
        boxes = jitter_boxes(box, cfg['num_boxes'], *cfg['box_jitter'], generator=gen)

        def predict_iou(b: Tensor) -> Tensor:
            return self.iou_net.predict_iou(self.modulation, iou_feats, b[None])[0]

        boxes, ious = refine_boxes_by_iou(predict_iou, boxes, cfg['refine_steps'],
                                          cfg['step_length'], cfg['step_decay'])
        return fuse_top_k(boxes, ious, cfg['top_k'], cfg['max_aspect_ratio'])

    def _clamp_state(self, frame_size: Sequence[int]) -> None:
        height, width = frame_size
        limit = self.size.new_tensor([width, height])
        self.size = torch.minimum(self.size.clamp(min=self.test_cfg['min_target_size']), limit)
        self.center = torch.minimum(self.center.clamp(min=0), limit)
