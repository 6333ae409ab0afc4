"""ATOM's IoU predictor and first-frame augmentation."""
import math

import pytest
import torch

from ikun_mm.models.sot.atom.augment import augment_first_frame
from ikun_mm.models.sot.atom.iou_net import ATOMIoUNet  # noqa: F401 (registers it)
from ikun_mm.registry import MODELS

pytestmark = pytest.mark.usefixtures('one_torch_thread')

SMALL_IOU_NET = dict(type='ATOMIoUNet', in_channels=(8, 16), ref_channels=(8, 16),
                     test_channels=16, pred_channels=(16, 16), inter_channels=(16, 16))


def test_iou_net_builds_and_predicts_per_proposal():
    torch.manual_seed(0)
    net = MODELS.build(SMALL_IOU_NET).eval()
    ref = (torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8))
    test = (torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8))
    ref_boxes = torch.tensor([[40.0, 40.0, 30.0, 20.0], [20.0, 30.0, 50.0, 40.0]])
    proposals = ref_boxes[:, None].repeat(1, 5, 1) + torch.randn(2, 5, 4)
    iou = net(ref, test, ref_boxes, proposals)
    assert iou.shape == (2, 5)
    # a proposal's prediction does not depend on the other proposals
    single = net(ref, test, ref_boxes, proposals[:, 2:3])
    assert torch.allclose(single[:, 0], iou[:, 2], atol=1e-5)
    # modulation carries the reference: another reference box changes the prediction
    other = net(ref, test, ref_boxes.flip(0), proposals)
    assert not torch.allclose(other, iou)
    # differentiable in the box coordinates (what the refinement ascends)
    boxes = proposals.clone().requires_grad_(True)
    modulation = net.get_modulation(ref, ref_boxes)
    net.predict_iou(modulation, net.get_iou_feat(test), boxes).sum().backward()
    assert boxes.grad.abs().sum() > 0


def test_first_frame_augmentation_moves_the_labels_with_the_target():
    size = 64
    crop = torch.zeros(1, 3, size, size)
    center = torch.tensor([40.0, 24.0])
    crop[..., 23:25, 39:41] = 1.0  # a 2x2 dot centred at pixel coordinates (40, 24)
    crops, centers = augment_first_frame(crop, center)
    assert crops.shape == (1 + 1 + 12 + 4 + 5, 3, size, size) and centers.shape == (23, 2)
    assert torch.equal(centers[0], center)
    assert torch.allclose(centers[1], torch.tensor([24.0, 24.0]))  # mirrored x: 64 - 40
    assert torch.allclose(centers[-6], torch.tensor([40.0 - 19.2, 24.0 - 19.2]))  # last shift
    for img, c in zip(crops[:-5], centers[:-5]):  # geometric ones: the dot is where we say
        ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5,
                                indexing='ij')
        w = img[0]
        if w.sum() < 1e-3:
            continue  # rotated/shifted out of the crop
        found = torch.stack([(w * xs).sum(), (w * ys).sum()]) / w.sum()
        assert torch.linalg.norm(found - c) < 1.0, (found, c)
    r = math.radians(5)
    d = center - size / 2
    rotated = torch.tensor([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]]) @ d
    assert torch.allclose(centers[2], rotated + size / 2, atol=1e-4)
