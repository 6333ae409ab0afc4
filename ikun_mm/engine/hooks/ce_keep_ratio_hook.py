"""``CEKeepRatioWarmupHook``: OSTrack's warm-up of early candidate elimination."""
import math

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ikun_mm.registry import HOOKS


@HOOKS.register_module()
class CEKeepRatioWarmupHook(Hook):
    """Warm up OSTrack's candidate elimination as the official trainer (``adjust_keep_rate`` of
    ``lib/utils/ce_utils.py``, called with the 1-based epoch): keep ratio 1 (no elimination) up
    to epoch ``start_epoch`` (``CE_START_EPOCH``), then a cosine from 1 down to the configured
    ratio ``r`` over ``warmup_epochs`` (``CE_WARM_EPOCH``)::

        ratio = r + (1 - r) * (cos(pi * t) + 1) / 2,   t = (epoch - start_epoch) / warmup_epochs

    (OSTrack-256/384 on LaSOT: start 20, warm-up 80 of 300 epochs; GOT-10k-only: 20 and 50).
    Sets ``model.backbone.ce_progress`` = ``(1 - cos(pi * t)) / 2`` (the ratio is
    ``1 - (1 - r) * ce_progress``) before each training epoch; evaluation always uses the
    configured ratio.
    """

    priority = 'NORMAL'

    def __init__(self, start_epoch: int = 20, warmup_epochs: int = 80) -> None:
        self.start_epoch = start_epoch
        self.warmup_epochs = warmup_epochs

    def progress(self, epoch: int) -> float:
        """Warm-up progress in [0, 1] at a 0-based runner epoch (official epoch ``epoch + 1``)."""
        epoch = epoch + 1
        if epoch < self.start_epoch:
            return 0.0
        if epoch >= self.start_epoch + self.warmup_epochs:
            return 1.0
        t = (epoch - self.start_epoch) / self.warmup_epochs
        return (1 - math.cos(math.pi * t)) / 2

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if backbone is None or not hasattr(backbone, 'ce_progress'):
            raise TypeError('CEKeepRatioWarmupHook needs a model whose backbone has '
                            f'"ce_progress" (OSTrackViT), got {type(model).__name__}')
        backbone.ce_progress = self.progress(runner.epoch)
