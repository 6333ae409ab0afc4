"""Offline gap interpolation is the model's post-processing: it fills gaps for any tracker
(a swapped tracker keeps it), it is on in the referring configs, and a bad setting is an error."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from ikun_mm.models.trackers import check_interpolation, track_video
from ikun_mm.registry import MODELS
from tests.utils import ROOT

RMOT = osp.join(ROOT, 'configs', 'rmot', 'ikun_cascade_neuralsort_nocalib_mini_refer_kitti.py')
TINY = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')

# track 1 seen at MOT frames 1 and 4 (gap of two frames), track 2 at 1 and 9 (gap of seven)
TRACKS = ('1,1,10,20,30,40,0.9\n'
          '1,2,50,20,10,10,0.8\n'
          '4,1,40,20,30,40,0.6\n'
          '9,2,50,20,10,10,0.8\n')


def _tracks(tmp_path):
    (tmp_path / '0000.txt').write_text(TRACKS)
    return dict(type='TracksFromFile', track_dir=str(tmp_path))


@pytest.mark.parametrize('bad', [dict(gap=3), dict(max_gap=0), dict(max_gap=2.5),
                                 dict(max_gap=True), dict(max_gap=3, mode='linear'), 20])
def test_bad_setting_is_an_error(bad):
    with pytest.raises(ValueError, match='TrackingByDetection: interpolation'):
        MODELS.build(dict(type='TrackingByDetection', detector=None,
                          tracker=dict(type='TracksFromFile', track_dir='x'),
                          interpolation=bad))
    assert check_interpolation(None, 'x') is None


def test_gap_is_filled_linearly_up_to_max_gap(tmp_path):
    cfg = dict(type='TrackingByDetection', detector=None, tracker=_tracks(tmp_path))
    online = track_video(MODELS.build(cfg), 10, (100, 80), video='0000')
    assert len(online) == 4
    model = MODELS.build(dict(cfg, interpolation=dict(max_gap=3)))
    rows = track_video(model, 10, (100, 80), video='0000')
    t1 = rows[rows[:, 1] == 1]
    np.testing.assert_array_equal(t1[:, 0], [0, 1, 2, 3])
    # x1 moves 10 -> 40 over three frames: 20 and 30 in between, the size is kept
    np.testing.assert_allclose(t1[:, 2:6], [[10, 20, 40, 60], [20, 20, 50, 60],
                                            [30, 20, 60, 60], [40, 20, 70, 60]])
    assert len(rows[rows[:, 1] == 2]) == 2  # seven missing frames > max_gap: kept as is
    # online use (postprocess=False, as streaming does) never interpolates
    assert len(track_video(model, 10, (100, 80), video='0000', postprocess=False)) == 4


def test_referring_config_fills_gaps_of_a_swapped_tracker(tmp_path):
    """The referring config's interpolation survives a one-line tracker swap (here to a file
    replay, which has no interpolation option of its own): it can never be silently off."""
    cfg = Config.fromfile(RMOT)
    assert cfg.model.interpolation == dict(max_gap=20)
    cfg.model.tracker = _tracks(tmp_path)
    cfg.model.referrer = Config.fromfile(TINY).model
    model = MODELS.build(cfg.model)
    rows = model.track_rows(10, (100, 80), '0000')
    assert len(rows) == 4 + 2 + 7  # both gaps filled (2 and 7 frames <= 20)
    np.testing.assert_array_equal(rows[rows[:, 1] == 2][:, 0], np.arange(9))
