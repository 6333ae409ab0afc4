"""FairMOT end to end on the generated mini Refer-KITTI: configs, data, learning, tracking."""
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from ikun_mm.datasets.refer_kitti_cocovid import convert_refer_kitti_to_mot
from ikun_mm.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY_CFG = osp.join(REPO, 'configs/fairmot/fairmot_dla-tiny_1xb8-5e_mini-refer-kitti.py')
MOT17_CFG = osp.join(REPO,
                     'configs/fairmot/fairmot_dla34_2xb6-30e_mot17halftrain_test-mot17halfval.py')
TEST_PIPELINE = [
    dict(type='TransformBroadcaster', transforms=[
        dict(type='LoadImageFromFile'), dict(type='LoadTrackAnnotations')]),
    dict(type='PackTrackInputs')
]


@pytest.fixture(scope='module')
def mot_root(mini_refer_kitti, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('mini_mot'))
    summary = convert_refer_kitti_to_mot(mini_refer_kitti, out)
    return out, summary


def _dataset(root: str, split: str, test_mode: bool):
    # training items are whole videos until a frame sampler picks the key frame ((video, frame)
    # indices, as TrackImgSampler gives, make it deterministic)
    pipeline = TEST_PIPELINE if test_mode else [dict(type='BaseFrameSample')] + TEST_PIPELINE
    return DATASETS.build(dict(
        type='MOTChallengeDataset', data_root=root, ann_file=f'annotations/{split}_cocoformat.json',
        data_prefix=dict(img_path=split), metainfo=dict(classes=('object', )),
        test_mode=test_mode, pipeline=pipeline))


def _tiny_model(num_ids: int, **tracker):
    """The small config's model, narrowed further to keep the tests fast."""
    cfg = Config.fromfile(TINY_CFG)
    cfg.model.backbone.channels = (4, 4, 8, 8, 16, 16)
    cfg.model.head.update(in_channels=8, feat_channels=16)
    cfg.model.head.num_ids = num_ids
    cfg.model.head.test_cfg = dict(topk=20, score_thr=0.01)
    cfg.model.tracker.update(tracker)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_converter_writes_what_mmdet_reads(mot_root, mini_refer_kitti):
    root, summary = mot_root
    with open(osp.join(root, 'annotations', 'train_cocoformat.json')) as f:
        coco = json.load(f)
    ids = sorted({a['instance_id'] for a in coco['annotations']})
    pairs = {(a['image_id'], a['mot_instance_id']) for a in coco['annotations']}
    assert ids == list(range(coco['num_instances']))
    assert coco['num_instances'] == summary['train']['num_instances']
    assert len(pairs) == len(coco['annotations'])
    assert {a['category_id'] for a in coco['annotations']} == {1}
    data = _dataset(root, 'test', test_mode=True)
    video = data.get_data_info(0)
    assert video['video_length'] == 24
    first = video['images'][0]
    # MOTChallengeMetric names a sequence by the third-last path component
    assert first['img_path'].split(os.sep)[-3] == '0005'
    assert osp.isfile(first['img_path'])
    assert all(inst['bbox_label'] == 0 for inst in first['instances'])


def test_configs_build_and_dcn_backbone_runs_on_cpu():
    for path in (TINY_CFG, MOT17_CFG):
        cfg = Config.fromfile(path)
        assert cfg.model.type == 'FairMOT' and cfg.model.tracker.type == 'JDETracker'
        assert cfg.test_evaluator.type == 'MOTChallengeMetric'
    mot17 = Config.fromfile(MOT17_CFG)
    assert mot17.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4)
    assert mot17.train_cfg.max_epochs == 30 and mot17.param_scheduler[0].milestones == [20]
    assert mot17.img_scale == (1088, 608)
    dla34 = MODELS.build(mot17.model.backbone)
    assert sum(p.numel() for p in dla34.parameters()) > 15e6
    from mmcv.ops import ModulatedDeformConv2dPack
    backbone = MODELS.build(dict(type='DLASeg', depth=None, levels=(1, 1, 1, 1, 1, 1),
                                 channels=(4, 4, 8, 8, 16, 16),
                                 conv_cfg=dict(type='DCNv2', deform_groups=1)))
    assert any(isinstance(m, ModulatedDeformConv2dPack) for m in backbone.modules())
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    out = backbone(x)[0]
    assert out.shape == (1, 8, 16, 16)
    out.mean().backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='divisible by 32'):
        backbone(torch.randn(1, 3, 60, 64))


def test_training_steps_lower_detection_and_identity_losses(mot_root):
    root, summary = mot_root
    data = _dataset(root, 'train', test_mode=False)
    batch = pseudo_collate([data[(v, f)] for v, f in ((0, 3), (1, 10), (2, 5), (3, 20))])
    model = _tiny_model(summary['train']['num_instances'])
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for _ in range(15):
        inputs = model.data_preprocessor(batch, True)
        losses = model(**inputs, mode='loss')
        optim.zero_grad()
        losses['loss'].backward()
        optim.step()
        history.append((float(losses['det_cost']), float(losses['id_ce'])))
    det0, id0 = map(lambda v: sum(v) / 3, zip(*history[:3]))
    det1, id1 = map(lambda v: sum(v) / 3, zip(*history[-3:]))
    assert det1 < 0.7 * det0, history
    assert id1 < 0.8 * id0, history


def test_predict_tracks_frame_by_frame(mot_root):
    root, summary = mot_root
    data = _dataset(root, 'test', test_mode=True)
    # an untrained heatmap sits at its prior sigmoid(-2.19) ~ 0.1: a low threshold gives tracks
    model = _tiny_model(summary['train']['num_instances'], conf_thr=0.05, init_track_thr=0.05)
    model.eval()
    seen = []
    with torch.no_grad():
        for f in range(3):  # what TrackImgSampler feeds at test time: one frame per batch
            inputs = model.data_preprocessor(pseudo_collate([data[(0, f)]]), False)
            out = model(**inputs, mode='predict')[0][0]
            tracks = out.pred_track_instances
            assert tracks.bboxes.shape == (len(tracks), 4)
            assert len(set(tracks.instances_id.tolist())) == len(tracks)
            assert out.pred_instances.embeds.shape[1] == 128
            seen.append(len(tracks))
    assert seen[0] > 0


def test_head_rejects_identities_beyond_num_ids():
    from mmengine.structures import InstanceData
    head = MODELS.build(dict(type='FairMOTHead', in_channels=4, num_ids=3, feat_channels=4,
                             embed_channels=8))
    gt = InstanceData(bboxes=torch.tensor([[0.0, 0.0, 16.0, 16.0]]), labels=torch.tensor([0]),
                      instances_ids=torch.tensor([5]))
    with pytest.raises(ValueError, match='num_ids=3'):
        head.loss(torch.randn(1, 4, 8, 8), [gt])
