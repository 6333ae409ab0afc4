"""FairMOT end to end on the generated mini Refer-KITTI: configs, data, learning, tracking."""
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

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


def test_size_head_is_raw_and_init_is_fairmots():
    # FairMOT (src/lib/models/networks/pose_dla_dcn.py DLASeg, src/lib/models/decode.py
    # mot_decode): the 'wh' head (4 channels with ltrb=True) has no output activation; hm's last
    # bias is -2.19, the other heads only get zero biases (fill_fc_weights).
    head = MODELS.build(dict(type='FairMOTHead', in_channels=4, num_ids=3, feat_channels=8,
                             embed_channels=8))
    head.init_weights()
    assert float(head.heatmap[-1].bias.detach()[0]) == pytest.approx(-2.19)
    for branch in (head.ltrb, head.offset, head.embedding):
        assert all(float(m.bias.detach().abs().max()) == 0 for m in branch
                   if isinstance(m, torch.nn.Conv2d))
    # PyTorch's default conv init (kaiming_uniform, a=sqrt(5)): bound 1 / sqrt(fan_in) = 1 / 6
    w = head.ltrb[0].weight.detach()
    assert float(w.abs().max()) <= 1 / 6 and float(w.std()) > 0.05
    with torch.no_grad():
        head.ltrb[-1].weight.zero_()
        head.ltrb[-1].bias.fill_(-1.0)
    _, ltrb, _, _ = head(torch.randn(1, 4, 8, 8))
    torch.testing.assert_close(ltrb, torch.full((1, 4, 8, 8), -1.0))


def _cocovid(path, videos):
    """A tiny mot2coco-style json: ``videos`` maps a folder name to rows of
    (frame, mot_id, instance_id, category_id, mot_conf)."""
    out = dict(categories=[dict(id=1, name='pedestrian'), dict(id=7, name='static_person')],
               videos=[], images=[], annotations=[])
    img_id = ann_id = 1
    for vid, (name, rows) in enumerate(videos.items(), 1):
        out['videos'].append(dict(id=vid, name=name))
        for frame in sorted({r[0] for r in rows}):
            out['images'].append(dict(id=img_id, video_id=vid, frame_id=frame - 1,
                                      mot_frame_id=frame, width=64, height=64,
                                      file_name=f'{name}/img1/{frame:06d}.jpg'))
            for f, mot_id, inst, cat, conf in rows:
                if f == frame:
                    out['annotations'].append(dict(
                        id=ann_id, image_id=img_id, category_id=cat, bbox=[4, 4, 10, 20],
                        area=200, iscrowd=False, visibility=1.0, instance_id=inst,
                        mot_instance_id=mot_id, mot_conf=conf))
                    ann_id += 1
            img_id += 1
    with open(path, 'w') as f:
        json.dump(out, f)


def test_mot17_config_trains_on_one_detector_copy(tmp_path):
    # mot2coco numbers each copy's identities apart: FRCNN 0..2, SDP 3..5 (instance 5 has
    # mot_conf 0, instance 4 is a static person), so one copy keeps 3 -> 0 and 4 (ped.) -> ...
    rows = [(1, 1, 0, 1, 1.0), (1, 2, 1, 1, 1.0), (2, 2, 1, 1, 1.0), (2, 3, 2, 1, 1.0)]
    sdp = [(1, 1, 10, 1, 1.0), (1, 2, 11, 7, 1.0), (2, 3, 12, 1, 0.0), (2, 4, 13, 1, 1.0)]
    _cocovid(tmp_path / 'half-train.json', {'MOT17-02-FRCNN': rows, 'MOT17-02-SDP': sdp})
    from ikun_mm.datasets.mot_challenge_one_copy import MOTChallengeOneCopyDataset  # noqa: F401
    cfg = Config.fromfile(MOT17_CFG)
    assert cfg.num_ids == 546 and cfg.model.head.num_ids == 546
    assert cfg.train_dataloader.dataset.video_name_contains == 'SDP'
    assert cfg.val_dataloader.dataset.video_name_contains == 'SDP'
    assert cfg.train_dataloader.dataset.max_ids == cfg.num_ids
    assert cfg.model.init_from == dict(checkpoint='checkpoints/ctdet_coco_dla_2x.pth',
                                       source='centernet_coco')
    crop = cfg.train_pipeline[1]['transforms'][3]
    assert crop['type'] == 'RandomCrop' and crop['bbox_clip_border'] is False
    train = dict(cfg.train_dataloader.dataset, data_root=str(tmp_path), ann_file='half-train.json',
                 pipeline=[])
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        data = DATASETS.build(train)
        with pytest.raises(ValueError, match='max_ids=1'):
            DATASETS.build(dict(train, max_ids=1))
        test = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=str(tmp_path),
                                   ann_file='half-train.json', pipeline=[]))
    assert len(data) == 1 and data.num_ids == 2 and data.metainfo['num_ids'] == 2
    frames = data.get_data_info(0)['images']
    assert [[i['instance_id'] for i in f['instances']] for f in frames] == [[0], [1]]
    # evaluation keeps every class and the ignored boxes: TrackEval's MOT preprocessing uses them
    frames = test.get_data_info(0)['images']
    assert [[i['instance_id'] for i in f['instances']] for f in frames] == [[10, 11], [12, 13]]
