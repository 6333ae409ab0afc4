"""``StaticBoxTracker``: the "repeat the first box" baseline of the OPE metric."""
from typing import Dict, List, Optional, Tuple

from torch import Tensor, nn

from ikun_mm.registry import MODELS
from ikun_mm.structures import SOTDataSample
from .base_sot import BaseSOTModel


@MODELS.register_module()
class StaticBoxTracker(BaseSOTModel):
    """Predicts the first frame's box in every frame: the floor a tracker must clear.

    It has no parameters and nothing to train (``loss`` raises); test it with any checkpoint file
    holding an empty ``state_dict``.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self._dummy = nn.Identity()

    def loss(self, inputs: Dict[str, Tensor], data_samples: List[SOTDataSample]) -> dict:
        raise RuntimeError('StaticBoxTracker is a baseline without parameters; it is not trained')

    def _forward(self, inputs: Dict[str, Tensor], data_samples=None):
        raise RuntimeError('StaticBoxTracker has no network outputs')

    def init(self, img: Tensor, bbox: Tensor) -> None:
        self.state = bbox.clone()

    def track(self, img: Tensor) -> Tuple[Tensor, float]:
        return self.state.clone(), 1.0
