from .base_sot import BaseSOTModel
from .data_preprocessor import SOTDataPreprocessor
from .static_box_tracker import StaticBoxTracker

__all__ = ['BaseSOTModel', 'SOTDataPreprocessor', 'StaticBoxTracker']
from .ostrack import OSTrack  # noqa: E402
from .ostrack_head import (OSTrackCenterHead, centernet_gaussian_radius, decode_center,  # noqa
                           draw_gaussian, generate_heatmap, hann_window)
from .ostrack_vit import OSTrackViT, candidate_elimination, restore_search_tokens  # noqa: E402

__all__ += ['OSTrack', 'OSTrackCenterHead', 'OSTrackViT', 'candidate_elimination',
            'restore_search_tokens', 'decode_center', 'hann_window', 'centernet_gaussian_radius',
            'draw_gaussian', 'generate_heatmap']
from .stark import STARK  # noqa: E402
from .stark_head import STARKCornerHead, STARKScoreHead, corners_to_box, soft_argmax_2d  # noqa

__all__ += ['STARK', 'STARKCornerHead', 'STARKScoreHead', 'corners_to_box', 'soft_argmax_2d']
from .pretrained import (convert_ostrack_state_dict, convert_stark_state_dict,  # noqa: E402
                         convert_torchvision_resnet, convert_vit_to_ostrack_backbone,
                         load_official_checkpoint, load_resnet_pretrained, load_vit_pretrained)

__all__ += ['convert_ostrack_state_dict', 'convert_stark_state_dict', 'load_official_checkpoint',
            'convert_torchvision_resnet', 'convert_vit_to_ostrack_backbone',
            'load_resnet_pretrained', 'load_vit_pretrained']
from .atom import ATOM  # noqa: F401,E402
