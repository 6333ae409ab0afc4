from .expression_metric import ExpressionMatchingMetric, binary_auc, matching_scores  # noqa: F401
from .referring_metric import ReferringMetric, format_table, sequence_name  # noqa: F401
from .trackeval_utils import evaluate_mot, mot_rows_from_boxes  # noqa: F401
from .fast_hota import (GridResult, ReferringGrid, ShiftGrid, evaluate_mot_fast,  # noqa: F401
                        trackeval_round)
from .sot_metric import SOTMetric  # noqa: F401
from .referring_eval import prepare_referring, referring_metrics  # noqa: F401
