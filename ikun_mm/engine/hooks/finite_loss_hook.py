"""``FiniteLossHook``: stop training at the first iteration whose loss is NaN or infinite."""
import math
from typing import Optional

from mmengine.hooks import Hook

from ikun_mm.registry import HOOKS


def _non_finite_terms(outputs) -> dict:
    """The loss terms of a train step's ``outputs`` (log vars) that are not finite."""
    if not isinstance(outputs, dict):
        return {}
    terms = {k: v for k, v in outputs.items() if 'loss' in k}
    bad = {}
    for key, value in terms.items():
        try:
            number = float(value.detach().float().mean()) if hasattr(value, 'detach') else \
                float(value)
        except (TypeError, ValueError, RuntimeError):
            continue  # not a scalar loss term
        if not math.isfinite(number):
            bad[key] = number
    return bad


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training with an error when a loss term becomes NaN or infinite.

    Checked after every training iteration (the log vars are scalars the logger reads anyway),
    before the checkpoint hook runs, so the weights of a diverged run are never saved: the
    checkpoints already in the work dir are the last good ones. It is on in every config based
    on ``configs/_base_/default_runtime.py`` (``default_hooks.finite_loss``);
    ``--cfg-options default_hooks.finite_loss.enabled=False`` trains on through non-finite
    losses (mmengine does not take ``None`` for a hook it does not know).

    Args:
        interval: check every ``interval`` iterations (1: every one).
        enabled: ``False`` turns the check off.

    Raises:
        FloatingPointError: at the first checked iteration with a non-finite loss term.
    """

    priority = 'ABOVE_NORMAL'  # before the checkpoint (VERY_LOW) and logger hooks

    def __init__(self, interval: int = 1, enabled: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'FiniteLossHook: interval must be >= 1, got {interval}')
        self.interval = interval
        self.enabled = enabled

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not self.enabled or not self.every_n_train_iters(runner, self.interval):
            return
        bad = _non_finite_terms(outputs)
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in bad.items())
            raise FloatingPointError(
                f'non-finite training loss at epoch {runner.epoch + 1}, iteration '
                f'{runner.iter + 1} ({terms}): training stopped, no checkpoint of these weights '
                f'is saved (the earlier checkpoints in {runner.work_dir}, if any, are kept). '
                'Lower the learning rate, check the inputs, or set '
                'default_hooks.finite_loss.enabled=False to train on regardless.')
