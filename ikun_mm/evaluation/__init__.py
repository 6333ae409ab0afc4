from .calibration import (GridHota, calibrated_checkpoint, f1_grid, fit_f1, fit_hota,
                          frame_decisions, grid_search, leave_one_video_out, positive_box_shares)
from .expression_metric import ExpressionMatchingMetric, binary_auc, matching_scores
from .fast_hota import GridResult, ReferringGrid, ShiftGrid, evaluate_mot_fast, trackeval_round
from .referring_eval import referring_metrics
from .referring_metric import ReferringMetric, format_table, sequence_name
from .sot_metric import SOTMetric
from .trackeval_utils import evaluate_mot, mot_rows_from_boxes

__all__ = [
    'ExpressionMatchingMetric', 'GridHota', 'GridResult', 'ReferringGrid', 'ReferringMetric',
    'SOTMetric', 'ShiftGrid', 'binary_auc', 'calibrated_checkpoint', 'evaluate_mot',
    'evaluate_mot_fast', 'f1_grid', 'fit_f1', 'fit_hota', 'format_table', 'frame_decisions',
    'grid_search', 'leave_one_video_out', 'matching_scores', 'mot_rows_from_boxes',
    'positive_box_shares', 'referring_metrics', 'sequence_name', 'trackeval_round'
]
