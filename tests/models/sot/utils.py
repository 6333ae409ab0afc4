"""Small SOT models and synthetic crops for the tests."""
from typing import Dict, List, Tuple

import torch
from mmengine.structures import InstanceData

from ikun_mm.structures import SOTDataSample

TINY_OSTRACK = dict(
    type='OSTrack',
    backbone=dict(type='OSTrackViT', template_size=32, search_size=64, patch_size=8,
                  embed_dims=64, depth=4, num_heads=4, mlp_ratio=2., ce_layers=(1, 2),
                  ce_keep_ratio=0.7, drop_path_rate=0.),
    head=dict(type='OSTrackCenterHead', in_channels=64, channels=32))

_ATTN = dict(embed_dims=32, num_heads=4, dropout=0.0, batch_first=True)
_FFN = dict(embed_dims=32, feedforward_channels=64, num_fcs=2, ffn_drop=0.0)
TINY_STARK = dict(
    type='STARK',
    backbone=dict(type='mmdet.ResNet', depth=18, base_channels=8, num_stages=3,
                  strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2, ), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, init_cfg=None),
    backbone_channels=32,
    encoder=dict(num_layers=1, layer_cfg=dict(self_attn_cfg=_ATTN, ffn_cfg=_FFN)),
    decoder=dict(num_layers=1, return_intermediate=False,
                 layer_cfg=dict(self_attn_cfg=_ATTN, cross_attn_cfg=_ATTN, ffn_cfg=_FFN)),
    positional_encoding=dict(num_feats=16, normalize=True),
    box_head=dict(type='STARKCornerHead', in_channels=32, channels=16, stride=16, img_size=64),
    cls_head=dict(type='STARKScoreHead', in_channels=32, hidden=32, num_layers=3),
    template_size=32, search_size=64, num_templates=2,
    test_cfg=dict(update_interval=2, use_score=False))


def square_batch(batch: int, template: int, search: int, num_templates: int = 1,
                 seed: int = 0) -> Tuple[Dict[str, torch.Tensor], List[SOTDataSample]]:
    """Crops of a red square on grey noise: templates centred (half the crop), the search
    square at a random place (a quarter of the crop). Raw 0-255 pixel values."""
    g = torch.Generator().manual_seed(seed)
    z = torch.full((batch, num_templates, 3, template, template), 110.)
    x = torch.full((batch, 1, 3, search, search), 110.)
    z += torch.randn(z.shape, generator=g) * 20
    x += torch.randn(x.shape, generator=g) * 20
    samples = []
    for i in range(batch):
        q = template // 4
        z[i, :, :, q:template - q, q:template - q] = torch.tensor([30., 30., 220.])[:, None, None]
        s = search // 4
        x0, y0 = (int(v) for v in torch.randint(0, search - s, (2, ), generator=g))
        x[i, 0, :, y0:y0 + s, x0:x0 + s] = torch.tensor([30., 30., 220.])[:, None, None]
        sample = SOTDataSample(metainfo=dict(num_templates=num_templates))
        gt = InstanceData()
        gt.bboxes = torch.tensor([[q, q, template - q, template - q]] * num_templates +
                                 [[x0, y0, x0 + s, y0 + s]], dtype=torch.float32)
        gt.labels = torch.ones(num_templates + 1, dtype=torch.long)
        sample.gt_instances = gt
        samples.append(sample)
    return dict(template=z, search=x), samples
