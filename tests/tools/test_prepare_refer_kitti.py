"""tools/data/prepare_refer_kitti.py: checks a Refer-KITTI tree, reports broken videos per file,
writes GT templates (both conventions), the per-object JSON, split and seqmaps."""
import json
import os
import os.path as osp
import shutil

import numpy as np

from tests.utils import load_tool


def _tool():
    return load_tool('data', 'prepare_refer_kitti.py')


def test_prepare_writes_templates_and_reports_broken_videos(tmp_path, mini_refer_kitti, capsys):
    root = str(tmp_path / 'rk')
    shutil.copytree(mini_refer_kitti, root, ignore=shutil.ignore_patterns('gt_template',
                                                                          'split.json'))
    bad = osp.join(root, 'KITTI/labels_with_ids/image_02/0002/000004.txt')
    with open(bad, 'a') as f:
        f.write('0 7 0.1 0.1\n')
    out = str(tmp_path / 'out')
    code = _tool().main([root, '--out', out, '--train', '0000', '0001', '0002', '--test', '0005'])
    err = capsys.readouterr().err
    assert code == 1 and '000004.txt' in err and 'expected 6 fields' in err
    # the other videos are prepared; the broken one is skipped
    assert sorted(os.listdir(osp.join(out, 'gt_template'))) == ['0000', '0001', '0003', '0004',
                                                                 '0005']
    # corrected templates equal the generator's (written through the same reader)
    name = sorted(os.listdir(osp.join(out, 'gt_template', '0005')))[0]
    ours = np.loadtxt(osp.join(out, 'gt_template', '0005', name, 'gt.txt'), delimiter=',')
    generated = np.loadtxt(osp.join(mini_refer_kitti, 'gt_template', '0005', name, 'gt.txt'),
                           delimiter=',')
    np.testing.assert_allclose(ours, generated)
    objects = json.load(open(osp.join(out, 'refer_kitti_objects.json')))
    some_id = next(iter(objects['0005']))
    frames = objects['0005'][some_id]['frames']
    assert all(len(v['bbox']) == 4 for v in frames.values())
    assert any('cars' in v['expressions'] or 'pedestrians' in v['expressions']
               for v in frames.values())
    assert json.load(open(osp.join(out, 'split.json')))['test'] == ['0005']
    seqmap = open(osp.join(out, 'seqmap_test.txt')).read().split()
    assert seqmap[0] == 'name' and all(s.startswith('0005+') for s in seqmap[1:])


def test_legacy_templates_are_one_image_ahead(tmp_path, mini_refer_kitti):
    out = str(tmp_path / 'legacy')
    assert _tool().main([mini_refer_kitti, '--out', out, '--convention', 'legacy']) == 0
    name = 'cars'
    legacy = np.loadtxt(osp.join(out, 'gt_template', '0005', name, 'gt.txt'), delimiter=',')
    corrected = np.loadtxt(osp.join(mini_refer_kitti, 'gt_template', '0005', name, 'gt.txt'),
                           delimiter=',')
    index = {(int(r[0]), int(r[1])): r[2:6] for r in corrected}
    shifted = [np.allclose(r[2:6], index[(int(r[0]) + 1, int(r[1]))])
               for r in legacy if (int(r[0]) + 1, int(r[1])) in index]
    assert shifted and all(shifted)
