"""iKUN learns: the loss goes down over a few optimisation steps on real (generated) data."""
import pytest
import torch
from mmengine.dataset import pseudo_collate

from ._tiny import GLOBAL, LOCAL, build_tiny_ikun


def _batch(root, size=8):
    from ikun_mm.registry import DATASETS
    pipeline = [dict(type='LoadTrackWindowFrames'),
                dict(type='CropLocalGlobal', local_size=LOCAL, global_size=GLOBAL),
                dict(type='PackIKUNInputs')]
    ds = DATASETS.build(dict(type='ReferKittiWindowDataset', data_root=root, split='train',
                             pipeline=pipeline, positive_ratio=0.5))
    import numpy as np
    np.random.seed(0)
    return pseudo_collate([ds[i] for i in range(size)])


@pytest.mark.parametrize('kum', ['CascadeAttentionKUM', 'NoTextKUM'])
def test_loss_decreases(mini_refer_kitti, kum):
    torch.set_num_threads(1)
    model = build_tiny_ikun(kum)
    model.train()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    data = model.data_preprocessor(_batch(mini_refer_kitti), training=True)
    losses = []
    for _ in range(12):
        loss = model(**data, mode='loss')
        assert set(loss) == {'loss_ikun', 'acc'}
        optim.zero_grad()
        loss['loss_ikun'].backward()
        optim.step()
        losses.append(loss['loss_ikun'].item())
    assert losses[-1] < 0.7 * losses[0], losses
    # the text encoder's transformer is frozen; its token and positional embeddings train, as
    # in the official iKUN
    moved = {n for n, p in model.text_encoder.named_parameters() if p.grad is not None}
    assert moved == {'tower.token_embedding.weight', 'tower.positional_embedding'}


def test_predict_scores_every_expression(mini_refer_kitti):
    from ikun_mm.registry import DATASETS
    pipeline = [dict(type='LoadTrackWindowFrames'),
                dict(type='CropLocalGlobal', local_size=LOCAL, global_size=GLOBAL),
                dict(type='PackIKUNInputs')]
    ds = DATASETS.build(dict(type='ReferKittiWindowDataset', data_root=mini_refer_kitti,
                             split='test', test_mode=True, pipeline=pipeline))
    model = build_tiny_ikun().eval()
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]))
    with torch.no_grad():
        out = model(**batch, mode='predict')
        direct = model.forward_pairs(batch['inputs']['local'][:1],
                                     batch['inputs']['global'][:1], out[0].sentences[:1])
    assert out[0].scores.shape == (len(out[0].sentences), )
    assert out[0].scores.shape == out[0].labels.shape
    assert out[0].scores[0].item() == pytest.approx(direct.item(), abs=1e-5)
