"""ATOM (Danelljan et al., CVPR 2019): the tracker model, its IoU predictor and online classifier,
the PrRoIPool it pools with, the first-frame augmentation, box sampling/refinement, the
Gauss-Newton optimiser and the reader of pytracking's released checkpoint."""
from .augment import augment_first_frame
from .boxes import aligned_iou_xywh, fuse_top_k, jitter_boxes, refine_boxes_by_iou, sample_proposals
from .classifier import OnlineClassifier, fourier_upsample, gaussian_label, localize_target
from .iou_net import ATOMIoUNet
from .optim import conjugate_gradient, gauss_newton
from .prroi_pool import PrRoIPool2d, prroi_pool
from .tracker import ATOM
from .weights import (convert_official_atom_key, convert_official_atom_state_dict,
                      load_official_atom_checkpoint)

__all__ = [
    'ATOM', 'ATOMIoUNet', 'OnlineClassifier', 'PrRoIPool2d', 'aligned_iou_xywh',
    'augment_first_frame', 'conjugate_gradient', 'convert_official_atom_key',
    'convert_official_atom_state_dict', 'fourier_upsample', 'fuse_top_k', 'gauss_newton',
    'gaussian_label', 'jitter_boxes', 'load_official_atom_checkpoint', 'localize_target',
    'prroi_pool', 'refine_boxes_by_iou', 'sample_proposals'
]
