"""Row layouts (named columns) and box conversions / IoU of ``ikun_mm.structures``, pinned
against mmdet's and torchvision's box functions, closed forms, and what the readers return for a
hand-written file."""
import numpy as np
import pytest
import torch
import torchvision
from mmdet.structures.bbox import bbox_cxcyah_to_xyxy, bbox_overlaps, bbox_xyxy_to_cxcyah

from ikun_mm import structures
from ikun_mm.structures import (DET_ROW, FRAME_DET_ROW, GT_ROW, MOT_FILE_ROW, MOT_GT_ROW,
                                MOT_PRED_ROW, REFERRED_ROW, TRACK_BOX_ROW, TRACK_ROW, RowLayout,
                                bbox_centers, bbox_inside_fraction, bbox_iou, cxcyah_to_xyxy,
                                normalized_to_pixels, pixels_to_normalized,
                                trackeval_box_iou_pairs, xywh_to_xyxy, xyxy_to_cxcyah,
                                xyxy_to_xywh)


def random_xyxy(rng, n):
    xy = rng.uniform(0, 100, (n, 2))
    return np.c_[xy, xy + rng.uniform(1, 40, (n, 2))]


# ------------------------------------------------------------------------------ layouts
def test_layout_columns_are_the_documented_ones():
    # the columns of docs/data_flow.md's table "Row layouts used on this page"
    assert GT_ROW.columns == ('frame', 'id', 'cls', 'x1', 'y1', 'x2', 'y2')
    assert MOT_FILE_ROW.columns == ('frame', 'id', 'x1', 'y1', 'x2', 'y2', 'score', 'cls', 'line')
    assert DET_ROW.columns == ('frame', 'x1', 'y1', 'x2', 'y2', 'score', 'cls')
    assert FRAME_DET_ROW.columns == ('x1', 'y1', 'x2', 'y2', 'score', 'label')
    assert TRACK_ROW.columns == ('frame', 'id', 'x1', 'y1', 'x2', 'y2', 'score', 'label')
    assert TRACK_BOX_ROW.columns == ('frame', 'x1', 'y1', 'x2', 'y2')
    assert REFERRED_ROW.columns == ('frame', 'id', 'x1', 'y1', 'x2', 'y2', 'score')
    assert MOT_GT_ROW.columns == ('frame', 'id', 'x', 'y', 'w', 'h')
    assert MOT_PRED_ROW.columns == ('frame', 'id', 'x', 'y', 'w', 'h', 'score')
    assert (TRACK_ROW.frame, TRACK_ROW.id, TRACK_ROW.score, TRACK_ROW.label) == (0, 1, 6, 7)
    assert (GT_ROW.cls, GT_ROW.x1, DET_ROW.score, MOT_FILE_ROW.line) == (2, 3, 5, 8)
    assert GT_ROW.box == slice(3, 7) and DET_ROW.box == slice(1, 5)
    assert FRAME_DET_ROW.box == slice(0, 4) and MOT_GT_ROW.box == slice(2, 6)
    assert [TRACK_ROW.width, REFERRED_ROW.width, TRACK_BOX_ROW.width] == [8, 7, 5]


def test_layout_errors_name_the_column():
    with pytest.raises(AttributeError, match="'tracker rows' has no column 'cls'"):
        TRACK_ROW.cls
    with pytest.raises(ValueError, match='repeated column'):
        RowLayout('bad', ('frame', 'frame'))
    with pytest.raises(ValueError, match='clash'):
        RowLayout('bad', ('frame', 'box'))
    with pytest.raises(ValueError, match=r'tracker rows must have shape \(N, 8\)'):
        TRACK_ROW.as_rows(np.zeros((3, 7)), 'here')
    with pytest.raises(KeyError, match=r"\['label'\]"):
        REFERRED_ROW.to(TRACK_ROW, np.zeros((2, 7)))


def test_layout_conversions_take_columns_by_name():
    gt = np.array([[4, 7, 2, 10, 20, 30, 60], [5, 7, 2, 11, 21, 31, 61.]])
    np.testing.assert_array_equal(GT_ROW.to(TRACK_BOX_ROW, gt), gt[:, [0, 3, 4, 5, 6]])
    np.testing.assert_array_equal(GT_ROW.boxes(gt), gt[:, 3:7])
    np.testing.assert_array_equal(GT_ROW.take(gt, 'id', 'frame'), gt[:, [1, 0]])
    tracks = np.arange(16.).reshape(2, 8)
    np.testing.assert_array_equal(TRACK_ROW.to(REFERRED_ROW, tracks), tracks[:, :7])
    referred = REFERRED_ROW.to(TRACK_ROW, tracks[:, :7], label=-1)
    np.testing.assert_array_equal(referred, np.c_[tracks[:, :7], [-1, -1]])
    assert TRACK_ROW.as_rows([]).shape == (0, 8) and TRACK_ROW.empty().shape == (0, 8)


def test_readers_return_their_layouts(tmp_path):
    from ikun_mm.datasets.refer_kitti_io import load_detections, load_mot_rows
    path = tmp_path / 'det.txt'
    path.write_text('3,-1,10,20,30,40,0.9,2\n1,-1,1,2,3,4,0.5\n')
    rows = load_mot_rows(str(path), min_fields=7)
    assert rows.shape == (2, MOT_FILE_ROW.width)
    first = dict(zip(MOT_FILE_ROW.columns, rows[0]))
    assert first == dict(frame=2, id=-1, x1=10, y1=20, x2=40, y2=60, score=0.9, cls=2, line=1)
    dets = load_detections(str(path))
    assert dict(zip(DET_ROW.columns, dets[1])) == dict(frame=0, x1=1, y1=2, x2=4, y2=6,
                                                       score=0.5, cls=-1)


# ------------------------------------------------------------------------------ boxes
def test_bbox_iou_is_mmdet_bbox_overlaps():
    rng = np.random.default_rng(0)
    a, b = random_xyxy(rng, 6), random_xyxy(rng, 5)
    np.testing.assert_array_equal(bbox_iou(a, b),
                                  bbox_overlaps(torch.as_tensor(a), torch.as_tensor(b)).numpy())
    np.testing.assert_allclose(bbox_iou(a, b), torchvision.ops.box_iou(
        torch.as_tensor(a), torch.as_tensor(b)).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(bbox_iou(a[:5], b, aligned=True), np.diag(bbox_iou(a[:5], b)))
    np.testing.assert_array_equal(
        bbox_iou(a[:5], b, aligned=True),
        bbox_overlaps(torch.as_tensor(a[:5]), torch.as_tensor(b), is_aligned=True).numpy())
    # boxes of any shape, inverted ones included: still mmdet's numbers, bit for bit
    c, d = rng.uniform(-5, 5, (7, 4)), rng.uniform(-5, 5, (3, 4))
    np.testing.assert_array_equal(bbox_iou(c, d, eps=1e-9), bbox_overlaps(
        torch.as_tensor(c), torch.as_tensor(d), eps=1e-9).numpy())
    # closed form: two 10x10 squares overlapping by half
    np.testing.assert_allclose(bbox_iou([[0, 0, 10, 10]], [[5, 0, 15, 10]]), [[50 / 150]])
    assert bbox_iou(np.zeros((0, 4)), a).shape == (0, 6)
    # eps: the union of two empty boxes is eps, not 0
    assert bbox_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]], eps=1e-9)[0, 0] == 0


def test_trackeval_iou_pairs_closed_form():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 5.], [0, 0, 4, 4]])
    b = np.array([[5, 0, 10, 10], [20, 20, 1, 1], [0, 0, 0, 5.], [1, 1, 2, 2]])
    np.testing.assert_allclose(trackeval_box_iou_pairs(a, b), [50 / 150, 0, 0, 4 / 16])
    # the same numbers as the xyxy IoU for boxes of positive size
    rng = np.random.default_rng(1)
    x, y = random_xyxy(rng, 8), random_xyxy(rng, 8)
    np.testing.assert_allclose(trackeval_box_iou_pairs(xyxy_to_xywh(x), xyxy_to_xywh(y)),
                               bbox_iou(x, y, aligned=True), rtol=1e-12)


def test_xywh_conversions_match_torchvision():
    rng = np.random.default_rng(2)
    boxes = random_xyxy(rng, 7)
    expected = torchvision.ops.box_convert(torch.as_tensor(boxes), 'xyxy', 'xywh').numpy()
    np.testing.assert_array_equal(xyxy_to_xywh(boxes), expected)
    back = torchvision.ops.box_convert(torch.as_tensor(expected), 'xywh', 'xyxy').numpy()
    np.testing.assert_array_equal(xywh_to_xyxy(expected), back)
    np.testing.assert_array_equal(xywh_to_xyxy([1, 2, 3, 4]), [1, 2, 4, 6])
    assert xyxy_to_xywh(boxes[None]).shape == (1, 7, 4)
    with pytest.raises(ValueError, match=r'\(\.\.\., 4\)'):
        xyxy_to_xywh(np.zeros((3, 5)))


def test_xywh_conversions_keep_tensors_and_gradients():
    # ATOM refines xywh boxes by gradient ascent through these conversions
    boxes = torch.tensor([[[1., 2., 4., 8.], [0., 0., 3., 3.]]], dtype=torch.float32,
                         requires_grad=True)
    xywh = xyxy_to_xywh(boxes)
    ref = torchvision.ops.box_convert(boxes.detach().reshape(-1, 4), 'xyxy', 'xywh')
    assert xywh.dtype == torch.float32 and xywh.shape == (1, 2, 4)
    torch.testing.assert_close(xywh.reshape(-1, 4), ref)
    torch.testing.assert_close(xywh_to_xyxy(xywh), boxes)
    xywh[..., 2:].sum().backward()  # d(w + h)/d(x1, y1, x2, y2) = (-1, -1, 1, 1)
    torch.testing.assert_close(boxes.grad, torch.tensor([[[-1., -1., 1., 1.]] * 2]))


def test_cxcyah_conversions_match_mmdet():
    rng = np.random.default_rng(3)
    boxes = random_xyxy(rng, 9)
    mm = bbox_xyxy_to_cxcyah(torch.as_tensor(boxes)).numpy()
    ours = xyxy_to_cxcyah(boxes)
    np.testing.assert_allclose(ours, mm, rtol=1e-15, atol=1e-13)
    np.testing.assert_array_equal(ours[:, 2:], mm[:, 2:])  # w / h and h: the same operations
    xyah = np.c_[rng.uniform(0, 100, (9, 2)), rng.uniform(0.2, 3, 9), rng.uniform(5, 50, 9)]
    np.testing.assert_array_equal(cxcyah_to_xyxy(xyah),
                                  bbox_cxcyah_to_xyxy(torch.as_tensor(xyah)).numpy())
    np.testing.assert_allclose(cxcyah_to_xyxy(xyah[0]), [
        xyah[0, 0] - xyah[0, 2] * xyah[0, 3] / 2, xyah[0, 1] - xyah[0, 3] / 2,
        xyah[0, 0] + xyah[0, 2] * xyah[0, 3] / 2, xyah[0, 1] + xyah[0, 3] / 2])
    # an all-zero placeholder row stays finite (mmdet's gives nan)
    assert np.isfinite(xyxy_to_cxcyah(np.zeros((1, 4)))).all()


def test_centers_and_normalisation():
    boxes = np.array([[0, 10, 20, 50.]])
    np.testing.assert_array_equal(bbox_centers(boxes), [[10, 30]])
    # a 20x10 box half outside a 200x100 image; a box without area
    np.testing.assert_allclose(bbox_inside_fraction(np.array([[190., 0, 210, 10], [5, 5, 5, 9]]),
                                                    200, 100), [0.5, 0])
    np.testing.assert_array_equal(normalized_to_pixels([0.5, 0.25, 1, 1], (200, 80)),
                                  [100, 20, 200, 80])
    np.testing.assert_array_equal(pixels_to_normalized([[100, 20, 200, 80]], (200, 80)),
                                  [[0.5, 0.25, 1, 1]])


def test_package_exports_are_sorted_and_complete():
    assert structures.__all__ == sorted(structures.__all__)
    assert all(hasattr(structures, name) for name in structures.__all__)
