"""fast_hota: TrackEval's HOTA / CLEAR / Identity without TrackEval, checked against TrackEval
(hand-made worked examples, random sequences with ties and empty sides, the generated data)."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikun_mm.evaluation import (ReferringGrid, ReferringMetric, ShiftGrid, evaluate_mot,
                                evaluate_mot_fast, referring_metrics, trackeval_round)
from ikun_mm.evaluation import fast_hota
from tests.utils import ROOT

TOL = 1e-9


def _bench():
    spec = importlib.util.spec_from_file_location(
        '_bench_hota_speed', osp.join(ROOT, 'benchmarks', 'hota_speed.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_same(ref: dict, fast: dict, tol: float = TOL) -> None:
    assert set(ref) == set(fast)
    for seq in ref:
        assert set(ref[seq]) == set(fast[seq]), seq
        for k, v in ref[seq].items():
            assert abs(v - fast[seq][k]) <= tol, (seq, k, v, fast[seq][k])


# ---------------------------------------------------------------------------------------------
# worked examples

def test_worked_example_half_overlap():
    """One frame, GT [0, 0, 10, 10], prediction [0, 0, 10, 5]: IoU 0.5 matches at alpha 0.05 ..
    0.50 (10 of the 19 thresholds). HOTA = DetA = AssA = 10/19; LocA is 0.5 there and 1 at the
    other 9 (TrackEval's max(1e-10, 0) / max(1e-10, 0)); CLEAR matches at IoU >= 0.5."""
    gt = {'s': np.array([[1, 1, 0, 0, 10, 10]], float)}
    pred = {'s': np.array([[1, 7, 0, 0, 10, 5, 1.0]])}
    fast = evaluate_mot_fast(gt, pred, {'s': 1})
    assert fast['s']['HOTA'] == pytest.approx(10 / 19)
    assert fast['s']['DetA'] == pytest.approx(10 / 19)
    assert fast['s']['LocA'] == pytest.approx((10 * 0.5 + 9) / 19)
    assert fast['s']['MOTA'] == 1.0 and fast['s']['IDF1'] == 1.0 and fast['s']['MOTP'] == 0.5
    assert_same(evaluate_mot(gt, pred, {'s': 1}), fast)


def test_worked_example_tie_between_identical_predictions():
    """Two predictions with identical boxes on one GT: the assignment is a tie, broken the way
    scipy breaks it inside TrackEval (one match, one FP per frame; the matched id decides the
    association and the IDSW count)."""
    box = [5, 5, 20, 30]
    gt = {'s': np.array([[f, 1] + box for f in (1, 2, 3)], float)}
    pred = {'s': np.array([[f, i] + box + [1.0] for f in (1, 2, 3) for i in (4, 9)])}
    fast = evaluate_mot_fast(gt, pred, {'s': 3})
    assert fast['s']['DetRe'] == 1.0 and fast['s']['DetPr'] == 0.5
    assert_same(evaluate_mot(gt, pred, {'s': 3}), fast)


def test_empty_sequences_follow_trackeval():
    """No prediction: HOTA 0, LocA 1, MOTA 0 and ML = the GT ids. No GT: per-sequence MOTA is 0
    (TrackEval returns early) but the combined MOTA counts its false positives."""
    gt = {'a': np.array([[1, 1, 0, 0, 10, 10], [2, 2, 0, 0, 10, 10]], float),
          'b': np.zeros((0, 6)), 'c': np.array([[1, 3, 0, 0, 4, 4]], float)}
    pred = {'b': np.array([[1, 1, 0, 0, 10, 10, 1.0]]), 'c': np.array([[1, 2, 0, 0, 4, 4, 1.]])}
    frames = {'a': 2, 'b': 2, 'c': 1}
    fast = evaluate_mot_fast(gt, pred, frames)
    assert fast['a']['HOTA'] == 0 and fast['a']['LocA'] == 1 and fast['a']['ML'] == 2
    assert fast['b']['MOTA'] == 0 and fast['b']['LocA'] == 1
    assert fast['COMBINED']['MOTA'] == pytest.approx((1 - 1) / 3)
    assert_same(evaluate_mot(gt, pred, frames), fast)


def test_input_checks_as_evaluate_mot():
    gt = {'s': np.array([[1, 1, 0, 0, 5, 5]], float)}
    with pytest.raises(ValueError, match='outside'):
        evaluate_mot_fast(gt, {'s': np.array([[3, 1, 0, 0, 5, 5, 1]], float)}, {'s': 2})
    with pytest.raises(ValueError, match='missing from num_frames'):
        evaluate_mot_fast({'s': gt['s'], 'u': gt['s']}, {}, {'s': 2})
    with pytest.raises(ValueError, match='subset'):
        evaluate_mot_fast(gt, {}, {'s': 2}, metrics=('MOTP', ))
    with pytest.raises(ValueError, match='backend'):
        ReferringMetric(backend='nope')


# ---------------------------------------------------------------------------------------------
# building blocks

def test_trackeval_round_is_the_6_decimal_text_round_trip():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(2000) * 1000, rng.integers(0, 10 ** 7, 2000) / 1e6 + 5e-7,
                        -rng.random(200), rng.normal(0, 1e5, 2000), [0.0, -0.0, 2.5e-7]])
    assert np.array_equal(trackeval_round(x), [float(f'{v:.6f}') for v in x])


def test_numpy_summation_orders_are_reproduced():
    """Row sums (pairwise from 8 elements) and column sums (sequential, pairwise for a single
    column of 8+) bit-identical to numpy's, from the non-zero entries only."""
    rng = np.random.default_rng(1)
    for _ in range(60):
        g, p = rng.integers(1, 20, 2)
        m = rng.random((g, p)) ** 3 * (rng.random((g, p)) < 0.6)
        r, c = np.nonzero(m)
        rows = fast_hota._numpy_sums(r, g, c, np.full(len(r), p), m[r, c],
                                     np.full(len(r), p >= 8))
        order = np.lexsort((r, c))
        cols = fast_hota._numpy_sums(c[order], p, r[order], np.full(len(r), g), m[r, c][order],
                                     np.full(len(r), (p == 1) and g >= 8))
        assert np.array_equal(rows, m.sum(1)) and np.array_equal(cols, m.sum(0))


# ---------------------------------------------------------------------------------------------
# random sequences against TrackEval

@st.composite
def sequences(draw):
    """A few sequences on a coarse coordinate grid (identical boxes and ties are common), with
    empty GT, empty predictions, single frames and crowded frames."""
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    gt, pred, frames = {}, {}, {}
    for s in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 6))
        n_gt, n_pred = draw(st.integers(0, 9)), draw(st.integers(0, 10))
        step = draw(st.sampled_from([1.0, 4.0, 10.0]))
        jitter = draw(st.sampled_from([0.0, 0.3, 1.0]))
        base = rng.integers(0, 5, (max(n_gt, n_pred, 1), 4)) * step
        g, p = [], []
        for f in range(1, n + 1):
            for i in range(n_gt):
                if rng.random() < 0.8:
                    b = base[i] + rng.integers(-1, 2, 4) * step * (rng.random() < 0.3)
                    g.append([f, i + 1, b[0], b[1], abs(b[2]) + step, abs(b[3]) + step])
            for j in range(n_pred):
                if rng.random() < 0.8:
                    src = base[rng.integers(len(base))] if rng.random() < 0.4 else base[j]
                    b = src + rng.normal(0, jitter, 4) * step
                    p.append([f, j + 1, b[0], b[1], abs(b[2]) + step, abs(b[3]) + step, 1.0])
        g, p = np.array(g).reshape(-1, 6), np.array(p).reshape(-1, 7)
        # any order within a frame (TrackEval keeps the file order)
        gt[f's{s}'] = g[np.lexsort((rng.random(len(g)), g[:, 0]))]
        pred[f's{s}'] = p[np.lexsort((rng.random(len(p)), p[:, 0]))]
        frames[f's{s}'] = n
    return gt, pred, frames


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences())
def test_random_sequences_equal_trackeval(data):
    gt, pred, frames = data
    assert_same(evaluate_mot(gt, pred, frames), evaluate_mot_fast(gt, pred, frames))


def test_crowded_frames_use_scipy_and_still_match():
    """Dense overlapping boxes (every frame needs the assignment solver) on a 0.5 px grid."""
    rng = np.random.default_rng(3)
    gt, pred, frames = {}, {}, {}
    for s in range(3):
        g = [[f, i, *(rng.integers(0, 8, 2) / 2), 6, 6] for f in range(1, 9) for i in range(10)]
        p = [[f, i, *(rng.integers(0, 8, 2) / 2), 6, 6, 1] for f in range(1, 9) for i in range(12)]
        gt[f'c{s}'], pred[f'c{s}'], frames[f'c{s}'] = np.array(g, float), np.array(p, float), 8
    # one prediction among 10 GT boxes (numpy sums that column pairwise)
    gt['one'] = np.array([[f, i, *(rng.integers(0, 8, 2) / 2), 6, 6] for f in (1, 2)
                          for i in range(10)], float)
    pred['one'] = np.array([[f, 1, 2, 2, 6, 6, 1] for f in (1, 2)], float)
    frames['one'] = 2
    assert_same(evaluate_mot(gt, pred, frames), evaluate_mot_fast(gt, pred, frames))


# ---------------------------------------------------------------------------------------------
# the generated data and the grid

@pytest.fixture(scope='module')
def prepared(mini_refer_kitti):
    from ikun_mm.datasets import ReferKittiDataset
    items = list(ReferKittiDataset(data_root=mini_refer_kitti, split='train'))[:3]
    return _bench().synthetic_prepared(items, seed=0)


def _trackeval_referring(prepared, offsets, metrics=('HOTA', 'CLEAR', 'Identity')):
    """referring_metrics with TrackEval: per-sequence and combined results."""
    from ikun_mm.models.referring.referring_tracker import referred_rows
    metric = ReferringMetric(log_table=False, metrics=metrics, backend='trackeval')
    for video in prepared:
        shift = np.asarray(offsets(video['sentences']), dtype=np.float64)[None]
        scores = {tid: type(s)(s.frames, s.scores + shift) for tid, s in video['raw'].items()}
        rows = referred_rows(video['tracks'], scores, len(video['sentences']), 0.0)
        metric.process({}, [dict(video=video['video'], num_frames=video['num_frames'],
                                 annotation=video['annotation'], expressions=video['expressions'],
                                 pred_referred=dict(zip(video['sentences'], rows)))])
    metric.evaluate(size=len(prepared))
    return metric.last_results


def test_referring_metric_backends_agree_on_generated_data(prepared):
    ref = _trackeval_referring(prepared, lambda ss: np.zeros(len(ss)))
    fast = referring_metrics(prepared)  # ReferringMetric's default backend is 'fast'
    assert len(ref) > 50  # (video, expression) sequences + COMBINED
    for k, v in fast.items():
        assert v == pytest.approx(100 * ref['COMBINED'][k], abs=1e-7)
    metric = ReferringMetric(log_table=False)
    from ikun_mm.models.referring.referring_tracker import referred_rows
    for video in prepared:
        rows = referred_rows(video['tracks'], video['raw'], len(video['sentences']), 0.0)
        metric.process({}, [dict(video=video['video'], num_frames=video['num_frames'],
                                 annotation=video['annotation'], expressions=video['expressions'],
                                 pred_referred=dict(zip(video['sentences'], rows)))])
    metric.evaluate(size=len(prepared))
    assert_same(ref, metric.last_results)


def test_referring_grid_equals_trackeval_per_point_and_per_video(prepared):
    freq = {s: 0.01 * (len(s) % 7) for v in prepared for s in v['sentences']}
    points = [(0.0, 0.0), (2.0, -0.3), (8.0, 0.25), (0.5, -5.0)]  # the last keeps nothing

    def offsets(a, b):
        return lambda ss: np.array([a * freq[s] + b for s in ss])

    grid = ReferringGrid(prepared)
    result = grid.evaluate_offsets([offsets(a, b) for a, b in points],
                                   metrics=('HOTA', 'CLEAR', 'Identity'))
    combined, per_seq = result.combined(), result.per_sequence()
    one = [prepared[0]['video']]
    combined_one = result.combined(grid.sequences_of(one))
    for j, (a, b) in enumerate(points):
        ref = _trackeval_referring(prepared, offsets(a, b))
        for k, v in ref['COMBINED'].items():
            assert abs(v - combined[k][j]) <= TOL, (a, b, k)
        for i, seq in enumerate(grid.names):
            for k, v in ref[seq].items():
                assert abs(v - per_seq[k][j, i]) <= TOL, (a, b, seq, k)
        if j < 2:
            ref_one = _trackeval_referring(prepared[:1], offsets(a, b), ('HOTA', ))
            assert abs(ref_one['COMBINED']['HOTA'] - combined_one['HOTA'][j]) <= TOL


def test_shift_grid_dedupes_and_takes_masks_in_input_order():
    bench = _bench()
    gt, cand, frames, p = bench.synthetic_split(sequences=4, frames=20, boxes=6, seed=2)
    # shuffle candidate rows within frames: masks are given in input order
    rng = np.random.default_rng(0)
    cand = {s: c[np.lexsort((rng.random(len(c)), c[:, 0]))] for s, c in cand.items()}
    grid = ShiftGrid(gt, cand, frames)
    shifts = np.array([[0.0] * 4, [0.3] * 4, [0.0] * 4, list(p)])
    res = grid.evaluate(shifts, metrics=('HOTA', 'CLEAR', 'Identity'))
    comb = res.combined()
    assert all(comb[k][0] == comb[k][2] for k in comb)
    masks = [c[:, 6][None] + shifts[:, i, None] > 0 for i, c in enumerate(cand.values())]
    by_mask = grid.evaluate_masks(masks, metrics=('HOTA', 'CLEAR', 'Identity')).combined()
    for j in range(len(shifts)):
        pred = {s: c[m[j]] for (s, c), m in zip(cand.items(), masks)}
        ref = evaluate_mot(gt, pred, frames)
        for k, v in ref['COMBINED'].items():
            assert abs(v - comb[k][j]) <= TOL and abs(v - by_mask[k][j]) <= TOL, (j, k)
