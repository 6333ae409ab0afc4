"""ikun_mm: referring multi-object tracking (iKUN, NKF, NeuralSORT) for the OpenMMLab stack."""
from .version import __version__

__all__ = ['__version__']
