"""TrackSequenceDataset: windows of GT tracks with detector-like observations."""
import os.path as osp

import numpy as np
import pytest
import torch

from ikun_mm.datasets.refer_kitti_io import DETECTION_DIR, ReferKittiFormatError
from ikun_mm.datasets.track_sequences import match_detections_to_gt
from ikun_mm.registry import DATASETS
from ikun_mm.structures import bbox_iou


def test_items_are_fixed_length_windows(mini_refer_kitti):
    ds = DATASETS.build(dict(type='TrackSequenceDataset', data_root=mini_refer_kitti,
                             split='test', seq_len=10, seed=0))
    for i in range(len(ds)):
        inputs = ds[i]['inputs']
        assert inputs['obs'].shape == (10, 4) and inputs['valid'].shape == (10, )
        assert bool(inputs['valid'][0]) and bool(inputs['gt_valid'][0])
        assert torch.isfinite(inputs['obs']).all() and torch.isfinite(inputs['gt']).all()
        assert not (inputs['valid'] & ~inputs['gt_valid']).any()
    det = [d for d in ds.data_list if d['source'] == 'detections'][0]
    obs = ds[ds.data_list.index(det)]['inputs']
    # matched detections are close to GT (IoU >= 0.5), not GT itself
    err = (obs['obs'] - obs['gt'])[obs['valid']].abs()
    assert 0 < err[:, 0].mean() < obs['gt'][:, 3].mean()


def test_matching_detections_to_gt():
    gt = np.array([[0, 1, 0, 0, 0, 10, 10], [0, 2, 0, 20, 0, 30, 10], [1, 1, 0, 1, 0, 11, 10]])
    dets = np.array([[0, 21, 0, 31, 10, .8, 0], [0, 0, 0, 10, 10, .9, 0],
                     [1, 50, 0, 60, 10, .9, 0]])
    m = match_detections_to_gt(gt, dets)
    assert sorted(m) == [(0, 1), (0, 2)]
    np.testing.assert_allclose(m[(0, 2)], [21, 0, 31, 10, .8])
    np.testing.assert_allclose(bbox_iou(gt[:1, 3:], dets[:1, 1:5]), [[0.]])


def test_errors_name_the_problem(mini_refer_kitti, tmp_path):
    with pytest.raises(ValueError, match='sources'):
        DATASETS.build(dict(type='TrackSequenceDataset', data_root=mini_refer_kitti,
                            sources=('gt', )))
    with pytest.raises(ReferKittiFormatError, match=r'nowhere.*0005\.txt.*does not exist'):
        DATASETS.build(dict(type='TrackSequenceDataset', data_root=mini_refer_kitti,
                            split='test', det_dir=str(tmp_path / 'nowhere')))
    bad = tmp_path / 'dets'
    bad.mkdir()
    (bad / '0005.txt').write_text('1,-1,1,1,5,5,0.9\n2,-1,1,1,5\n')
    with pytest.raises(ReferKittiFormatError, match=r'0005\.txt:2: expected at least 7'):
        DATASETS.build(dict(type='TrackSequenceDataset', data_root=mini_refer_kitti,
                            split='test', det_dir=str(bad)))
    assert osp.isfile(osp.join(mini_refer_kitti, DETECTION_DIR, '0005.txt'))
