
from .trackeval_utils import evaluate_mot, mot_rows_from_boxes  # noqa: F401
