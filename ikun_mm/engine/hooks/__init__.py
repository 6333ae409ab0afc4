from .ce_keep_ratio_hook import CEKeepRatioWarmupHook
from .finite_loss_hook import FiniteLossHook
from .referring_visualization_hook import ReferringVisualizationHook

__all__ = ['CEKeepRatioWarmupHook', 'FiniteLossHook', 'ReferringVisualizationHook']
