"""``CheckpointReID``: mmdet's ``BaseReID`` that loads its trained weights when it is built."""
from typing import Optional

from mmdet.models.reid import BaseReID
from mmengine.logging import MMLogger

from ikun_mm.registry import MODELS
from ikun_mm.utils.checkpoint import (load_state_dict_strict, read_checkpoint,
                                      state_dict_from_checkpoint)


@MODELS.register_module()
class CheckpointReID(BaseReID):
    """mmdet's ``BaseReID`` (an mmpretrain ``ImageClassifier``: backbone, neck, head) whose
    weights come from a checkpoint as soon as it is built, the way ``NeuralKalmanFilter`` takes
    ``checkpoint``: a tracking model is built and run without a runner, so nothing would call
    ``init_weights`` or load ``load_from``.

    In ``mode='tensor'`` it maps crops (N, 3, h, w), normalised like its
    ``ReIDDataPreprocessor``, to features (N, head.out_channels).

    Args:
        checkpoint: local path of a checkpoint written by ``tools/train.py`` with a
            ``configs/reid`` config (keys ``backbone.*``, ``neck.*``, ``head.*``); ``None`` keeps
            the random weights (and says so in the log). Loaded strictly: a file that cannot
            be read or does not fit raises, naming it and the keys
            (:func:`~ikun_mm.utils.checkpoint.load_state_dict_strict`).
        *args, **kwargs: ``BaseReID``'s (``backbone``, ``neck``, ``head``,
            ``data_preprocessor``, ...).
    """

    def __init__(self, *args, checkpoint: Optional[str] = None, **kwargs) -> None:
        kwargs.pop('init_cfg', None)  # pretrained backbones are URLs; the checkpoint has it all
        super().__init__(*args, **kwargs)
        self.checkpoint = checkpoint
        if checkpoint is None:
            MMLogger.get_current_instance().warning(
                'CheckpointReID: no checkpoint given, the ReID has random weights (train one '
                'with tools/train.py and a configs/reid config)')
            return
        state = state_dict_from_checkpoint(read_checkpoint(checkpoint, map_location='cpu'),
                                           checkpoint, keys=('state_dict', ))
        load_state_dict_strict(self, state, checkpoint,
                               hint='Expected a checkpoint of tools/train.py with a configs/reid '
                               'config of the same backbone, neck and head.')
        MMLogger.get_current_instance().info(f'CheckpointReID: loaded {checkpoint}')
