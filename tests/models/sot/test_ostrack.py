"""OSTrack: candidate elimination, centre-head decoding, learning, tracking."""
import math

import pytest
import torch

from ikun_mm.models.sot import OSTrack, candidate_elimination, decode_center, hann_window
from ikun_mm.models.sot.ostrack_head import (centernet_gaussian_radius, draw_gaussian,
                                             generate_heatmap)
from ikun_mm.models.sot.ostrack_vit import restore_search_tokens
from ikun_mm.registry import MODELS

from .utils import TINY_OSTRACK, square_batch


def test_candidate_elimination_keeps_ceil_ratio_ranked_by_centre_attention():
    b, heads, nt, ns, c = 2, 3, 4, 10, 5
    attn = torch.rand(b, heads, nt + ns, nt + ns)
    # make the template centre token (index 1) prefer search tokens in a known order
    pref = torch.tensor([[3., 9, 1, 7, 0, 5, 2, 8, 4, 6], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
    attn[:, :, 1, nt:] = pref[:, None, :]
    tokens = torch.randn(b, nt + ns, c)
    index = torch.arange(ns).expand(b, -1)
    kept, kept_index = candidate_elimination(attn, tokens, nt, 0.7, index, center_index=1)
    k = math.ceil(0.7 * ns)
    assert kept.shape == (b, nt + k, c) and kept_index.shape == (b, k)
    assert kept_index[0].tolist() == [1, 7, 3, 9, 5, 8, 0]
    assert kept_index[1].tolist() == [9, 8, 7, 6, 5, 4, 3]
    torch.testing.assert_close(kept[:, :nt], tokens[:, :nt])  # templates untouched
    torch.testing.assert_close(kept[0, nt:], tokens[0, nt + kept_index[0]])
    # a second elimination keeps ceil(0.5 * 7) = 4, indices still refer to the original order
    kept2, index2 = candidate_elimination(attn[:, :, :nt + k, :nt + k], kept, nt, 0.5,
                                          kept_index, center_index=1)
    assert index2.shape == (b, 4) and set(index2[0].tolist()) <= set(kept_index[0].tolist())
    # keep ratio 1 is the identity
    same, same_index = candidate_elimination(attn, tokens, nt, 1.0, index, 1)
    assert same is tokens and same_index is index


def test_restore_puts_tokens_back_in_order_and_zero_fills():
    tokens = torch.tensor([[[7.], [2.], [5.]]])
    full = restore_search_tokens(tokens, torch.tensor([[6, 1, 3]]), num_search=8)
    assert full[0, :, 0].tolist() == [0, 2, 0, 5, 0, 0, 7, 0]


def test_backbone_runs_with_configured_ce_and_zero_fills():
    vit = MODELS.build(dict(TINY_OSTRACK['backbone'], ce_layers=(0, 2), ce_keep_ratio=(0.5, 0.5)))
    fmap, index = vit(torch.randn(2, 3, 32, 32), torch.randn(2, 3, 64, 64))
    # 64 search tokens -> 32 -> 16 kept; the map is dense with 48 zero positions
    assert fmap.shape == (2, 64, 8, 8) and index.shape == (2, 16)
    zero = (fmap.flatten(2).abs().sum(1) == 0).sum(1)
    assert zero.tolist() == [48, 48]
    full, _ = vit(torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64), keep_ratio=1.0)
    assert (full.flatten(2).abs().sum(1) > 0).all()


def test_decode_center_and_hann_window():
    score = torch.zeros(1, 1, 4, 4)
    score[0, 0, 2, 1] = 1
    offset = torch.zeros(1, 2, 4, 4)
    offset[0, :, 2, 1] = torch.tensor([0.5, 0.25])
    size = torch.full((1, 2, 4, 4), 0.3)
    box, best = decode_center(score, offset, size)
    torch.testing.assert_close(box, torch.tensor([[1.5 / 4, 2.25 / 4, 0.3, 0.3]]))
    assert float(best) == 1


def test_hann_window_is_the_official_centred_cosine_window():
    # OSTrack's hann1d(n, centered=True): 0.5 (1 - cos(2 pi k / (n + 1))), k = 1..n
    torch.testing.assert_close(hann_window(3), torch.tensor([.5, 1., .5])[:, None] *
                               torch.tensor([.5, 1., .5])[None, :])
    n = 16
    k = torch.arange(1, n + 1, dtype=torch.float64)
    w = 0.5 * (1 - torch.cos(2 * math.pi * k / (n + 1)))
    torch.testing.assert_close(hann_window(n), (w[:, None] * w[None, :]).float())
    assert float(hann_window(n).min()) > 0  # no cell is zeroed


def _radius_closed_form(w, h, o=0.7):
    """CenterNet's radius as OSTrack's heapmap_utils computes it: the larger root of each of
    CornerNet's three quadratics a r^2 - b r + c = 0, written (b + sqrt(b^2 - 4ac)) / 2."""
    r1 = ((h + w) + math.sqrt((h + w)**2 - 4 * w * h * (1 - o) / (1 + o))) / 2
    r2 = (2 * (h + w) + math.sqrt(4 * (h + w)**2 - 16 * (1 - o) * w * h)) / 2
    r3 = (-2 * o * (h + w) + math.sqrt(4 * o**2 * (h + w)**2 - 16 * o * (o - 1) * w * h)) / 2
    return min(r1, r2, r3)


def test_gaussian_radius_matches_the_centernet_formula():
    # w = h = 4 cells: r3 = (-11.2 + sqrt(179.2)) / 2 = 1.0933 (mmdet's corrected radius: 0.39)
    assert float(centernet_gaussian_radius(torch.tensor(4.), torch.tensor(4.))) == \
        pytest.approx((-11.2 + math.sqrt(179.2)) / 2, abs=1e-5)
    for w, h in [(4., 4.), (5.2, 3.1), (1., 9.), (12., 7.5), (0.5, 0.5)]:
        r = centernet_gaussian_radius(torch.tensor(w), torch.tensor(h))
        assert float(r) == pytest.approx(_radius_closed_form(w, h), rel=1e-5)


def test_heatmap_is_a_gaussian_at_the_rounded_centre():
    size = 16
    # box (x, y, w, h) = (3.2, 5.0, 5.2, 4.6) cells: centre (5.8, 7.3) -> cell (6, 7)
    box = torch.tensor([[3.2, 5.0, 3.2 + 5.2, 5.0 + 4.6]]) / size
    heatmap = generate_heatmap(box, size)[0]
    r = int(_radius_closed_form(5.2, 4.6))
    assert r == 1
    sigma = (2 * r + 1) / 6
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    d2 = ((xs - 6)**2 + (ys - 7)**2).double()
    inside = ((xs - 6).abs() <= r) & ((ys - 7).abs() <= r)
    expected = torch.where(inside, torch.exp(-d2 / (2 * sigma**2)), torch.zeros(()))
    expected[expected < torch.finfo(torch.float64).eps] = 0
    torch.testing.assert_close(heatmap, expected.float())
    assert float(heatmap[7, 6]) == 1 and int(heatmap.eq(1).sum()) == 1
    # halves round to even as torch.round: centre x = 4 + 5 / 2 = 6.5 -> 6
    box = torch.tensor([[4., 4., 9., 9.]]) / size
    assert generate_heatmap(box, size)[0].argmax() == 6 * size + 6
    # a larger target: radius 3 (7 x 7 peak); a centre off the map draws only its visible part
    box = torch.tensor([[2., 2., 14., 14.]]) / size
    r = int(_radius_closed_form(12., 12.))
    assert int((generate_heatmap(box, size)[0] > 0).sum()) == (2 * r + 1)**2
    part = torch.zeros(4, 4)
    draw_gaussian(part, (-1, 1), 2)
    assert (part[:, 2:] == 0).all()
    assert float(part[1, 0]) == pytest.approx(math.exp(-1 / (2 * (5 / 6)**2)))


def test_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = MODELS.build(TINY_OSTRACK)
    inputs, samples = square_batch(4, template=32, search=64)
    inputs = {k: model.data_preprocessor.normalize(v) for k, v in inputs.items()}
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(25):
        loss = sum(model.loss(inputs, samples).values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_tracking_returns_boxes_inside_the_frame():
    torch.manual_seed(0)
    model: OSTrack = MODELS.build(TINY_OSTRACK).eval()
    frames = [torch.randn(3, 50, 70) for _ in range(4)]
    boxes, scores = model.track_video(frames, torch.tensor([20., 10., 40., 30.]))
    assert boxes.shape == (4, 4) and scores.shape == (4, )
    assert boxes[0].tolist() == [20., 10., 40., 30.]
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 70).all() and (boxes[:, 3] <= 50).all()
    # the official clip_box(margin=10): at least 10 px wide and high, x2 >= 10, x1 <= W - 10
    assert (boxes[1:, 2:] - boxes[1:, :2] >= 10 - 1e-4).all()
    assert (boxes[1:, 0] <= 60).all() and (boxes[1:, 1] <= 40).all()


def test_test_crops_pad_with_black():
    model: OSTrack = MODELS.build(TINY_OSTRACK).eval()
    frame = model.data_preprocessor.normalize(torch.full((3, 40, 40), 128.))
    crop, mask, region = model.sample_target(frame, torch.tensor([0., 0., 10., 10.]), 4., 64)
    # raw black (0) normalised: -mean / std per channel (frames are RGB after the preprocessor)
    black = model.data_preprocessor.normalize(torch.zeros(3, 1, 1))[:, 0, 0]
    torch.testing.assert_close(crop[0, :, 0, 0], black)
    assert mask[0, 0, 0] and not mask[0, -1, -1] and region == (5., 5., 40)


def test_invalid_backbone_config_errors():
    with pytest.raises(ValueError, match='not a multiple of patch_size'):
        MODELS.build(dict(TINY_OSTRACK['backbone'], template_size=30))
    with pytest.raises(ValueError, match='outside the 4 blocks'):
        MODELS.build(dict(TINY_OSTRACK['backbone'], ce_layers=(5, )))
