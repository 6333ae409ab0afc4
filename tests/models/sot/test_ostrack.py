"""OSTrack: candidate elimination, centre-head decoding, learning, tracking."""
import math

import pytest
import torch

from ikun_mm.models.sot import OSTrack, candidate_elimination, decode_center, hann_window
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
    win = hann_window(5)
    assert float(win[2, 2]) == 1 and float(win[0, 3]) == 0 and torch.allclose(win, win.T)


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
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def test_invalid_backbone_config_errors():
    with pytest.raises(ValueError, match='not a multiple of patch_size'):
        MODELS.build(dict(TINY_OSTRACK['backbone'], template_size=30))
    with pytest.raises(ValueError, match='outside the 4 blocks'):
        MODELS.build(dict(TINY_OSTRACK['backbone'], ce_layers=(5, )))
