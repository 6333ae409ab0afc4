"""Similarity calibration as the official iKUN code computes it: the pseudo-frequency formula,
the positive-box shares p_j (hand-counted on a tiny tree, and read straight from the JSON files
of the generated tree), the size of the paper's a=8, b=-0.1 shift, and the table carried in
the state dict so that a loaded model reads no training files."""
import glob
import json
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch

from ikun_mm.evaluation import positive_box_shares
from ikun_mm.models.referring import (SimilarityCalibration, box_shares, merge_shares,
                                     pseudo_frequency)


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


def test_pseudo_frequency_is_the_official_formula():
    # official similarity_calibration(): features L2-normalised, sim = feat @ FEATS.T,
    # min-max normalised, weight = exp(tau sim) / sum exp(tau sim), prob = sum(weight * PROBS)
    rng = np.random.default_rng(0)
    query, keys = rng.normal(size=(5, 16)), rng.normal(size=(12, 16))
    probs = rng.dirichlet(np.ones(12))
    tau = 100.0
    expected = []
    for q in query:
        feat = q / np.linalg.norm(q)
        feats = keys / np.linalg.norm(keys, axis=1, keepdims=True)
        sim = feats @ feat
        sim = (sim - sim.min()) / (sim.max() - sim.min())
        weight = np.exp(tau * (sim - 1)) / np.exp(tau * (sim - 1)).sum()  # same ratio, no overflow
        expected.append((weight * probs).sum())
    got = pseudo_frequency(torch.tensor(query), torch.tensor(keys), torch.tensor(probs), tau)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-7)


def test_single_training_expression_gives_its_share():
    got = pseudo_frequency(torch.randn(4, 8), torch.randn(1, 8), torch.tensor([0.3]))
    np.testing.assert_allclose(got.numpy(), 0.3, rtol=1e-6)


def _write_expressions(root, video, files):
    folder = osp.join(root, 'expression', video)
    os.makedirs(folder)
    for name, label in files.items():
        with open(osp.join(folder, name + '.json'), 'w') as f:
            json.dump(dict(label=label, ignore=[], video_name=video), f)


@pytest.fixture
def two_video_tree(tmp_path):
    """Expression files of two training videos and one test video (the shares read only these)."""
    root = str(tmp_path)
    _write_expressions(root, '0001', {
        'cars-in-red': {'0': [1, 2], '1': [1]},         # 3 boxes
        'vehicles-in-red': {'0': [1, 2], '1': [1]},     # 3, a synonym in the same video
        'people': {'0': [5]},                           # 1
        'light-color-cars': {'2': [3]},                 # 1
    })
    _write_expressions(root, '0002', {
        'cars-in-red': {'4': [7]},                      # 1, the same expression in another video
        'persons': {'0': [1], '1': [1], '2': [1]},      # 3
        'pedestrian': {'0': [1]},                       # 1
        'males': {},                                    # 0: kept, with share 0
    })
    _write_expressions(root, '0005', {'cars': {'0': [1, 2, 3]}})  # test video: not counted
    with open(osp.join(root, 'split.json'), 'w') as f:
        json.dump(dict(train=['0001', '0002'], test=['0005']), f)
    return root


def test_shares_hand_counted_with_synonyms(two_video_tree):
    sentences, shares = positive_box_shares(two_video_tree, 'train', 'refer_kitti')
    # car in red 3 + 3 + 1 = 7, pedestrian 1 + 3 + 1 = 5, light-color car 1, men 0; total 13
    assert sentences == ['car in red', 'light-color car', 'men', 'pedestrian']
    np.testing.assert_allclose(shares, np.array([7, 1, 0, 5]) / 13)
    assert shares.sum() == pytest.approx(1.0)


def test_shares_hand_counted_without_synonyms(two_video_tree):
    sentences, shares = positive_box_shares(two_video_tree, 'train')
    expected = {'cars in red': 4, 'vehicles in red': 3, 'people': 1, 'light color cars': 1,
                'persons': 3, 'pedestrian': 1, 'males': 0}
    assert sentences == sorted(expected)
    np.testing.assert_allclose(shares, [expected[s] / 13 for s in sentences])


def test_box_shares_and_merged_tables():
    sentences, shares = box_shares({'b': 3, 'a': 1})
    assert sentences == ['a', 'b'] and shares.tolist() == [0.25, 0.75]
    with pytest.raises(ValueError, match='no positive box'):
        box_shares({'a': 0})
    sentences, shares = merge_shares(['vehicles', 'cars', 'people'], [0.2, 0.3, 0.5],
                                     'refer_kitti')
    assert sentences == ['car', 'pedestrian'] and shares == pytest.approx([0.5, 0.5])


class _BagOfWords:
    """A deterministic text encoder: the sum of one random unit vector per word."""

    def __init__(self, dim=64):
        self.dim, self.vectors = dim, {}

    def __call__(self, sentences):
        from ikun_mm.models.referring import TextFeatures
        feats = []
        for s in sentences:
            v = torch.zeros(self.dim)
            for word in s.split():
                if word not in self.vectors:
                    g = torch.Generator().manual_seed(len(self.vectors) + 1)
                    self.vectors[word] = torch.randn(self.dim, generator=g)
                v += self.vectors[word]
            feats.append(v)
        s = torch.stack(feats)
        return TextFeatures(s[:, None], torch.ones(len(s), 1, dtype=torch.bool), s)


def test_calibration_canonicalises_table_and_queries(two_video_tree):
    cal = SimilarityCalibration(data_root=two_video_tree, synonyms='refer_kitti')
    cal.bind_text_encoder(_BagOfWords())
    p = cal.pseudo_frequency(['vehicles in red', 'car in red', 'cars-in-red']).numpy()
    assert p[0] == p[1] == p[2]
    assert p[0] == pytest.approx(7 / 13, abs=1e-4)  # 'car in red' is a training text
    with pytest.raises(KeyError, match='unknown synonym table'):
        SimilarityCalibration(data_root=two_video_tree, synonyms='nope')


def _official_counts(root, videos, convert):
    """p_j as the official encode_text() counts them, from the JSON files themselves."""
    counts = {}
    for video in videos:
        for path in glob.glob(osp.join(root, 'expression', video, '*.json')):
            with open(path) as f:
                label = json.load(f)['label']
            exp = convert(osp.basename(path)[:-5])
            counts[exp] = counts.get(exp, 0) + sum(len(ids) for ids in label.values())
    return counts


def test_shares_of_the_generated_tree_are_the_official_ones(mini_refer_kitti):
    from ikun_mm.datasets import canonical_sentence, resolve_videos
    train = resolve_videos(mini_refer_kitti, 'train')
    counts = _official_counts(mini_refer_kitti, train,
                              lambda e: canonical_sentence(e, 'refer_kitti'))
    sentences, shares = positive_box_shares(mini_refer_kitti, 'train', 'refer_kitti')
    total = sum(counts.values())
    assert sentences == sorted(counts)
    np.testing.assert_allclose(shares, [counts[s] / total for s in sentences])
    # the generator's words: only the plural 'cars' maps ('pedestrians' is not in the official
    # table), so no two of its expressions merge
    plain, _ = positive_box_shares(mini_refer_kitti, 'train')
    assert len(plain) == len(sentences)
    assert 'red car' in sentences and 'red cars' in plain


def test_paper_calibration_is_a_small_shift_on_the_generated_tree(mini_refer_kitti):
    """With p_j the official shares (summing to 1), the paper's a=8, b=-0.1 shift a score by
    8·p(e) - 0.1 <= 8·max_j p_j - 0.1. Here J = 56 and the largest share is the plainest
    expression's ('car', 0.096): the shift stays in (-0.1, 0.67], inside the cosine score's
    range. Per-expression positive *rates* instead (positives over all GT boxes of the videos,
    0.04 ... 0.62 on this tree) gave +0.23 ... +4.9 and referred almost every box."""
    from ikun_mm.datasets import load_expressions, resolve_videos
    cal = SimilarityCalibration(data_root=mini_refer_kitti, synonyms='refer_kitti', a=8.0,
                                b=-0.1)
    cal.bind_text_encoder(_BagOfWords())
    sentences, shares = cal.table()
    J = len(sentences)
    assert shares.mean() == pytest.approx(1 / J) and np.all(shares >= 0)
    test = sorted({e.sentence for v in resolve_videos(mini_refer_kitti, 'test')
                   for e in load_expressions(mini_refer_kitti, v)})
    p = cal.pseudo_frequency(test).numpy()
    assert np.all((p > 0) & (p < 1))
    assert np.all((p >= shares.min() - 1e-6) & (p <= shares.max() + 1e-6))  # convex combination
    shift = (cal(torch.zeros(len(test)), test)).numpy()
    np.testing.assert_allclose(shift, 8 * p - 0.1, atol=1e-5)
    # a sane range on the cosine score's scale [-1, 1]: within (-0.1, 8 max p_j - 0.1]
    assert shift.min() > -0.1 and shift.max() <= 8 * shares.max() - 0.1 + 1e-5
    assert shift.max() < 1.0, f'8 max p_j - 0.1 = {8 * shares.max() - 0.1:.3f}'
    assert np.mean(shift) < 0.2  # the typical expression moves by less than 0.2


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
    assert set(cal.state_dict()) == {'a', 'b'}  # a configured table stays in the config
    with pytest.raises(RuntimeError, match='no training-expression table.*data_root'):
        SimilarityCalibration().table()


def _ab_table(a=1.5, b=-0.2, sentences=('x', 'y'), shares=(0.2, 0.6)):
    return {'a': torch.tensor(a), 'b': torch.tensor(b),
            'table': dict(sentences=list(sentences), shares=list(shares))}


def test_the_table_travels_with_the_state_dict(tmp_path):
    """A state dict with ``table`` (as tools/analysis/fit_calibration.py writes it) replaces the
    configured source: data_root is never read (here it does not exist)."""
    missing_root = str(tmp_path / 'no_such_tree')
    cal = SimilarityCalibration(data_root=missing_root, synonyms='refer_kitti')
    cal.bind_text_encoder(_BagOfWords())
    with pytest.raises(Exception, match='no_such_tree'):
        cal.table()  # nothing loaded yet: the configured tree is read, and it is not there
    cal.load_state_dict(_ab_table(sentences=['car in red', 'pedestrian'], shares=[0.25, 0.75]),
                        strict=True)
    sentences, shares = cal.table()
    assert sentences == ['car in red', 'pedestrian'] and shares.tolist() == [0.25, 0.75]
    assert (cal.a.item(), cal.b.item()) == (1.5, pytest.approx(-0.2))
    p = cal.pseudo_frequency(['vehicles in red']).item()  # synonyms still map the queries
    assert p == pytest.approx(0.25, abs=1e-6)
    # saved again with the state dict, and a round trip through a file keeps it
    state = cal.state_dict()
    assert state['table'] == dict(sentences=['car in red', 'pedestrian'], shares=[0.25, 0.75])
    torch.save(state, tmp_path / 'cal.pth')
    again = SimilarityCalibration()
    again.load_state_dict(torch.load(tmp_path / 'cal.pth', weights_only=True), strict=True)
    assert again.table()[0] == ['car in red', 'pedestrian']
    # a state dict without a table keeps the configured one (checkpoints of plain training)
    plain = SimilarityCalibration(sentences=['x', 'y'], shares=[0.2, 0.6])
    plain.load_state_dict({'a': torch.tensor(2.0), 'b': torch.tensor(0.0)}, strict=True)
    assert plain.table()[0] == ['x', 'y'] and 'table' not in plain.state_dict()
    # a malformed table names the key
    with pytest.raises(RuntimeError, match='table: not a calibration table'):
        plain.load_state_dict(dict(_ab_table(), table=dict(sentences=['x'], shares=[1, 2])))


def test_positive_box_shares_is_the_registered_table_builder(two_video_tree):
    """The model reaches the dataset files only through the TASK_UTILS entry."""
    from ikun_mm.registry import TASK_UTILS
    assert TASK_UTILS.get('positive_box_shares') is positive_box_shares
    cal = SimilarityCalibration(data_root=two_video_tree, synonyms='refer_kitti')
    sentences, shares = cal.table()
    expected = positive_box_shares(two_video_tree, 'train', 'refer_kitti')
    assert sentences == expected[0] and shares.tolist() == expected[1].tolist()
