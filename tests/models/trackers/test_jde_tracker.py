"""JDETracker (FairMOT's association) on synthetic detections."""
from typing import Sequence

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from ikun_mm.models.trackers.matching import (embedding_distance, fuse_motion,
                                              linear_assignment)
from ikun_mm.registry import MODELS


def _frame(frame_id: int, boxes: Sequence[Sequence[float]], embeds: Sequence[Sequence[float]],
           scores: Sequence[float] = None) -> DetDataSample:
    sample = DetDataSample(metainfo=dict(frame_id=frame_id))
    n = len(boxes)
    pred = InstanceData()
    pred.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(n, 4)
    pred.scores = torch.tensor(scores if scores is not None else [0.9] * n)
    pred.labels = torch.zeros(n, dtype=torch.long)
    embeds = torch.tensor(embeds, dtype=torch.float32) if n else torch.zeros(0, 3)
    pred.embeds = torch.nn.functional.normalize(embeds, dim=1)
    sample.pred_instances = pred
    return sample


def test_pure_functions():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    d = np.array([[0.6, 0.8]])
    np.testing.assert_allclose(embedding_distance(a, d), [[0.4], [0.2]])
    fused = fuse_motion(np.array([[0.1, 0.2]]), np.array([[1.0, 20.0]]), gate=9.4877,
                        lambda_=0.98)
    np.testing.assert_allclose(fused[0, 0], 0.98 * 0.1 + 0.02 * 1.0)
    assert np.isinf(fused[0, 1])
    matches, u_a, u_b = linear_assignment(np.array([[0.1, 0.9], [0.8, 0.7], [np.inf, 0.2]]),
                                          max_cost=0.5)
    assert sorted(map(tuple, matches.tolist())) == [(0, 0), (2, 1)]
    assert u_a.tolist() == [1] and u_b.tolist() == []


def test_identities_survive_a_crossing():
    """Two same-size objects walk through each other; appearance keeps their identities.

    Around the crossing the boxes overlap almost completely, so IoU alone cannot tell them
    apart; the embeddings (noisy versions of two distinct vectors) do.
    """
    tracker = MODELS.build(dict(type='JDETracker'))
    rng = np.random.default_rng(0)
    base = np.eye(8)[:2]
    ids_a, ids_b = [], []
    for f in range(30):
        xa, xb = 20 + 6 * f, 200 - 6 * f  # A moves right, B moves left; they meet at f = 15
        boxes = [[xa, 50, xa + 30, 120], [xb, 52, xb + 30, 122]]
        embeds = base + 0.15 * rng.standard_normal(base.shape)
        out = tracker.track(_frame(f, boxes, embeds))
        got = dict(zip(out.instances_id.tolist(), out.bboxes[:, 0].tolist()))
        assert len(got) == 2, f'frame {f}: expected 2 tracks, got {got}'
        # identify which output is A by its distance to A's true box
        by_dist = sorted(got, key=lambda i: abs(got[i] - xa))
        ids_a.append(by_dist[0])
        ids_b.append(by_dist[1])
    assert len(set(ids_a)) == 1 and len(set(ids_b)) == 1, (ids_a, ids_b)
    assert ids_a[0] != ids_b[0]


def test_lost_track_buffer_and_new_tracks_need_confirmation():
    tracker = MODELS.build(dict(type='JDETracker', track_buffer=3, frame_rate=30))
    e = [[1.0, 0.0, 0.0]]
    box = [[10, 10, 40, 80]]
    first = tracker.track(_frame(0, box, e))
    assert first.instances_id.tolist() == [0]  # frame 0: confirmed at once
    for f in (1, 2, 3):  # missing for 3 frames: lost, inside the buffer
        assert len(tracker.track(_frame(f, [], []))) == 0
    back = tracker.track(_frame(4, box, e))
    assert back.instances_id.tolist() == [0]  # re-found by appearance
    for f in range(5, 10):  # missing for 5 frames > buffer: removed
        tracker.track(_frame(f, [], []))
    assert tracker.empty
    new = tracker.track(_frame(10, box, e))
    assert len(new) == 0  # a track born after frame 0 is unconfirmed ...
    again = tracker.track(_frame(11, box, e))
    assert again.instances_id.tolist() == [1]  # ... until its second detection, with a new id


def test_low_scores_are_ignored_and_embeddings_follow_an_ema():
    tracker = MODELS.build(dict(type='JDETracker', embed_momentum=0.9))
    out = tracker.track(_frame(0, [[0, 0, 10, 20], [50, 0, 60, 20]], [[1, 0], [0, 1]],
                               scores=[0.9, 0.3]))
    assert out.instances_id.tolist() == [0]
    tracker.track(_frame(1, [[1, 0, 11, 20]], [[0.6, 0.8]]))
    expected = np.array([0.9 + 0.1 * 0.6, 0.1 * 0.8])
    np.testing.assert_allclose(tracker.tracks[0]['embed'], expected / np.linalg.norm(expected),
                               rtol=1e-6)


def test_reset_at_frame_zero():
    tracker = MODELS.build(dict(type='JDETracker'))
    tracker.track(_frame(0, [[0, 0, 10, 20]], [[1, 0]]))
    tracker.track(_frame(1, [[0, 0, 10, 20]], [[1, 0]]))
    out = tracker.track(_frame(0, [[100, 0, 110, 20]], [[0, 1]]))
    assert out.instances_id.tolist() == [0] and list(tracker.tracks) == [0]


@pytest.mark.parametrize('key', ['conf_thr', 'match_thr_embed', 'match_thr_iou',
                                 'match_thr_unconfirmed', 'embed_momentum', 'max_time_lost'])
def test_defaults_match_fairmot(key):
    tracker = MODELS.build(dict(type='JDETracker'))
    expected = dict(conf_thr=0.4, match_thr_embed=0.4, match_thr_iou=0.5,
                    match_thr_unconfirmed=0.7, embed_momentum=0.9, max_time_lost=30)
    assert getattr(tracker, key) == expected[key]


def test_output_filter_of_fairmot_eval_seq():
    # src/track.py eval_seq: a track is written when w * h > min_box_area (100) and not
    # w / h > 1.6; the tracker keeps the filtered tracks all the same
    tracker = MODELS.build(dict(type='JDETracker', min_box_area=100, max_aspect_ratio=1.6))
    boxes = [[0, 0, 10, 20], [50, 0, 58, 12], [100, 0, 132, 20], [200, 0, 216, 10]]
    embeds = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]
    # areas 200, 96, 640, 160; w / h 0.5, 0.67, 1.6, 1.6 -> 0, 2, 3 written
    out = tracker.track(_frame(0, boxes, embeds))
    assert out.instances_id.tolist() == [0, 2, 3]
    assert out.bboxes.shape == (3, 4) and len(tracker.tracks) == 4
    wide = MODELS.build(dict(type='JDETracker', min_box_area=100, max_aspect_ratio=1.5))
    assert wide.track(_frame(0, boxes, embeds)).instances_id.tolist() == [0]
    assert len(MODELS.build(dict(type='JDETracker')).track(_frame(0, boxes, embeds))) == 4
