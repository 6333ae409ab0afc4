
from .expression_metric import ExpressionMatchingMetric, binary_auc, matching_scores  # noqa: F401
