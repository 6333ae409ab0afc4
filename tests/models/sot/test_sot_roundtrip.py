"""Round trips between OSTrack's / STARK's training targets and their test-time decoding.

A box in a frame goes (a) into a training crop (the pipeline, jitter off) and (b) into the
tracker's test-time search crop around the same box; the two crops must hold the same pixels and
the box must sit where the official code puts it: ``transform_image_to_crop`` (training, centre
at ``(S - 1) / 2 + (c - c_prev) * S / crop_sz``) and the inverse of ``map_box_back`` (test,
``cx_frame = cx_crop * crop_sz / S + cx_prev - crop_sz / 2``), i.e. half a crop pixel apart as in
``botaoye/OSTrack`` ``lib/train/data/processing_utils.py`` / ``lib/test/tracker/ostrack.py``.
The heatmap target of ``lib/utils/heapmap_utils.py`` (peak at ``round(c * feat_sz)``) decoded as
``cal_bbox`` of ``lib/models/layers/head.py`` (``(idx + offset) / feat_sz``, size) gives the box
back; a tracker whose head outputs those maps tracks the box exactly.
"""
import math

import numpy as np
import pytest
import torch

from ikun_mm.datasets.transforms import SOTTemplateSearchCrop
from ikun_mm.models.sot.ostrack_head import decode_center, generate_heatmap
from ikun_mm.models.sot.stark_head import corners_to_box
from ikun_mm.registry import MODELS
from ikun_mm.structures.sot_crop import sample_target_tensor
from ikun_mm.utils import register_all_modules
from .utils import TINY_OSTRACK

register_all_modules()

BOXES = [(30.3, 40.6, 52.1, 58.9), (3.2, 5.7, 25.0, 20.4), (120.5, 90.2, 157.9, 118.3),
         (70., 50., 90., 66.)]


def _frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)


def _official_region(box, factor):
    # sample_target: crop_sz = ceil(sqrt(w h) * factor), x1 = round(cx - crop_sz / 2)
    x1, y1, x2, y2 = box
    crop_sz = math.ceil(math.sqrt((x2 - x1) * (y2 - y1)) * factor)
    return crop_sz, (x1 + x2) / 2, (y1 + y2) / 2


@pytest.mark.parametrize('box', BOXES)
@pytest.mark.parametrize('factor,size', [(4., 64), (5., 128)])
def test_training_and_test_crops_agree(box, factor, size):
    img = _frame()
    crop = SOTTemplateSearchCrop(template_factor=2., template_size=32, search_factor=factor,
                                 search_size=size, search_jitter=(0., 0.))
    res = crop.transform({'imgs': [img, img], 'gt_bboxes': [box, box], 'num_templates': 1})
    assert res is not None, f'training crop around {box} was rejected'
    train_img = res['search_imgs'][0].astype(np.float32)
    train_box = res['gt_bboxes'][1].astype(np.float64)
    test_img, _, region = sample_target_tensor(
        torch.from_numpy(img).permute(2, 0, 1).float(), box, factor, size, 0.)
    # same pixels (the training crop is resized on uint8, hence rounded)
    diff = np.abs(test_img.permute(1, 2, 0).numpy() - train_img).max()
    assert diff <= 1.0, f'training and test crops differ by {diff} grey levels'
    crop_sz, cx, cy = _official_region(box, factor)
    assert region[2] == crop_sz and region[:2] == pytest.approx((cx, cy))
    f = size / crop_sz
    # training: transform_image_to_crop, centre at (S - 1) / 2 for the crop's own box
    w, h = (box[2] - box[0]) * f, (box[3] - box[1]) * f
    expected = [(size - 1) / 2 - w / 2, (size - 1) / 2 - h / 2,
                (size - 1) / 2 + w / 2, (size - 1) / 2 + h / 2]
    np.testing.assert_allclose(train_box, expected, atol=1e-3)
    # test: the box that map_box_back sends to the gt box is centred at S / 2
    inv = [(box[0] - cx + crop_sz / 2) * f, (box[1] - cy + crop_sz / 2) * f,
           (box[2] - cx + crop_sz / 2) * f, (box[3] - cy + crop_sz / 2) * f]
    np.testing.assert_allclose(np.array(inv) - 0.5, train_box, atol=1e-3,
                               err_msg='training and test boxes are not half a pixel apart')


@pytest.mark.parametrize('seed', range(4))
def test_ostrack_heatmap_target_decodes_to_the_box(seed):
    g = torch.Generator().manual_seed(seed)
    feat = 8
    c = torch.rand(6, 2, generator=g) * 0.7 + 0.15
    wh = torch.rand(6, 2, generator=g) * 0.4 + 0.1
    boxes = torch.cat([c - wh / 2, c + wh / 2], 1)  # normalised xyxy
    heat = generate_heatmap(boxes, feat)
    peak = torch.round(c * feat).long()  # heapmap_utils: centers_int = (...).round()
    for i in range(6):
        assert heat[i, peak[i, 1], peak[i, 0]] == 1, f'heatmap {i} has no peak at {peak[i]}'
        assert int(heat[i].eq(1).sum()) == 1
    offset = torch.zeros(6, 2, feat, feat)
    size = torch.zeros(6, 2, feat, feat)
    for i in range(6):
        offset[i, :, peak[i, 1], peak[i, 0]] = c[i] * feat - peak[i]
        size[i, :, peak[i, 1], peak[i, 0]] = wh[i]
    dec, _ = decode_center(heat[:, None], offset, size)
    # cal_bbox: ((idx_x + off_x) / feat_sz, (idx_y + off_y) / feat_sz, w, h)
    torch.testing.assert_close(dec, torch.cat([c, wh], 1), atol=1e-6, rtol=0)


def test_stark_corner_maps_decode_to_the_corners():
    stride, img_size, feat = 16, 128, 8
    corners = torch.tensor([[1., 2., 5., 6.], [0., 0., 7., 7.], [3., 1., 4., 7.]])
    tl = torch.full((3, feat, feat), -30.)
    br = torch.full((3, feat, feat), -30.)
    for i, (x1, y1, x2, y2) in enumerate(corners.long().tolist()):
        tl[i, y1, x1] = br[i, y2, x2] = 30.
    # Corner_Predictor: coord = cell index * stride, box / img_sz
    torch.testing.assert_close(corners_to_box(tl, br, stride, img_size),
                               corners * stride / img_size, atol=1e-5, rtol=0)


@pytest.mark.parametrize('box', BOXES)
def test_ostrack_tracks_a_box_whose_targets_its_head_outputs(box):
    """A head that outputs the training targets of the true box (placed by the official test
    geometry) makes the tracker return the true box."""
    model = MODELS.build(TINY_OSTRACK).eval()
    img = torch.from_numpy(_frame(1)).permute(2, 0, 1).float()
    prev = torch.tensor([box[0] + 2.3, box[1] - 1.7, box[2] + 2.3, box[3] - 1.7])
    model.init(img, prev)
    crop_sz, cx, cy = _official_region(prev.tolist(), model.search_factor)
    s, feat = model.search_size, model.backbone.x_grid
    f = s / crop_sz
    c = torch.tensor([((box[0] + box[2]) / 2 - cx + crop_sz / 2) * f / s,
                      ((box[1] + box[3]) / 2 - cy + crop_sz / 2) * f / s])
    wh = torch.tensor([(box[2] - box[0]) * f / s, (box[3] - box[1]) * f / s])
    heat = generate_heatmap(torch.cat([c - wh / 2, c + wh / 2])[None], feat)[:, None]
    peak = torch.round(c * feat).long()
    offset = torch.zeros(1, 2, feat, feat)
    size = torch.zeros(1, 2, feat, feat)
    offset[0, :, peak[1], peak[0]] = c * feat - peak
    size[0, :, peak[1], peak[0]] = wh
    heat = heat.clamp(1e-4, 1 - 1e-4)
    model.head.forward = lambda x: (heat, offset, size)
    model.test_cfg['clip_margin'] = 0.
    out, _ = model.track(img)
    torch.testing.assert_close(out, torch.tensor(box), atol=1e-3, rtol=0)
