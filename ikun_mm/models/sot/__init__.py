from .atom import ATOM, ATOMIoUNet, load_official_atom_checkpoint
from .base_sot import BaseSOTModel
from .data_preprocessor import SOTDataPreprocessor
from .ostrack import OSTrack
from .ostrack_head import (OSTrackCenterHead, centernet_gaussian_radius, decode_center,
                           draw_gaussian, generate_heatmap, hann_window)
from .ostrack_vit import OSTrackViT, candidate_elimination, restore_search_tokens
from .pretrained import (convert_ostrack_state_dict, convert_stark_state_dict,
                         convert_torchvision_resnet, convert_vit_to_ostrack_backbone,
                         load_official_checkpoint, load_resnet_pretrained, load_vit_pretrained)
from .stark import STARK
from .stark_head import STARKCornerHead, STARKScoreHead, corners_to_box, soft_argmax_2d
from .static_box_tracker import StaticBoxTracker

__all__ = [
    'ATOM', 'ATOMIoUNet', 'BaseSOTModel', 'OSTrack', 'OSTrackCenterHead', 'OSTrackViT',
    'SOTDataPreprocessor', 'STARK', 'STARKCornerHead', 'STARKScoreHead', 'StaticBoxTracker',
    'candidate_elimination', 'centernet_gaussian_radius', 'convert_ostrack_state_dict',
    'convert_stark_state_dict', 'convert_torchvision_resnet', 'convert_vit_to_ostrack_backbone',
    'corners_to_box', 'decode_center', 'draw_gaussian', 'generate_heatmap', 'hann_window',
    'load_official_atom_checkpoint', 'load_official_checkpoint', 'load_resnet_pretrained',
    'load_vit_pretrained', 'restore_search_tokens', 'soft_argmax_2d'
]
