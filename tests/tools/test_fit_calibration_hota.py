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
