"""Per-expression GT and predictions in the 'corrected', 'legacy' and 'ikun' frame conventions
(the documented worked examples, written out by hand)."""
import numpy as np
import pytest

from ikun_mm.datasets.refer_kitti_io import (FRAME_CONVENTIONS, Expression, VideoAnnotation,
                                             expression_gt_rows, prediction_mot_rows)


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


# The docstrings' worked example: N = 4 images, id 3 at x1 = 10, 12, 14, 16 in images 0..3
# (y1 = 20, size 20 x 20), referred at frames 0 and 1.
def _four_images():
    boxes = np.array([[f, 3, 0, 10 + 2 * f, 20, 30 + 2 * f, 40] for f in range(4)], float)
    return VideoAnnotation('0000', ['a', 'b', 'c', 'd'], (100, 50), boxes)


def test_worked_example_ground_truth():
    expr = Expression('0000', 'cars', 'cars.json', label={0: [3], 1: [3]})
    ann = _four_images()
    gt = {c: expression_gt_rows(expr, ann, c) for c in FRAME_CONVENTIONS}
    assert FRAME_CONVENTIONS == ('corrected', 'legacy', 'ikun')
    np.testing.assert_array_equal(gt['corrected'], [[1, 3, 10, 20, 20, 20], [2, 3, 12, 20, 20, 20]])
    np.testing.assert_array_equal(gt['legacy'], [[1, 3, 12, 20, 20, 20], [2, 3, 14, 20, 20, 20]])
    np.testing.assert_array_equal(gt['ikun'], gt['legacy'])  # the official test's GT files


def test_worked_example_predictions():
    # the object predicted in every image: frame (0-based), id, x1, y1, x2, y2, score
    rows = np.array([[f, 3, 10 + 2 * f, 20, 30 + 2 * f, 40, 0.5] for f in range(4)], float)
    corrected = [[1, 3, 10, 20, 20, 20, 0.5], [2, 3, 12, 20, 20, 20, 0.5],
                 [3, 3, 14, 20, 20, 20, 0.5], [4, 3, 16, 20, 20, 20, 0.5]]
    np.testing.assert_array_equal(prediction_mot_rows(rows, 'corrected'), corrected)
    np.testing.assert_array_equal(prediction_mot_rows(rows, 'legacy', 4), corrected)
    # ikun: image f at MOT frame f, images 0 and N-1 = 3 dropped
    np.testing.assert_array_equal(prediction_mot_rows(rows, 'ikun', 4),
                                  [[1, 3, 12, 20, 20, 20, 0.5], [2, 3, 14, 20, 20, 20, 0.5]])


def test_pairing_of_ground_truth_and_predictions():
    """At each MOT frame, 'corrected' and 'ikun' put GT and prediction of the same image side by
    side (same x1), 'legacy' the prediction of the image before (x1 two pixels behind)."""
    expr = Expression('0000', 'cars', 'cars.json', label={0: [3], 1: [3], 2: [3]})
    ann = _four_images()
    rows = np.array([[f, 3, 10 + 2 * f, 20, 30 + 2 * f, 40] for f in range(4)], float)
    for convention, lag in (('corrected', 0), ('legacy', 2), ('ikun', 0)):
        gt = {int(r[0]): r[2] for r in expression_gt_rows(expr, ann, convention)}
        pred = {int(r[0]): r[2] for r in prediction_mot_rows(rows, convention, 4)}
        both = sorted(set(gt) & set(pred))
        assert both, convention
        assert all(gt[k] - pred[k] == lag for k in both), convention
    # ikun: the GT of MOT frame 3 (image 3, ids of label[2]) has no prediction
    assert 3 in {int(r[0]) for r in expression_gt_rows(expr, ann, 'ikun')}
    assert 3 not in {int(r[0]) for r in prediction_mot_rows(rows, 'ikun', 4)}


def test_prediction_rows_errors_and_empty_input():
    rows = np.zeros((0, 7))
    for convention in FRAME_CONVENTIONS:
        assert prediction_mot_rows(rows, convention, 4).shape == (0, 7)
    with pytest.raises(ValueError, match="'ikun' convention needs num_frames"):
        prediction_mot_rows(np.ones((1, 7)), 'ikun')
    with pytest.raises(ValueError, match='convention must be one of'):
        prediction_mot_rows(np.ones((1, 7)), 'shifted', 4)
    with pytest.raises(ValueError, match=r'shape \(N, 6\+\)'):
        prediction_mot_rows(np.ones((2, 5)), 'corrected')
