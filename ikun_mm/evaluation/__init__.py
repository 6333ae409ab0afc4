from .expression_metric import ExpressionMatchingMetric, binary_auc, matching_scores
from .fast_hota import GridResult, ReferringGrid, ShiftGrid, evaluate_mot_fast, trackeval_round
from .referring_eval import prepare_referring, referring_metrics
from .referring_metric import ReferringMetric, format_table, sequence_name
from .sot_metric import SOTMetric
from .trackeval_utils import evaluate_mot, mot_rows_from_boxes

__all__ = [
    'ExpressionMatchingMetric', 'GridResult', 'ReferringGrid', 'ReferringMetric', 'SOTMetric',
    'ShiftGrid', 'binary_auc', 'evaluate_mot', 'evaluate_mot_fast', 'format_table',
    'matching_scores', 'mot_rows_from_boxes', 'prepare_referring', 'referring_metrics',
    'sequence_name', 'trackeval_round'
]
