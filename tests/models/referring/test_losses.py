import math

import pytest
import torch

from ikun_mm.models.referring import cosine_focal_loss


def test_cosine_focal_loss_closed_form():
    # x = 0: p = 0.5, p_t = 0.5, bce = ln 2 -> ln 2 * 0.25 for either label
    loss = cosine_focal_loss(torch.zeros(2), torch.tensor([1., 0.]), gamma=2.0)
    assert loss.item() == pytest.approx(2 * math.log(2) * 0.25, rel=1e-6)
    # x = 1, y = 1: p = sigmoid(1), bce = -log p, weight (1 - p)^2
    p = 1 / (1 + math.exp(-1))
    loss = cosine_focal_loss(torch.tensor([1.]), torch.tensor([1.]), gamma=2.0)
    assert loss.item() == pytest.approx(-math.log(p) * (1 - p)**2, rel=1e-6)
    # gamma = 0 is plain summed BCE
    x, y = torch.tensor([0.3, -0.7, 0.9]), torch.tensor([1., 0., 0.])
    ref = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction='sum')
    assert cosine_focal_loss(x, y, gamma=0.0).item() == pytest.approx(ref.item(), rel=1e-6)
    with pytest.raises(ValueError, match='reduction'):
        cosine_focal_loss(x, y, reduction='avg')


def test_logit_scale_scales_the_logit_only_in_the_loss():
    from ikun_mm.models.referring.losses import CosineFocalLoss
    x, y = torch.tensor([0.3, -0.7, 0.9]), torch.tensor([1., 0., 0.])
    scaled = CosineFocalLoss(gamma=2.0, logit_scale=10.0)(x, y)
    assert scaled.item() == pytest.approx(cosine_focal_loss(10 * x, y).item(), rel=1e-6)
    # an easy pair (cos 0.9, label 1) saturates with the scale and keeps a large loss without
    easy = torch.tensor([0.9]), torch.tensor([1.])
    assert CosineFocalLoss(logit_scale=10.0)(*easy) < 1e-3 < CosineFocalLoss()(*easy)
    with pytest.raises(ValueError, match='logit_scale'):
        CosineFocalLoss(logit_scale=0.0)
