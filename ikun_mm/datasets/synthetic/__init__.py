from .mini_refer_kitti import expression_predicates, generate_mini_refer_kitti

__all__ = ['generate_mini_refer_kitti', 'expression_predicates']
