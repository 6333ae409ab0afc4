"""ReferringMetric against TrackEval run directly on hand-written MOTChallenge files."""
import os
import os.path as osp

import numpy as np
import pytest

from ikun_mm.datasets import load_expressions, load_video_annotation
from ikun_mm.evaluation import ReferringMetric


def _samples(root, video, noisy: bool, seed=0):
    """One metric input sample: every expression of ``video``, predicted from the GT labels
    (exactly, or with jitter, misses, false positives and an id switch)."""
    rng = np.random.default_rng(seed)
    ann = load_video_annotation(root, video)
    exprs = load_expressions(root, video, ann)
    index = {(int(r[0]), int(r[1])): r for r in ann.boxes}
    referred = {}
    for e, expr in enumerate(exprs):
        rows = []
        for frame, ids in sorted(expr.label.items()):
            for tid in ids:
                x1, y1, x2, y2 = index[(frame, tid)][3:7]
                pid = tid
                if noisy:
                    if rng.random() < 0.15:
                        continue  # miss
                    x1, x2 = x1 + rng.normal(0, 2), x2 + rng.normal(0, 2)
                    if frame > 12 and e % 2 == 0:
                        pid = tid + 100  # id switch half way
                rows.append([frame, pid, x1, y1, x2, y2, 0.9])
        if noisy and e % 3 == 0:  # a false-positive track
            rows += [[f, 999, 5, 5, 25, 25, 0.5] for f in range(4)]
        referred[expr.sentence] = np.array(rows, float).reshape(-1, 7)
    sample = dict(video=video, num_frames=ann.num_frames, annotation=ann, expressions=exprs,
                  pred_referred=referred)
    return sample, ann, exprs


def _trackeval_direct(folder, seqs, num_frames):
    """TrackEval's own MOTChallenge evaluation with its default dataset settings."""
    import trackeval
    seqmap = osp.join(folder, 'seqmap.txt')
    with open(seqmap, 'w') as f:
        f.write('name\n' + ''.join(f'{s}\n' for s in seqs))
    for s in seqs:
        with open(osp.join(folder, 'gt', s, 'seqinfo.ini'), 'w') as f:
            f.write(f'[Sequence]\nname={s}\nseqLength={num_frames}\n')
    cfg = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    cfg.update(GT_FOLDER=osp.join(folder, 'gt'), TRACKERS_FOLDER=osp.join(folder, 'trackers'),
               SEQMAP_FILE=seqmap, SKIP_SPLIT_FOL=True, PRINT_CONFIG=False)
    ev_cfg = trackeval.Evaluator.get_default_eval_config()
    ev_cfg.update(USE_PARALLEL=False, PRINT_RESULTS=False, PRINT_CONFIG=False,
                  OUTPUT_SUMMARY=False, OUTPUT_DETAILED=False, PLOT_CURVES=False,
                  TIME_PROGRESS=False)
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
    res, _ = trackeval.Evaluator(ev_cfg).evaluate(
        [trackeval.datasets.MotChallenge2DBox(cfg)], metrics)
    combined = next(iter(res['MotChallenge2DBox'].values()))['COMBINED_SEQ']['pedestrian']
    return dict(HOTA=np.mean(combined['HOTA']['HOTA']), DetA=np.mean(combined['HOTA']['DetA']),
                AssA=np.mean(combined['HOTA']['AssA']), MOTA=combined['CLEAR']['MOTA'],
                IDF1=combined['Identity']['IDF1'])


def _write_mot(path, rows):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        for r in rows:
            f.write(f'{int(r[0])},{int(r[1])},{r[2]:.6f},{r[3]:.6f},{r[4]:.6f},{r[5]:.6f},'
                    '1,1,1\n')


def test_metric_equals_trackeval_on_the_same_boxes(tmp_path, mini_refer_kitti):
    sample, ann, exprs = _samples(mini_refer_kitti, '0005', noisy=True)
    metric = ReferringMetric(out_dir=str(tmp_path / 'kept'))
    metric.process({}, [sample])
    ours = metric.evaluate(size=1)  # as the test loop calls it: one result per video
    ours = {k.split('/')[-1]: v for k, v in ours.items()}

    # the same (video, expression) sequences written by hand, then TrackEval with defaults
    folder = str(tmp_path / 'direct')
    seqs = []
    for expr in exprs:
        seq = f'0005+{osp.splitext(osp.basename(expr.file))[0]}'
        seqs.append(seq)
        index = {(int(r[0]), int(r[1])): r for r in ann.boxes}
        gt = [[f + 1, t, *(index[(f, t)][3:5]), *(index[(f, t)][5:7] - index[(f, t)][3:5])]
              for f, ids in sorted(expr.label.items()) for t in ids]
        pred = [[r[0] + 1, r[1], r[2], r[3], r[4] - r[2], r[5] - r[3]]
                for r in sample['pred_referred'][expr.sentence]]
        _write_mot(osp.join(folder, 'gt', seq, 'gt', 'gt.txt'), gt)
        _write_mot(osp.join(folder, 'trackers', 'direct', 'data', f'{seq}.txt'), pred)
    direct = _trackeval_direct(folder, seqs, ann.num_frames)
    for key, value in direct.items():
        assert ours[key] == pytest.approx(100 * value, abs=1e-6), key
    assert 20 < ours['HOTA'] < 95  # the noise is visible
    # the kept TrackEval layout holds every sequence
    kept = os.listdir(tmp_path / 'kept' / 'gt')
    assert sorted(kept) == sorted(seqs)


def test_perfect_predictions_give_hota_100(mini_refer_kitti):
    sample, _, _ = _samples(mini_refer_kitti, '0005', noisy=False)
    metric = ReferringMetric()
    metric.process({}, [sample])
    result = metric.compute_metrics(metric.results)
    for key in ('HOTA', 'DetA', 'AssA', 'MOTA', 'IDF1', 'LocA'):
        assert result[key] == pytest.approx(100.0), key


def test_hota_only_gives_the_same_hota(mini_refer_kitti):
    sample, _, _ = _samples(mini_refer_kitti, '0005', noisy=True)
    results = {}
    for metrics in (('HOTA', 'CLEAR', 'Identity'), ('HOTA', )):
        metric = ReferringMetric(metrics=metrics, log_table=False)
        metric.process({}, [sample])
        results[metrics] = metric.compute_metrics(metric.results)
    full, hota_only = results.values()
    assert 'MOTA' not in hota_only and 'IDF1' not in hota_only
    for key in ('HOTA', 'DetA', 'AssA', 'LocA'):
        assert hota_only[key] == pytest.approx(full[key], abs=1e-9), key


def test_legacy_convention_penalises_perfect_current_frame_predictions(mini_refer_kitti):
    """Perfect predictions are exact in the corrected convention; the legacy GT is one image
    ahead, so the same predictions score lower there."""
    sample, _, _ = _samples(mini_refer_kitti, '0005', noisy=False)
    legacy = ReferringMetric(convention='legacy')
    legacy.process({}, [sample])
    assert legacy.compute_metrics(legacy.results)['HOTA'] < 99.0


def test_existing_out_dir_is_not_overwritten(tmp_path, mini_refer_kitti):
    out = tmp_path / 'kept'
    out.mkdir()
    (out / 'mine.txt').write_text('user data')
    sample, _, _ = _samples(mini_refer_kitti, '0005', noisy=False)
    metric = ReferringMetric(out_dir=str(out))
    metric.process({}, [sample])
    metric.compute_metrics(metric.results)
    assert (out / 'mine.txt').read_text() == 'user data'
    siblings = [p for p in os.listdir(tmp_path) if p.startswith('kept_')]
    assert len(siblings) == 1 and osp.isdir(tmp_path / siblings[0] / 'gt')


def test_ikun_convention_is_perfect_except_the_dropped_images(mini_refer_kitti):
    """Under the official iKUN pairing, predictions equal to the GT boxes (image k, ids of
    label[k - 1]) match every GT box except those of the last image, which carries no
    prediction. Expected scores from counts: G GT boxes, m of them in image N-1; every
    prediction is a true positive at every IoU threshold (LocA 1) with its GT id."""
    video = '0005'
    ann = load_video_annotation(mini_refer_kitti, video)
    exprs = load_expressions(mini_refer_kitti, video, ann)
    last = ann.num_frames - 1
    index = {(int(r[0]), int(r[1])): r for r in ann.boxes}
    referred, total, dropped, ass_sum = {}, 0, 0, 0.0
    for expr in exprs:
        rows, length, lost = [], {}, {}
        for frame, ids in sorted(expr.label.items()):
            for tid in ids:
                box = index.get((frame + 1, tid))  # the official GT: image frame + 1
                if box is None:
                    continue
                rows.append([frame + 1, tid, *box[3:7], 1.0])  # predicted in image frame + 1
                length[tid] = length.get(tid, 0) + 1
                lost[tid] = lost.get(tid, 0) + (frame + 1 == last)
        referred[expr.sentence] = np.array(rows, float).reshape(-1, 7)
        total += sum(length.values())
        dropped += sum(lost.values())
        # per GT track: its matched boxes each score TPA / (TPA + FNA) = (L - m) / L
        ass_sum += sum((n - lost[t]) ** 2 / n for t, n in length.items())
    assert total > 0 and dropped > 0  # the last image holds referred objects
    sample = dict(video=video, num_frames=ann.num_frames, annotation=ann, expressions=exprs,
                  pred_referred=referred)
    metric = ReferringMetric(convention='ikun', log_table=False)
    metric.process({}, [sample])
    result = metric.compute_metrics(metric.results)
    det = (total - dropped) / total
    ass = ass_sum / (total - dropped)
    assert result['DetRe'] == pytest.approx(100 * det, abs=1e-6)
    assert result['DetPr'] == pytest.approx(100.0, abs=1e-6)
    assert result['DetA'] == pytest.approx(100 * det, abs=1e-6)
    assert result['AssA'] == pytest.approx(100 * ass, abs=1e-6)
    assert result['HOTA'] == pytest.approx(100 * np.sqrt(det * ass), abs=1e-6)
    assert result['LocA'] == pytest.approx(100.0, abs=1e-6)
    assert result['MOTA'] == pytest.approx(100 * det, abs=1e-6)
    # the same boxes are HOTA 100 under 'corrected' written at the image they belong to
    # (see test_perfect_predictions_give_hota_100); under 'legacy' they are one image late
    legacy = ReferringMetric(convention='legacy', log_table=False)
    legacy.process({}, [sample])
    assert legacy.compute_metrics(legacy.results)['HOTA'] < 100 * np.sqrt(det * ass) - 1
