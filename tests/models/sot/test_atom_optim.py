"""Conjugate gradient and Gauss-Newton against direct solves and known minima."""
import torch

from ikun_mm.models.sot.atom.optim import conjugate_gradient, gauss_newton


def test_cg_matches_direct_regularised_least_squares():
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(30, 7, generator=gen, dtype=torch.float64)
    y = torch.randn(30, generator=gen, dtype=torch.float64)
    lam = 0.3
    # min ||m x - y||^2 + lam ||x||^2 directly, as an augmented least-squares problem
    aug_m = torch.cat([m, lam ** 0.5 * torch.eye(7, dtype=torch.float64)])
    aug_y = torch.cat([y, torch.zeros(7, dtype=torch.float64)])
    direct = torch.linalg.lstsq(aug_m, aug_y[:, None]).solution[:, 0]
    # the same through CG on the normal equations, with x split into a (3,) and a (2, 2) part
    normal = m.T @ m + lam * torch.eye(7, dtype=torch.float64)

    def apply_a(p):
        flat = normal @ torch.cat([p[0], p[1].flatten()])
        return flat[:3], flat[3:].reshape(2, 2)

    rhs = m.T @ y
    (x1, x2), history = conjugate_gradient(apply_a, (rhs[:3], rhs[3:].reshape(2, 2)), num_iter=7)
    assert torch.allclose(torch.cat([x1, x2.flatten()]), direct, atol=1e-10)
    assert history[0] > history[-1]


def test_cg_from_a_starting_point_and_early_stop():
    a = torch.diag(torch.tensor([1.0, 4.0], dtype=torch.float64))
    b = torch.tensor([2.0, 8.0], dtype=torch.float64)
    (x, ), history = conjugate_gradient(lambda p: (a @ p[0], ), (b, ), x0=(torch.tensor(
        [2.0, 2.0], dtype=torch.float64), ), num_iter=50)
    assert torch.allclose(x, torch.tensor([2.0, 2.0], dtype=torch.float64))
    assert len(history) == 1  # started at the solution


def test_gauss_newton_recovers_an_exponential_fit():
    t = torch.linspace(0, 1, 20, dtype=torch.float64)
    y = 1.5 * torch.exp(-0.8 * t)

    def residuals(a, b):
        return a * torch.exp(b * t) - y

    init = (torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64))
    (a, b), losses = gauss_newton(residuals, init, num_gn_iter=8, num_cg_iter=2)
    assert abs(float(a) - 1.5) < 1e-6 and abs(float(b) + 0.8) < 1e-6
    assert losses[-1] < 1e-12 < losses[0]


def test_preconditioned_cg_first_step_and_convergence():
    # one iteration of CG preconditioned by M = diag(m): x = alpha z, z = M^-1 b,
    # alpha = <b, z> / <z, A z>; n iterations solve an n-dimensional system exactly
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    a = m.T @ m + 0.1 * torch.eye(3, dtype=torch.float64)
    b = torch.randn(3, generator=gen, dtype=torch.float64)
    scale = torch.tensor([0.1, 0.1, 1e-4], dtype=torch.float64)

    def apply_a(p):
        flat = a @ torch.cat([p[0], p[1]])
        return flat[:2], flat[2:]

    def solve(num_iter, polak_ribiere):
        x, _ = conjugate_gradient(apply_a, (b[:2], b[2:]), num_iter=num_iter,
                                  preconditioner=(0.1, 1e-4), polak_ribiere=polak_ribiere)
        return torch.cat(x)

    z = b / scale
    alpha = (b @ z) / (z @ a @ z)
    assert torch.allclose(solve(1, True), alpha * z)
    direct = torch.linalg.solve(a, b)
    for polak_ribiere in (True, False):
        assert torch.allclose(solve(3, polak_ribiere), direct, atol=1e-10)
