"""tools/track_detections.py and the detector-free path."""
import os
import os.path as osp
import runpy

import numpy as np
import pytest

from ikun_mm.datasets.refer_kitti_io import DETECTION_DIR, ReferKittiFormatError
from ikun_mm.registry import MODELS

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIG = osp.join(ROOT, 'configs', 'neuralsort', 'neuralsort_mini_refer_kitti.py')


def _tool():
    return runpy.run_path(osp.join(ROOT, 'tools', 'track_detections.py'), run_name='tool')


def test_track_detections_writes_mot_results(mini_refer_kitti, tmp_path):
    det = osp.join(mini_refer_kitti, DETECTION_DIR, '0005.txt')
    out = str(tmp_path / 'res' / '0005.txt')
    main = _tool()['main']
    main(['--config', CONFIG, '--det', det, '--img-size', '192', '64', '--out', out,
          '--no-progress', '--cfg-options', 'model.tracker.init_track_thr=0.5'])
    rows = np.loadtxt(out, delimiter=',', ndmin=2)
    assert rows.shape[1] == 10 and len(rows) > 20
    assert rows[:, 0].min() >= 1 and rows[:, 1].min() >= 1  # 1-based frames and ids
    assert (rows[:, 4] > 0).all() and (rows[:, 7:] == -1).all()
    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        main(['--config', CONFIG, '--det', det, '--img-size', '192', '64', '--out', out])
    main(['--config', CONFIG, '--det', det, '--img-size', '192', '64', '--out', out,
          '--overwrite', '--no-progress'])
    assert not [n for n in os.listdir(osp.dirname(out)) if n.endswith('.tmp')]


@pytest.mark.parametrize('line,problem', [
    ('1,-1,10,10,5\n', 'expected at least 7 fields'),
    ('1,-1,10,ten,5,5,0.9\n', 'non-numeric'),
    ('0,-1,10,10,5,5,0.9\n', '1-based'),
    ('1,-1,10,10,-5,5,0.9\n', 'positive size'),
])
def test_malformed_detection_file_names_file_and_line(tmp_path, line, problem):
    det = tmp_path / 'dets.txt'
    det.write_text('1,-1,10,10,5,5,0.9,0\n' + line)
    model = MODELS.build(dict(type='DetectionsFromFile', det_file=str(det)))
    with pytest.raises(ReferKittiFormatError, match=rf'{det}:2: .*{problem}'):
        model.detections(str(det))
    with pytest.raises(SystemExit, match=rf'{det}:2: .*{problem}'):
        _tool()['main'](['--config', CONFIG, '--det', str(det), '--img-size', '192', '64',
                         '--out', str(tmp_path / 'out.txt'), '--no-progress'])
    assert not (tmp_path / 'out.txt').exists()


def test_detections_from_file_feeds_frames(tmp_path):
    from mmdet.structures import DetDataSample
    det = tmp_path / 'v1.txt'
    det.write_text('1,-1,10,10,5,5,0.9,1\n3,-1,0,0,4,4,0.2\n3,-1,1,1,4,4,0.8,0\n')
    model = MODELS.build(dict(type='DetectionsFromFile', det_dir=str(tmp_path), score_thr=0.5,
                              default_label=7))
    s = DetDataSample(metainfo=dict(frame_id=2, video='v1'))
    inst = model.predict(None, [s])[0].pred_instances
    assert inst.bboxes.tolist() == [[1., 1., 5., 5.]] and inst.labels.tolist() == [0]
    s = DetDataSample(metainfo=dict(frame_id=1, img_path=str(tmp_path / 'v1' / '000001.png')))
    assert len(model.predict(None, [s])[0].pred_instances) == 0
    assert model.num_frames(str(det)) == 3
    with pytest.raises(ValueError, match='exactly one of det_file and det_dir'):
        MODELS.build(dict(type='DetectionsFromFile'))
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        MODELS.build(dict(type='DetectionsFromFile', det_file=str(tmp_path / 'nope.txt'))) \
            .detections(str(tmp_path / 'nope.txt'))
