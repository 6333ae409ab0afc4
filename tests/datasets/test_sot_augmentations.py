"""The official OSTrack / STARK / ATOM training augmentations, each on a small image.

Official reference: ``lib/train/data/transforms.py`` and ``lib/train/base_functions.py`` of
botaoye/OSTrack and researchmm/Stark (``ToGrayscale(0.05)``, ``RandomHorizontalFlip(0.5)``
jointly; ``ToTensorAndJitter(0.2)``, ``RandomHorizontalFlip_Norm(0.5)`` per crop).
"""
import numpy as np
import pytest
import torch

from ikun_mm.registry import TRANSFORMS


def _frame(h=20, w=30, box=(4, 6, 11, 15), seed=0):
    img = np.random.default_rng(seed).integers(0, 60, (h, w, 3)).astype(np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = 255  # target pixels: columns x1 .. x2 - 1, rows y1 .. y2 - 1
    return img


def _build(cfg):
    return TRANSFORMS.build(cfg)


def _columns(img):
    cols = np.flatnonzero((img == 255).all(-1).any(0))
    return cols.min(), cols.max() + 1


def test_joint_flip_mirrors_every_frame_and_box():
    imgs = [_frame(), _frame(w=26, box=(2, 3, 9, 8), seed=1)]
    boxes = np.array([[4, 6, 11, 15], [2, 3, 9, 8]], np.float32)
    out = _build(dict(type='SOTJointFlip', prob=1.0)).transform(
        dict(imgs=[i.copy() for i in imgs], gt_bboxes=boxes.copy()))
    exact = _build(dict(type='SOTJointFlip', prob=1.0, exact=True)).transform(
        dict(imgs=[i.copy() for i in imgs], gt_bboxes=boxes.copy()))
    for k, (img, box) in enumerate(zip(imgs, boxes)):
        W = img.shape[1]
        np.testing.assert_array_equal(out['imgs'][k], np.fliplr(img))
        # official transform_coords: corners x -> (W - 1) - x; y unchanged
        np.testing.assert_array_equal(out['gt_bboxes'][k],
                                      [W - 1 - box[2], box[1], W - 1 - box[0], box[3]])
        # exact: x1 -> W - x2, x2 -> W - x1, the box covers the mirrored target pixels
        new_box = exact['gt_bboxes'][k]
        np.testing.assert_array_equal(new_box, [W - box[2], box[1], W - box[0], box[3]])
        assert _columns(exact['imgs'][k]) == (new_box[0], new_box[2])
    same = _build(dict(type='SOTJointFlip', prob=0.)).transform(
        dict(imgs=list(imgs), gt_bboxes=boxes.copy()))
    assert same['imgs'][0] is imgs[0]


def test_joint_flip_and_grayscale_roll_once_per_sample():
    np.random.seed(0)
    flip = _build(dict(type='SOTJointFlip', prob=0.5))
    flips = []
    for _ in range(400):
        img = _frame()
        out = flip.transform(dict(imgs=[img, img.copy(), img.copy()],
                                  gt_bboxes=np.tile([[4., 6., 11., 15.]], (3, 1))))
        states = {_columns(i) == (4, 11) for i in out['imgs']}
        assert len(states) == 1  # all frames of a sample flip together
        flips.append(not states.pop())
    assert abs(np.mean(flips) - 0.5) < 0.08
    gray = _build(dict(type='SOTGrayscale', prob=0.05))
    hits = []
    for _ in range(2000):
        out = gray.transform(dict(imgs=[_frame(), _frame(seed=2)]))
        g = [bool((i[..., 0] == i[..., 1]).all() and (i[..., 1] == i[..., 2]).all())
             for i in out['imgs']]
        assert g[0] == g[1]
        hits.append(g[0])
    assert abs(np.mean(hits) - 0.05) < 0.02


def test_grayscale_gives_equal_channels_with_the_luma_weights():
    img = _frame()
    out = _build(dict(type='SOTGrayscale', prob=1.0)).transform(dict(imgs=[img]))['imgs'][0]
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    b, g, r = (img[..., k].astype(float) for k in range(3))
    np.testing.assert_allclose(out[..., 0], 0.299 * r + 0.587 * g + 0.114 * b, atol=1)


def test_brightness_jitter_scales_each_crop_by_its_own_factor():
    np.random.seed(1)
    jitter = _build(dict(type='SOTBrightnessJitter', jitter=0.2))
    factors = []
    for _ in range(300):
        t = np.full((4, 4, 3), 100, np.uint8)
        s = np.full((6, 6, 3), 100, np.uint8)
        out = jitter.transform(dict(template_imgs=[t], search_imgs=[s, s.copy()]))
        f = [float(c[0, 0, 0]) / 100 for c in out['template_imgs'] + out['search_imgs']]
        for c, fk in zip(out['template_imgs'] + out['search_imgs'], f):
            assert c.dtype == np.float32 and np.allclose(c, 100 * fk, atol=1e-3)
        factors.append(f)
    factors = np.array(factors)
    # uniform on [0.8, 1.2], independent per crop
    assert factors.min() >= 0.8 and factors.max() <= 1.2
    assert factors.min() < 0.82 and factors.max() > 1.18
    assert abs(factors.mean() - 1.0) < 0.01
    assert abs(np.corrcoef(factors[:, 0], factors[:, 1])[0, 1]) < 0.15
    bright = jitter.transform(dict(template_imgs=[np.full((2, 2, 3), 250, np.uint8)] * 50,
                                   search_imgs=[]))['template_imgs']
    assert max(float(c.max()) for c in bright) == 255.0  # clipped
    off = _build(dict(type='SOTBrightnessJitter', jitter=0.)).transform(
        dict(template_imgs=[t], search_imgs=[s]))
    assert off['template_imgs'][0] is t


def test_crop_flip_mirrors_crops_independently():
    np.random.seed(2)
    flip = _build(dict(type='SOTCropFlip', prob=0.5))
    combos = set()
    for _ in range(200):
        t = _frame(16, 16, (2, 5, 6, 9))
        s = _frame(32, 32, (20, 4, 29, 12))
        boxes = np.array([[2, 5, 6, 9], [20, 4, 29, 12]], np.float32)
        out = flip.transform(dict(template_imgs=[t], search_imgs=[s], gt_bboxes=boxes))
        flipped = []
        for crop, box, size in ((out['template_imgs'][0], out['gt_bboxes'][0], 16),
                                (out['search_imgs'][0], out['gt_bboxes'][1], 32)):
            assert _columns(crop) == (box[0], box[2])  # box follows the pixels
            flipped.append(bool(box[0] != (2 if size == 16 else 20)))
            if flipped[-1]:
                assert box[0] == size - (6 if size == 16 else 29)
        combos.add(tuple(flipped))
    # template and search crops flip independently: all four combinations occur
    assert combos == {(False, False), (False, True), (True, False), (True, True)}


@pytest.mark.parametrize('cfg', [dict(type='SOTGrayscale', prob=0.05),
                                 dict(type='SOTJointFlip', prob=0.5),
                                 dict(type='SOTBrightnessJitter', jitter=0.2),
                                 dict(type='SOTCropFlip', prob=0.5)])
def test_probabilities_are_config_fields(cfg):
    t = _build(cfg)
    key = 'jitter' if 'jitter' in cfg else 'prob'
    assert getattr(t, key) == cfg[key] and str(cfg[key]) in repr(t)


def _crop_one(mode, img, box, factor=2.0, size=32, stride=16, mapping='official'):
    crop = _build(dict(type='SOTTemplateSearchCrop', template_factor=factor, template_size=size,
                       search_factor=factor, search_size=size, search_jitter=(0., 0.),
                       crop_mode=mode, mask_stride=stride, box_mapping=mapping))
    return crop.transform(dict(imgs=[img], gt_bboxes=np.array([box], np.float32),
                               num_templates=1))


def test_official_crop_matches_the_tensor_sample_target():
    """The training crop (numpy / OpenCV) against the test-time torch re-implementation of the
    same official sample_target (black padding, bilinear resize, padding mask)."""
    from ikun_mm.structures.sot_crop import sample_target_tensor
    img = np.random.default_rng(3).integers(0, 255, (40, 50, 3)).astype(np.uint8)
    for box in ([2., 3., 14., 11.], [40., 30., 49., 39.], [20., 15., 30., 22.]):
        out = _crop_one('ostrack', img, box)
        ref, mask, (cx, cy, side) = sample_target_tensor(
            torch.from_numpy(img).permute(2, 0, 1).float(), box, 2.0, 32, 0.)
        got = out['template_imgs'][0].astype(np.float32)
        np.testing.assert_allclose(got, ref.permute(1, 2, 0).numpy(), atol=1.01)
        np.testing.assert_array_equal(out['template_att'][0], mask.numpy())
        # official transform_image_to_crop: centre (S - 1) / 2 + (c - c_box) S / crop_sz, size
        # scaled by S / crop_sz
        f = 32 / side
        centre = (32 - 1) / 2 + (np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) -
                                 [cx, cy]) * f
        half = (np.array(box[2:]) - box[:2]) * f / 2
        np.testing.assert_allclose(out['gt_bboxes'][0], np.r_[centre - half, centre + half],
                                   atol=1e-4)
        # opt-in: the exact inverse of the test-time mapping (centre S / 2 with box_from_crop)
        exact = _crop_one('ostrack', img, box, mapping='continuous')['gt_bboxes'][0]
        np.testing.assert_allclose(exact, (np.array(box) - [cx - side / 2, cy - side / 2] * 2) *
                                   f, atol=1e-4)


def test_official_crop_padding_and_rejection():
    img = np.full((40, 50, 3), 100, np.uint8)
    img[:, 0] = 200  # the first column, replicated by pytracking's padding
    box = [0., 10., 8., 18.]  # region reaches left of the frame
    black = _crop_one('ostrack', img, box)['template_imgs'][0]
    replicate = _crop_one('pytracking', img, box)['template_imgs'][0]
    assert (black[:, 0] == 0).all() and (replicate[:, 0] == 200).all()
    # a region with no pixel of the frame: the official processing rejects the sample
    assert _crop_one('ostrack', img, [-300., -300., -290., -290.]) is None
    assert _crop_one('pytracking', img, [-300., -300., -290., -290.]) is None
    # a region mostly outside: all-padding on the stride grid (official 'mask_down' check)
    corner = [-18., -18., 1., 1.]
    assert _crop_one('ostrack', img, corner, factor=4., stride=16) is None
    assert _crop_one('pytracking', img, corner, factor=4.) is not None


def test_padding_masks_are_packed_for_stark():
    img = np.full((40, 50, 3), 100, np.uint8)
    results = dict(imgs=[img, img.copy()], gt_labels=np.ones(2, np.int64), num_templates=1,
                   gt_bboxes=np.array([[0., 10., 8., 18.]] * 2, np.float32))
    crop = _build(dict(type='SOTTemplateSearchCrop', template_size=32, search_size=64,
                       search_jitter=(0., 0.)))
    out = _build(dict(type='PackSOTInputs', pack_masks=True)).transform(
        crop.transform(dict(results)))
    zmask, xmask = out['inputs']['template_mask'], out['inputs']['search_mask']
    assert zmask.dtype == xmask.dtype == torch.bool
    assert zmask.shape == (1, 32, 32) and xmask.shape == (1, 64, 64)
    # the region reaches left of (and above) the frame: left columns padded, right ones not
    assert xmask[0, 40:, 0].all() and not xmask[0, 40:, -1].any()
    continuous = _build(dict(type='SOTTemplateSearchCrop', template_size=32, search_size=64,
                             crop_mode='continuous'))
    with pytest.raises(KeyError, match='template_att'):
        _build(dict(type='PackSOTInputs', pack_masks=True)).transform(
            continuous.transform(dict(results)))
