"""PrRoIPool: closed-form cases, a numeric integral, and gradients with respect to the box."""
import pytest
import torch

from ikun_mm.models.sot.atom.prroi_pool import PrRoIPool2d, prroi_pool, triangle_kernel_integral

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def bilinear(features: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear interpolation of features (C, H, W) at points x, y (P,), zero outside."""
    _, height, width = features.shape
    kx = (1 - (x[:, None] - torch.arange(width, dtype=x.dtype)).abs()).clamp(min=0)  # (P, W)
    ky = (1 - (y[:, None] - torch.arange(height, dtype=y.dtype)).abs()).clamp(min=0)  # (P, H)
    return torch.einsum('ph,chw,pw->pc', ky, features, kx)


def test_triangle_kernel_integral_closed_form():
    t = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    expected = torch.tensor([0.0, 0.0, 0.125, 0.5, 0.875, 1.0, 1.0])
    assert torch.allclose(triangle_kernel_integral(t), expected)


def test_constant_map_pools_to_the_constant():
    features = torch.full((2, 3, 10, 12), 2.5, dtype=torch.float64)
    rois = torch.tensor([[0, 8.0, 8.0, 70.0, 60.0], [1, 0.0, 0.0, 88.0, 72.0]], dtype=torch.float64)
    out = prroi_pool(features, rois, (3, 4), spatial_scale=1 / 8)
    assert out.shape == (2, 3, 3, 4)
    assert torch.allclose(out, torch.full_like(out, 2.5))


def test_linear_map_pools_to_the_bin_centre_value():
    # F(x, y) = 2x - 3y + 1 is reproduced exactly by bilinear interpolation, so the mean over a
    # bin is its value at the bin centre
    height, width = 9, 11
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing='ij')
    features = (2 * xs - 3 * ys + 1)[None, None]
    x1, y1, x2, y2 = 1.3, 2.1, 8.8, 7.0
    out = PrRoIPool2d((5, 3), spatial_scale=1.0)(features, torch.tensor([[0, x1, y1, x2, y2]],
                                                                       dtype=torch.float64))
    cx = x1 + (torch.arange(3, dtype=torch.float64) + 0.5) * (x2 - x1) / 3
    cy = y1 + (torch.arange(5, dtype=torch.float64) + 0.5) * (y2 - y1) / 5
    expected = 2 * cx[None, :] - 3 * cy[:, None] + 1
    assert torch.allclose(out[0, 0], expected)


def test_matches_numeric_integration_including_outside_the_map():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(1, 2, 6, 7, generator=gen, dtype=torch.float64)
    x1, y1, x2, y2 = -1.4, 0.7, 5.2, 6.3  # reaches past the left and bottom borders
    out = prroi_pool(features, torch.tensor([[0, x1, y1, x2, y2]], dtype=torch.float64), 2)
    n = 400  # midpoint rule per bin
    for i in range(2):
        for j in range(2):
            bx1 = x1 + j * (x2 - x1) / 2
            by1 = y1 + i * (y2 - y1) / 2
            xs = bx1 + (torch.arange(n, dtype=torch.float64) + 0.5) * (x2 - x1) / 2 / n
            ys = by1 + (torch.arange(n, dtype=torch.float64) + 0.5) * (y2 - y1) / 2 / n
            gx, gy = torch.meshgrid(xs, ys, indexing='ij')
            mean = bilinear(features[0], gx.flatten(), gy.flatten()).mean(0)
            assert torch.allclose(out[0, :, i, j], mean, atol=1e-4)


def test_gradient_with_respect_to_box_matches_finite_differences():
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(2, 3, 8, 8, generator=gen, dtype=torch.float64)
    coords = torch.tensor([[1.3, 1.6, 5.4, 6.2], [0.4, 2.5, 6.1, 4.7]], dtype=torch.float64,
                          requires_grad=True)

    def pooled(c):
        rois = torch.cat([torch.tensor([[1.0], [0.0]], dtype=torch.float64), c], dim=1)
        return prroi_pool(features, rois, 3)

    assert torch.autograd.gradcheck(pooled, (coords, ))


def test_empty_box_gives_zeros_and_bad_shapes_raise():
    features = torch.randn(1, 2, 5, 5)
    out = prroi_pool(features, torch.tensor([[0, 3.0, 3.0, 3.0, 4.0]]), 2)
    assert torch.equal(out, torch.zeros_like(out))
    with pytest.raises(ValueError, match='rois must be'):
        prroi_pool(features, torch.zeros(2, 4), 2)
    with pytest.raises(ValueError, match=r'batch indices must lie in \[0, 1\)'):
        prroi_pool(features, torch.tensor([[1, 0.0, 0.0, 2.0, 2.0]]), 2)
    with pytest.raises(ValueError, match='features must be'):
        prroi_pool(features[0], torch.zeros(2, 5), 2)
