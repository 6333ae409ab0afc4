"""Crop geometry shared by the SOT pipeline (numpy) and the trackers (torch)."""
import numpy as np
import pytest
import torch

from ikun_mm.structures.sot_crop import (box_from_crop, box_to_crop, clip_box, crop_image,
                                         crop_region, crop_tensor, jitter_box)


def test_crop_region_is_sqrt_area_times_factor():
    cx, cy, side = crop_region([10, 20, 30, 60], 2.0)  # w=20, h=40
    assert (cx, cy) == (20, 40)
    assert side == pytest.approx(2 * np.sqrt(800))


def test_crop_region_rejects_empty_box():
    with pytest.raises(ValueError, match='empty or invalid box'):
        crop_region([5, 5, 5, 9], 2.0)


def test_box_mapping_round_trip_and_closed_form():
    center, side, out = (50., 40.), 80., 160
    box = np.array([30., 20., 70., 60.])
    crop = box_to_crop(box, center, side, out)
    # the region starts at (10, 0) and is scaled by 2
    np.testing.assert_allclose(crop, [40, 40, 120, 120])
    back = box_from_crop(torch.from_numpy(crop), center, side, out)
    np.testing.assert_allclose(back.numpy(), box, atol=1e-5)


def test_unit_scale_crop_copies_pixels_and_pads_outside():
    img = np.arange(10 * 12 * 3, dtype=np.float32).reshape(10, 12, 3)
    out = crop_image(img, center=(4.0, 3.0), side=6, out_size=6, pad_value=-1)
    np.testing.assert_allclose(out[:, 1:], img[0:6, 2:7])  # columns 1..6 of the region
    np.testing.assert_allclose(out[:, 0], img[0:6, 1])
    pad = crop_image(img, center=(0.0, 0.0), side=4, out_size=4, pad_value=-1)
    assert (pad[:2, :2] == -1).all() and (pad[2:, 2:] == img[:2, :2]).all()


def test_numpy_and_torch_crops_sample_the_same_points():
    # a smooth image: OpenCV quantises sub-pixel positions to 1/32 px, so values agree to
    # about slope / 32
    yy, xx = np.mgrid[0:40, 0:50].astype(np.float32)
    img = np.stack([np.sin(xx / 5), np.cos(yy / 7), np.sin((xx + yy) / 9)], axis=-1)
    for center, side, out in (((20.3, 17.8), 23.7, 16), ((3.0, 35.0), 30.0, 32)):
        a = crop_image(img, center, side, out, pad_value=0.25)
        b = crop_tensor(torch.from_numpy(img).permute(2, 0, 1), center, side, out, 0.25)
        np.testing.assert_allclose(a, b.permute(1, 2, 0).numpy(), atol=1e-2)


def test_jitter_box_zero_is_identity_and_statistics_of_scale():
    box = np.array([10., 10., 30., 50.])
    np.testing.assert_allclose(jitter_box(box, 0., 0.), box)
    rng = np.random.default_rng(0)
    boxes = np.stack([jitter_box(box, 3., 0.25, rng) for _ in range(2000)])
    log_w = np.log((boxes[:, 2] - boxes[:, 0]) / 20)
    assert abs(log_w.std() - 0.25) < 0.02
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    assert abs(cx.mean() - 20) < 1.5


def test_clip_box_keeps_inside_with_min_size():
    box = clip_box(torch.tensor([-5., 3., 200., 3.5]), height=50, width=100)
    assert box.tolist() == [0., 3., 100., 4.]
