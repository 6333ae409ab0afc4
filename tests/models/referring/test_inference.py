"""score_tracks: the fast path equals the naive one; frame scores average the covering windows."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ikun_mm.models.referring import TrackScores, score_tracks
from ._tiny import build_tiny_ikun

EXPRESSIONS = ['cars moving left', 'red cars', 'pedestrians on the right']


def _video(num_frames=14, size=(48, 96), seed=0):
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 255, size + (3, ), dtype=np.uint8) for _ in range(num_frames)]
    tracks = {
        3: np.array([[f, 5 + f, 10, 25 + f, 40] for f in range(num_frames)], dtype=float),
        # a gap between frames 4 and 8: split into runs [2..4] and [8..10]
        9: np.array([[f, 60, 5, 90, 30] for f in (2, 3, 4, 8, 9, 10)], dtype=float),
    }
    return frames, tracks


@pytest.mark.parametrize('kum', ['CascadeAttentionKUM', 'TextFirstKUM'])
def test_fast_equals_naive(kum):
    torch.set_num_threads(1)
    model = build_tiny_ikun(kum)
    frames, tracks = _video()
    fast = score_tracks(model, frames, tracks, EXPRESSIONS, fast=True, batch_size=3)
    naive = score_tracks(model, frames, tracks, EXPRESSIONS, fast=False)
    assert set(fast) == {3, 9}
    for tid in tracks:
        assert isinstance(fast[tid], TrackScores)
        assert fast[tid].scores.shape == (len(tracks[tid]), len(EXPRESSIONS))
        np.testing.assert_array_equal(fast[tid].frames, np.sort(tracks[tid][:, 0]))
        np.testing.assert_allclose(fast[tid].scores, naive[tid].scores, atol=1e-5, rtol=0)
    # scores are cosines and differ between expressions
    assert np.all(np.abs(fast[3].scores) <= 1 + 1e-6)
    assert np.ptp(fast[3].scores, axis=1).max() > 1e-4


class _WindowIndexModel:
    """Stand-in model whose window score is (first frame of the window) + 100 * expression."""

    local_size = global_size = 32
    calibration = None

    def __init__(self):
        self.data_preprocessor = SimpleNamespace(normalize=lambda x: x.float())
        self._param = torch.nn.Parameter(torch.zeros(1))

    def eval(self):
        return self

    def parameters(self):
        return iter([self._param])

    def encode_text(self, sentences):
        return list(sentences)

    def score_windows(self, local, glob, text):
        # the test frames of a window are (0, len//2); encode the first frame's index in pixel 0
        first = local[:, 0, 0, 0, 0]
        return [f + 100 * torch.arange(len(text), dtype=torch.float32) for f in first]


def test_frame_score_is_mean_over_covering_windows():
    frames = [np.full((8, 8, 3), f, dtype=np.uint8) for f in range(13)]
    tracks = {1: np.array([[f, 0, 0, 8, 8] for f in range(13)], dtype=float)}
    out = score_tracks(_WindowIndexModel(), frames, tracks, ['a', 'b'])
    # windows of 13 frames: starts 0, 4, 5 -> [0..7], [4..11], [5..12]
    expected = []
    for f in range(13):
        starts = [s for s in (0, 4, 5) if s <= f < s + 8]
        expected.append(np.mean(starts))
    np.testing.assert_allclose(out[1].scores[:, 0], expected)
    np.testing.assert_allclose(out[1].scores[:, 1], np.array(expected) + 100)


def test_calibration_is_added_per_window():
    model = build_tiny_ikun(calibration=dict(type='SimilarityCalibration',
                                             sentences=['red cars', 'cars moving left'],
                                             shares=[0.2, 0.6], a=2.0, b=-0.5))
    frames, tracks = _video(num_frames=11)
    raw = score_tracks(model, frames, tracks, EXPRESSIONS, calibrate=False)
    cal = score_tracks(model, frames, tracks, EXPRESSIONS)  # enabled by default
    freq = model.calibration.pseudo_frequency(EXPRESSIONS).numpy()
    for tid in tracks:
        np.testing.assert_allclose(cal[tid].scores, raw[tid].scores + 2.0 * freq - 0.5,
                                   atol=1e-6)
    model.calibration.enabled = False
    off = score_tracks(model, frames, tracks, EXPRESSIONS)
    np.testing.assert_allclose(off[3].scores, raw[3].scores)


def test_bad_inputs_raise():
    model = _WindowIndexModel()
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3
    with pytest.raises(ValueError, match='track 5: frame 1 appears twice'):
        score_tracks(model, frames, {5: [[1, 0, 0, 4, 4], [1, 0, 0, 4, 4]]}, ['a'])
    with pytest.raises(KeyError, match='frame 7 is referenced'):
        score_tracks(model, frames, {5: [[7, 0, 0, 4, 4]]}, ['a'])
    with pytest.raises(FileNotFoundError, match='missing.png'):
        score_tracks(model, ['missing.png'], {5: [[0, 0, 0, 4, 4]]}, ['a'])
