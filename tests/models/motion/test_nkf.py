"""NeuralKalmanFilter: mmdet's KalmanFilter without learned correction, SPD noise, learning."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from mmdet.models.task_modules.tracking import KalmanFilter

from ikun_mm.models.motion import NeuralKalmanFilter, kalman_update
from ikun_mm.registry import TASK_UTILS

torch.set_num_threads(1)


def _track(seed=0, steps=15):
    rng = np.random.default_rng(seed)
    z0 = np.array([120., 60., 0.6, 40.])
    return [z0 + np.array([3. * t, -1. * t, 0, 0.2 * t]) + rng.normal(0, 1, 4) * [2, 2, .01, 1]
            for t in range(steps)]


@pytest.mark.parametrize('use_nsa', [False, True])
def test_zero_correction_reproduces_mmdet_kalman_filter(use_nsa):
    kf = KalmanFilter(use_nsa=use_nsa)
    nkf = TASK_UTILS.build(dict(type='NeuralKalmanFilter', use_nsa=use_nsa))
    zs = _track()
    m1, c1 = kf.initiate(zs[0])
    m2, c2 = nkf.initiate(zs[0])
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(c1, c2)
    for t, z in enumerate(zs[1:]):
        m1, c1 = kf.predict(m1, c1)
        m2, c2 = nkf.predict(m2, c2)
        np.testing.assert_allclose(m2, m1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(c2, c1, rtol=1e-12, atol=1e-12)
        others = np.stack([z, z + 5, z - [10, 3, 0, 2]])
        np.testing.assert_allclose(nkf.gating_distance(m2, c2, others),
                                   kf.gating_distance(m1, c1, others), rtol=1e-9)
        score = 0.5 + 0.02 * t
        p1 = kf.project(m1, c1, score if use_nsa else 0.)
        p2 = nkf.project(m2, c2, score if use_nsa else None)
        np.testing.assert_allclose(p2[1], p1[1], rtol=1e-12, atol=1e-12)
        if use_nsa:
            m1, c1 = kf.update(m1, c1, z, score)
            m2, c2 = nkf.update(m2, c2, z, score)
        else:
            m1, c1 = kf.update(m1, c1, z)
            m2, c2 = nkf.update(m2, c2, z)
        np.testing.assert_allclose(m2, m1, rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(c2, c1, rtol=1e-10, atol=1e-10)


def test_batched_track_matches_per_track_kalman_filter():
    """``track`` predicts every track at once and gates like mmdet's per-track loop."""
    from addict import Dict
    kf, nkf = KalmanFilter(), NeuralKalmanFilter()
    starts = [np.array([50., 40., .5, 30.]), np.array([200., 80., 1.2, 60.])]
    tracks1, tracks2 = {}, {}
    for i, z in enumerate(starts):
        tracks1[i], tracks2[i] = Dict(), Dict()
        tracks1[i].mean, tracks1[i].covariance = kf.initiate(z)
        tracks2[i].mean, tracks2[i].covariance = nkf.initiate(z)
    dets = torch.tensor([[51., 41., .5, 30.], [203., 79., 1.2, 61.], [120., 50., 1., 40.]])
    tracks1, cost1 = kf.track(tracks1, dets)
    tracks2, cost2 = nkf.track(tracks2, dets)
    np.testing.assert_allclose(cost2, cost1, rtol=1e-9)
    assert np.isnan(cost2[0, 1]) and np.isnan(cost2[0, 2]) and np.isfinite(cost2[0, 0])
    for i in tracks1:
        np.testing.assert_allclose(tracks2[i].covariance, tracks1[i].covariance, rtol=1e-12)


def test_kalman_update_closed_form():
    """Diagonal P and R: the gain is p / (p + r) per observed coordinate."""
    h = torch.eye(4, 8, dtype=torch.float64)
    mean = torch.zeros(8, dtype=torch.float64)
    cov = torch.diag(torch.tensor([4., 1., 2., 3., 1., 1., 1., 1.], dtype=torch.float64))
    cov[0, 4] = cov[4, 0] = 2.  # velocity correlated with x
    z = torch.tensor([10., 10., 10., 10.], dtype=torch.float64)
    r = torch.tensor([1., 1., 2., 1.], dtype=torch.float64)
    new_mean, new_cov = kalman_update(mean, cov, z, h, r)
    np.testing.assert_allclose(new_mean[:4].numpy(), [8., 5., 5., 7.5])
    assert new_mean[4].item() == pytest.approx(2. / 5. * 10.)  # velocity gain = P_xv / (P_xx + r)
    assert new_cov[0, 0].item() == pytest.approx(4. - 16. / 5.)


def _randomise(nkf: NeuralKalmanFilter, scale: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in nkf.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


_NKFS = {}


def _nkf(scale, seed):
    key = (scale, seed)
    if key not in _NKFS:
        _NKFS[key] = NeuralKalmanFilter()
        _randomise(_NKFS[key], scale, seed)
    return _NKFS[key]


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
extreme = st.one_of(finite, st.sampled_from([0., -0., 1e-12, -1e-12, 1e12, -1e12, 1e30, np.inf,
                                             -np.inf, np.nan]))


@settings(max_examples=60, deadline=None)
@given(state=arrays(np.float64, (3, 8), elements=extreme),
       scale=st.sampled_from([0.1, 1., 100.]), seed=st.integers(0, 3))
def test_process_noise_is_spd(state, scale, seed):
    nkf = _nkf(scale, seed)
    # any finite box height (the fixed noise scales with it); features of any value
    state[:, 3] = np.clip(np.nan_to_num(state[:, 3], nan=1., posinf=1e6, neginf=-1e6), -1e6, 1e6)
    q = torch.diag_embed(nkf.process_var(torch.as_tensor(state))).detach()
    assert torch.isfinite(q).all()
    assert torch.equal(q, q.transpose(-1, -2))
    assert (torch.linalg.eigvalsh(q) > 0).all()


@settings(max_examples=60, deadline=None)
@given(obs=arrays(np.float64, (3, 4), elements=extreme),
       score=arrays(np.float64, (3, ), elements=extreme),
       scale=st.sampled_from([0.1, 1., 100.]), seed=st.integers(0, 3))
def test_observation_noise_is_spd(obs, score, scale, seed):
    nkf = _nkf(scale, seed)
    mean = np.zeros((3, 8))
    mean[:, 3] = np.clip(np.nan_to_num(obs[:, 3], nan=1., posinf=1e6, neginf=-1e6), -1e6, 1e6)
    r = torch.diag_embed(nkf.measurement_var(torch.as_tensor(mean), torch.as_tensor(obs),
                                             torch.as_tensor(score))).detach()
    assert torch.isfinite(r).all()
    assert (torch.linalg.eigvalsh(r) > 0).all()


def test_unrolled_filter_is_differentiable():
    nkf = NeuralKalmanFilter()
    obs = torch.as_tensor(np.stack(_track(steps=8)))[None]
    valid = torch.ones(1, 8, dtype=torch.bool)
    valid[0, 4] = False
    out = nkf.filter_sequence(obs, torch.full((1, 8), .8, dtype=torch.float64), valid)
    assert out['nll'][0, 4] == 0 and out['nll'][0, 0] == 0 and out['nll'][0, 1] != 0
    loss = (out['predicted'][:, 1:] - obs[:, 1:]).square().mean() + out['nll'].mean()
    loss.backward()
    assert nkf.qnet.mlp[-1].weight.grad.abs().sum() > 0
    assert nkf.rnet.mlp[-1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='start with a detection'):
        nkf.filter_sequence(obs, torch.ones(1, 8), ~valid)


def test_checkpoint_roundtrip_and_errors(tmp_path):
    from ikun_mm.models.motion import NKFRegressor
    model = NKFRegressor()
    _randomise(model.motion, 0.1, 0)
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    nkf = NeuralKalmanFilter(checkpoint=path)
    for a, b in zip(nkf.parameters(), model.motion.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        NeuralKalmanFilter(checkpoint=str(tmp_path / 'missing.pth'))
    bad = str(tmp_path / 'bad.pth')
    torch.save({'qnet.mlp.0.weight': torch.zeros(3, 3)}, bad)
    with pytest.raises(RuntimeError, match='bad.pth'):
        NeuralKalmanFilter(checkpoint=bad)


def test_training_reduces_loss(mini_refer_kitti):
    """A few Adam steps of the Runner model on GT tracks with noise lower the regression loss."""
    from mmengine.dataset import default_collate

    from ikun_mm.registry import DATASETS, MODELS
    dataset = DATASETS.build(dict(type='TrackSequenceDataset', data_root=mini_refer_kitti,
                                  split='train', seq_len=12, seed=0))
    assert {d['source'] for d in dataset.data_list} == {'simulated', 'detections'}
    step = max(1, len(dataset) // 64)
    batch = default_collate([dataset[i] for i in range(0, len(dataset), step)])
    model = MODELS.build(dict(type='NKFRegressor', nll_weight=0.01))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss = sum(model(batch['inputs'], mode='loss').values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses
    out = model(batch['inputs'], mode='predict')
    assert len(out) == len(batch['inputs']['obs']) and out[0]['predicted'].shape == (12, 4)
