
from .sot_metric import SOTMetric  # noqa: F401
