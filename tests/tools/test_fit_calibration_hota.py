"""tools/analysis/fit_calibration_hota.py: the grid search and its leave-one-video-out check,
on closed-form objectives (the tracker and TrackEval parts are covered by the metric tests)."""

import pytest

from tests.utils import load_tool


def _tool():
    return load_tool('analysis', 'fit_calibration_hota.py')


def test_grid_search_finds_the_peak_and_keeps_zero_on_ties():
    tool = _tool()
    hota, a, b = tool.grid_search(lambda a, b: 50 - (a - 2) ** 2 - 10 * (b + 0.3) ** 2)
    assert (a, b) == (2.0, pytest.approx(-0.3)) and hota == pytest.approx(50)
    # flat objective: no calibration is kept
    assert tool.grid_search(lambda a, b: 40.0) == (40.0, 0.0, 0.0)


def test_leave_one_video_out_detects_a_fit_that_does_not_carry_over():
    tool = _tool()
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
    tool = _tool()

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
    tool = _tool()

    def tree(**splits):
        with open(tmp_path / 'split.json', 'w') as f:
            json.dump(splits, f)
        return str(tmp_path)

    rmot = Config(dict(val_dataloader=None, test_dataloader=dict(dataset=dict(split='test'))))
    assert tool.default_split(rmot, tree(train=['a'], val=['b'], test=['c'])) == 'val'
    # a "val" split that is the test videos, or a tree without one: ask for --split
    with pytest.raises(SystemExit, match='--split'):
        tool.default_split(rmot, tree(train=['a'], val=['c'], test=['c']))
    with pytest.raises(SystemExit, match='--split'):
        tool.default_split(rmot, tree(train=['a'], test=['c']))
    # a config that validates on its test split
    cfg = Config(dict(val_dataloader=dict(dataset=dict(split='test')),
                      test_dataloader=dict(dataset=dict(split='test'))))
    with pytest.raises(SystemExit, match='--split'):
        tool.default_split(cfg, tree(train=['a'], val=['b'], test=['c']))
    assert tool.parse_args(['cfg.py', 'ckpt.pth']).split is None


def test_grid_hota_equals_the_metric_and_evaluates_each_point_once(mini_refer_kitti):
    """The fit's vectorised HOTA equals referring_metrics (TrackEval's numbers, in %) on any
    subset of videos, and each (a, b) is evaluated once however many folds ask for it."""
    import importlib.util
    import os.path as osp

    import numpy as np

    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.evaluation import ReferringGrid, referring_metrics
    from tests.utils import ROOT
    tool = _tool()
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
