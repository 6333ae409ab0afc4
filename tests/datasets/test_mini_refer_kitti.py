"""The generated mini Refer-KITTI: deterministic, in the Refer-KITTI layout, and its expressions
are true of exactly the objects they list (checked from the files alone)."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest

from ikun_mm.datasets import ReferKittiDataset, load_detections
from ikun_mm.datasets.synthetic import generate_mini_refer_kitti

from ..conftest import MINI_KWARGS


def _all_files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_same_seed_gives_identical_files(tmp_path, mini_refer_kitti):
    generate_mini_refer_kitti(str(tmp_path), **MINI_KWARGS)
    files = _all_files(mini_refer_kitti)
    assert files == _all_files(str(tmp_path))
    _, mismatch, errors = filecmp.cmpfiles(mini_refer_kitti, str(tmp_path), files, shallow=False)
    assert not mismatch and not errors


def test_other_seed_gives_other_videos(tmp_path, mini_refer_kitti):
    generate_mini_refer_kitti(str(tmp_path), **{**MINI_KWARGS, 'seed': 1})
    name = 'KITTI/labels_with_ids/image_02/0000/000010.txt'
    assert open(osp.join(tmp_path, name)).read() != open(osp.join(mini_refer_kitti, name)).read()


def test_layout_and_split(mini_refer_kitti):
    split = json.load(open(osp.join(mini_refer_kitti, 'split.json')))
    assert split == {'train': ['0000', '0001', '0002', '0003', '0004'], 'test': ['0005']}
    for video in split['train'] + split['test']:
        images = os.listdir(osp.join(mini_refer_kitti, 'KITTI/training/image_02', video))
        assert sorted(images) == [f'{f:06d}.png' for f in range(24)]
        assert osp.isfile(osp.join(mini_refer_kitti, 'KITTI/detections/image_02', f'{video}.txt'))


def _label_rows(root, video):
    """Parse labels without ikun_mm: {(frame, id): (cls, x1, y1, x2, y2)} in pixels."""
    rows = {}
    folder = osp.join(root, 'KITTI/labels_with_ids/image_02', video)
    for name in os.listdir(folder):
        frame = int(name[:6])
        for line in open(osp.join(folder, name)):
            cls, tid, x, y, w, h = line.split()
            x, y, w, h = float(x) * 192, float(y) * 64, float(w) * 192, float(h) * 64
            rows[(frame, int(tid))] = (int(cls), x, y, x + w, y + h)
    return rows


def test_expressions_hold_for_exactly_the_listed_objects(mini_refer_kitti):
    """Checks that need nothing but the files: ids exist in the labels; class words match the
    label class; 'on the left/right' matches the box centre; 'moving left/right' matches the
    box displacement; 'parked' boxes never move; 'cars' lists every car box."""
    checked = 0
    for video in json.load(open(osp.join(mini_refer_kitti, 'split.json')))['train']:
        rows = _label_rows(mini_refer_kitti, video)
        folder = osp.join(mini_refer_kitti, 'expression', video)
        for name in os.listdir(folder):
            data = json.load(open(osp.join(folder, name)))
            sentence = data['sentence']
            assert name == '-'.join(sentence.split()) + '.json' and data['video_name'] == video
            listed = {(int(f), i) for f, ids in data['label'].items() for i in ids}
            assert listed <= set(rows), f'{name}: ids absent from the labels'
            for f, tid in listed:
                cls, x1, _, x2, _ = rows[(f, tid)]
                if 'car' in sentence:
                    assert cls == 0, (name, f, tid)
                if 'pedestrian' in sentence:
                    assert cls == 1, (name, f, tid)
                if sentence.endswith('on the left'):
                    assert (x1 + x2) / 2 < 96
                if sentence.endswith('on the right'):
                    assert (x1 + x2) / 2 >= 96
                nxt = rows.get((f + 1, tid))
                inside = nxt and min(x1, nxt[1]) > 0.5 and max(x2, nxt[3]) < 191.5
                if inside and ('moving left' in sentence or 'walking left' in sentence):
                    assert nxt[1] < x1
                if inside and ('moving right' in sentence or 'walking right' in sentence):
                    assert nxt[1] > x1
                if sentence.startswith('parked cars') and nxt:
                    assert nxt[1:] == rows[(f, tid)][1:]
                checked += 1
            if sentence == 'cars':  # a class expression lists every box of that class
                assert listed == {k for k, v in rows.items() if v[0] == 0}
    assert checked > 500


def test_reader_round_trip(mini_refer_kitti):
    dataset = ReferKittiDataset(data_root=mini_refer_kitti, split='train')
    assert [item['video'] for item in dataset] == ['0000', '0001', '0002', '0003', '0004']
    item = dataset[0]
    assert item['img_size'] == (192, 64) and len(item['img_paths']) == 24
    rows = _label_rows(mini_refer_kitti, '0000')
    assert len(item['boxes']) == len(rows)
    frame, tid = item['boxes'][0, :2].astype(int)
    np.testing.assert_allclose(item['boxes'][0, 3:], rows[(frame, tid)][1:], atol=1e-3)
    assert len(item['expressions']) >= 10
    for expr in item['expressions']:
        assert expr.positives() <= {tuple(k) for k in item['boxes'][:, :2].astype(int).tolist()}


def test_detections_are_noisy_versions_of_the_labels(mini_refer_kitti):
    dets = load_detections(osp.join(mini_refer_kitti, 'KITTI/detections/image_02/0000.txt'))
    rows = _label_rows(mini_refer_kitti, '0000')
    assert dets[:, 0].min() >= 0 and dets[:, 0].max() <= 23
    gt_by_frame = {}
    for (f, _), (_, *box) in rows.items():
        gt_by_frame.setdefault(f, []).append(box)
    matched = 0
    for f, *box, score, _ in dets:
        gts = np.asarray(gt_by_frame.get(int(f), np.zeros((0, 4))))
        if len(gts):
            ix = np.clip(np.minimum(gts[:, 2], box[2]) - np.maximum(gts[:, 0], box[0]), 0, None)
            iy = np.clip(np.minimum(gts[:, 3], box[3]) - np.maximum(gts[:, 1], box[1]), 0, None)
            inter = ix * iy
            union = ((gts[:, 2] - gts[:, 0]) * (gts[:, 3] - gts[:, 1]) +
                     (box[2] - box[0]) * (box[3] - box[1]) - inter)
            matched += (inter / union).max() > 0.5
    recall = matched / len(rows)
    assert 0.6 < recall < 1.0  # misses exist, most objects are detected
    assert matched < len(dets)  # false positives exist


@pytest.mark.parametrize('kwargs, message', [
    (dict(videos=0), 'videos must be'), (dict(frames=4), 'frames must be'),
    (dict(size=(10, 10)), 'size must be')])
def test_generator_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_mini_refer_kitti(str(tmp_path), **kwargs)
