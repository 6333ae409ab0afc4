"""``CEKeepRatioWarmupHook``: OSTrack's warm-up of early candidate elimination."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ikun_mm.registry import HOOKS


@HOOKS.register_module()
class CEKeepRatioWarmupHook(Hook):
    """Warm up OSTrack's candidate elimination: no elimination for the first ``start_epoch``
    epochs, then the keep ratio falls linearly to its configured value over ``warmup_epochs``
    (OSTrack-256: start 20, warm-up 80 of 300 epochs). Sets ``model.backbone.ce_progress``
    before each training epoch; evaluation always uses the configured ratio.
    """

    priority = 'NORMAL'

    def __init__(self, start_epoch: int = 20, warmup_epochs: int = 80) -> None:
        self.start_epoch = start_epoch
        self.warmup_epochs = warmup_epochs

    def progress(self, epoch: int) -> float:
        """Warm-up progress in [0, 1] at a (0-based) epoch."""
        if epoch < self.start_epoch:
            return 0.0
        if self.warmup_epochs <= 0:
            return 1.0
        return min(1.0, (epoch - self.start_epoch) / self.warmup_epochs)

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if backbone is None or not hasattr(backbone, 'ce_progress'):
            raise TypeError('CEKeepRatioWarmupHook needs a model whose backbone has '
                            f'"ce_progress" (OSTrackViT), got {type(model).__name__}')
        backbone.ce_progress = self.progress(runner.epoch)
