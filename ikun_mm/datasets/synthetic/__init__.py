from .mini_refer_kitti import expression_predicates, generate_mini_refer_kitti
from .sot_sequences import generate_sot_sequences, render_sequence

__all__ = [
    'expression_predicates', 'generate_mini_refer_kitti', 'generate_sot_sequences',
    'render_sequence'
]
