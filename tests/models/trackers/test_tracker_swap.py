"""NeuralSORT (configs/neuralsort) and the baselines (configs/baselines): swapping model.tracker is
the only edit, and every tracker runs on the same cached detections."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from ikun_mm.datasets.refer_kitti_io import DETECTION_DIR, load_video_annotation
from ikun_mm.evaluation import evaluate_mot, mot_rows_from_boxes
from ikun_mm.models.trackers import track_video
from ikun_mm.registry import MODELS

torch.set_num_threads(1)
CONFIGS = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs')
CONFIG_DIR = osp.join(CONFIGS, 'neuralsort')
TRACKERS = {'neuralsort': 'NeuralSORTTracker', 'ocsort': 'OCSORTTracker',
            'bytetrack': 'ByteTracker', 'sort': 'SORTTracker',
            'strongsort': 'StrongSORTTracker'}


def _cfg(name):
    folder = 'neuralsort' if name == 'neuralsort' else 'baselines'
    return Config.fromfile(osp.join(CONFIGS, folder, f'{name}_mini_refer_kitti.py'))


def _strip_tracker(cfg):
    """The config without the tracker and the variables its tracker base brings."""
    d = cfg.to_dict()
    d['model'].pop('tracker')
    for key in ('tracker', 'nkf_checkpoint'):
        d.pop(key, None)
    return d


def test_configs_differ_only_in_the_tracker():
    base = _strip_tracker(_cfg('neuralsort'))
    for name, type_ in TRACKERS.items():
        cfg = _cfg(name)
        assert cfg.model.tracker.type == type_
        assert _strip_tracker(cfg) == base, name


def test_real_refer_kitti_config_builds():
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'neuralsort_refer_kitti.py'))
    model = MODELS.build(cfg.model)
    assert model.detector.det_dir == 'data/refer-kitti/KITTI/detections/image_02'
    assert model.tracker.per_class and model.interpolation == dict(max_gap=20)


@pytest.mark.parametrize('name', list(TRACKERS))
def test_each_tracker_tracks_the_same_detections(name, mini_refer_kitti):
    video = '0005'
    ann = load_video_annotation(mini_refer_kitti, video)
    cfg = _cfg(name)
    cfg.model.detector.det_dir = osp.join(mini_refer_kitti, DETECTION_DIR)
    model = MODELS.build(cfg.model).eval()
    res = track_video(model, ann.num_frames, ann.img_size, video=video)
    assert res.shape[1] == 8 and len(res) > 0
    # one box per (frame, id)
    assert len(np.unique(res[:, :2], axis=0)) == len(res)
    b = ann.boxes
    gt = np.c_[b[:, 0] + 1, b[:, 1], b[:, 3], b[:, 4], b[:, 5] - b[:, 3], b[:, 6] - b[:, 4]]
    hota = evaluate_mot({video: gt}, {video: mot_rows_from_boxes(res[:, :7])},
                        {video: ann.num_frames}, metrics=('HOTA', ))['COMBINED']['HOTA']
    # the simulated detector finds most objects: every tracker gets a sensible HOTA
    assert hota > (0.5 if name in ('neuralsort', 'ocsort', 'bytetrack') else 0.15), hota


@pytest.mark.parametrize('name', ['ocsort', 'sort', 'strongsort'])
def test_nkf_drops_into_mmdet_trackers(name, mini_refer_kitti):
    """mmdet's trackers take the NKF as their motion model unchanged (same interface)."""
    video = '0005'
    ann = load_video_annotation(mini_refer_kitti, video)
    cfg = _cfg(name)
    cfg.model.detector.det_dir = osp.join(mini_refer_kitti, DETECTION_DIR)
    cfg.model.tracker.motion = dict(type='NeuralKalmanFilter',
                                    use_nsa=cfg.model.tracker.motion.get('use_nsa', False))
    model = MODELS.build(cfg.model).eval()
    assert type(model.tracker.motion).__name__ == 'NeuralKalmanFilter'
    res = track_video(model, ann.num_frames, ann.img_size, video=video)
    assert len(res) > 0 and len(np.unique(res[:, :2], axis=0)) == len(res)
