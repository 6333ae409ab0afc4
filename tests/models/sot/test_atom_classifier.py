"""ATOM's online classifier: labels, activation, memory weights, localisation, GN/CG fitting."""
import math

import pytest
import torch

from ikun_mm.models.sot.atom.classifier import (OnlineClassifier, fourier_upsample,
                                                gaussian_label, localize_target, mlu,
                                                update_sample_weights)


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_mlu_closed_form():
    x = torch.tensor([-1.0, -0.05, 0.0, 0.3])
    expected = torch.tensor([0.05 * (math.exp(-20) - 1), 0.05 * (math.exp(-1) - 1), 0.0, 0.3])
    assert torch.allclose(mlu(x, 0.05), expected)
    assert torch.equal(mlu(x, 0.0), x)


def test_gaussian_label_peak_and_one_sigma():
    label = gaussian_label(torch.tensor([4.0, 2.0]), torch.tensor([2.0, 1.0]), (5, 9))
    assert label.shape == (5, 9)
    assert label[2, 4] == 1.0 and label.max() == 1.0
    assert math.isclose(float(label[2, 6]), math.exp(-0.5), rel_tol=1e-6)  # x + 1 sigma
    assert math.isclose(float(label[3, 4]), math.exp(-0.5), rel_tol=1e-6)  # y + 1 sigma


def test_sample_weights_follow_pytracking_update_rule():
    # pytracking's ATOM.update_sample_weights, worked by hand on a 4-slot memory, 2 initial
    # samples. First update (no previous slot): w /= 1 - lr, the free slot gets lr, normalise.
    weights, slot = update_sample_weights(torch.tensor([0.5, 0.5, 0.0, 0.0]), None, 2, 2,
                                          learning_rate=0.2, init_min_weight=0.25)
    assert slot == 2
    raw = torch.tensor([0.5 / 0.8, 0.5 / 0.8, 0.2, 0.0])
    assert torch.allclose(weights, raw / raw.sum())
    # later: the new slot gets the previous new sample's weight / (1 - lr); then the initial
    # samples are floored: w /= floor + (rest), each initial one set to floor / num_init
    weights2, slot = update_sample_weights(weights, 2, 3, 2, learning_rate=0.5,
                                           init_min_weight=0.9)
    assert slot == 3
    raw = weights.clone()
    raw[3] = raw[2] / 0.5
    raw = raw / raw.sum()
    rest = raw[2:].sum()
    expected = torch.cat([torch.tensor([0.45, 0.45]), raw[2:] / (0.9 + rest)])
    assert torch.allclose(weights2, expected)
    # full memory: the lightest non-initial slot (2) is reused
    weights3, slot = update_sample_weights(weights2, 3, 4, 2, learning_rate=0.1,
                                           init_min_weight=0.25)
    assert slot == 2
    raw = weights2.clone()
    raw[2] = raw[3] / 0.9
    assert torch.allclose(weights3, raw / raw.sum())


def _band_limited(ty, tx, size):
    """A 2-D signal with frequencies below the Nyquist one of a ``size``-sample period."""
    k = 2 * math.pi / size
    return (0.7 + torch.cos(k * ty[:, None] + 0.3) * torch.sin(2 * k * tx[None] - 1.1)
            + 0.4 * torch.cos(3 * k * ty[:, None] - 2 * k * tx[None] + 0.5)
            + 0.2 * torch.sin((size // 2 - 1) * k * tx[None]) * torch.ones_like(ty)[:, None])


@pytest.mark.parametrize('size', [18, 9])
def test_fourier_upsample_equals_the_band_limited_signal(size):
    n = torch.arange(size, dtype=torch.float64)
    samples = _band_limited(n, n, size)
    # the ATOM grid (16 cells per sample, origin on sample 0) and arbitrary positions
    fine = torch.arange(16 * size, dtype=torch.float64) / 16
    odd = torch.tensor([-3.7, 0.0, 0.25, 5.5, 17.9, 31.3], dtype=torch.float64)
    for ty, tx in ((fine, fine), (odd, fine[::7])):
        out = fourier_upsample(samples[None], ty, tx)[0]
        assert out.shape == (len(ty), len(tx))
        assert torch.allclose(out, _band_limited(ty, tx, size), atol=1e-10)


def test_fourier_upsample_counts_the_nyquist_term_twice_as_pytracking():
    # pytracking's cfft2 keeps the Nyquist row at -N/2 and +N/2 at full weight: (-1)^n is
    # evaluated as 2 cos(pi t), not cos(pi t)
    n = torch.arange(6, dtype=torch.float64)
    samples = ((-1.0) ** n)[:, None].expand(6, 4)
    t = torch.tensor([0.0, 0.3, 1.0, 2.5], dtype=torch.float64)
    out = fourier_upsample(samples, t, torch.zeros(1, dtype=torch.float64))
    assert torch.allclose(out[:, 0], 2 * torch.cos(math.pi * t), atol=1e-12)


def test_localize_target_flags():
    size = torch.tensor([2.0, 2.0])
    scores = torch.zeros(11, 11)
    scores[5, 5] = 1.0
    pos, flag = localize_target(scores, size)
    assert flag == 'normal' and pos.tolist() == [5.0, 5.0]
    pos, flag = localize_target(scores * 0.1, size)
    assert flag == 'not_found'
    scores[1, 1] = 0.6  # a far secondary peak above half of the main one
    assert localize_target(scores, size)[1] == 'hard_negative'
    scores[1, 1] = 0.9  # a strong distractor far away: keep the central peak
    pos, flag = localize_target(scores, size)
    assert flag == 'hard_negative' and pos.tolist() == [5.0, 5.0]
    # the strongest peak is far from the centre: take the near one
    scores[1, 1], scores[5, 5], scores[1, 10] = 0.0, 0.9, 1.0
    pos, flag = localize_target(scores, size)
    assert flag == 'hard_negative' and pos.tolist() == [5.0, 5.0]


def test_localize_target_uses_the_map_size_and_rounded_neighbourhood():
    # displacement threshold = 0.8 * sqrt(101 * 101) / 2 = 40.4 cells, whatever the target size
    scores = torch.zeros(101, 101)
    scores[50, 50], scores[50, 80] = 1.0, 0.9  # second peak 30 cells out: inside the threshold
    pos, flag = localize_target(scores, torch.tensor([2.0, 2.0]))
    assert flag == 'uncertain' and pos.tolist() == [50.0, 50.0]
    scores[50, 80], scores[50, 95] = 0.0, 0.9  # 45 cells out: a distractor, keep the centre
    assert localize_target(scores, torch.tensor([2.0, 2.0]))[1] == 'hard_negative'
    # neighbourhood of a 4-cell-high target: rows round(50 - 4.4) = 46 .. round(55.4) - 1 = 54
    scores = torch.zeros(101, 101)
    scores[50, 50] = 1.0
    size = torch.tensor([1.0, 4.0])
    for row, expected in ((45, 'hard_negative'), (46, 'normal'), (54, 'normal'),
                          (55, 'hard_negative')):
        masked = scores.clone()
        masked[row, 50] = 0.6
        assert localize_target(masked, size)[1] == expected, row


def _synthetic_samples(num, gen, pattern, size=9):
    """Features with the 'target' pattern (C, 3, 3) pasted at random places, and its centres."""
    channels = pattern.shape[0]
    feats = 0.3 * torch.randn(num, channels, size, size, generator=gen)
    centers = []
    for n in range(num):
        y, x = torch.randint(1, size - 2, (2, ), generator=gen).tolist()
        feats[n, :, y - 1:y + 2, x - 1:x + 2] += pattern
        centers.append((x, y))
    return feats, centers


def test_classifier_init_lowers_objective_and_finds_the_target():
    gen = torch.Generator().manual_seed(0)
    pattern = torch.randn(8, 3, 3, generator=gen)
    feats, centers = _synthetic_samples(12, gen, pattern)
    clf = OnlineClassifier(8, compressed_dim=4, kernel_size=(4, 4), init_gn_iter=4,
                           init_cg_iter=40, memory_size=20)
    out_size = clf.score_size(feats.shape[-2:])
    assert out_size == (9, 9) and clf.score_offset() == -0.5  # pytracking's 'same' size

    def label(c):
        # feature cell x sits at score coordinate x + 0.5 for an even kernel
        return gaussian_label(torch.tensor([c[0] + 0.5, c[1] + 0.5]), torch.tensor([1.0, 1.0]),
                              out_size)

    labels = torch.stack([label(c) for c in centers])
    clf.initialize(feats, labels)
    losses = clf.history['init_losses']
    # undamped Gauss-Newton (as pytracking's) need not descend at every step, only overall
    assert losses[-1] < 0.5 * losses[0] and losses[-1] == min(losses)
    test_feats, test_centers = _synthetic_samples(4, gen, pattern)
    scores = clf.score(test_feats)
    for s, (x, y) in zip(scores, test_centers):
        peak = int(torch.argmax(s))
        px, py = peak % s.shape[1], peak // s.shape[1]
        assert abs(px - (x + 0.5)) <= 1 and abs(py - (y + 0.5)) <= 1

    # memory update: new samples enter the objective, one GN/CG step lowers it
    new_feats, new_centers = _synthetic_samples(3, gen, pattern)
    for f, c in zip(new_feats, new_centers):
        clf.add_sample(f[None], label(c), hard_negative=True)
    assert clf.num_stored == 15
    before, after = clf.update_filter(num_cg_iter=10)
    assert after < before


def test_classifier_errors_name_the_problem():
    clf = OnlineClassifier(8)
    with pytest.raises(RuntimeError, match='before initialize'):
        clf.score(torch.zeros(1, 8, 5, 5))
    with pytest.raises(ValueError, match=r'features must be \(N, 8, H, W\)'):
        clf.initialize(torch.zeros(2, 4, 5, 5), torch.zeros(2, 6, 6))
    with pytest.raises(ValueError, match='labels must be'):
        clf.initialize(torch.zeros(2, 8, 5, 5), torch.zeros(2, 6, 6))
