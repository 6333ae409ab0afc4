"""``CropSizeFromModelHook``: the crop sizes of iKUN's pipelines come from the model."""
from typing import Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ikun_mm.datasets.transforms.ikun_transforms import fill_crop_sizes
from ikun_mm.registry import HOOKS


def model_crop_sizes(model) -> Optional[Tuple[int, int]]:
    """``(local_size, global_size)`` of an iKUN (or of the ``referrer`` of a referring tracker),
    ``None`` for a model without crop sizes."""
    if is_model_wrapper(model):
        model = model.module
    for m in (model, getattr(model, 'referrer', None)):
        if m is not None and getattr(m, 'local_size', None) is not None:
            return int(m.local_size), int(m.global_size)
    return None


@HOOKS.register_module()
class CropSizeFromModelHook(Hook):
    """Give every ``CropLocalGlobal`` without sizes in the runner's dataloaders the crop sizes
    of the model (``model.visual_encoder.local_size`` / ``global_size``).

    mmengine binds config values when a file is parsed and does not merge lists, so a crop size
    written both on the model and in the pipelines had to be repeated, pipelines included, by
    every config that changed it. The iKUN configs instead write the sizes once, on the model
    (its positional terms and checkpoints are built for them), and leave the pipelines' crops
    size-less; this hook fills them in before the first batch of each loop is loaded (the
    dataloader workers start later), the way mmdet's ``PipelineSwitchHook`` edits a built
    pipeline. Crops with explicit sizes are left alone: a mismatch is the model's error at the
    first batch (:meth:`~ikun_mm.models.referring.IKUN.encode_visual`).
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _fill(runner, loop) -> None:
        sizes = model_crop_sizes(runner.model)
        dataloader = getattr(loop, 'dataloader', None)
        if sizes is not None and dataloader is not None:
            fill_crop_sizes(dataloader.dataset, *sizes)

    def before_train(self, runner) -> None:
        self._fill(runner, runner.train_loop)

    def before_val(self, runner) -> None:
        self._fill(runner, runner.val_loop)

    def before_test(self, runner) -> None:
        self._fill(runner, runner.test_loop)
