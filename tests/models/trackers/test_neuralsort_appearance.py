"""NeuralSORT's DeepSORT appearance: the pure cost / gate / cascade functions in closed form, the
cascade's priority, a swap that only appearance resolves, the no-pixels fallback, and the mmdet
ReID config (builds, embeds, learns)."""
import logging
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

from ikun_mm.models.reid import box_window, crop_and_resize, reid_normalize
from ikun_mm.models.trackers.matching import (CHI2_95_4DOF, FORBIDDEN, box_iou, gate_cost,
                                              iou_cost, matching_cascade, min_cost_matching,
                                              nearest_neighbor_cosine_distance)
from ikun_mm.models.trackers.neuralsort_tracker import NeuralSORTTracker
from tests.utils import ROOT

torch.set_num_threads(1)
W, H = 200, 100
REID_CONFIG = osp.join(ROOT, 'configs', 'reid', 'reid_r18_1xb32-2e_mini-refer-kitti.py')


def _sample(frame, boxes, labels=None):
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    inst = InstanceData()
    inst.bboxes = torch.as_tensor(boxes)
    inst.scores = torch.full((len(boxes), ), 0.9)
    inst.labels = torch.as_tensor(labels if labels is not None else [0] * len(boxes),
                                  dtype=torch.long)
    s = DetDataSample(metainfo=dict(frame_id=frame, img_shape=(H, W), ori_shape=(H, W),
                                    scale_factor=(1., 1.)))
    s.pred_instances = inst
    return s


# ---- pure functions ---------------------------------------------------------------------------
def test_nearest_neighbor_cosine_distance_closed_form():
    galleries = [np.array([[1., 0.], [0., 2.]]), np.zeros((0, 2)), np.array([[3., 3.]])]
    feats = np.array([[1., 1.], [-1., 0.], [0., 5.]])
    cost = nearest_neighbor_cosine_distance(galleries, feats)
    c45 = 1 - np.sqrt(0.5)
    np.testing.assert_allclose(cost, [[c45, 1., 0.],   # nearest of the two gallery features
                                      [1., 1., 1.],    # empty gallery: orthogonal to everything
                                      [0., 1 + np.sqrt(.5), c45]], atol=1e-12)
    assert nearest_neighbor_cosine_distance(galleries, np.zeros((0, 2))).shape == (3, 0)


def test_gate_cost_closed_form():
    cost = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    maha = np.array([[1., CHI2_95_4DOF + 0.01, 2.], [CHI2_95_4DOF, np.nan, 3.]])
    app = np.array([[0.1, 0.1, 0.25], [0.2, 0.1, 0.1]])
    forbid = np.array([[False, False, False], [False, False, True]])
    out = gate_cost(cost, maha, CHI2_95_4DOF, app, 0.2, forbid)
    F = FORBIDDEN
    np.testing.assert_allclose(out, [[0.1, F, F], [0.4, F, F]])
    np.testing.assert_allclose(gate_cost(cost), cost)  # nothing to gate
    assert gate_cost(cost) is not cost


def test_box_iou_matches_mmdet():
    from mmdet.structures.bbox import bbox_overlaps
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 50, (5, 2))
    a = np.c_[a, a + rng.uniform(1, 30, (5, 2))]
    b = rng.uniform(0, 50, (4, 2))
    b = np.c_[b, b + rng.uniform(1, 30, (4, 2))]
    np.testing.assert_array_equal(box_iou(a, b),
                                  bbox_overlaps(torch.as_tensor(a), torch.as_tensor(b)).numpy())
    np.testing.assert_allclose(iou_cost([[0, 0, 10, 10]], [[5, 0, 15, 10], [0, 0, 10, 10]]),
                               [[1 - 50 / 150, 0.]])


def test_min_cost_matching_uses_full_indices():
    cost = np.array([[0.9, 0.1, 0.5], [0.2, 0.9, 0.3], [0.0, 0.0, 0.0]])
    matches, rows, cols = min_cost_matching(cost, np.array([0, 1]), np.array([1, 2]), 0.4)
    assert matches.tolist() == [[0, 1], [1, 2]] and rows.size == 0 and cols.size == 0


def test_cascade_prefers_the_most_recently_seen_track():
    """Track 0 (missed 2 frames) fits the detection better, but track 1 (seen in the previous
    frame) is matched first, as DeepSORT's cascade does; plain min-cost matching disagrees."""
    cost = np.array([[0.05], [0.15]])
    ages = np.array([3, 1])
    matches, rows, cols = matching_cascade(cost, ages, np.array([0, 1]), np.array([0]), 30, 0.2)
    assert matches.tolist() == [[1, 0]] and rows.tolist() == [0] and cols.size == 0
    plain, _, _ = min_cost_matching(cost, np.array([0, 1]), np.array([0]), 0.2)
    assert plain.tolist() == [[0, 0]]
    # above the largest accepted cost the recent track yields the detection to the older one
    matches, _, _ = matching_cascade(np.array([[0.05], [0.25]]), ages, np.array([0, 1]),
                                     np.array([0]), 30, 0.2)
    assert matches.tolist() == [[0, 0]]
    # tracks older than the cascade depth are not matched
    matches, rows, cols = matching_cascade(cost, ages, np.array([0]), np.array([0]), 2, 0.2)
    assert matches.shape == (0, 2) and rows.tolist() == [0] and cols.tolist() == [0]


def test_crops_and_normalisation():
    img = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 3, 4).repeat(1, 1, 1, 1)
    assert box_window([0.5, 0.2, 2.1, 2.9], 4, 3) == (0, 0, 3, 3)
    assert box_window([3.6, 2.5, 3.7, 2.6], 4, 3) == (3, 2, 4, 3)  # at least one pixel
    crops = crop_and_resize(img, np.array([[1., 1., 3., 3.]]), (2, 2))
    torch.testing.assert_close(crops[0], img[0, :, 1:3, 1:3])  # same size: the window itself
    assert crop_and_resize(img, np.zeros((0, 4)), (5, 6)).shape == (0, 2, 5, 6)

    class Pre(torch.nn.Module):
        to_rgb = True

        def __init__(self):
            super().__init__()
            self.register_buffer('mean', torch.tensor([1., 2., 3.]).view(-1, 1, 1))
            self.register_buffer('std', torch.tensor([2., 2., 2.]).view(-1, 1, 1))

    x = torch.tensor([10., 20., 30.]).view(1, 3, 1, 1)
    np.testing.assert_allclose(reid_normalize(x, Pre()).flatten().numpy(), [14.5, 9., 3.5])


# ---- the tracker ------------------------------------------------------------------------------
class _ColourReID(torch.nn.Module):
    """A tiny appearance model: the mean colour of a crop."""

    def forward(self, crops, mode='tensor'):
        return crops.mean(dim=(2, 3)) + 1e-3


def _swap_scene(tracker, model, frames=6):
    """Two overlapping objects of different colours (A red in front, B blue) swap places at
    frame 3; returns the ids given to A and B."""
    img = torch.zeros(1, 3, H, W)
    ids = {}
    for t in range(frames):
        xa, xb = (50, 82) if t < 3 else (82, 50)
        frame = img.clone()
        frame[0, 2, 40:80, xb:xb + 40] = 1.
        frame[0, :, 40:80, xa:xa + 40] = 0.
        frame[0, 0, 40:80, xa:xa + 40] = 1.
        out = tracker.track(_sample(t, [[xa, 40, xa + 40, 80], [xb, 40, xb + 40, 80]]),
                            model=model, img=frame)
        for box, tid in zip(out.bboxes.tolist(), out.instances_id.tolist()):
            ids.setdefault('A' if box[0] == xa else 'B', []).append(tid)
    return ids


def _colour_model():
    model = torch.nn.Module()
    model.reid = _ColourReID()
    return model


def test_appearance_resolves_a_swap_that_motion_gets_wrong():
    reid = dict(img_scale=(16, 8), max_appearance_dist=0.2)
    with_app = _swap_scene(NeuralSORTTracker(reid=reid, gate_with_motion=False), _colour_model())
    assert len(set(with_app['A'])) == 1 and len(set(with_app['B'])) == 1
    assert with_app['A'][0] != with_app['B'][0]
    motion_only = _swap_scene(NeuralSORTTracker(reid=None, gate_with_motion=False),
                              _colour_model())
    assert len(set(motion_only['A'])) == 2  # motion alone follows the boxes: ids swap


def test_gallery_keeps_the_last_num_samples_features():
    tracker = NeuralSORTTracker(reid=dict(img_scale=(16, 8), num_samples=4))
    _swap_scene(tracker, _colour_model(), frames=6)
    assert {len(t.gallery) for t in tracker.tracks.values()} == {4}
    assert all(g.shape == (3, ) for t in tracker.tracks.values() for g in t.gallery)


def test_unknown_reid_option_is_rejected():
    with pytest.raises(ValueError, match='appearance_weight'):
        NeuralSORTTracker(reid=dict(appearance_weight=0.5))


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_no_pixels_falls_back_to_motion_with_one_log_line():
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    try:
        with_reid = NeuralSORTTracker(reid=dict(img_scale=(16, 8)))
        plain = NeuralSORTTracker(reid=None)
        model = _colour_model()
        for t in range(8):
            boxes = [[10 + 4 * t, 40, 30 + 4 * t, 80], [150 - 4 * t, 40, 170 - 4 * t, 80]]
            a = with_reid.track(_sample(t, boxes), model=model, img=None)
            b = plain.track(_sample(t, boxes))
            assert a.instances_id.tolist() == b.instances_id.tolist()
    finally:
        logger.removeHandler(handler)
    lines = [m for m in handler.messages if 'motion only' in m]
    assert len(lines) == 1 and 'no pixels' in lines[0]
    assert a.instances_id.tolist() == [0, 1]


# ---- mmdet's ReID through the config ----------------------------------------------------------
def _reid_cfg():
    from mmengine.config import Config
    return Config.fromfile(REID_CONFIG)


def test_reid_config_builds_and_embeds():
    from mmdet.models.reid import BaseReID

    from ikun_mm.registry import MODELS
    cfg = _reid_cfg()
    assert cfg.model.init_cfg is None  # no download
    model = MODELS.build(cfg.model).eval()
    assert isinstance(model, BaseReID)
    h, w = cfg.crop_size
    feats = model(torch.rand(3, 3, h, w) * 255, mode='tensor')
    assert feats.shape == (3, cfg.model.head.out_channels)


def test_reid_tracking_config_repeats_the_reid_config():
    """The tracking config's model.reid and crop size are those the ReID config trains."""
    from mmengine.config import Config
    track_cfg = Config.fromfile(osp.join(ROOT, 'configs', 'neuralsort',
                                         'neuralsort_reid_mini_refer_kitti.py'))
    reid_cfg = _reid_cfg()
    ours = {k: v for k, v in track_cfg.model.reid.items() if k not in ('type', 'checkpoint')}
    theirs = {k: v for k, v in reid_cfg.model.items() if k not in ('type', 'init_cfg', '_scope_')}
    assert ours == theirs
    assert tuple(track_cfg.model.tracker.reid.img_scale) == tuple(reid_cfg.crop_size)
    assert track_cfg.model.tracker.type == 'NeuralSORTTracker'


def test_reid_config_tracks_with_pixels(mini_refer_kitti):
    """NeuralSORT + an (untrained) mmdet ReID on a generated video, with frames."""
    from mmengine.config import Config

    from ikun_mm.datasets.refer_kitti_io import (DETECTION_DIR, load_video_annotation,
                                                 resolve_videos)
    from ikun_mm.models.trackers import track_video
    from ikun_mm.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'neuralsort',
                                   'neuralsort_reid_mini_refer_kitti.py'))
    cfg.model.detector.det_dir = osp.join(mini_refer_kitti, DETECTION_DIR)
    model = MODELS.build(cfg.model).eval()
    assert model.reid is not None and model.tracker.reid is not None
    video = resolve_videos(mini_refer_kitti, 'test')[0]
    ann = load_video_annotation(mini_refer_kitti, video)
    res = track_video(model, 6, ann.img_size, video=video, img_paths=ann.img_paths)
    assert len(res) and res.shape[1] == 8
    assert any(len(t.gallery) for t in model.tracker.tracks.values())
    # a detection file without frames (tools/track_detections.py): the ReID is skipped and the
    # tracker gives the motion-only result, never an error
    motion_cfg = Config.fromfile(osp.join(ROOT, 'configs', 'neuralsort',
                                          'neuralsort_mini_refer_kitti.py'))
    motion_cfg.model.detector.det_dir = cfg.model.detector.det_dir
    motion = MODELS.build(motion_cfg.model).eval()
    no_pixels = track_video(model, 6, ann.img_size, video=video)
    np.testing.assert_array_equal(no_pixels, track_video(motion, 6, ann.img_size, video=video))


@pytest.mark.parametrize('name,tracker_type', [('deepsort', 'SORTTracker'),
                                               ('strongsort_reid', 'StrongSORTTracker')])
def test_mmdet_reid_trackers_feed_the_reid_its_training_normalisation(mini_refer_kitti, name,
                                                                      tracker_type, monkeypatch):
    """mmdet's DeepSORT/StrongSORT with our ReID: the frames reach the tracker unnormalised
    (detections from file, no detector), and the tracker must renormalise the crops to the
    ReID's training normalisation (BGR -> RGB, ImageNet mean/std). On a frame of one colour the
    ReID's input is known in closed form, whatever the crop geometry."""
    from mmengine.config import Config

    from ikun_mm.datasets.refer_kitti_io import (DETECTION_DIR, load_video_annotation,
                                                 resolve_videos)
    from ikun_mm.models.trackers import track_video
    from ikun_mm.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'baselines', f'{name}_mini_refer_kitti.py'))
    assert cfg.model.tracker.type == tracker_type
    assert tuple(cfg.model.tracker.reid.img_scale) == tuple(_reid_cfg().crop_size)
    cfg.model.detector.det_dir = osp.join(mini_refer_kitti, DETECTION_DIR)
    model = MODELS.build(cfg.model).eval()
    seen = []
    forward = model.reid.forward

    def spy(x, *args, **kwargs):
        seen.append(x.detach().clone())
        return forward(x, *args, **kwargs)

    model.reid.forward = spy
    video = resolve_videos(mini_refer_kitti, 'test')[0]
    ann = load_video_annotation(mini_refer_kitti, video)
    width, height = ann.img_size
    bgr = (10., 100., 200.)
    import mmcv  # every frame read is one colour
    monkeypatch.setattr(mmcv, 'imread', lambda path, **kwargs: np.broadcast_to(
        np.array(bgr, np.uint8), (height, width, 3)).copy())
    res = track_video(model, ann.num_frames, ann.img_size, video=video, img_paths=ann.img_paths)
    assert len(res) and seen
    rgb = torch.tensor(bgr[::-1]).view(1, 3, 1, 1)
    expected = (rgb - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)) / torch.tensor(
        [58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    for x in seen:
        assert x.shape[1:] == (3, *cfg.model.tracker.reid.img_scale)
        torch.testing.assert_close(x, expected.expand_as(x), atol=1e-4, rtol=0)
