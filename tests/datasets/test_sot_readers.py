"""TrackingNet, COCO 2017 and GOT-10k readers on tiny trees in the official layouts."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from ikun_mm.datasets import (COCOSeqDataset, GOT10kDataset, SOTFormatError, SOTFrameSampler,
                              TrackingNetDataset)

LOOSE = dict(type='SOTFrameSampler', min_sequence_length=1, min_visible_frames=0,
             max_frame_gap=5)


def _write_trackingnet(root, chunk, video, boxes, with_frames=True):
    anno = root / f'TRAIN_{chunk}' / 'anno'
    anno.mkdir(parents=True, exist_ok=True)
    (anno / f'{video}.txt').write_text(
        '\n'.join(','.join(f'{v:g}' for v in b) for b in boxes) + '\n')
    frames = root / f'TRAIN_{chunk}' / 'frames' / video
    frames.mkdir(parents=True, exist_ok=True)
    if with_frames:
        for n in range(len(boxes)):
            cv2.imwrite(str(frames / f'{n}.jpg'), np.full((24, 32, 3), 10 * n, np.uint8))


def test_trackingnet_chunks_frames_and_boxes(tmp_path):
    boxes = [[2, 3, 10, 8]] * 12
    boxes[4] = [0, 0, 0, 0]  # TrackingNet marks a frame without target by an empty box
    _write_trackingnet(tmp_path, 0, 'vidA', boxes)
    _write_trackingnet(tmp_path, 1, 'vidB', boxes, with_frames=False)
    _write_trackingnet(tmp_path, 2, 'vidC', boxes, with_frames=False)
    ds = TrackingNetDataset(str(tmp_path), chunks=[0, 2], frame_sampler=LOOSE, pipeline=[])
    assert [s['video'] for s in ds.sequences] == ['vidA', 'vidC']
    seq = ds.sequences[0]
    assert len(seq['img_paths']) == 12
    # frame n is frames/<video>/<n>.jpg, counted from 0, not zero-padded
    assert seq['img_paths'][10] == osp.join(str(tmp_path), 'TRAIN_0', 'frames', 'vidA', '10.jpg')
    np.testing.assert_array_equal(seq['bboxes'][0], [2, 3, 12, 11])
    assert not seq['visible'][4] and seq['visible'][[0, 3, 5, 11]].all()
    # the official default is all twelve training chunks: a missing one is named
    with pytest.raises(SOTFormatError, match=r'TRAIN_3.anno: TrackingNet annotation folder'):
        TrackingNetDataset(str(tmp_path), frame_sampler=LOOSE, pipeline=[])
    with pytest.raises(SOTFormatError, match=r'TEST.anno: TrackingNet annotation folder'):
        TrackingNetDataset(str(tmp_path), chunks=[0, 'TEST'], frame_sampler=LOOSE, pipeline=[])


def test_trackingnet_training_sample_loads_numbered_frames(tmp_path):
    _write_trackingnet(tmp_path, 0, 'vidA', [[4, 4, 12, 10]] * 12)
    ds = TrackingNetDataset(str(tmp_path), chunks=[0], seed=0, samples_per_epoch=3,
                            frame_sampler=LOOSE, pipeline=[dict(type='LoadSOTImages')])
    sample = ds[0]
    for path, fid, img in zip(sample['img_paths'], sample['frame_ids'], sample['imgs']):
        assert osp.basename(path) == f'{fid}.jpg'
        assert abs(float(img.mean()) - 10 * fid) < 3  # the frame written for that index


def test_trackingnet_malformed_line_names_file_and_line(tmp_path):
    _write_trackingnet(tmp_path, 0, 'vidA', [[1, 1, 5, 5]] * 3, with_frames=False)
    path = tmp_path / 'TRAIN_0' / 'anno' / 'vidA.txt'
    path.write_text('1,1,5,5\n1,1,5\n1,1,5,5\n')
    ds = TrackingNetDataset(str(tmp_path), chunks=[0], frame_sampler=LOOSE, pipeline=[])
    with pytest.raises(SOTFormatError, match=r'vidA\.txt:2: expected 4 numbers'):
        ds.sequences[0]


def _coco_tree(root, anns):
    (root / 'annotations').mkdir(parents=True)
    (root / 'images' / 'train2017').mkdir(parents=True)
    images = [dict(id=7, file_name='000007.jpg', width=40, height=30),
              dict(id=9, file_name='000009.jpg', width=40, height=30)]
    for img in images:
        cv2.imwrite(str(root / 'images' / 'train2017' / img['file_name']),
                    np.full((30, 40, 3), img['id'] * 10, np.uint8))
    data = dict(images=images, annotations=anns, categories=[dict(id=1, name='thing')])
    (root / 'annotations' / 'instances_train2017.json').write_text(json.dumps(data))


def test_coco_instances_are_one_frame_sequences(tmp_path):
    anns = [dict(id=1, image_id=7, bbox=[1, 2, 60, 55], iscrowd=0, category_id=1),
            dict(id=2, image_id=9, bbox=[0, 0, 30, 30], iscrowd=1, category_id=1),
            dict(id=3, image_id=9, bbox=[3, 4, 20, 70], iscrowd=0, category_id=1)]
    _coco_tree(tmp_path, anns)
    ds = COCOSeqDataset(str(tmp_path), seed=0, samples_per_epoch=4,
                        frame_sampler=dict(type='SOTFrameSampler', num_template_frames=2),
                        pipeline=[dict(type='LoadSOTImages')])
    assert not ds.is_video
    # crowd annotation 2 is dropped; order of the annotation file
    assert [s['video'] for s in ds.sequences] == ['coco_1', 'coco_3']
    first, second = ds.sequences[0], ds.sequences[1]
    assert first['img_paths'] == [osp.join(str(tmp_path), 'images', 'train2017', '000007.jpg')]
    np.testing.assert_array_equal(first['bboxes'], [[1, 2, 61, 57]])
    # official coco_seq: visible only when both sides exceed 50 px
    assert first['visible'].tolist() == [True] and second['visible'].tolist() == [False]
    # a sample repeats the one image for every frame, whatever its visibility
    sample = ds[0]
    assert len(set(sample['img_paths'])) == 1 and len(sample['imgs']) == 3
    assert sample['frame_ids'] == [0, 0, 0]
    assert sample['imgs'][0] is not sample['imgs'][1]  # copies, read once


@pytest.mark.parametrize('bad, message', [
    (dict(id=5, image_id=7, bbox=[1, 2, 3], iscrowd=0), r'annotations\[1\] \(id 5\): "bbox"'),
    (dict(id=6, image_id=8, bbox=[1, 2, 3, 4], iscrowd=0), r'annotations\[1\] \(id 6\): unknown'),
])
def test_coco_malformed_annotation_names_file_and_entry(tmp_path, bad, message):
    _coco_tree(tmp_path, [dict(id=1, image_id=7, bbox=[1, 2, 60, 55], iscrowd=0), bad])
    with pytest.raises(SOTFormatError, match=r'instances_train2017\.json: ' + message):
        COCOSeqDataset(str(tmp_path), pipeline=[])


def test_got10k_cover_label_and_official_id_split(tmp_path):
    root = tmp_path / 'train'
    for k, name in enumerate(['GOT-10k_Train_000001', 'GOT-10k_Train_000002',
                              'GOT-10k_Train_000003']):
        seq = root / name
        seq.mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(str(seq / f'{i + 1:08d}.jpg'), np.zeros((8, 8, 3), np.uint8))
        (seq / 'groundtruth.txt').write_text('1,1,3,3\n' * 4)
        (seq / 'absence.label').write_text('0\n0\n1\n0\n')
        (seq / 'cover.label').write_text('8\n0\n8\n3\n')
    (root / 'list.txt').write_text('GOT-10k_Train_000001\nGOT-10k_Train_000002\n'
                                   'GOT-10k_Train_000003\n')
    (tmp_path / 'vot_train_split.txt').write_text('2\n0\n')  # official: indices into list.txt
    ds = GOT10kDataset(str(tmp_path), split='train', seq_ids_file='vot_train_split.txt',
                       frame_sampler=LOOSE, pipeline=[])
    assert [s['video'] for s in ds.sequences] == ['GOT-10k_Train_000003', 'GOT-10k_Train_000001']
    # official: visible = not absent and cover > 0 (and a valid box)
    assert ds.sequences[0]['visible'].tolist() == [True, False, False, True]
    (tmp_path / 'vot_train_split.txt').write_text('0\n5\n')
    with pytest.raises(SOTFormatError, match=r'vot_train_split\.txt:2: sequence index 5'):
        GOT10kDataset(str(tmp_path), split='train', seq_ids_file='vot_train_split.txt',
                      frame_sampler=LOOSE, pipeline=[])


def test_short_sequences_are_refused_with_the_sampler_named(tmp_path):
    _write_trackingnet(tmp_path, 0, 'vidA', [[1, 1, 5, 5]] * 12, with_frames=False)
    seq = TrackingNetDataset(str(tmp_path), chunks=[0], frame_sampler=LOOSE,
                             pipeline=[]).sequences[0]
    # official sample_seq_from_dataset: > 2 * (templates + searches) visible and >= 20 frames
    assert not SOTFrameSampler().accepts(seq)
    assert SOTFrameSampler(min_sequence_length=12).accepts(seq)
    assert not SOTFrameSampler(min_sequence_length=12, num_template_frames=4,
                               num_search_frames=2).accepts(seq)
    assert SOTFrameSampler().accepts(seq, is_video=False)
