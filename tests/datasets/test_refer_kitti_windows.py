"""Track windows (closed form), the window dataset on the generated tree, and the metric."""
import numpy as np
import pytest

from ikun_mm.structures.track_windows import (inference_frame_positions, split_at_gaps,
                                              track_windows, training_frame_positions,
                                              window_starts)

PIPELINE = [dict(type='LoadTrackWindowFrames'),
            dict(type='CropLocalGlobal', local_size=32, global_size=64,
                 random_resized_crop=dict(scale=(0.8, 1.0), ratio=(0.8, 1.0))),
            dict(type='PackIKUNInputs')]


@pytest.mark.parametrize('length,starts', [(1, [0]), (5, [0]), (8, [0]), (9, [0, 1]),
                                           (12, [0, 4]), (13, [0, 4, 5]), (16, [0, 4, 8]),
                                           (17, [0, 4, 8, 9])])
def test_window_starts(length, starts):
    assert window_starts(length) == starts
    # every frame is covered; the last window ends at the run's end
    covered = {s + i for s in starts for i in range(min(8, length))}
    assert covered == set(range(length))


def test_windows_split_at_gaps():
    frames = list(range(3, 13)) + [20, 21, 22] + [30]
    runs = split_at_gaps(frames)
    assert [r.tolist() for r in runs] == [list(range(3, 13)), [20, 21, 22], [30]]
    wins = [w.tolist() for w in track_windows(frames)]
    assert wins == [list(range(3, 11)), list(range(5, 13)), [20, 21, 22], [30]]
    with pytest.raises(ValueError, match='strictly increasing'):
        split_at_gaps([1, 1, 2])


def test_frame_positions():
    assert inference_frame_positions(8) == (0, 4)
    assert inference_frame_positions(5) == (0, 2)
    assert inference_frame_positions(1) == (0, 0)
    rng = np.random.default_rng(0)
    draws = np.array([training_frame_positions(8, rng) for _ in range(200)])
    assert set(draws[:, 0]) == {0, 1, 2, 3} and set(draws[:, 1]) == {4, 5, 6, 7}
    assert training_frame_positions(1, rng) == (0, 0)


def _dataset(root, **kwargs):
    from ikun_mm.registry import DATASETS
    return DATASETS.build(dict(type='ReferKittiWindowDataset', data_root=root,
                               pipeline=PIPELINE, **kwargs))


def test_train_samples_follow_the_paper(mini_refer_kitti):
    from ikun_mm.datasets import load_expressions, load_video_annotation
    ds = _dataset(mini_refer_kitti, split='train')
    videos = {info['video'] for info in ds.data_list}
    assert videos == {'0000', '0001', '0002', '0003', '0004'}
    # one item per GT track
    assert len(ds) == sum(len(load_video_annotation(mini_refer_kitti, v).track_ids())
                          for v in videos)
    np.random.seed(0)
    for idx in range(0, len(ds), 3):
        item = ds[idx]
        sample, inputs = item['data_samples'], item['inputs']
        assert inputs['local'].shape == (2, 3, 32, 32) and inputs['global'].shape == (2, 3, 64, 64)
        win, frames = sample.window, sample.frames
        assert len(win) <= 8 and np.all(np.diff(win) == 1)
        half = len(win) // 2
        if len(win) > 1:
            assert frames[0] in win[:half] and frames[1] in win[half:]
        assert sample.ref_frame == frames[1] and len(sample.sentences) == 1
        ann = load_video_annotation(mini_refer_kitti, sample.video)
        expr = {e.sentence: e for e in load_expressions(mini_refer_kitti, sample.video, ann)}
        holds = (sample.ref_frame, sample.track_id) in expr[sample.sentences[0]].positives()
        assert float(sample.labels[0]) == float(holds)


def test_official_sampling_uses_referred_frames_only(mini_refer_kitti):
    """official_sampling: as the official RMOT_Dataset, a track keeps the frames where some
    expression refers to it (tracks with <= 8 such frames are dropped), a window is 8
    consecutive entries of that list, and the label frame is either sampled frame."""
    from ikun_mm.datasets import load_expressions, load_video_annotation
    ds = _dataset(mini_refer_kitti, split='train', official_sampling=True)
    expected = {}
    for video in {'0000', '0001', '0002', '0003', '0004'}:
        ann = load_video_annotation(mini_refer_kitti, video)
        referred = set()
        for e in load_expressions(mini_refer_kitti, video, ann):
            referred |= e.positives()
        for tid in ann.track_ids():
            frames = [int(f) for f in ann.track(tid)[:, 0] if (int(f), tid) in referred]
            if len(frames) > 8:
                expected[(video, tid)] = frames
    assert expected  # the check is not vacuous
    assert {(i['video'], i['track_id']): i['frames'] for i in ds.data_list} == expected
    np.random.seed(0)
    ref_positions = set()
    for _ in range(4):
        for idx in range(len(ds)):
            sample = ds[idx]['data_samples']
            listed = expected[(sample.video, sample.track_id)]
            start = listed.index(sample.window[0])
            assert sample.window == listed[start:start + 8]
            assert sample.frames[0] in sample.window[:4] and sample.frames[1] in sample.window[4:]
            ref_positions.add(sample.frames.index(sample.ref_frame))
    assert ref_positions == {0, 1}


def test_positive_ratio_balances_labels(mini_refer_kitti):
    np.random.seed(1)
    ds = _dataset(mini_refer_kitti, positive_ratio=1.0)
    ones = [float(ds[i]['data_samples'].labels[0]) for i in range(10)]
    assert all(ones)
    with pytest.raises(ValueError, match='positive_ratio'):
        _dataset(mini_refer_kitti, positive_ratio=1.5)


def test_all_expressions_per_window(mini_refer_kitti):
    np.random.seed(2)
    ds = _dataset(mini_refer_kitti, num_expressions=None)
    for idx in (0, len(ds) - 1):
        sample = ds[idx]['data_samples']
        assert sample.sentences == ds.sentences(sample.video)
        np.testing.assert_array_equal(sample.labels.numpy().astype(bool),
                                      ds.holds(sample.video, sample.track_id, sample.ref_frame))
    with pytest.raises(ValueError, match='num_expressions'):
        _dataset(mini_refer_kitti, num_expressions=3)
    with pytest.raises(ValueError, match='positive_ratio'):
        _dataset(mini_refer_kitti, num_expressions=None, positive_ratio=0.5)


def test_test_mode_windows_and_labels(mini_refer_kitti):
    from ikun_mm.datasets import load_video_annotation
    ds = _dataset(mini_refer_kitti, split='test', test_mode=True)
    ann = load_video_annotation(mini_refer_kitti, '0005')
    expected = sum(len(track_windows(ann.track(t)[:, 0].astype(int))) for t in ann.track_ids())
    assert len(ds) == expected
    item = ds[0]['data_samples']
    w = item.window
    assert item.frames == [w[0], w[len(w) // 2]]
    assert item.sentences == ds.sentences('0005')
    assert item.labels.shape == (len(item.sentences), )
    np.testing.assert_array_equal(item.labels.numpy().astype(bool),
                                  ds.holds('0005', item.track_id, item.ref_frame))


def test_expression_metric_closed_form():
    import torch

    from ikun_mm.evaluation import ExpressionMatchingMetric, binary_auc
    assert binary_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert binary_auc(np.array([1., 1.]), np.array([0, 1])) == 0.5
    metric = ExpressionMatchingMetric()
    metric.process(None, [dict(scores=torch.tensor([0.5, -0.2, 0.3]),
                               labels=torch.tensor([1., 1., 0.]))])
    out = metric.compute_metrics(metric.results)
    assert out['precision'] == 0.5 and out['recall'] == 0.5 and out['f1'] == 0.5
    assert out['auc'] == 0.5 and out['pairs'] == 3


def test_refer_kitti_synonyms_on_the_generated_tree(mini_refer_kitti):
    # the generator's plurals: 'cars' is in the official table, 'pedestrians' is not; no two
    # generated expressions are synonyms, so the canonical texts label exactly as the files
    ds = _dataset(mini_refer_kitti, split='test', test_mode=True, synonyms='refer_kitti')
    plain = _dataset(mini_refer_kitti, split='test', test_mode=True)
    raw = plain.sentences('0005')
    assert ds.sentences('0005') == sorted(s.replace('cars', 'car') for s in raw)
    assert any('cars' in s for s in raw) and not any('cars' in s for s in ds.sentences('0005'))
    assert any('pedestrians' in s for s in ds.sentences('0005'))
    order = {s: i for i, s in enumerate(raw)}
    perm = [order[s] for s in sorted(raw, key=lambda s: s.replace('cars', 'car'))]
    for idx in (0, len(ds) // 2, len(ds) - 1):
        info = ds.get_data_info(idx)
        ref = info['window'][inference_frame_positions(len(info['window']))[1]]
        np.testing.assert_array_equal(ds.holds('0005', info['track_id'], ref),
                                      plain.holds('0005', info['track_id'], ref)[perm])
