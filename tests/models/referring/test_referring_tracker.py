"""The referring tracker: detector -> tracker -> iKUN in one model, built from the RMOT config;
tracker swap by one line; strict checkpoint loading; streaming == offline; the demo video."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint

from ikun_mm.datasets import load_video_annotation
from ikun_mm.models.referring import score_tracks, tracks_from_rows
from ikun_mm.models.referring.streaming import ReferringStream
from ikun_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(ROOT, 'configs', 'rmot', 'ikun_cascade_neuralsort_mini_refer_kitti.py')
TINY = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')
EXPRESSIONS = ['cars', 'pedestrians walking left', 'red cars']


def _cfg(root, **tracker):
    """The RMOT config with the tiny iKUN as referrer (same code, smaller sizes)."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.detector.det_dir = osp.join(root, 'KITTI/detections/image_02')
    cfg.model.referrer = Config.fromfile(TINY).model
    cfg.model.tracker.update(tracker)
    return cfg


@pytest.fixture(scope='module')
def referrer_ckpt(tmp_path_factory, mini_refer_kitti):
    """An iKUN checkpoint as tools/train.py writes it (random weights, fixed seed)."""
    torch.manual_seed(0)
    referrer = MODELS.build(Config.fromfile(TINY).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'ikun.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=referrer.state_dict()), path)
    return path


def _build(root, ckpt, **tracker):
    model = MODELS.build(_cfg(root, **tracker).model)
    load_checkpoint(model, ckpt, strict=True)  # what tools/test.py does
    return model.eval()


def test_offline_referring_on_a_video(mini_refer_kitti, referrer_ckpt):
    model = _build(mini_refer_kitti, referrer_ckpt)
    ann = load_video_annotation(mini_refer_kitti, '0005')
    tracked = model.track_rows(ann.num_frames, ann.img_size, '0005')
    # reference: iKUN's (calibrated) frame scores of the tracker's tracks
    scores = score_tracks(model.referrer, ann.img_paths, tracks_from_rows(tracked), EXPRESSIONS)
    # a random referrer's cosines all sit on one side of 0: refer the upper half of them
    model.score_thr = float(np.median(np.concatenate([ts.scores for ts in scores.values()])))
    out = model.refer_video(ann.img_paths, EXPRESSIONS, ann.img_size, video='0005')
    assert list(out) == EXPRESSIONS
    for e, sentence in enumerate(EXPRESSIONS):
        expected = {(int(f), tid, round(float(s[e]), 5)) for tid, ts in scores.items()
                    for f, s in zip(ts.frames, ts.scores) if s[e] > model.score_thr}
        rows = out[sentence]
        assert rows.shape[1] == 7
        assert {(int(r[0]), int(r[1]), round(float(r[6]), 5)) for r in rows} == expected
    assert sum(len(rows) for rows in out.values()) > 0.3 * len(tracked) * len(EXPRESSIONS)
    # a threshold below every score refers every tracked box
    model.score_thr = -10.0
    everything = model.refer_video(ann.img_paths, EXPRESSIONS[:1], ann.img_size, video='0005')
    assert {(int(f), int(i)) for f, i in everything['cars'][:, :2]} == \
        {(int(f), int(i)) for f, i in tracked[:, :2]}


def test_checkpoint_routing_is_strict(tmp_path, mini_refer_kitti, referrer_ckpt):
    model = MODELS.build(_cfg(mini_refer_kitti).model)
    state = torch.load(referrer_ckpt, weights_only=False)['state_dict']
    load_checkpoint(model, referrer_ckpt, strict=True)
    key = next(iter(state))
    assert torch.equal(model.referrer.state_dict()[key], state[key])
    bad = dict(state)
    bad.pop(key)
    bad['not_a_layer.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=bad), str(tmp_path / 'bad.pth'))
    with pytest.raises(RuntimeError, match='not_a_layer'):
        load_checkpoint(model, str(tmp_path / 'bad.pth'), strict=True)
    with pytest.raises(RuntimeError, match='does not fit the referrer'):
        model.load_referrer_checkpoint(str(tmp_path / 'bad.pth'))


@pytest.mark.parametrize('tracker_type', ['OCSORTTracker', 'ByteTracker', 'SORTTracker'])
def test_swapping_the_tracker_is_one_line(mini_refer_kitti, referrer_ckpt, tracker_type):
    from mmdet.models.trackers import BaseTracker
    model = _build(mini_refer_kitti, referrer_ckpt, type=tracker_type)
    assert type(model.tracker).__name__ == tracker_type
    assert isinstance(model.tracker, BaseTracker)
    ann = load_video_annotation(mini_refer_kitti, '0005')
    rows = model.track_rows(ann.num_frames, ann.img_size, '0005')
    assert len(np.unique(rows[:, 1])) >= 3  # it tracks
    out = model.refer_video(ann.img_paths, EXPRESSIONS[:1], ann.img_size, video='0005')
    assert out['cars'].shape[1] == 7


def test_streaming_final_output_equals_offline(mini_refer_kitti, referrer_ckpt):
    model = _build(mini_refer_kitti, referrer_ckpt)
    model.interpolation = None  # offline interpolation needs the future
    ann = load_video_annotation(mini_refer_kitti, '0005')
    tracks = tracks_from_rows(model.track_rows(ann.num_frames, ann.img_size, '0005'))
    scores = score_tracks(model.referrer, ann.img_paths, tracks, EXPRESSIONS)
    model.score_thr = float(np.median(np.concatenate([ts.scores for ts in scores.values()])))
    offline = model.refer_video(ann.img_paths, EXPRESSIONS, ann.img_size, video='0005')
    stream = ReferringStream(model, EXPRESSIONS, ann.img_size, video='0005')
    for f, path in enumerate(ann.img_paths):
        now = stream.update(path)
        for rows in now.values():
            assert (rows[:, 0] == f).all()
    final = stream.finish()
    assert sum(len(rows) for rows in final.values()) > 0  # something is referred
    for sentence in EXPRESSIONS:
        np.testing.assert_allclose(final[sentence], offline[sentence], atol=1e-6)


def test_demo_writes_video_and_mot_files(tmp_path, mini_refer_kitti, referrer_ckpt):
    frames = osp.join(mini_refer_kitti, 'KITTI/training/image_02/0005')
    out = str(tmp_path / 'demo.mp4')
    det = osp.join(mini_refer_kitti, 'KITTI/detections/image_02/0005.txt')
    cfg_file = str(tmp_path / 'rmot_tiny.py')
    _cfg(mini_refer_kitti).dump(cfg_file)
    cmd = [sys.executable, osp.join(ROOT, 'demo', 'rmot_demo.py'), frames, 'cars',
           'pedestrians walking left', '--config', cfg_file, '--checkpoint', referrer_ckpt,
           '--out', out, '--det', det, '--snapshot', str(tmp_path / 'demo.jpg')]
    env = dict(os.environ, PYTHONPATH=ROOT)  # this checkout, not an older installed copy
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cap = cv2.VideoCapture(out)
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 24  # one output frame per input frame, playable
    assert osp.isfile(str(tmp_path / 'demo_cars.txt'))
    assert osp.isfile(str(tmp_path / 'demo_pedestrians-walking-left.txt'))
    first = cv2.imread(osp.join(frames, sorted(os.listdir(frames))[0]))
    h, w = first.shape[:2]
    sheet = cv2.imread(str(tmp_path / 'demo.jpg'))  # 4 frames (0, 8, 15, 23) in 2 columns
    assert sheet is not None and sheet.shape == (2 * h + 4, 2 * w + 4, 3)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode != 0 and 'exists; pass --overwrite' in again.stderr


def test_one_driver_for_test_demo_and_calibration_fit(tmp_path, mini_refer_kitti,
                                                      referrer_ckpt):
    """``predict`` (tools/test.py), ``refer_video`` (the demo) and ``prepare_referring`` (the
    calibration fit, the benchmark tables) track and score through ``score_video``: the raw
    scores prepared for the fit plus the calibration offset a·p(e) + b (official
    similarity_calibration: added per window, so also to the window mean) are the calibrated
    scores the test refers with, and ``predict`` keeps those above ``score_thr``."""
    from mmengine.structures import BaseDataElement

    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.models.referring import prepare_referring, referred_rows
    cfg = _cfg(mini_refer_kitti)
    cfg.model.referrer.calibration = dict(type='SimilarityCalibration', data_root=mini_refer_kitti,
                                          synonyms='refer_kitti', a=8.0, b=-0.1)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, referrer_ckpt, strict=True)
    model.eval()
    item = next(i for i in ReferKittiDataset(data_root=mini_refer_kitti, split='test',
                                             synonyms='refer_kitti') if i['video'] == '0005')
    sentences, texts = [e.sentence for e in item['expressions']], item['texts']
    [prepared] = prepare_referring(model, [item])
    rows, tracks, scores = model.score_video(item['img_paths'], texts, item['img_size'], '0005')
    assert prepared['sentences'] == sentences and set(prepared['tracks']) == set(tracks)
    assert rows.shape[1] == 8 and set(np.unique(rows[:, 1]).astype(int)) == set(tracks)
    cal = model.referrer.calibration
    offset = (cal.a * cal.pseudo_frequency(texts) + cal.b).numpy()
    for tid in tracks:
        assert scores[tid].scores.shape == (len(tracks[tid]), len(texts))
        np.testing.assert_allclose(prepared['raw'][tid].scores + offset, scores[tid].scores,
                                   atol=1e-5)
    # a calibrated iKUN checkpoint (as tools/analysis/fit_calibration.py writes it) loads
    # strictly through tools/test.py's loader, table included: the table replaces data_root
    state = torch.load(referrer_ckpt, weights_only=False)['state_dict']
    table = dict(sentences=['car', 'pedestrian'], shares=[0.75, 0.25])
    state.update({'calibration.a': torch.tensor(2.0), 'calibration.b': torch.tensor(0.5),
                  'calibration.table': table})
    torch.save(dict(state_dict=state), str(tmp_path / 'calibrated.pth'))
    other = MODELS.build(cfg.model)
    other.referrer.calibration.data_root = str(tmp_path / 'no_such_tree')
    load_checkpoint(other, str(tmp_path / 'calibrated.pth'), strict=True)
    assert other.referrer.calibration.table()[0] == ['car', 'pedestrian']
    assert other.state_dict()['referrer.calibration.table'] == table
    assert other.referrer.calibration.b.item() == 0.5

    model.score_thr = float(np.median(np.concatenate([s.scores for s in scores.values()])))
    sample = BaseDataElement(metainfo=dict(
        video='0005', img_paths=item['img_paths'], img_size=item['img_size'],
        num_frames=len(item['img_paths']), sentences=sentences, texts=texts))
    [out] = model.predict([], [sample])
    expected = referred_rows(tracks, scores, len(texts), model.score_thr)
    assert sum(len(e) for e in expected) > 0
    for sentence, rows_e in zip(sentences, expected):
        np.testing.assert_array_equal(out.pred_referred[sentence], rows_e)
