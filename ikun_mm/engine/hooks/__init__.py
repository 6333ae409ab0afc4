from .ce_keep_ratio_hook import CEKeepRatioWarmupHook
from .referring_visualization_hook import ReferringVisualizationHook

__all__ = ['CEKeepRatioWarmupHook', 'ReferringVisualizationHook']
