"""Frame sampling constraints of the official samplers, pinned statistically on a fake video.

Official reference: ``TrackingSampler`` of botaoye/OSTrack and researchmm/Stark
(``lib/train/data/sampler.py``) and pytracking's ``ATOMSampler`` (``ltr/data/sampler.py``).
"""
import numpy as np
import pytest

from ikun_mm.datasets import SOTDataset, SOTFrameSampler, SOTMixedDataset
from ikun_mm.datasets.transforms import LoadSOTImages, center_box

T = 400


def _video(name='v', invisible=((100, 150), ), no_box=((300, 310), )):
    boxes = np.tile(np.array([[10., 10., 30., 40.]], np.float32), (T, 1))
    visible = np.ones(T, bool)
    for lo, hi in invisible:
        visible[lo:hi] = False  # occluded: a box, but not visible
    for lo, hi in no_box:
        visible[lo:hi] = False
        boxes[lo:hi] = np.nan
    valid = np.isfinite(boxes).all(1)
    return dict(video=name, img_paths=[f'{name}/{i}.jpg' for i in range(T)], bboxes=boxes,
                valid=valid, visible=visible)


class _Elsewhere:

    def draw_search(self, rng):
        return dict(img_path='other.jpg', bbox=np.array([1., 1., 4., 4.], np.float32))


def _draw(sampler, seq, n, seed=0):
    rng = np.random.default_rng(seed)
    out = [sampler(seq, rng, _Elsewhere()) for _ in range(n)]
    return [s for s in out if s is not None]


@pytest.mark.parametrize('mode', ['trident', 'trident_pro'])
def test_stark_trident_sampling(mode):
    seq = _video()
    samples = _draw(SOTFrameSampler(num_template_frames=2, max_frame_gap=[20], mode=mode),
                    seq, 3000)
    ids = np.array([s['frame_ids'] for s in samples])
    first, dyn, search = ids.T
    vis = seq['visible']
    assert vis[first].all() and vis[search].all()
    # dynamic template within the gap of the search frame, on the initial template's side
    after = first >= search
    assert ((dyn >= search) & (dyn < search + 20))[after].all()
    assert ((dyn >= search - 20) & (dyn < search))[~after].all()
    # initial template and search frame are independent draws over the whole video
    assert abs(after.mean() - 0.5) < 0.05
    assert np.abs(search - first).max() > 250
    assert abs(np.corrcoef(first, search)[0, 1]) < 0.06
    n_vis = vis.sum()
    assert abs(first.mean() - np.flatnonzero(vis).mean()) < 4 * np.flatnonzero(vis).std() / \
        np.sqrt(len(first))
    assert n_vis == T - 60
    # trident_pro lets the dynamic template be an invisible frame (never one without a box)
    assert seq['valid'][dyn].all()
    if mode == 'trident':
        assert vis[dyn].all()
    else:
        assert (~vis[dyn]).sum() > 10


def test_ostrack_causal_sampling():
    seq = _video(invisible=(), no_box=())
    samples = _draw(SOTFrameSampler(max_frame_gap=20, mode='causal'), seq, 3000)
    t, s = np.array([x['frame_ids'] for x in samples]).T
    gap = s - t
    # official: template in [0, T - 1), search in (template, template + max_gap): 1 .. 19
    assert t.min() == 0 and t.max() == T - 2
    assert gap.min() == 1 and gap.max() == 19
    assert abs(gap[t < T - 20].mean() - 10) < 0.4
    # gap growth (+5 a failed try, kept for the redrawn base) lets a search frame be found
    # after a template that ends a run of visible frames
    occluded = _video()
    samples = _draw(SOTFrameSampler(max_frame_gap=20, mode='causal'), occluded, 3000)
    t, s = np.array([x['frame_ids'] for x in samples]).T
    assert occluded['visible'][t].all() and occluded['visible'][s].all()
    assert (s > t).all() and (s - t).max() > 19


def test_atom_interval_sampling():
    seq = _video(invisible=(), no_box=())
    samples = _draw(SOTFrameSampler(max_frame_gap=50, mode='interval'), seq, 3000)
    b, s = np.array([x['frame_ids'] for x in samples]).T
    d = s - b
    assert d.min() == -50 and d.max() == 49
    assert (d == 0).any()  # the test frame may be the train frame
    assert abs(d[(b >= 50) & (b < T - 50)].mean() + 0.5) < 1.5


def test_stark_stage2_negatives():
    """pos_prob 0.5 (official TrackingSampler default, STARK-ST stage 2 with TRAIN_CLS)."""
    seq = _video()
    sampler = SOTFrameSampler(num_template_frames=2, max_frame_gap=[200], mode='trident_pro',
                              pos_prob=0.5)
    samples = _draw(sampler, seq, 2000)
    labels = np.array([s['gt_labels'] for s in samples])
    assert (labels[:, :2] == 1).all()
    neg = labels[:, 2] == 0
    assert abs(neg.mean() - 0.5) < 0.04
    # a video with occluded frames: the negative search frame is one of them, centre box
    for s in np.array(samples, dtype=object)[neg]:
        j = s['frame_ids'][2]
        assert not seq['visible'][j] and s['center_box_ids'] == [2]
        assert np.isnan(s['gt_bboxes'][2]).all()
    # a video without: the search frame comes from the negative source (another sequence)
    clean = _video(invisible=(), no_box=())
    for s in _draw(SOTFrameSampler(num_template_frames=2, mode='trident_pro', pos_prob=0.),
                   clean, 20):
        assert s['img_paths'][2] == 'other.jpg' and s['frame_ids'][2] == -1
        np.testing.assert_array_equal(s['gt_bboxes'][2], [1, 1, 4, 4])


def test_center_box_is_the_official_formula(tmp_path):
    # get_center_box(H, W): [int(cx - w/2), int(cy - h/2), int(w), int(h)], w, h = W/8, H/8
    H, W = 30, 43
    x, y = int(W / 2 - W / 16), int(H / 2 - H / 16)
    np.testing.assert_array_equal(center_box(H, W), [x, y, x + int(W / 8), y + int(H / 8)])
    import cv2
    cv2.imwrite(str(tmp_path / 'a.jpg'), np.zeros((H, W, 3), np.uint8))
    out = LoadSOTImages().transform(dict(
        img_paths=[str(tmp_path / 'a.jpg')] * 2, center_box_ids=[1],
        gt_bboxes=np.array([[1, 1, 5, 5], [np.nan] * 4], np.float32)))
    np.testing.assert_array_equal(out['gt_bboxes'][1], center_box(H, W))


class _MemDataset(SOTDataset):

    def __init__(self, name, **kwargs):
        self.name = name
        super().__init__(data_root='', **kwargs)

    def load_sequences(self):
        return [_video(f'{self.name}{k}', invisible=(), no_box=()) for k in range(3)]


def test_mixed_dataset_draws_datasets_by_ratio():
    np.random.seed(0)
    a = _MemDataset('a', pipeline=[], frame_sampler=dict(type='SOTFrameSampler', pos_prob=0.))
    b = _MemDataset('b', pipeline=[], frame_sampler=dict(type='SOTFrameSampler', pos_prob=0.))
    mixed = SOTMixedDataset([a, b], ratios=[3, 1], samples_per_epoch=800)
    assert len(mixed) == 800
    items = [mixed[i] for i in range(800)]
    from_a = np.array([s['video'].startswith('a') for s in items])
    assert abs(from_a.mean() - 0.75) < 0.06
    # negatives leave their video through the mix (official get_one_search: dataset by ratio)
    neg_from_a = np.array([s['img_paths'][1].startswith('a') for s in items])
    assert abs(neg_from_a.mean() - 0.75) < 0.06
    with pytest.raises(ValueError, match='ratios'):
        SOTMixedDataset([a, b], ratios=[1])


def test_mixed_dataset_gives_its_pipeline_and_sampler_to_datasets_without_their_own():
    """A config sets the crops and the sampler once for every mixed dataset; a dataset config
    that gives its own keeps it."""
    from ikun_mm.registry import DATASETS
    if '_MixMem' not in DATASETS.module_dict:
        DATASETS.register_module(name='_MixMem', module=_MemDataset)
    shared = dict(type='SOTFrameSampler', max_frame_gap=7)
    own = dict(type='SOTFrameSampler', max_frame_gap=3)
    mixed = SOTMixedDataset([dict(type='_MixMem', name='a'),
                             dict(type='_MixMem', name='b', frame_sampler=own,
                                  pipeline=[dict(type='LoadSOTImages')])],
                            pipeline=[], frame_sampler=shared, samples_per_epoch=4)
    a, b = mixed.datasets
    assert a.frame_sampler.max_frame_gap == 7 and len(a.pipeline.transforms) == 0
    assert b.frame_sampler.max_frame_gap == 3 and len(b.pipeline.transforms) == 1
