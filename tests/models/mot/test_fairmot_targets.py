"""FairMOT targets and decoding against closed-form numbers."""
import math

import pytest
import torch

from ikun_mm.models.mot.fairmot_targets import (build_centre_targets, decode_centres,
                                                gather_at_centres, heatmap_radius)


@pytest.mark.parametrize('h, w, centernet, corrected', [(4, 6, 1, 0), (20, 10, 3, 1)])
def test_heatmap_radius_closed_form(h, w, centernet, corrected):
    # hand-computed: (4, 6): r3 = (-14 + sqrt(276.64)) / 2 = 1.32 (CenterNet), / 5.6 = 0.47;
    # (20, 10): r3 = (-42 + sqrt(2436)) / 2 = 3.68, corrected min(r1, r2, r3) = r2 = 1.08
    assert heatmap_radius(h, w, 0.7, 'centernet') == centernet
    assert heatmap_radius(h, w, 0.7, 'corrected') == corrected
    with pytest.raises(ValueError, match='formula'):
        heatmap_radius(h, w, 0.7, 'other')


def test_heatmap_matches_closed_form_gaussian():
    # box of 80 x 40 px at stride 4 -> 20 x 10 cells, centre (15.5, 10.5) -> (15, 10), radius 3
    box = torch.tensor([[42.0, 22.0, 82.0, 102.0]])  # x1, y1, x2, y2: 40 px wide, 80 px high
    t = build_centre_targets(box, torch.tensor([0]), torch.tensor([7]), (32, 40), 1, stride=4)
    radius = heatmap_radius(20, 10)
    assert radius == 3
    cx, cy = 15, 15  # (42 + 82) / 8 = 15.5 -> 15, (22 + 102) / 8 = 15.5 -> 15
    assert t.centres.tolist() == [[cx, cy]]
    sigma = (2 * radius + 1) / 6
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(40.0), indexing='ij')
    expected = torch.exp(-((xs - cx)**2 + (ys - cy)**2) / (2 * sigma**2))
    inside = ((xs - cx).abs() <= radius) & ((ys - cy).abs() <= radius)
    expected = torch.where(inside, expected, torch.zeros_like(expected))
    torch.testing.assert_close(t.heatmap[0], expected, atol=1e-6, rtol=0)
    assert t.heatmap[0, cy, cx] == 1.0
    assert t.ids.tolist() == [7]


def test_regression_targets_and_overlapping_gaussians_take_max():
    boxes = torch.tensor([[10.0, 14.0, 31.0, 27.0], [8.0, 12.0, 40.0, 28.0]])
    t = build_centre_targets(boxes, torch.tensor([0, 0]), torch.tensor([-1, 3]), (16, 16), 1)
    # (10, 14, 31, 27) / 4 = (2.5, 3.5, 7.75, 6.75): centre (5.125, 5.125)
    assert t.centres.tolist() == [[5, 5], [6, 5]]
    torch.testing.assert_close(t.offsets, torch.tensor([[0.125, 0.125], [0.0, 0.0]]))
    torch.testing.assert_close(t.ltrb, torch.tensor([[2.625, 1.625, 2.625, 1.625],
                                                     [4.0, 2.0, 4.0, 2.0]]))
    single = [build_centre_targets(b[None], torch.tensor([0]), torch.tensor([0]), (16, 16), 1)
              for b in boxes]
    torch.testing.assert_close(t.heatmap, torch.maximum(single[0].heatmap, single[1].heatmap))


def test_boxes_outside_are_dropped_and_bad_labels_raise():
    boxes = torch.tensor([[-50.0, 0.0, -10.0, 20.0], [0.0, 0.0, 16.0, 16.0]])
    t = build_centre_targets(boxes, torch.tensor([0, 1]), torch.tensor([4, 5]), (8, 8), 2)
    assert t.ids.tolist() == [5] and t.labels.tolist() == [1]
    assert t.heatmap[0].max() == 0 and t.heatmap[1].max() == 1
    with pytest.raises(ValueError, match='labels'):
        build_centre_targets(boxes[1:], torch.tensor([2]), torch.tensor([0]), (8, 8), 2)


def test_centre_sampling_picks_the_right_pixels():
    b, c, h, w = 2, 3, 5, 7
    # feat[b, c, y, x] = 1000 b + 100 c + 10 y + x
    feat = (torch.arange(b)[:, None, None, None] * 1000 + torch.arange(c)[None, :, None, None] *
            100 + torch.arange(h)[None, None, :, None] * 10 +
            torch.arange(w)[None, None, None, :]).float()
    centres = torch.tensor([[6, 4], [0, 0], [3, 2]])  # (x, y)
    batch = torch.tensor([1, 0, 1])
    got = gather_at_centres(feat, batch, centres)
    expected = torch.tensor([[1046.0, 1146, 1246], [0, 100, 200], [1023, 1123, 1223]])
    torch.testing.assert_close(got, expected)


def test_decoding_inverts_the_targets():
    boxes = torch.tensor([[10.0, 14.0, 31.0, 27.0], [50.0, 4.0, 62.0, 40.0]])
    t = build_centre_targets(boxes, torch.tensor([0, 0]), torch.tensor([0, 1]), (16, 20), 1)
    ltrb = torch.zeros(1, 4, 16, 20)
    offset = torch.zeros(1, 2, 16, 20)
    for k, (x, y) in enumerate(t.centres.tolist()):
        ltrb[0, :, y, x] = t.ltrb[k]
        offset[0, :, y, x] = t.offsets[k]
    bboxes, scores, labels, inds = decode_centres(t.heatmap[None], ltrb, offset, topk=2)
    order = scores[0].argsort(descending=True)
    torch.testing.assert_close(scores[0], torch.ones(2))
    got = sorted(bboxes[0][order].tolist())
    torch.testing.assert_close(torch.tensor(got), boxes, atol=1e-5, rtol=0)
    flat = sorted((t.centres[:, 1] * 20 + t.centres[:, 0]).tolist())
    assert sorted(inds[0].tolist()) == flat
    assert math.isclose(float(labels.max()), 0.0)


def test_box_cut_by_the_border_keeps_its_full_extent():
    # FairMOT's JointDataset (src/lib/datasets/dataset/jde.py): only the centre is clipped to
    # [0, W - 1] x [0, H - 1]; w, h (radius) and the ltrb sides come from the unclipped box.
    # Box (-40, 8, 8, 48) px at stride 4 -> cells (-10, 2, 2, 12): w = 12, h = 10,
    # centre (-4, 7) -> clipped (0, 7); ltrb = (0 + 10, 7 - 2, 2 - 0, 12 - 7).
    t = build_centre_targets(torch.tensor([[-40.0, 8.0, 8.0, 48.0]]), torch.tensor([0]),
                             torch.tensor([2]), (16, 20), 1, stride=4)
    assert t.centres.tolist() == [[0, 7]]
    torch.testing.assert_close(t.offsets, torch.zeros(1, 2))
    torch.testing.assert_close(t.ltrb, torch.tensor([[10.0, 5.0, 2.0, 5.0]]))
    # CenterNet radius of (ceil(h), ceil(w)) = (10, 12): r3 = (-30.8 + sqrt(1351.84)) / 2 = 2.98
    radius = 2
    sigma = (2 * radius + 1) / 6
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(20.0), indexing='ij')
    expected = torch.exp(-(xs**2 + (ys - 7)**2) / (2 * sigma**2))
    expected[(xs > radius) | ((ys - 7).abs() > radius)] = 0
    torch.testing.assert_close(t.heatmap[0], expected, atol=1e-6, rtol=0)


def test_centre_clipped_on_the_far_border_and_max_objs():
    # box (70, -20, 90, 20) px -> cells (17.5, -5, 22.5, 5) on a 16 x 20 map: centre (20, 0) ->
    # clipped (19, 0); ltrb = (19 - 17.5, 0 + 5, 22.5 - 19, 5 - 0), offset 0.
    boxes = torch.tensor([[70.0, -20.0, 90.0, 20.0], [0.0, 0.0, 16.0, 16.0]])
    t = build_centre_targets(boxes, torch.tensor([0, 0]), torch.tensor([1, 2]), (16, 20), 1)
    assert t.centres.tolist() == [[19, 0], [2, 2]]
    torch.testing.assert_close(t.ltrb[0], torch.tensor([1.5, 5.0, 3.5, 5.0]))
    torch.testing.assert_close(t.offsets[0], torch.zeros(2))
    # only the first max_objs boxes count (FairMOT's opt.K)
    t1 = build_centre_targets(boxes, torch.tensor([0, 0]), torch.tensor([1, 2]), (16, 20), 1,
                              max_objs=1)
    assert t1.ids.tolist() == [1]
