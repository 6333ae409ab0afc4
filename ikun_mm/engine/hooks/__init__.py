from .ce_keep_ratio_hook import CEKeepRatioWarmupHook
from .crop_size_hook import CropSizeFromModelHook, model_crop_sizes
from .finite_loss_hook import FiniteLossHook
from .referring_visualization_hook import ReferringVisualizationHook

__all__ = ['CEKeepRatioWarmupHook', 'CropSizeFromModelHook', 'FiniteLossHook',
           'ReferringVisualizationHook', 'model_crop_sizes']
