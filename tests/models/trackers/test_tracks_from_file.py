"""TracksFromFile: replaying MOTChallenge track files (one file per video, or the per-class
layout of the official iKUN NeuralSORT files) through track_video, every format error with its
file and line, and a referring tracker that refers replayed GT tracks exactly as score_tracks
scores them."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config

from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError, load_video_annotation
from ikun_mm.models.trackers import TracksFromFile, track_video
from ikun_mm.registry import MODELS
from tests.utils import ROOT, load_tool

RMOT = osp.join(ROOT, 'configs', 'rmot')
MINI = osp.join(RMOT, 'ikun_cascade_tracks-from-file_mini_refer_kitti.py')
REAL = osp.join(RMOT, 'ikun_cascade_tracks-from-file_refer_kitti.py')
TINY = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')

# Hand-written MOTChallenge file of video 0000 (1-based frames): comma and space separated
# lines, extra columns, a row without class (label 0) and one of class 1.
MOT_TEXT = ('1,1,10,20,30,40,0.9,-1,-1,-1\n'
            '1,2,50,20,10,10,0.8\n'
            '\n'
            '2 1 12 20 30 40 0.7\n'
            '4,2,55.5,25,10,10,0.6,1,7,7\n')
# the same boxes as track_video rows: frame (0-based), id, x1, y1, x2, y2, score, label
MOT_ROWS = [[0, 1, 10, 20, 40, 60, 0.9, 0],
            [0, 2, 50, 20, 60, 30, 0.8, 0],
            [1, 1, 12, 20, 42, 60, 0.7, 0],
            [3, 2, 55.5, 25, 65.5, 35, 0.6, 1]]


def _write(path, text):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(str(path), 'w') as f:
        f.write(text)


def _model(track_dir, **kwargs):
    cfg = dict(type='TrackingByDetection', detector=None,
               tracker=dict(type='TracksFromFile', track_dir=str(track_dir), **kwargs))
    return MODELS.build(cfg)


def _replay(track_dir, video='0000', num_frames=5, **kwargs):
    return track_video(_model(track_dir, **kwargs), num_frames, (100, 80), video=video)


def test_mot_layout_rows_equal_the_file(tmp_path):
    _write(tmp_path / '0000.txt', MOT_TEXT)
    model = _model(tmp_path)
    assert not model.needs_pixels and model.detector is None
    rows = track_video(model, 5, (100, 80), video='0000')  # no img_paths: nothing is read
    np.testing.assert_allclose(rows, MOT_ROWS, rtol=0, atol=1e-6)


def test_frame_base_zero_keeps_the_frame_column(tmp_path):
    _write(tmp_path / '0000.txt', MOT_TEXT)
    rows = _replay(tmp_path, frame_base=0)
    expected = np.array(MOT_ROWS)
    expected[:, 0] += 1  # file frame f is image f
    np.testing.assert_allclose(rows, expected, rtol=0, atol=1e-6)


def test_per_class_layout_offsets_pedestrian_ids(tmp_path):
    """The official reading: car ids as read, pedestrian ids + the largest car id; labels car 0
    and pedestrian 1; the frame column is the image index (frame_base=0)."""
    _write(tmp_path / '0005' / 'car' / 'predict.txt',
           '0,1,10,10,20,20,0.9,-1,-1,-1\n1,1,11,10,20,20,0.9,-1,-1,-1\n'
           '1,3,60,10,20,20,0.8,-1,-1,-1\n')
    _write(tmp_path / '0005' / 'pedestrian' / 'predict.txt',
           '1,1,30,5,5,15,0.7,-1,-1,-1\n2,2,40,5,5,15,0.6,-1,-1,-1\n')
    rows = _replay(tmp_path, video='0005', num_frames=3, frame_base=0)
    np.testing.assert_allclose(rows, [[0, 1, 10, 10, 30, 30, 0.9, 0],
                                      [1, 1, 11, 10, 31, 30, 0.9, 0],
                                      [1, 3, 60, 10, 80, 30, 0.8, 0],
                                      [1, 4, 30, 5, 35, 20, 0.7, 1],
                                      [2, 5, 40, 5, 45, 20, 0.6, 1]], rtol=0, atol=1e-6)


def test_layout_is_detected_per_video(tmp_path):
    _write(tmp_path / '0000.txt', MOT_TEXT)
    _write(tmp_path / '0001' / 'car' / 'predict.txt', '1,7,10,10,20,20,0.9\n')
    _write(tmp_path / '0001' / 'pedestrian' / 'predict.txt', '')  # no pedestrian
    model = _model(tmp_path)
    first = track_video(model, 5, (100, 80), video='0000')
    second = track_video(model, 5, (100, 80), video='0001')
    np.testing.assert_allclose(first, MOT_ROWS, atol=1e-6)
    np.testing.assert_allclose(second, [[0, 7, 10, 10, 30, 30, 0.9, 0]], atol=1e-6)
    again = track_video(model, 5, (100, 80), video='0000')  # never the other video's rows
    np.testing.assert_allclose(again, MOT_ROWS, atol=1e-6)
    mot_only = _model(tmp_path, layout='mot')
    with pytest.raises(FileNotFoundError, match=r'0001\.txt does not exist \(layout mot\)'):
        track_video(mot_only, 5, (100, 80), video='0001')


def test_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / '0000.txt'
    _write(path, MOT_TEXT)
    model = _model(tmp_path)
    track_video(model, 5, (100, 80), video='0000')
    _write(path, MOT_TEXT.replace('10,20,30,40', '11,20,30,40'))  # same size, new content
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    rows = track_video(model, 5, (100, 80), video='0000')
    assert rows[0, 2] == 11
    # changing it in the middle of a video is an error, not a silent mix of two files
    tracker = model.tracker
    meta = dict(video='0000', num_frames=5, img_shape=(80, 100))
    tracker.track(data_sample=DetDataSample(metainfo=dict(meta, frame_id=0)))
    _write(path, MOT_TEXT + '5,3,1,1,2,2,0.5\n')
    with pytest.raises(RuntimeError, match=r'0000\.txt.*changed while video .0000. was replayed'):
        tracker.track(data_sample=DetDataSample(metainfo=dict(meta, frame_id=1)))


BAD_LINES = [
    ('1,1,10,20,30,40,0.9\n1,1,x,20,30,40,0.9\n', r'0000\.txt:2: non-numeric field'),
    ('1,1,10,20,30\n', r'0000\.txt:1: expected at least 6 fields "frame,id,x,y,w,h", got 5'),
    ('1,1,10,20,0,40,0.9\n', r'0000\.txt:1: values must be finite and the box of positive'),
    ('1,1,10,20,30,-4,0.9\n', r'0000\.txt:1: values must be finite and the box of positive'),
    ('1,1,10,inf,30,40,0.9\n', r'0000\.txt:1: values must be finite'),
    ('1,1,10,20,30,40,nan\n', r'0000\.txt:1: values must be finite'),
    ('0,1,10,20,30,40,0.9\n', r'0000\.txt:1: frame must be a 1-based integer \(>= 1\), got 0'),
    ('1.5,1,10,20,30,40,0.9\n', r'0000\.txt:1: frame must be a 1-based integer'),
    ('1,-1,10,20,30,40,0.9\n', r'0000\.txt:1: track id must be a non-negative integer'),
    ('1,2.5,10,20,30,40,0.9\n', r'0000\.txt:1: track id must be a non-negative integer'),
    ('1,1,10,20,30,40\n2,1,10,20,30,40\n\n2,1,11,20,30,40\n',
     r'0000\.txt:4: id 1 appears twice in frame 2 \(first at line 2\)'),
    ('1,1,10,20,30,40,0.9\n6,1,10,20,30,40,0.9\n',
     r'0000\.txt:2: frame 6 is beyond video .0000. of 5 images \(frames 1\.\.5'),
]


@pytest.mark.parametrize('text,message', BAD_LINES)
def test_malformed_line_names_file_and_line(tmp_path, text, message):
    _write(tmp_path / '0000.txt', text)
    with pytest.raises(ReferKittiFormatError, match=message):
        _replay(tmp_path, num_frames=5)


def test_frame_beyond_the_video_with_frame_base_zero(tmp_path):
    _write(tmp_path / '0005' / 'car' / 'predict.txt', '0,1,1,1,2,2,1\n')
    _write(tmp_path / '0005' / 'pedestrian' / 'predict.txt', '\n3,1,1,1,2,2,1\n')
    with pytest.raises(ReferKittiFormatError,
                       match=r'pedestrian/predict\.txt:2: frame 3 is beyond video .0005. of 3 '
                             r'images \(frames 0\.\.2 with frame_base=0\)'):
        _replay(tmp_path, video='0005', num_frames=3, frame_base=0)


def test_unknown_video_length_is_said(tmp_path, monkeypatch):
    """A frame without num_frames (e.g. streaming) cannot check the length: it says so."""
    from mmengine.logging import MMLogger
    _write(tmp_path / '0000.txt', MOT_TEXT)
    said = []
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'warning', said.append)
    tracker = TracksFromFile(str(tmp_path))
    inst = tracker.track(data_sample=DetDataSample(metainfo=dict(frame_id=0, video='0000')))
    assert inst.instances_id.tolist() == [1, 2]
    assert len(said) == 1 and 'length of video' in said[0] and '0000.txt:5' in said[0]


def test_pedestrian_ids_colliding_with_car_ids(tmp_path):
    _write(tmp_path / '0005' / 'car' / 'predict.txt', '0,1,1,1,2,2,1\n0,2,5,1,2,2,1\n')
    _write(tmp_path / '0005' / 'pedestrian' / 'predict.txt', '0,1,1,1,2,2,1\n1,0,1,1,2,2,1\n')
    with pytest.raises(ReferKittiFormatError,
                       match=r'pedestrian/predict\.txt:2: pedestrian id 0 \+ offset 2 .*collides'):
        _replay(tmp_path, video='0005', num_frames=3, frame_base=0)


def test_missing_files_name_the_folder_and_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        _replay(tmp_path, video='0011')
    msg = str(err.value)
    assert str(tmp_path) in msg
    for looked_for in ('0011.txt', osp.join('0011', 'car', 'predict.txt'),
                       osp.join('0011', 'pedestrian', 'predict.txt')):
        assert looked_for in msg
    _write(tmp_path / '0011' / 'car' / 'predict.txt', '1,1,1,1,2,2,1\n')
    with pytest.raises(FileNotFoundError, match=r'one file per class .* missing .*pedestrian'):
        _replay(tmp_path, video='0011')


def test_bad_options_and_no_detector_without_replay():
    with pytest.raises(ValueError, match='layout must be one of'):
        TracksFromFile('x', layout='flat')
    with pytest.raises(ValueError, match='frame_base must be 0 or 1'):
        TracksFromFile('x', frame_base=2)
    with pytest.raises(ValueError, match='detector=None needs a tracker that replays tracks'):
        MODELS.build(dict(type='TrackingByDetection', detector=None,
                          tracker=dict(type='ByteTracker')))


def test_replay_of_a_written_tracker_output(tmp_path, mini_refer_kitti):
    """NeuralSORT's output written by tools/track_detections.py (1-based frames and ids) and
    replayed gives the same boxes as the live tracker."""
    from ikun_mm.datasets.refer_kitti_io import DETECTION_DIR
    video = '0005'
    ann = load_video_annotation(mini_refer_kitti, video)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'neuralsort', 'neuralsort_mini_refer_kitti.py'))
    cfg.model.detector.det_dir = osp.join(mini_refer_kitti, DETECTION_DIR)
    live = track_video(MODELS.build(cfg.model).eval(), ann.num_frames, ann.img_size, video=video)
    tool = load_tool('track_detections.py')
    tool.write_mot_results(str(tmp_path / f'{video}.txt'), live)
    replayed = _replay(tmp_path, video=video, num_frames=ann.num_frames)
    assert len(replayed) == len(live) > 0
    live = live[np.lexsort((live[:, 1], live[:, 0]))]
    np.testing.assert_array_equal(replayed[:, 0], live[:, 0])
    np.testing.assert_array_equal(replayed[:, 1], live[:, 1] + 1)
    np.testing.assert_allclose(replayed[:, 2:6], live[:, 2:6], atol=0.011)


def _strip(cfg, *keys):
    d = cfg.to_dict()
    for key in keys:
        node = d
        *parents, last = key.split('.')
        for p in parents:
            node = node[p]
        node.pop(last)
    return d


def test_config_swap_is_one_line():
    mini = Config.fromfile(MINI)
    base = Config.fromfile(osp.join(RMOT, 'ikun_cascade_neuralsort_mini_refer_kitti.py'))
    assert mini.model.tracker == dict(type='TracksFromFile', track_dir=mini.track_dir)
    assert _strip(mini, 'model.tracker', 'track_dir') == _strip(base, 'model.tracker')
    # the released-files config: the tracker line, plus final tracks and the official pairing
    real = Config.fromfile(REAL)
    real_base = Config.fromfile(osp.join(RMOT, 'ikun_cascade_neuralsort_refer_kitti.py'))
    assert real.model.tracker.frame_base == 0 and real.model.tracker.layout == 'per_class'
    assert real.model.interpolation is None and real.test_evaluator.convention == 'ikun'
    assert (real.model.referrer.calibration.a, real.model.referrer.calibration.b) == (8.0, -0.1)
    strip = ('model.tracker', 'model.interpolation', 'test_evaluator.convention', 'track_dir')
    assert _strip(real, *strip) == _strip(real_base, *strip[:-1])
    tracker = MODELS.build(real.model.tracker)
    assert isinstance(tracker, TracksFromFile) and tracker.track_dir == real.track_dir


def test_referring_tracker_refers_replayed_gt_tracks(tmp_path, mini_refer_kitti):
    """The mini config with its one tracker line pointing at a file made from the GT tracks:
    the referred rows are those score_tracks gives for the GT tracks."""
    from ikun_mm.models.referring import score_tracks
    from ikun_mm.models.referring.referring_tracker import referred_rows, tracks_from_rows
    video = '0005'
    ann = load_video_annotation(mini_refer_kitti, video)
    b = ann.boxes  # frame, id, cls, x1, y1, x2, y2
    exact = lambda *v: ','.join(repr(float(x)) for x in v)  # noqa: E731 - round-trip floats
    _write(tmp_path / 'tracks' / f'{video}.txt', ''.join(
        f'{int(r[0]) + 1},{int(r[1])},{exact(r[3], r[4], r[5] - r[3], r[6] - r[4])},1,'
        f'{int(r[2])},-1,-1\n' for r in b))
    cfg = Config.fromfile(MINI)
    cfg.model.tracker.track_dir = str(tmp_path / 'tracks')
    cfg.model.referrer = Config.fromfile(TINY).model
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    assert type(model.tracker).__name__ == 'TracksFromFile' and not model.needs_pixels

    rows = model.track_rows(ann.num_frames, ann.img_size, video)
    np.testing.assert_array_equal(rows[:, [0, 1, 7]], b[:, [0, 1, 2]])
    np.testing.assert_allclose(rows[:, 2:6], b[:, 3:7], atol=1e-3)

    sentences = ['cars', 'red cars', 'pedestrians walking left']
    tracks = tracks_from_rows(rows)  # the GT tracks, as replayed
    assert sorted(tracks) == ann.track_ids()
    scores = score_tracks(model.referrer, ann.img_paths, tracks, sentences,
                          calibrate=model.calibrate)
    all_scores = np.concatenate([s.scores for s in scores.values()])
    model.score_thr = float(np.median(all_scores))  # refer about half of the boxes
    out = model.refer_video(ann.img_paths, sentences, ann.img_size, video=video)
    expected = referred_rows(tracks, scores, len(sentences), model.score_thr)
    assert sum(len(r) for r in out.values()) > 0
    assert sum(len(r) for r in out.values()) < len(all_scores) * len(sentences)
    for sentence, exp in zip(sentences, expected):
        assert out[sentence].shape == exp.shape
        np.testing.assert_array_equal(out[sentence], exp)
