from .mini_refer_kitti import expression_predicates, generate_mini_refer_kitti

__all__ = ['generate_mini_refer_kitti', 'expression_predicates']
from .sot_sequences import generate_sot_sequences, render_sequence  # noqa: F401
