"""NeuralSORT: ids through a crossing with occlusion, exits, per-class, helpers in closed form."""
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from ikun_mm.models.trackers import (NeuralSORTTracker, direction_consistency_cost,
                                     interpolate_tracks, linear_assignment, visible_fraction)
from ikun_mm.registry import MODELS

torch.set_num_threads(1)
W, H = 200, 100


def _sample(frame, boxes, labels=None, scores=None):
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    inst = InstanceData()
    inst.bboxes = torch.as_tensor(boxes)
    inst.scores = torch.as_tensor(scores if scores is not None else [0.9] * len(boxes),
                                  dtype=torch.float32)
    inst.labels = torch.as_tensor(labels if labels is not None else [0] * len(boxes),
                                  dtype=torch.long)
    s = DetDataSample(metainfo=dict(frame_id=frame, img_shape=(H, W), ori_shape=(H, W)))
    s.pred_instances = inst
    return s


def crossing_scene(frames=30, occluded=range(13, 18), seed=0):
    """Object A moves right, B moves left on nearly the same row; they cross around frame 15 and
    B (behind) is not detected while they overlap. Returns per frame a list of (name, box)."""
    rng = np.random.default_rng(seed)
    scene = []
    for t in range(frames):
        dets = []
        xa, xb = 10 + 5 * t, 160 - 5 * t
        dets.append(('A', [xa, 40, xa + 20, 80] + rng.normal(0, .5, 4)))
        if t not in occluded:
            dets.append(('B', [xb, 44, xb + 20, 84] + rng.normal(0, .5, 4)))
        scene.append(dets)
    return scene


def run_scene(tracker, scene):
    ids = {}
    for t, dets in enumerate(scene):
        out = tracker.track(_sample(t, [b for _, b in dets]))
        for box, tid in zip(out.bboxes.numpy(), out.instances_id.tolist()):
            name = next(n for n, b in dets if np.allclose(b, box, atol=1e-3))
            ids.setdefault(name, []).append(tid)
    return ids


@pytest.mark.parametrize('motion', [dict(type='NeuralKalmanFilter'), dict(type='KalmanFilter')])
def test_ids_kept_through_crossing_and_occlusion(motion):
    tracker = MODELS.build(dict(type='NeuralSORTTracker', motion=motion))
    ids = run_scene(tracker, crossing_scene())
    assert len(ids['A']) == 30 and len(ids['B']) == 25
    assert len(set(ids['A'])) == 1, ids['A']
    assert len(set(ids['B'])) == 1, ids['B']
    assert ids['A'][0] != ids['B'][0]
    # observation-centric re-update: B's state after re-detection points left again
    b = tracker.tracks[ids['B'][0]]
    assert b.mean[4] < -3  # px/frame, true velocity -5


def test_occlusion_is_bridged_by_the_filter_prediction():
    """Without the direction term, gating and recovery, the filter's prediction alone bridges a
    7-frame occlusion; forgetting the track after 2 frames gives B a new id."""
    tracker = MODELS.build(dict(type='NeuralSORTTracker', gate_with_motion=False,
                                vel_consist_weight=0., ocr_iou_thr=0.99))
    ids = run_scene(tracker, crossing_scene(occluded=range(12, 19)))
    assert len(set(ids['B'])) == 1  # prediction bridges 7 frames
    tracker = MODELS.build(dict(type='NeuralSORTTracker', num_frames_retain=2))
    ids = run_scene(tracker, crossing_scene(occluded=range(12, 19)))
    assert len(set(ids['B'])) == 2  # the track was forgotten: a new id after the gap


def test_track_leaving_the_image_is_terminated():
    tracker = NeuralSORTTracker(motion=dict(type='NeuralKalmanFilter'), exit_visible_ratio=0.3)
    for t in range(10):
        x = 120 + 10 * t  # leaves the 200-px image at t = 8
        boxes = [[x, 40, x + 20, 80]] if x + 20 <= W else []
        tracker.track(_sample(t, boxes))
    assert len(tracker.tracks) == 0
    keep = NeuralSORTTracker(motion=dict(type='NeuralKalmanFilter'), exit_visible_ratio=0.)
    for t in range(10):
        x = 120 + 10 * t
        keep.track(_sample(t, [[x, 40, x + 20, 80]] if x + 20 <= W else []))
    assert len(keep.tracks) == 1


def test_per_class_tracking():
    scene = [[0, [50, 40, 70, 80]], [1, [52, 40, 72, 80]]]
    per_class = NeuralSORTTracker()
    for t in range(5):
        # the two objects swap places at t = 2
        order = scene if t < 2 else scene[::-1]
        out = per_class.track(_sample(t, [b for _, b in order], labels=[c for c, _ in order]))
        by_label = dict(zip(out.labels.tolist(), out.instances_id.tolist()))
        if t == 0:
            first = by_label
        assert by_label == first


def test_new_tracks_need_init_thr_and_tentative_output():
    tracker = NeuralSORTTracker(init_track_thr=0.6, output_tentative=False)
    out = tracker.track(_sample(0, [[10, 10, 30, 50], [100, 10, 120, 50]], scores=[0.9, 0.5]))
    assert out.instances_id.tolist() == [0]  # low score: no track; frame 0: confirmed
    out = tracker.track(_sample(1, [[12, 10, 32, 50], [150, 10, 170, 50]], scores=[0.9, 0.9]))
    assert out.instances_id.tolist() == [0]  # the new track is tentative: not output
    assert sorted(tracker.tracks) == [0, 1]


def test_linear_assignment_threshold():
    cost = np.array([[0.1, 0.9], [0.8, 0.75]])
    matches, rows, cols = linear_assignment(cost, 0.7)
    assert matches.tolist() == [[0, 0]] and rows.tolist() == [1] and cols.tolist() == [1]
    matches, _, _ = linear_assignment(np.zeros((0, 3)), 0.5)
    assert matches.shape == (0, 2)


def test_direction_consistency_cost_closed_form():
    dirs = np.array([[1., 0.]])  # moving right
    anchor = np.array([[0., 0., 10., 10.]])
    dets = np.array([[20., 0., 30., 10.], [-20., 0., -10., 10.], [0., 20., 10., 30.]])
    cost = direction_consistency_cost(dirs, anchor, dets, np.array([True]))
    np.testing.assert_allclose(cost, [[-0.5, 0.5, 0.]], atol=1e-3)
    assert (direction_consistency_cost(dirs, anchor, dets, np.array([False])) == 0).all()


def test_visible_fraction_and_interpolation():
    np.testing.assert_allclose(visible_fraction(np.array([[190., 0., 210., 10.]]), 200, 100),
                               [0.5])
    res = np.array([[0, 1, 0, 0, 10, 10, .9], [3, 1, 30, 0, 40, 10, .8],
                    [0, 2, 0, 0, 5, 5, .9], [9, 2, 0, 0, 5, 5, .9]])
    out = interpolate_tracks(res, max_gap=3)
    t1 = out[out[:, 1] == 1]
    np.testing.assert_allclose(t1[:, 0], [0, 1, 2, 3])
    np.testing.assert_allclose(t1[1, 2:6], [10, 0, 20, 10])
    assert len(out[out[:, 1] == 2]) == 2  # gap of 8 > max_gap stays
    np.testing.assert_allclose(out[out[:, 1] == 1][1:3, 6], [.9, .9])  # copied from before


# Appearance (DeepSORT matching with a ReID): tests/models/trackers/test_neuralsort_appearance.py


def _stage_tracker(**kwargs):
    cfg = dict(type='NeuralSORTTracker', motion=dict(type='KalmanFilter'), match_iou_thr=0.5,
               ocr_iou_thr=0.3, cascade_depth=30)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_match_stages_in_order():
    """The three association stages on hand-made costs (2 confirmed tracks, 1 tentative):
    the cascade takes the confirmed track with a good IoU; the tentative track is matched in
    the IoU stage only; a confirmed track whose prediction missed (IoU 0) but whose last
    observation overlaps a detection is recovered by observation-centric recovery."""
    from ikun_mm.models.trackers.neuralsort_tracker import AssociationCosts
    tracker = _stage_tracker()
    dets = np.array([[0., 0, 10, 10], [50, 0, 60, 10], [100, 0, 110, 10]])
    iou = np.array([[0.9, 0, 0],     # confirmed, matched in the previous frame
                    [0, 0.8, 0],     # tentative
                    [0, 0, 0]])      # confirmed, lost 3 frames ago, prediction drifted
    costs = AssociationCosts(iou=iou, cascade=1 - iou, cascade_max=0.5,
                             class_forbid=np.zeros((3, 3), bool))
    last = np.array([[0., 0, 10, 10], [50, 0, 60, 10], [102, 0, 112, 10]])  # IoU 8/12 with det 2
    matches = tracker._match(costs, age=np.array([1, 1, 3]),
                             tentative=np.array([False, True, False]), last_boxes=last,
                             det_np=dets)
    np.testing.assert_array_equal(matches, [[0, 0], [1, 1], [2, 2]])
    # without recovery the lost track stays unmatched
    matches = tracker._match(costs, np.array([1, 1, 3]), np.array([False, True, False]),
                             None, dets)
    np.testing.assert_array_equal(matches, [[0, 0], [1, 1]])


def test_match_cascade_is_forbidden_across_classes_and_gates():
    """A pair the cascade forbids (class or gate: cost FORBIDDEN) is never matched by a later
    stage either when its class differs."""
    from ikun_mm.models.trackers.matching import FORBIDDEN
    from ikun_mm.models.trackers.neuralsort_tracker import AssociationCosts
    tracker = _stage_tracker()
    dets = np.array([[0., 0, 10, 10]])
    iou = np.array([[1.0]])
    costs = AssociationCosts(iou=iou, cascade=np.array([[FORBIDDEN]]), cascade_max=0.5,
                             class_forbid=np.array([[True]]))
    matches = tracker._match(costs, np.array([2]), np.array([False]), dets.copy(), dets)
    assert len(matches) == 0
