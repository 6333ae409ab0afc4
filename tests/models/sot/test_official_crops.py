"""OSTrack's / STARK's test-time crop and clip against their official arithmetic.

The reference below writes out ``sample_target`` of ``lib/train/data/processing_utils.py``
(botaoye/OSTrack, researchmm/Stark) step by step with numpy and OpenCV: integer region
``ceil(sqrt(w h) * factor)`` placed at ``round(centre - side / 2)``, black constant padding (one
pixel more on the right / bottom), ``cv2.resize`` (bilinear), the padding mask resized the same
way and cast to bool.
"""
import math

import cv2
import numpy as np
import pytest
import torch

from ikun_mm.structures.sot_crop import (box_from_crop, box_to_crop_official, clip_box_margin,
                                         sample_target_image, sample_target_region,
                                         sample_target_tensor)


def _official_crop(img, x, y, w, h, factor, out):
    side = math.ceil(math.sqrt(w * h) * factor)
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    x2, y2 = x1 + side, y1 + side
    left, top = max(0, -x1), max(0, -y1)
    right, bottom = max(x2 - img.shape[1] + 1, 0), max(y2 - img.shape[0] + 1, 0)
    inner = img[y1 + top:y2 - bottom, x1 + left:x2 - right]
    padded = cv2.copyMakeBorder(inner, top, bottom, left, right, cv2.BORDER_CONSTANT)
    mask = np.ones(padded.shape[:2])
    mask[top:padded.shape[0] - bottom, left:padded.shape[1] - right] = 0
    return (cv2.resize(padded, (out, out)), cv2.resize(mask, (out, out)).astype(bool),
            out / side)


@pytest.mark.parametrize('box,factor,out', [
    ((3.3, 5.2, 10.1, 7.7), 4., 32),  # inside, upsampled
    ((40., 30., 9., 9.), 2., 16),  # overhangs right and bottom
    ((-3., 2., 20., 30.), 3., 40),  # overhangs left
    ((1., 1., 30., 35.), 5., 20),  # larger than the frame, downsampled
    ((10., 10., 5., 5.), 2., 10),  # side = out: a plain copy
])
def test_sample_target_matches_the_official_crop(box, factor, out):
    rng = np.random.default_rng(0)
    img = rng.random((40, 50, 3)).astype(np.float32)
    ref, ref_mask, resize_factor = _official_crop(img, *box, factor, out)
    x, y, w, h = box
    crop, mask, (cx, cy, side) = sample_target_tensor(
        torch.from_numpy(img).permute(2, 0, 1), (x, y, x + w, y + h), factor, out)
    np.testing.assert_allclose(crop.permute(1, 2, 0).numpy(), ref, atol=1e-5)
    assert (mask.numpy() == ref_mask).all()
    assert out / side == pytest.approx(resize_factor)
    assert (cx, cy) == (x + w / 2, y + h / 2)
    u8 = (img * 255).astype(np.uint8)  # the numpy path on uint8 frames, as the official code
    ref8, ref8_mask, _ = _official_crop(u8, *box, factor, out)
    crop8, mask8, region = sample_target_image(u8, (x, y, x + w, y + h), factor, out)
    assert crop8.dtype == np.uint8 and (crop8 == ref8).all() and (mask8 == ref8_mask).all()
    assert region == (cx, cy, side)


def test_training_boxes_map_as_transform_image_to_crop():
    # official: centre -> (out - 1) / 2 + (centre - extract_centre) * out / crop_sz, size * f
    box, ext = (10., 20., 30., 50.), (12., 18., 28., 46.)  # centres (20, 35) and (20, 32)
    f = 128 / 40
    expected = [63.5 - 10 * f, 63.5 + 3 * f - 15 * f, 63.5 + 10 * f, 63.5 + 3 * f + 15 * f]
    np.testing.assert_allclose(box_to_crop_official(box, ext, 40, 128), expected, rtol=1e-6)


def test_sample_target_pads_with_the_given_colour_and_rounds_half_to_even():
    # x1 = round(cx - side / 2) with Python's round (halves to even)
    assert sample_target_region((5., 5., 10., 10.), 1.) == (5, 5, 5)
    assert sample_target_region((4.5, 4.5, 6.5, 6.5), 2.) == (4, 4, 4)  # 5.5 - 2 = 3.5 -> 4
    assert sample_target_region((3.5, 3.5, 5.5, 5.5), 2.) == (2, 2, 4)  # 4.5 - 2 = 2.5 -> 2
    img = torch.ones(3, 8, 8)
    crop, mask, _ = sample_target_tensor(img, (0., 0., 2., 2.), 4., 8, (-1., -2., -3.))
    torch.testing.assert_close(crop[:, 0, 0], torch.tensor([-1., -2., -3.]))
    assert mask[0, 0] and not mask[-1, -1]
    with pytest.raises(ValueError, match='empty or invalid'):
        sample_target_region((2., 2., 2., 5.), 2.)


def test_boxes_map_back_around_the_previous_centre():
    # official map_box_back: cx_frame = cx_crop / resize_factor + cx_prev - crop_sz / 2
    crop_sz, out, prev = 37, 64, (20.3, 11.7)
    box = torch.tensor([10., 20., 30., 50.])
    back = box_from_crop(box, prev, crop_sz, out)
    f = out / crop_sz
    expected = torch.tensor([10 / f + prev[0] - crop_sz / 2, 20 / f + prev[1] - crop_sz / 2,
                             30 / f + prev[0] - crop_sz / 2, 50 / f + prev[1] - crop_sz / 2])
    torch.testing.assert_close(back, expected)


def _official_clip(x1, y1, w, h, height, width, margin):
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0, x1), width - margin)
    x2 = min(max(margin, x2), width)
    y1 = min(max(0, y1), height - margin)
    y2 = min(max(margin, y2), height)
    return [x1, y1, x1 + max(margin, x2 - x1), y1 + max(margin, y2 - y1)]


@pytest.mark.parametrize('box', [(-5., 3., 200., 3.5), (95., 45., 120., 60.), (20., 10., 30., 12.),
                                 (-30., -30., -20., -25.), (10., 10., 40., 30.)])
def test_clip_box_margin_matches_the_official_clip(box):
    x1, y1, x2, y2 = box
    ref = _official_clip(x1, y1, x2 - x1, y2 - y1, 50, 100, 10)
    torch.testing.assert_close(clip_box_margin(torch.tensor(box), 50, 100, 10.),
                               torch.tensor(ref, dtype=torch.float32))
