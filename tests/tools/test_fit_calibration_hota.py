"""Calibration fit, objective HOTA (ikun_mm.evaluation.calibration; ``fit_calibration.py
--objective hota``): the grid search and its leave-one-video-out check on closed-form
objectives, the vectorised HOTA against the metric, and the fitted numbers pinned from before
the fit moved into the library."""
import os.path as osp

import numpy as np
import pytest
import torch

from ikun_mm.evaluation import calibration as tool
from tests.utils import ROOT, load_tool


def test_grid_search_finds_the_peak_and_keeps_zero_on_ties():
    hota, a, b = tool.grid_search(lambda a, b: 50 - (a - 2) ** 2 - 10 * (b + 0.3) ** 2)
    assert (a, b) == (2.0, pytest.approx(-0.3)) and hota == pytest.approx(50)
    # flat objective: no calibration is kept
    assert tool.grid_search(lambda a, b: 40.0) == (40.0, 0.0, 0.0)


def test_leave_one_video_out_detects_a_fit_that_does_not_carry_over():
    # every video prefers its own b; fitted on the others, b is wrong for the held-out one
    best_b = {'v0': -0.5, 'v1': 0.3, 'v2': 0.0}

    def evaluate(a, b, videos):
        return sum(60 - 100 * (b - best_b[v]) ** 2 for v in videos) / len(videos)

    cv = tool.leave_one_video_out(list(best_b), evaluate, a_grid=(0.0, ), b_grid=(-0.5, 0.0, 0.3))
    assert [f['video'] for f in cv['folds']] == ['v0', 'v1', 'v2']
    assert cv['fitted'] < cv['uncalibrated']
    # when all videos agree, the held-out fit beats no calibration
    cv = tool.leave_one_video_out(['v0', 'v1'], lambda a, b, vs: 60 - 100 * (b + 0.5) ** 2,
                                  a_grid=(0.0, ), b_grid=(-0.5, 0.0))
    assert cv['fitted'] > cv['uncalibrated']
    assert all(f['b'] == pytest.approx(-0.5) for f in cv['folds'])
    assert tool.leave_one_video_out(['v0'], evaluate) is None


def test_batched_evaluation_gives_the_same_fit():

    def f(a, b):
        return 50 - (a - 1) ** 2 - 10 * (b - 0.1) ** 2

    batches = []

    def many(points):
        batches.append(len(points))
        return [f(a, b) for a, b in points]

    assert tool.grid_search(f, evaluate_many=many) == tool.grid_search(f)
    # one batch for (0, 0) + the grid, one for the finer b steps
    assert batches == [1 + len(tool.A_GRID) * len(tool.B_GRID), 5]


def test_default_split_is_val_never_the_test_split(tmp_path):
    import json

    from mmengine.config import Config

    def tree(**splits):
        with open(tmp_path / 'split.json', 'w') as f:
            json.dump(splits, f)
        return str(tmp_path)

    rmot = Config(dict(val_dataloader=None, test_dataloader=dict(dataset=dict(split='test'))))
    assert tool.default_split(rmot, tree(train=['a'], val=['b'], test=['c'])) == 'val'
    # a "val" split that is the test videos, or a tree without one: ask for --split
    with pytest.raises(ValueError, match='--split'):
        tool.default_split(rmot, tree(train=['a'], val=['c'], test=['c']))
    with pytest.raises(ValueError, match='--split'):
        tool.default_split(rmot, tree(train=['a'], test=['c']))
    # a config that validates on its test split
    cfg = Config(dict(val_dataloader=dict(dataset=dict(split='test')),
                      test_dataloader=dict(dataset=dict(split='test'))))
    with pytest.raises(ValueError, match='--split'):
        tool.default_split(cfg, tree(train=['a'], val=['b'], test=['c']))


def test_the_deprecated_hota_tool_forwards_to_objective_hota():
    shim = load_tool('analysis', 'fit_calibration_hota.py')
    args = shim.parse_args(['cfg.py', 'ckpt.pth', '--split', 'val'])
    assert (args.objective, args.split, args.config) == ('hota', 'val', 'cfg.py')
    new = load_tool('analysis', 'fit_calibration.py').parse_args(['cfg.py', 'ckpt.pth'])
    assert (new.objective, new.split) == ('f1', None)
    with pytest.warns(FutureWarning, match='--objective hota'), pytest.raises(SystemExit):
        shim.main(['missing_config.py', 'ckpt.pth'])


def test_grid_hota_equals_the_metric_and_evaluates_each_point_once(mini_refer_kitti):
    """The fit's vectorised HOTA equals referring_metrics (TrackEval's numbers, in %) on any
    subset of videos, and each (a, b) is evaluated once however many folds ask for it."""
    import importlib.util

    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.evaluation import ReferringGrid, referring_metrics
    spec = importlib.util.spec_from_file_location(
        '_bench_hota_speed', osp.join(ROOT, 'benchmarks', 'hota_speed.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    items = list(ReferKittiDataset(data_root=mini_refer_kitti, split='train'))[:3]
    prepared = bench.synthetic_prepared(items, seed=1)
    freq = {s: np.float32(0.01 * (len(s) % 5)) for v in prepared for s in v['sentences']}
    hota = tool.GridHota(ReferringGrid(prepared), freq, score_thr=0.0)
    videos = [v['video'] for v in prepared]
    for a, b in [(0.0, 0.0), (4.0, -0.2)]:
        for subset in (videos, videos[1:]):
            ref = referring_metrics([v for v in prepared if v['video'] in subset],
                                    hota.offsets(a, b), 0.0, metrics=('HOTA', ))['HOTA']
            assert hota(a, b, subset) == pytest.approx(ref, abs=1e-7)
    assert hota.evaluated == 2
    cv = tool.leave_one_video_out(videos, hota, a_grid=(0.0, 1.0), b_grid=(-0.1, 0.0),
                                  evaluate_many=hota.many)
    assert len(cv['folds']) == 3
    # (0, 0) and the 2x2 grid once, plus the finer b steps of the folds
    assert hota.evaluated <= 2 + 4 + 3 * 5


def test_hota_fit_numbers_pinned(mini_refer_kitti, tmp_path):
    """The HOTA fit of a seeded tiny iKUN behind the mini RMOT chain (generated detections ->
    NeuralSORT with an untrained NKF) on videos 0003, 0004: the numbers the former
    tools/analysis/fit_calibration_hota.py computed on the same inputs."""
    from mmengine.config import Config

    from ikun_mm.registry import MODELS
    tiny = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'rmot',
                                   'ikun_cascade_neuralsort_mini_refer_kitti.py'))
    cfg.model.referrer = Config.fromfile(tiny).model
    cfg.model.referrer.calibration = dict(type='SimilarityCalibration', data_root='x',
                                          split='train', synonyms='refer_kitti', a=8.0, b=-0.1)
    cfg.model.detector.det_dir = osp.join('data/mini_refer_kitti', 'KITTI/detections/image_02')
    cfg_file = str(tmp_path / 'rmot_tiny.py')
    cfg.dump(cfg_file)
    torch.manual_seed(0)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=MODELS.build(Config.fromfile(tiny).model).state_dict(),
                    meta=dict(epoch=1)), ckpt)
    out = tmp_path / 'hota.pth'
    info = load_tool('analysis', 'fit_calibration.py').main(
        [cfg_file, str(ckpt), '--objective', 'hota', '--split', '0003,0004', '--out', str(out),
         '--cfg-options', f'data_root={mini_refer_kitti}',
         f'model.referrer.calibration.data_root={mini_refer_kitti}',
         f'model.detector.det_dir={mini_refer_kitti}/KITTI/detections/image_02'])
    assert (info['a'], info['b']) == (8.0, -0.1)
    assert (info['hota'], info['hota_uncalibrated']) == (37.995, 27.832)
    cv = info['cross_validation']
    assert [(f['video'], f['a'], f['b']) for f in cv['folds']] == [('0003', 8.0, -0.1),
                                                                   ('0004', 8.0, -0.15)]
    np.testing.assert_allclose([f['hota'] for f in cv['folds']],
                               [38.09095265901144, 37.018553332843574], atol=1e-9)
    np.testing.assert_allclose([cv['fitted'], cv['uncalibrated']],
                               [37.55475299592751, 27.269523151535395], atol=1e-9)
    state = torch.load(out, weights_only=False)['state_dict']
    assert state['calibration.a'].item() == 8.0
    assert state['calibration.b'].item() == pytest.approx(-0.1)
    assert len(state['calibration.table']['sentences']) == info['table_expressions'] == 56
