"""ATOM's online classifier: labels, activation, memory weights, localisation, GN/CG fitting."""
import math

import pytest
import torch

from ikun_mm.models.sot.atom_classifier import (OnlineClassifier, gaussian_label,
                                                localize_target, mlu, update_sample_weights)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two threads oversubscribe the cores and
    make these small ops many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


def test_sample_weights_decay_keep_initial_share_and_replace_lightest():
    weights = torch.tensor([0.5, 0.5, 0.0, 0.0])
    weights, slot = update_sample_weights(weights, 2, 2, learning_rate=0.2, init_min_weight=0.25)
    assert slot == 2
    assert torch.allclose(weights, torch.tensor([0.4, 0.4, 0.2, 0.0]))
    weights, slot = update_sample_weights(weights, 3, 2, learning_rate=0.5, init_min_weight=0.5)
    # decayed: 0.2, 0.2, 0.1, new 0.5 -> initial share 0.4 < 0.5 is raised to 0.5
    assert slot == 3
    assert torch.allclose(weights, torch.tensor([0.25, 0.25, 0.5 * 0.1 / 0.6, 0.5 * 0.5 / 0.6]))
    # full memory: the lightest non-initial sample (slot 2) is replaced
    weights, slot = update_sample_weights(weights, 4, 2, learning_rate=0.1, init_min_weight=0.0)
    assert slot == 2
    assert math.isclose(float(weights.sum()), 1.0, rel_tol=1e-6)


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
    assert out_size == (10, 10) and clf.score_offset() == -0.5

    def label(c):
        # feature cell x sits at score coordinate x + 0.5 for an even kernel
        return gaussian_label(torch.tensor([c[0] + 0.5, c[1] + 0.5]), torch.tensor([1.0, 1.0]),
                              out_size)

    labels = torch.stack([label(c) for c in centers])
    clf.initialize(feats, labels)
    losses = clf.history['init_losses']
    assert losses[-1] < 0.5 * losses[0]
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:]))
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
        clf.initialize(torch.zeros(2, 8, 5, 5), torch.zeros(2, 5, 5))
