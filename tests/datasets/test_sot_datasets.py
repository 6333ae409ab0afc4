"""SOT datasets (GOT-10k / LaSOT layouts), frame sampler, pipeline and the synthetic generator."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from ikun_mm.datasets import GOT10kDataset, LaSOTDataset, SOTFormatError, SOTFrameSampler
from ikun_mm.datasets.synthetic import generate_sot_sequences

GEN = dict(num_sequences=3, frames=14, size=(96, 72), seed=3)


@pytest.fixture(scope='module')
def sot_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sot'))
    generate_sot_sequences(root, 'train', **GEN)
    return root


def test_generator_layout_and_determinism(sot_root, tmp_path):
    names = open(osp.join(sot_root, 'train', 'list.txt')).read().split()
    assert names == ['SYN_train_00001', 'SYN_train_00002', 'SYN_train_00003']
    seq = osp.join(sot_root, 'train', names[0])
    assert len([f for f in os.listdir(seq) if f.endswith('.jpg')]) == 14
    generate_sot_sequences(str(tmp_path), 'train', **GEN)
    for name in names:
        for f in ('groundtruth.txt', 'absence.label'):
            a = open(osp.join(sot_root, 'train', name, f)).read()
            assert a == open(osp.join(tmp_path, 'train', name, f)).read()


def test_generated_boxes_change_scale_and_stay_in_frame(sot_root):
    ds = GOT10kDataset(sot_root, split='train', pipeline=[])
    for seq in ds.sequences:
        b = seq['bboxes']
        assert b.shape == (14, 4) and seq['visible'].shape == (14, )
        assert (b[:, :2] >= -1).all() and (b[:, 2] <= 97).all() and (b[:, 3] <= 73).all()
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        assert area.max() / area.min() > 1.1  # scale change
    # occlusion: some fully covered frames are marked absent (not visible)
    assert sum(int((~s['visible']).sum()) for s in ds.sequences) > 0


def test_training_item_crops_and_boxes(sot_root):
    ds = GOT10kDataset(
        sot_root, split='train', samples_per_epoch=7, seed=0,
        frame_sampler=dict(type='SOTFrameSampler', num_template_frames=2,
                           min_sequence_length=10),
        pipeline=[dict(type='LoadSOTImages'),
                  dict(type='SOTTemplateSearchCrop', template_size=32, search_size=64,
                       search_jitter=(0., 0.)),
                  dict(type='PackSOTInputs')])
    assert len(ds) == 7
    item = ds[5]
    assert item['inputs']['template'].shape == (2, 3, 32, 32)
    assert item['inputs']['search'].shape == (1, 3, 64, 64)
    sample = item['data_samples']
    assert sample.metainfo['num_templates'] == 2
    boxes = sample.gt_instances.bboxes
    seq = next(s for s in ds.sequences if s['video'] == sample.metainfo['video'])
    img_boxes = seq['bboxes'][sample.metainfo['frame_ids']]
    # without jitter the target is centred (official transform_image_to_crop: at (S - 1) / 2);
    # official sample_target: the region's side is ceil(sqrt(w h) * factor), resized to S
    for k, size, factor in ((0, 32, 2.0), (2, 64, 4.0)):
        box = boxes[k]
        centre = (box[:2] + box[2:]) / 2
        torch.testing.assert_close(centre, torch.full((2, ), (size - 1) / 2.), atol=1e-3, rtol=0)
        wh = box[2:] - box[:2]
        side = np.sqrt(np.prod(img_boxes[k, 2:] - img_boxes[k, :2]))
        assert float(wh.prod().sqrt()) == pytest.approx(size * side / np.ceil(side * factor),
                                                        rel=1e-4)


def test_test_mode_yields_frames_in_order(sot_root):
    ds = GOT10kDataset(sot_root, split='train', test_mode=True,
                       pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSOTFrame')])
    assert len(ds) == 3 * 14
    ids = [(ds.get_data_info(i)['video'], ds.get_data_info(i)['frame_id']) for i in range(len(ds))]
    assert ids == [(v, f) for v in sorted({v for v, _ in ids}) for f in range(14)]
    item = ds[0]
    assert item['inputs'].shape == (3, 72, 96) and item['inputs'].dtype == torch.uint8
    assert item['data_samples'].metainfo['frame_id'] == 0
    np.testing.assert_allclose(item['data_samples'].gt_instances.bboxes[0].numpy(),
                               ds.sequences[0]['bboxes'][0])


def test_frame_sampler_orders_and_negatives():
    seq = dict(video='a', img_paths=[f'a{i}' for i in range(50)],
               bboxes=np.tile([[1., 1., 5., 5.]], (50, 1)).astype(np.float32),
               visible=np.ones(50, bool))

    class Other:  # stands for the dataset's official get_one_search

        def draw_search(self, rng):
            return dict(img_path='b0', bbox=np.array([2., 2., 9., 9.], np.float32))

    rng = np.random.default_rng(0)
    sampler = SOTFrameSampler(num_template_frames=2, max_frame_gap=10)
    for _ in range(50):
        s = sampler(seq, rng, Other())
        base, earlier, x = s['frame_ids']
        # official causal: base template, an earlier template within the gap, a later search
        assert base - 10 <= earlier < base < x < base + 10
        assert s['gt_labels'].tolist() == [1, 1, 1]
    # negative without an invisible frame in the video: a frame from elsewhere, label 0
    neg = SOTFrameSampler(pos_prob=0.0)(seq, rng, Other())
    assert neg['gt_labels'].tolist() == [1, 0]
    assert neg['img_paths'][0].startswith('a') and neg['img_paths'][1] == 'b0'
    assert SOTFrameSampler()(dict(seq, visible=np.zeros(50, bool)), rng) is None


def test_lasot_layout_and_visibility_flags(sot_root, tmp_path):
    src = osp.join(sot_root, 'train', 'SYN_train_00001')
    seq = tmp_path / 'cat' / 'cat-1'
    shutil.copytree(src, seq / 'img', ignore=shutil.ignore_patterns('*.txt', '*.label'))
    shutil.copy(osp.join(src, 'groundtruth.txt'), seq / 'groundtruth.txt')
    flags = ['0'] * 14
    flags[4] = '1'
    (seq / 'full_occlusion.txt').write_text(','.join(flags))
    (seq / 'out_of_view.txt').write_text(','.join(['0'] * 13 + ['1']))
    (tmp_path / 'testing_set.txt').write_text('cat-1\n')
    ds = LaSOTDataset(str(tmp_path), split='testing_set.txt', pipeline=[])
    vis = ds.sequences[0]['visible']
    assert ds.sequences[0]['video'] == 'cat-1' and len(vis) == 14
    assert not vis[4] and not vis[13] and vis[[0, 1, 2, 3, 5, 12]].all()


def test_malformed_groundtruth_names_file_and_line(sot_root, tmp_path):
    shutil.copytree(osp.join(sot_root, 'train'), tmp_path / 'train')
    gt = tmp_path / 'train' / 'SYN_train_00002' / 'groundtruth.txt'
    lines = gt.read_text().splitlines()
    lines[2] = '1,2,x,4'
    gt.write_text('\n'.join(lines))
    with pytest.raises(SOTFormatError, match=r'SYN_train_00002.groundtruth\.txt:3'):
        GOT10kDataset(str(tmp_path), split='train', pipeline=[])
    gt.write_text('\n'.join(lines[:3] + lines[4:]).replace('1,2,x,4', '1,2,3,4'))
    with pytest.raises(SOTFormatError, match='13 boxes for 14 frames'):
        GOT10kDataset(str(tmp_path), split='train', pipeline=[])
    with pytest.raises(SOTFormatError, match='split folder does not exist'):
        GOT10kDataset(str(tmp_path), split='val', pipeline=[])
