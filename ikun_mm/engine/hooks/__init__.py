
from .ce_keep_ratio_hook import CEKeepRatioWarmupHook  # noqa: F401
