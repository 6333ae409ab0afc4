"""tools/analysis/browse_dataset.py: the ground truth of an expression, listed and drawn."""
import os.path as osp

import cv2
import numpy as np
import pytest

from tests.utils import load_tool


def _tool():
    return load_tool('analysis', 'browse_dataset.py')


def test_referred_gt_rows_are_the_json_labels_with_their_boxes(mini_refer_kitti):
    from ikun_mm.datasets import load_expressions, load_video_annotation
    tool = _tool()
    ann = load_video_annotation(mini_refer_kitti, '0005')
    expr = max(load_expressions(mini_refer_kitti, '0005', ann), key=lambda e: len(e.label))
    rows = tool.referred_gt(ann, [expr])[expr.sentence]
    assert {(int(f), int(i)) for f, i in rows[:, :2]} == expr.positives()
    f, tid = int(rows[0, 0]), int(rows[0, 1])
    box = ann.boxes[(ann.boxes[:, 0] == f) & (ann.boxes[:, 1] == tid)][0, 3:7]
    np.testing.assert_allclose(rows[0, 2:6], box)
    assert (rows[:, 6] == 1.0).all()


def test_list_picture_video_and_errors(mini_refer_kitti, tmp_path, capsys):
    from ikun_mm.datasets import load_expressions
    tool = _tool()
    sentences = [e.sentence for e in load_expressions(mini_refer_kitti, '0005')]
    assert tool.main([mini_refer_kitti, '0005', '--list']) == 0
    printed = capsys.readouterr().out
    assert all(s in printed for s in sentences)

    pic = str(tmp_path / 'gt.jpg')
    assert tool.main([mini_refer_kitti, '0005', sentences[0], '--out', pic, '--upscale', '2']) == 0
    first = cv2.imread(osp.join(mini_refer_kitti, 'KITTI/training/image_02/0005/000000.png'))
    h, w = 2 * first.shape[0], 2 * first.shape[1]
    assert cv2.imread(pic).shape == (2 * h + 4, 2 * w + 4, 3)  # 4 frames, 2 columns, upscaled

    video = str(tmp_path / 'gt.mp4')
    assert tool.main([mini_refer_kitti, '0005', *sentences[:2], '--out', video]) == 0
    cap, count = cv2.VideoCapture(video), 0
    while cap.read()[0]:
        count += 1
    assert count == 24

    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        tool.main([mini_refer_kitti, '0005', sentences[0], '--out', pic])
    with pytest.raises(SystemExit, match=r"no expression 'no such thing'.*--list"):
        tool.main([mini_refer_kitti, '0005', 'no such thing', '--out', str(tmp_path / 'x.jpg')])
    with pytest.raises(SystemExit, match='.jpg/.png picture'):
        tool.main([mini_refer_kitti, '0005', sentences[0], '--out', str(tmp_path / 'x.gif')])
    with pytest.raises(SystemExit, match='9999'):
        tool.main([mini_refer_kitti, '9999', '--list'])
