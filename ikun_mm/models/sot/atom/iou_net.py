"""ATOM's IoU predictor (target estimation network, Danelljan et al., CVPR 2019, Sec. 3).

Given backbone features of a *reference* frame with its target box and of a *test* frame with
candidate boxes, predict each candidate's IoU with the (unknown) test-frame target.

    reference branch: layer2/layer3 features -> conv -> PrRoIPool(target box) -> modulation
                      vectors (one per feature level), computed once per sequence;
    test branch:      layer2/layer3 features -> 2 convs -> multiplied channel-wise by the
                      modulation vector -> PrRoIPool(candidate box) (5x5 on layer2, 3x3 on
                      layer3) -> fc -> concatenated -> linear -> IoU.

Trained with MSE against the IoU of jittered proposals (:func:`~.boxes.sample_proposals`).
The layer layout follows the paper's network so that the official weights map onto it
(:mod:`.weights`); channel widths are arguments so the small CPU configs can shrink them.
"""
import warnings
from typing import Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from ikun_mm.registry import MODELS
from ikun_mm.structures import xywh_to_xyxy
from .prroi_pool import PrRoIPool2d

FeatPair = Tuple[Tensor, Tensor]


class LinearBNReLU(nn.Module):
    """Flatten -> linear -> batch norm -> ReLU, the fully connected block of the IoU head.

    Args:
        in_features (int): flattened input size (channels x pooled height x pooled width).
        out_features (int): output size.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, h, w) -> (N, out_features)."""
        return self.relu(self.bn(self.fc(x.flatten(1))))


@MODELS.register_module()
class ATOMIoUNet(BaseModule):
    """IoU predictor with reference-branch modulation.

    Args:
        in_channels (tuple[int, int]): channels of the two backbone levels (ResNet-18 layer2 and
            layer3: 128, 256).
        strides (tuple[int, int]): their strides (8, 16).
        ref_channels (tuple[int, int]): widths of the reference branch (128 after the level-1
            conv, 256 after the level-2 conv and the level-1 fc).
        test_channels (int): width of the first test-branch conv of each level (256).
        pred_channels (tuple[int, int]): modulated feature widths (256, 256).
        inter_channels (tuple[int, int]): fc widths after pooling (256, 256).
        norm_cfg (dict): norm layer of the convs.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, in_channels: Sequence[int] = (128, 256), strides: Sequence[int] = (8, 16),
                 ref_channels: Sequence[int] = (128, 256), test_channels: int = 256,
                 pred_channels: Sequence[int] = (256, 256),
                 inter_channels: Sequence[int] = (256, 256),
                 norm_cfg: dict = dict(type='BN'), init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        c3, c4 = in_channels
        r3, r4 = ref_channels
        p3, p4 = pred_channels

        def conv(cin: int, cout: int, kernel: int = 3, padding: int = 1) -> ConvModule:
            # the paper's convs keep their bias before BN (the official weights have one)
            with warnings.catch_warnings():
                warnings.filterwarnings('ignore', message='Unnecessary conv bias')
                return ConvModule(cin, cout, kernel, padding=padding, bias=True,
                                  norm_cfg=norm_cfg)

        # reference branch
        self.ref_conv3 = conv(c3, r3)
        self.ref_conv4 = conv(c4, r4)
        self.ref_pool3 = PrRoIPool2d(3, 1 / strides[0])
        self.ref_pool4 = PrRoIPool2d(1, 1 / strides[1])
        self.ref_fc3 = conv(r3, r4, padding=0)  # 3x3 pooled -> 1x1
        self.ref_fuse3 = conv(2 * r4, p3, kernel=1, padding=0)
        self.ref_fuse4 = conv(2 * r4, p4, kernel=1, padding=0)
        # test branch
        self.test_conv3 = nn.Sequential(conv(c3, test_channels), conv(test_channels, p3))
        self.test_conv4 = nn.Sequential(conv(c4, test_channels), conv(test_channels, p4))
        self.test_pool3 = PrRoIPool2d(5, 1 / strides[0])
        self.test_pool4 = PrRoIPool2d(3, 1 / strides[1])
        self.fc3 = LinearBNReLU(p3 * 25, inter_channels[0])
        self.fc4 = LinearBNReLU(p4 * 9, inter_channels[1])
        self.iou_predictor = nn.Linear(sum(inter_channels), 1)

    @staticmethod
    def _rois(boxes: Tensor) -> Tensor:
        """(B, K, 4) ``(x, y, w, h)`` -> (B * K, 5) ``(batch_index, x1, y1, x2, y2)``."""
        num_batch, num_boxes = boxes.shape[:2]
        index = torch.arange(num_batch, dtype=boxes.dtype, device=boxes.device)
        index = index[:, None, None].expand(-1, num_boxes, 1)
        return torch.cat([index, xywh_to_xyxy(boxes)], dim=-1).reshape(-1, 5)

    def get_modulation(self, ref_feats: FeatPair, ref_boxes: Tensor) -> FeatPair:
        """Modulation vectors from the reference frames.

        Args:
            ref_feats (tuple[Tensor, Tensor]): backbone levels, (B, C3, H3, W3), (B, C4, H4, W4).
            ref_boxes (Tensor): shape (B, 4), target ``(x, y, w, h)`` in the reference image.

        Returns:
            tuple[Tensor, Tensor]: shapes (B, P3) and (B, P4).
        """
        rois = self._rois(ref_boxes[:, None])
        pooled3 = self.ref_fc3(self.ref_pool3(self.ref_conv3(ref_feats[0]), rois))
        pooled4 = self.ref_pool4(self.ref_conv4(ref_feats[1]), rois)
        fused = torch.cat([pooled3, pooled4], dim=1)  # (B, 2 * R4, 1, 1)
        return self.ref_fuse3(fused).flatten(1), self.ref_fuse4(fused).flatten(1)

    def get_iou_feat(self, test_feats: FeatPair) -> FeatPair:
        """Test-branch features: (B, P3, H3, W3) and (B, P4, H4, W4)."""
        return self.test_conv3(test_feats[0]), self.test_conv4(test_feats[1])

    def predict_iou(self, modulation: FeatPair, iou_feats: FeatPair, proposals: Tensor) -> Tensor:
        """Predicted IoU of proposals.

        Args:
            modulation (tuple[Tensor, Tensor]): (B, P3), (B, P4) from :meth:`get_modulation`.
            iou_feats (tuple[Tensor, Tensor]): from :meth:`get_iou_feat`.
            proposals (Tensor): shape (B, K, 4), ``(x, y, w, h)`` in the test image.

        Returns:
            Tensor: shape (B, K).
        """
        num_batch, num_props = proposals.shape[:2]
        feat3 = iou_feats[0] * modulation[0][..., None, None]
        feat4 = iou_feats[1] * modulation[1][..., None, None]
        rois = self._rois(proposals)
        fc3 = self.fc3(self.test_pool3(feat3, rois))
        fc4 = self.fc4(self.test_pool4(feat4, rois))
        iou = self.iou_predictor(torch.cat([fc3, fc4], dim=1))
        return iou.reshape(num_batch, num_props)

    def forward(self, ref_feats: FeatPair, test_feats: FeatPair, ref_boxes: Tensor,
                proposals: Tensor) -> Tensor:
        """Training forward: (B, K) predicted IoU of ``proposals`` (B, K, 4) in the test images
        given each pair's reference box ``ref_boxes`` (B, 4)."""
        modulation = self.get_modulation(ref_feats, ref_boxes)
        return self.predict_iou(modulation, self.get_iou_feat(test_feats), proposals)
