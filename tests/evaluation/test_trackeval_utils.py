"""evaluate_mot: TrackEval's numbers, from arrays."""
import contextlib
import io
import os

import numpy as np
import pytest

from ikun_mm.evaluation import evaluate_mot, mot_rows_from_boxes


def _scene(seed=0, frames=12):
    rng = np.random.default_rng(seed)
    gt, pred = [], []
    for f in range(1, frames + 1):
        for tid, (x0, vx) in enumerate([(10, 4), (100, -3), (50, 1)], start=1):
            box = [x0 + vx * f, 20 + tid * 5, 20, 30]
            gt.append([f, tid, *box])
            if rng.random() < 0.85:
                pid = tid if f < 7 or tid != 2 else 9  # id switch of object 2
                pred.append([f, pid, *(np.array(box) + rng.normal(0, 1.5, 4)), 0.9])
        if f % 4 == 0:
            pred.append([f, 50 + f, 150, 10, 10, 10, 0.4])  # false positive
    return np.array(gt, float), np.array(pred, float)


def test_perfect_predictions_score_one():
    gt, _ = _scene()
    res = evaluate_mot({'s': gt, 't': gt[gt[:, 1] != 2]}, {'s': gt, 't': gt[gt[:, 1] != 2]},
                       {'s': 12, 't': 12})
    for key in ('COMBINED', 's', 't'):
        for k in ('HOTA', 'DetA', 'AssA', 'LocA', 'MOTA', 'IDF1'):
            assert res[key][k] == pytest.approx(1.0), (key, k)


def test_equals_a_direct_trackeval_run(tmp_path):
    import trackeval
    gt1, pred1 = _scene(0)
    gt2, pred2 = _scene(1, frames=9)
    res = evaluate_mot({'a': gt1, 'b': gt2}, {'a': pred1, 'b': pred2}, {'a': 12, 'b': 9},
                       work_dir=str(tmp_path / 'ours'))
    assert 0.3 < res['COMBINED']['HOTA'] < 0.95
    # the same files, laid out by hand the standard MOTChallenge way (seqinfo.ini, split folder)
    root = tmp_path / 'direct'
    for seq, g, p, n in (('a', gt1, pred1, 12), ('b', gt2, pred2, 9)):
        d = root / 'gt' / 'MOT17-train' / seq
        (d / 'gt').mkdir(parents=True)
        (d / 'seqinfo.ini').write_text(f'[Sequence]\nname={seq}\nseqLength={n}\n')
        np.savetxt(d / 'gt' / 'gt.txt', np.c_[g, np.ones((len(g), 3))], delimiter=',',
                   fmt='%.6f')
        t = root / 'trk' / 'MOT17-train' / 'x' / 'data'
        t.mkdir(parents=True, exist_ok=True)
        np.savetxt(t / f'{seq}.txt', np.c_[p, -np.ones((len(p), 3))], delimiter=',',
                   fmt='%.6f')
    (root / 'seqmap.txt').write_text('name\na\nb\n')
    with contextlib.redirect_stdout(io.StringIO()):
        ev = trackeval.Evaluator(dict(PRINT_RESULTS=False, OUTPUT_SUMMARY=False,
                                      OUTPUT_DETAILED=False, PLOT_CURVES=False,
                                      LOG_ON_ERROR=None, TIME_PROGRESS=False))
        ds = trackeval.datasets.MotChallenge2DBox(dict(
            GT_FOLDER=str(root / 'gt'), TRACKERS_FOLDER=str(root / 'trk'),
            SEQMAP_FILE=str(root / 'seqmap.txt'), DO_PREPROC=False, PRINT_CONFIG=False))
        out, _ = ev.evaluate([ds], [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(),
                                    trackeval.metrics.Identity()])
    direct = out['MotChallenge2DBox']['x']
    for key, seq in (('COMBINED', 'COMBINED_SEQ'), ('a', 'a'), ('b', 'b')):
        d = direct[seq]['pedestrian']
        assert res[key]['HOTA'] == pytest.approx(np.mean(d['HOTA']['HOTA']), abs=1e-9)
        assert res[key]['AssA'] == pytest.approx(np.mean(d['HOTA']['AssA']), abs=1e-9)
        assert res[key]['MOTA'] == pytest.approx(d['CLEAR']['MOTA'], abs=1e-9)
        assert res[key]['IDF1'] == pytest.approx(d['Identity']['IDF1'], abs=1e-9)
    assert os.path.isfile(tmp_path / 'ours' / 'gt' / 'a' / 'gt' / 'gt.txt')


def test_bad_inputs_raise_clear_errors():
    gt, pred = _scene()
    with pytest.raises(ValueError, match=r"pred\['s'\] has frame 13.0 outside 1..12"):
        evaluate_mot({'s': gt}, {'s': np.r_[pred, [[13, 1, 0, 0, 5, 5, 1]]]}, {'s': 12})
    with pytest.raises(ValueError, match='missing from num_frames'):
        evaluate_mot({'s': gt, 'u': gt}, {}, {'s': 12})
    with pytest.raises(ValueError, match='metrics'):
        evaluate_mot({'s': gt}, {}, {'s': 12}, metrics=('MOTP', ))


def test_mot_rows_from_boxes():
    rows = mot_rows_from_boxes(np.array([[0, 3, 10, 20, 30, 60, .5]]))
    np.testing.assert_allclose(rows, [[1, 3, 10, 20, 20, 40, .5]])
