"""Malformed Refer-KITTI inputs raise errors that name the file (and line) and the problem."""
import json
import os
import os.path as osp
import shutil

import pytest

from ikun_mm.datasets import (ReferKittiDataset, ReferKittiFormatError, load_detections,
                              load_expressions, load_video_annotation)


@pytest.fixture
def tree(tmp_path, mini_refer_kitti):
    root = tmp_path / 'rk'
    shutil.copytree(mini_refer_kitti, root)
    return str(root)


def test_bad_label_line_names_file_and_line(tree):
    path = osp.join(tree, 'KITTI/labels_with_ids/image_02/0001/000003.txt')
    with open(path, 'a') as f:
        f.write('0 99 0.1 0.2 0.3\n')
    n = len(open(path).read().splitlines())
    with pytest.raises(ReferKittiFormatError, match=rf'000003\.txt:{n}: expected 6 fields'):
        load_video_annotation(tree, '0001')


def test_non_positive_box_is_rejected(tree):
    path = osp.join(tree, 'KITTI/labels_with_ids/image_02/0001/000002.txt')
    with open(path, 'a') as f:
        f.write('0 99 0.1 0.2 0.0 0.1\n')
    with pytest.raises(ReferKittiFormatError, match=r'000002\.txt:\d+: box must have'):
        load_video_annotation(tree, '0001')


def test_expression_id_absent_from_labels(tree):
    folder = osp.join(tree, 'expression/0001')
    name = sorted(os.listdir(folder))[0]
    data = json.load(open(osp.join(folder, name)))
    frame = next(iter(data['label']))
    data['label'][frame].append(12345)
    json.dump(data, open(osp.join(folder, name), 'w'))
    ann = load_video_annotation(tree, '0001')
    with pytest.raises(ReferKittiFormatError,
                       match=rf'{name}: track id\(s\) \[12345\] at frame {frame} are absent'):
        load_expressions(tree, '0001', ann)
    with pytest.raises(ReferKittiFormatError, match='12345'):
        ReferKittiDataset(data_root=tree, split=['0001'])


def test_missing_image(tree):
    os.remove(osp.join(tree, 'KITTI/training/image_02/0002/000005.png'))
    with pytest.raises(ReferKittiFormatError, match=r'0002: missing image for frame\(s\) \[5\]'):
        load_video_annotation(tree, '0002')


def test_invalid_json(tree):
    folder = osp.join(tree, 'expression/0003')
    path = osp.join(folder, sorted(os.listdir(folder))[0])
    open(path, 'w').write('{"label": ')
    with pytest.raises(ReferKittiFormatError, match='invalid JSON'):
        load_expressions(tree, '0003')


def test_unknown_split(tree):
    with pytest.raises(ReferKittiFormatError, match="split.json: has no split 'val'"):
        ReferKittiDataset(data_root=tree, split='val')


def test_bad_detection_line(tmp_path):
    path = tmp_path / 'det.txt'
    path.write_text('1,-1,10,10,5,5,0.9\n0,-1,10,10,5,5,0.9\n')
    with pytest.raises(ReferKittiFormatError, match=r'det\.txt:2: frame must be a 1-based'):
        load_detections(str(path))
    path.write_text('1,-1,10,10,5,x,0.9\n')
    with pytest.raises(ReferKittiFormatError, match=r'det\.txt:1: non-numeric'):
        load_detections(str(path))
