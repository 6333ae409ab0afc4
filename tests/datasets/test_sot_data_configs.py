"""The data sections of the full-size SOT configs hold the official recipes' values.

Official values, from botaoye/OSTrack experiments/ostrack/vitb_{256,384}_mae_ce_32x4_ep300.yaml,
researchmm/Stark experiments/stark_st{1,2}/baseline.yaml, their lib/train/base_functions.py, and
visionml/pytracking ltr/train_settings/bbreg/atom.py.
"""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

import ikun_mm.datasets  # noqa: F401  (registers the datasets and transforms)
from ikun_mm.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

STARK_DATA = dict(mode='trident_pro', nt=2, gap=[200], template=(2.0, 128, (0., 0.)),
                  search=(5.0, 320, (4.5, 0.5)), flips=True, samples=60000)
OFFICIAL = {
    'ostrack/ostrack_vit-b16-ce-256_4xb32-300e_lasot-got10k.py':
    dict(mode='causal', nt=1, gap=200, pos_prob=1.0, template=(2.0, 128, (0., 0.)),
         search=(4.0, 256, (3., 0.25)), flips=True, samples=60000),
    'ostrack/ostrack_vit-b16-ce-384_4xb32-300e_lasot-got10k.py':
    dict(mode='causal', nt=1, gap=200, pos_prob=1.0, template=(2.0, 192, (0., 0.)),
         search=(5.0, 384, (4.5, 0.5)), flips=True, samples=60000),
    'stark/stark-st1_r50_8xb16-500e_lasot-got10k.py': dict(STARK_DATA, pos_prob=1.0),
    'stark/stark-st2_r50_8xb16-50e_lasot-got10k.py': dict(STARK_DATA, pos_prob=0.5),
    'atom/atom_r18_8xb8-50e_lasot-got10k.py':
    dict(mode='interval', nt=1, gap=50, pos_prob=1.0, template=(5.0, 288, (0., 0.)),
         search=(5.0, 288, (4.5, 0.5)), flips=False, samples=64000),
}


@pytest.mark.parametrize('name', sorted(OFFICIAL))
def test_full_size_configs_hold_the_official_data_values(name):
    want = OFFICIAL[name]
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    mixed = cfg.train_dataloader.dataset
    assert mixed.type == 'SOTMixedDataset'
    assert mixed.ratios == [1, 1, 1, 1] and mixed.samples_per_epoch == want['samples']
    sets = {d.type: d for d in mixed.datasets}
    assert set(sets) == {'LaSOTDataset', 'GOT10kDataset', 'COCOSeqDataset', 'TrackingNetDataset'}
    assert sets['GOT10kDataset'].seq_ids_file == 'got10k_vot_train_split.txt'
    atom = name.startswith('atom')
    assert sets['TrackingNetDataset'].chunks == list(range(4 if atom else 12))
    assert sets['COCOSeqDataset'].ann_file.endswith('train2014.json' if atom else 'train2017.json')
    for d in mixed.datasets:
        # a dataset without its own sampler / pipeline takes the mix's (SOTMixedDataset)
        d = Config(dict(dict(frame_sampler=mixed.get('frame_sampler'),
                             pipeline=mixed.get('pipeline')), **d))
        s = d.frame_sampler
        assert (s.mode, s.num_template_frames, s.num_search_frames, s.max_frame_gap,
                s.get('pos_prob', 1.0)) == (want['mode'], want['nt'], 1, want['gap'],
                                            want['pos_prob'])
        steps = {t.type: t for t in d.pipeline}
        crop = steps['SOTTemplateSearchCrop']
        assert (crop.template_factor, crop.template_size,
                tuple(crop.template_jitter)) == want['template']
        assert (crop.search_factor, crop.search_size, tuple(crop.search_jitter)) == want['search']
        # sample_target of OSTrack / STARK (black pad, mask checks) or of pytracking (replicate)
        assert crop.crop_mode == ('pytracking' if atom else 'ostrack')
        # STARK trains with the padding masks (template_att / search_att)
        assert steps['PackSOTInputs'].get('pack_masks', False) == name.startswith('stark')
        assert steps['SOTGrayscale'].prob == 0.05
        assert steps['SOTBrightnessJitter'].jitter == 0.2
        if want['flips']:
            assert steps['SOTJointFlip'].prob == 0.5 and steps['SOTCropFlip'].prob == 0.5
        else:
            assert 'SOTJointFlip' not in steps and 'SOTCropFlip' not in steps
        order = [t.type for t in d.pipeline]
        # joint transforms on the frames before the crop, per-crop ones after it
        crop_at = order.index('SOTTemplateSearchCrop')
        assert order.index('SOTGrayscale') < crop_at < order.index('SOTBrightnessJitter')


def _jpg(path, h=48, w=64):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8))


def _fake_roots(tmp_path, n=25):
    box = '10,8,20,16\n'
    lasot = tmp_path / 'lasot'
    for i in range(n):
        _jpg(lasot / 'cat' / 'cat-1' / 'img' / f'{i + 1:08d}.jpg')
    (lasot / 'cat' / 'cat-1' / 'groundtruth.txt').write_text(box * n)
    (lasot / 'training_set.txt').write_text('cat-1\n')
    got = tmp_path / 'got10k'
    for i in range(n):
        _jpg(got / 'train' / 'GOT-10k_Train_000001' / f'{i + 1:08d}.jpg')
    (got / 'train' / 'GOT-10k_Train_000001' / 'groundtruth.txt').write_text(box * n)
    (got / 'train' / 'list.txt').write_text('GOT-10k_Train_000001\n')
    (got / 'got10k_vot_train_split.txt').write_text('0\n')
    tnet = tmp_path / 'trackingnet'
    for c in range(12):
        (tnet / f'TRAIN_{c}' / 'anno').mkdir(parents=True)
    for i in range(n):
        _jpg(tnet / 'TRAIN_5' / 'frames' / 'vid' / f'{i}.jpg')
    (tnet / 'TRAIN_5' / 'anno' / 'vid.txt').write_text(box * n)
    coco = tmp_path / 'coco'
    _jpg(coco / 'images' / 'train2017' / '1.jpg')
    (coco / 'annotations').mkdir(parents=True)
    (coco / 'annotations' / 'instances_train2017.json').write_text(json.dumps(dict(
        images=[dict(id=1, file_name='1.jpg')],
        annotations=[dict(id=1, image_id=1, bbox=[5, 6, 30, 20], iscrowd=0)])))
    return dict(LaSOTDataset=lasot, GOT10kDataset=got, TrackingNetDataset=tnet,
                COCOSeqDataset=coco)


def test_ostrack_config_trains_on_the_four_official_datasets(tmp_path):
    roots = _fake_roots(tmp_path)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ostrack',
                                   'ostrack_vit-b16-ce-256_4xb32-300e_lasot-got10k.py'))
    for d in cfg.train_dataloader.dataset.datasets:
        d.data_root = str(roots[d.type])
    cfg.train_dataloader.dataset.samples_per_epoch = 12
    np.random.seed(0)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    videos = set()
    for i in range(12):
        item = ds[i]
        assert item['inputs']['template'].shape == (1, 3, 128, 128)
        assert item['inputs']['search'].shape == (1, 3, 256, 256)
        videos.add(item['data_samples'].metainfo['video'])
    assert len(videos) >= 3  # draws from several of the four datasets
