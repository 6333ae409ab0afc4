"""tools/data/refer_kitti_to_reid.py: mmdet's ReID layout from the training videos' GT crops, its
refusals (existing output, test split, broken labels), and the ReID config learning from it."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch

from tests.utils import ROOT, load_tool

REID_CONFIG = osp.join(ROOT, 'configs', 'reid', 'reid_r18_1xb32-2e_mini-refer-kitti.py')


def _tool():
    return load_tool('data', 'refer_kitti_to_reid.py')


@pytest.fixture(scope='module')
def reid_export(mini_refer_kitti, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('reid') / 'out')
    assert _tool().main([mini_refer_kitti, out, '--no-progress', '--seed', '0']) == 0
    return out


def _lines(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def test_layout_labels_and_held_out_identities(reid_export, mini_refer_kitti):
    from ikun_mm.datasets.refer_kitti_io import load_video_annotation, resolve_videos
    meta = json.load(open(osp.join(reid_export, 'meta', 'identities.json')))
    train_videos = resolve_videos(mini_refer_kitti, 'train')
    assert meta['videos'] == train_videos
    test_videos = set(resolve_videos(mini_refer_kitti, 'test'))
    ids = meta['identities']
    assert ids and not {v['video'] for v in ids.values()} & test_videos  # never the test split
    for subset in ('train', 'val'):
        lines = _lines(osp.join(reid_export, 'meta', f'{subset}.txt'))
        assert all(len(line) == 2 for line in lines)  # mmdet's ReIDDataset: "<path> <label>"
        labels = sorted({int(label) for _, label in lines})
        assert labels == list(range(meta[f'num_{subset}_ids']))  # contiguous 0..K-1
        for path, label in lines:
            name = path.split('/')[0]
            assert ids[name]['subset'] == subset and ids[name]['label'] == int(label)
            assert osp.isfile(osp.join(reid_export, 'imgs', path))
    assert meta['num_val_ids'] > 0 and meta['num_train_ids'] > meta['num_val_ids']
    # identities are (video, track id) with the video's index as camera id; every video keeps
    # training identities and holds some out
    for name, info in ids.items():
        assert name == f'{info["video"]}_{info["track_id"]:06d}'
        assert info['camid'] == train_videos.index(info['video'])
    for video in train_videos:
        subsets = {i['subset'] for i in ids.values() if i['video'] == video}
        assert subsets == {'train', 'val'}
    # a crop is the box's pixel window of the frame
    name, info = next(iter(ids.items()))
    ann = load_video_annotation(mini_refer_kitti, info['video'])
    frame_file = sorted(os.listdir(osp.join(reid_export, 'imgs', name)))[0]
    frame = int(frame_file[:6])
    row = ann.boxes[(ann.boxes[:, 0] == frame) & (ann.boxes[:, 1] == info['track_id'])][0]
    from ikun_mm.models.reid import box_window
    x1, y1, x2, y2 = box_window(row[3:7], *ann.img_size)
    crop = cv2.imread(osp.join(reid_export, 'imgs', name, frame_file))
    np.testing.assert_array_equal(crop, cv2.imread(ann.img_paths[frame])[y1:y2, x1:x2])


def test_mmdet_reid_dataset_reads_the_export(reid_export):
    from mmdet.datasets import ReIDDataset
    dataset = ReIDDataset(
        data_root=reid_export, data_prefix=dict(img_path='imgs'), ann_file='meta/train.txt',
        triplet_sampler=dict(num_ids=4, ins_per_id=2), pipeline=[])
    sample = dataset.prepare_data(0)
    assert len(sample['img_path']) == 8 and all(osp.isfile(p) for p in sample['img_path'])
    labels = np.array(sample['gt_label']).reshape(4, 2)
    assert (labels[:, 0] == labels[:, 1]).all() and len(set(labels[:, 0])) == 4


def test_existing_output_is_not_overwritten(reid_export, mini_refer_kitti, tmp_path):
    out = str(tmp_path / 'copy')
    shutil.copytree(reid_export, out)
    marker = osp.join(out, 'meta', 'train.txt')
    before = open(marker).read()
    with pytest.raises(SystemExit, match='--overwrite'):
        _tool().main([mini_refer_kitti, out, '--no-progress'])
    assert open(marker).read() == before
    assert _tool().main([mini_refer_kitti, out, '--no-progress', '--overwrite',
                         '--val-ratio', '0']) == 0
    assert _lines(osp.join(out, 'meta', 'val.txt')) == []


def test_test_split_and_broken_labels_are_refused(mini_refer_kitti, tmp_path):
    with pytest.raises(SystemExit, match='test video'):
        _tool().main([mini_refer_kitti, str(tmp_path / 'a'), '--split', 'test', '--no-progress'])
    root = str(tmp_path / 'rk')
    shutil.copytree(mini_refer_kitti, root)
    from ikun_mm.datasets.refer_kitti_io import resolve_videos
    video = resolve_videos(root, 'train')[0]
    bad = osp.join(root, 'KITTI', 'labels_with_ids', 'image_02', video, '000003.txt')
    with open(bad, 'a') as f:
        f.write('0 7 0.1\n')
    with pytest.raises(SystemExit, match='000003.txt'):
        _tool().main([root, str(tmp_path / 'b'), '--no-progress'])


def test_reid_config_learns_from_the_export(reid_export):
    """A few iterations of the ReID config's model, data pipeline and optimiser on the export:
    the loss goes down."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from ikun_mm.registry import DATASETS, MODELS
    torch.manual_seed(0)
    np.random.seed(0)
    cfg = Config.fromfile(REID_CONFIG)
    meta = json.load(open(osp.join(reid_export, 'meta', 'identities.json')))
    cfg.model.head.num_classes = meta['num_train_ids']
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    data_cfg = cfg.train_dataloader.dataset
    data_cfg.data_root = reid_export
    data_cfg.triplet_sampler = dict(num_ids=4, ins_per_id=4)
    dataset = DATASETS.build(data_cfg)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = []
    for step in range(24):
        batch = pseudo_collate([dataset[step % len(dataset)]])
        log = model.train_step(batch, optim)
        losses.append(log['loss'].item())
    assert np.mean(losses[-6:]) < np.mean(losses[:6]), losses
