from .base_sot import BaseSOTModel
from .data_preprocessor import SOTDataPreprocessor
from .static_box_tracker import StaticBoxTracker

__all__ = ['BaseSOTModel', 'SOTDataPreprocessor', 'StaticBoxTracker']
from .atom import ATOM  # noqa: F401,E402
