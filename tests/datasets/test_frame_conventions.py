"""Per-expression GT in the 'corrected' and 'legacy' frame conventions (the documented example)."""
import numpy as np
import pytest

from ikun_mm.datasets.refer_kitti_io import Expression, VideoAnnotation, expression_gt_rows


def _annotation():
    # id 3 moves right by 2 px per image over images 0..2; id 5 exists in image 0 only
    boxes = np.array([[0, 3, 0, 10, 20, 30, 40], [0, 5, 1, 50, 20, 60, 40],
                      [1, 3, 0, 12, 20, 32, 40], [2, 3, 0, 14, 20, 34, 40]], float)
    return VideoAnnotation('0000', ['a', 'b', 'c'], (100, 50), boxes)


def test_documented_worked_example():
    expr = Expression('0000', 'cars', 'cars.json', label={0: [3, 5], 1: [3]})
    corrected = expression_gt_rows(expr, _annotation(), 'corrected')
    legacy = expression_gt_rows(expr, _annotation(), 'legacy')
    np.testing.assert_array_equal(corrected, [[1, 3, 10, 20, 20, 20], [1, 5, 50, 20, 10, 20],
                                              [2, 3, 12, 20, 20, 20]])
    # legacy: same MOT frames and ids, boxes of the next image; id 5 is absent from image 1
    np.testing.assert_array_equal(legacy, [[1, 3, 12, 20, 20, 20], [2, 3, 14, 20, 20, 20]])


def test_conventions_differ_exactly_by_one_image(mini_refer_kitti):
    from ikun_mm.datasets import load_expressions, load_video_annotation
    ann = load_video_annotation(mini_refer_kitti, '0005')
    for expr in load_expressions(mini_refer_kitti, '0005', ann):
        corrected = {(int(r[0]), int(r[1])): r[2:] for r in expression_gt_rows(expr, ann)}
        legacy = expression_gt_rows(expr, ann, 'legacy')
        for frame, tid, *box in legacy:
            # legacy at MOT frame t == corrected at MOT frame t + 1 when the id is referred there
            nxt = corrected.get((int(frame) + 1, int(tid)))
            if nxt is not None:
                np.testing.assert_allclose(box, nxt)


def test_unknown_convention():
    with pytest.raises(ValueError, match="convention must be one of"):
        expression_gt_rows(Expression('0000', 's', 'f'), _annotation(), 'shifted')
