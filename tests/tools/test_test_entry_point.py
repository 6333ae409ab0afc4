"""`tools/test.py CONFIG CHECKPOINT` on the referring config: the whole chain (cached detections
-> NeuralSORT -> iKUN -> TrackEval metric), TrackEval files and videos in the work dir, and
checkpoints that do not fit are errors."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import torch
from mmengine.config import Config

from ikun_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RMOT = osp.join(ROOT, 'configs', 'rmot', 'ikun_cascade_neuralsort_mini_refer_kitti.py')
TINY = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='2')
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=900)


def test_referring_test_chain(tmp_path, mini_refer_kitti):
    # the RMOT config with the tiny iKUN as referrer, and a checkpoint of that iKUN
    cfg = Config.fromfile(RMOT)
    tiny = Config.fromfile(TINY).model
    tiny['calibration'] = cfg.model.referrer.calibration
    cfg.model.referrer = tiny
    cfg_file = str(tmp_path / 'rmot_tiny.py')
    cfg.dump(cfg_file)
    torch.manual_seed(0)
    referrer = MODELS.build(Config.fromfile(TINY).model)
    ckpt = str(tmp_path / 'ikun.pth')
    torch.save(dict(state_dict=referrer.state_dict()), ckpt)

    work = str(tmp_path / 'work')
    proc = _run([cfg_file, ckpt, '--work-dir', work, '--show-dir', 'vis',
                 '--cfg-options', f'data_root={mini_refer_kitti}'], cwd=str(tmp_path))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'HOTA' in log and 'refer/HOTA' in log
    trackeval = [d for d in os.listdir(work) if d.startswith('trackeval_')]
    assert len(trackeval) == 1
    n_seqs = len(os.listdir(osp.join(mini_refer_kitti, 'expression', '0005')))
    assert len(os.listdir(osp.join(work, trackeval[0], 'gt'))) == n_seqs  # one per expression
    videos = [osp.join(d, f) for d, _, fs in os.walk(work) for f in fs if f.endswith('.mp4')]
    assert [osp.basename(v) for v in videos] == ['0005.mp4']
    cap = cv2.VideoCapture(videos[0])
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 24

    # a checkpoint of another architecture is an error, not a warning
    other = Config.fromfile(TINY).model
    other.visual_encoder.local_size = 64
    torch.save(dict(state_dict=MODELS.build(other).state_dict()), str(tmp_path / 'other.pth'))
    bad = _run([cfg_file, str(tmp_path / 'other.pth'), '--work-dir', work, '--cfg-options',
                f'data_root={mini_refer_kitti}'], cwd=str(tmp_path))
    assert bad.returncode != 0 and 'size mismatch' in bad.stderr
    missing = _run([cfg_file, str(tmp_path / 'nope.pth')], cwd=str(tmp_path))
    assert missing.returncode != 0 and 'nope.pth does not exist' in missing.stderr
