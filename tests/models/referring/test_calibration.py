"""Pseudo-frequency (SPEC §3.10) against closed-form numbers."""
import math

import numpy as np
import pytest
import torch

from ikun_mm.models.referring import SimilarityCalibration, positive_box_shares, pseudo_frequency


def test_pseudo_frequency_closed_form():
    keys = torch.eye(3)  # three orthogonal training expressions
    shares = torch.tensor([0.1, 0.4, 0.7])
    # query = key 0: sims (1, 0, 0) -> min-max (1, 0, 0) -> softmax(tau * .)
    for tau in (1.0, 100.0):
        w = np.exp(tau * np.array([1., 0., 0.]))
        w /= w.sum()
        expected = float(w @ shares.numpy())
        got = pseudo_frequency(torch.tensor([[1., 0., 0.]]), keys, shares, tau)
        assert got.item() == pytest.approx(expected, rel=1e-6)
    # query at 45° between keys 0 and 1: sims (c, c, 0) -> (1, 1, 0)
    c = 1 / math.sqrt(2)
    got = pseudo_frequency(torch.tensor([[c, c, 0.]]), keys, shares, tau=100.0)
    assert got.item() == pytest.approx(0.25, abs=1e-6)
    # non-orthogonal keys, tau = 1, a scaled query (cosines are scale-free)
    keys2 = torch.tensor([[1., 0.], [0.6, 0.8], [0., 1.]])
    sims = torch.nn.functional.normalize(torch.tensor([[1., 0.]]), dim=-1) @ keys2.T
    norm = (sims - sims.min()) / (sims.max() - sims.min())
    expected = (torch.softmax(norm, 1) @ shares).item()
    assert pseudo_frequency(torch.tensor([[3., 0.]]), keys2, shares, 1.0).item() == \
        pytest.approx(expected, rel=1e-6)


def test_single_training_expression_gives_its_share():
    got = pseudo_frequency(torch.randn(4, 8), torch.randn(1, 8), torch.tensor([0.3]))
    np.testing.assert_allclose(got.numpy(), 0.3, rtol=1e-6)


def test_positive_box_shares_match_the_files(mini_refer_kitti):
    from ikun_mm.datasets import load_expressions, load_video_annotation, resolve_videos
    sentences, shares = positive_box_shares(mini_refer_kitti, 'train')
    assert sentences == sorted(set(sentences)) and np.all((shares > 0) & (shares <= 1))
    pos, tot = 0, 0
    for video in resolve_videos(mini_refer_kitti, 'train'):
        ann = load_video_annotation(mini_refer_kitti, video)
        for e in load_expressions(mini_refer_kitti, video, ann):
            if e.sentence == 'cars':
                pos += len(e.positives())
                tot += len(ann.boxes)
    assert shares[sentences.index('cars')] == pytest.approx(pos / tot)


def test_calibrated_score_and_switch():
    class Encoder:
        def __call__(self, sentences):
            table = {'x': [1., 0.], 'y': [0., 1.], 'q': [1., 0.]}
            from ikun_mm.models.referring import TextFeatures
            s = torch.tensor([table[t] for t in sentences])
            return TextFeatures(s[:, None], torch.ones(len(s), 1, dtype=torch.bool), s)

    cal = SimilarityCalibration(sentences=['x', 'y'], shares=[0.2, 0.6], a=8.0, b=-0.1)
    cal.bind_text_encoder(Encoder())
    p = cal.pseudo_frequency(['q']).item()  # ~0.2: 'q' equals 'x'
    assert p == pytest.approx(0.2, abs=1e-6)
    out = cal(torch.tensor([[0.05]]), ['q'])
    assert out.item() == pytest.approx(0.05 + 8 * p - 0.1, abs=1e-6)
    cal.enabled = False
    assert cal(torch.tensor([[0.05]]), ['q']).item() == pytest.approx(0.05)
    assert set(cal.state_dict()) == {'a', 'b'}
    with pytest.raises(ValueError, match='data_root'):
        SimilarityCalibration()
