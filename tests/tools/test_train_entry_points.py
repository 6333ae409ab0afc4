"""The training entry points users run: `mim train ikun_mm <config>` from any directory,
tools/train.py with --launcher none and --resume, and tools/dist_train.sh with 2 CPU processes
(gloo). They use the tiny iKUN config on the generated mini Refer-KITTI."""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = 'ikun_tiny_mini_refer_kitti.py'
BIN = osp.dirname(sys.executable)


def _env():
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    return env


def _run(cmd, cwd, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc


def _checkpoints(work_dir):
    return sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, '*.pth')))


def _last_loss(work_dir):
    import json
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert logs, f'no scalars.json under {work_dir}'
    losses = [json.loads(line)['loss'] for line in open(logs[0]) if '"loss"' in line]
    assert losses and all(map(lambda v: v == v, losses))  # logged and finite
    return losses


def test_mim_train_from_another_directory(tmp_path, mini_refer_kitti):
    """mim finds the config and tools/train.py inside the installed package (non-editable)."""
    work = tmp_path / 'mim_work'
    _run([osp.join(BIN, 'mim'), 'train', 'ikun_mm', TINY, '--work-dir', str(work),
          '--cfg-options', f'data_root={mini_refer_kitti}', 'train_cfg.max_epochs=1'],
         cwd=str(tmp_path))
    assert 'epoch_1.pth' in _checkpoints(work)
    _last_loss(str(work))


def test_train_launcher_none_then_resume(tmp_path, mini_refer_kitti):
    work = str(tmp_path / 'work')
    config = osp.join(ROOT, 'configs', 'ikun', TINY)
    common = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', work,
              '--launcher', 'none']
    _run(common + ['--cfg-options', f'data_root={mini_refer_kitti}', 'train_cfg.max_epochs=1'],
         cwd=str(tmp_path))
    assert _checkpoints(work) == ['epoch_1.pth']
    proc = _run(common + ['--resume', '--cfg-options', f'data_root={mini_refer_kitti}',
                          'train_cfg.max_epochs=2'], cwd=str(tmp_path))
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr
    assert 'epoch_2.pth' in _checkpoints(work)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) fallback')
def test_dist_train_two_cpu_processes(tmp_path, mini_refer_kitti):
    work = str(tmp_path / 'dist_work')
    env_port = str(_free_port())
    os.environ['PORT'] = env_port
    try:
        proc = _run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'),
                     osp.join(ROOT, 'configs', 'ikun', TINY), '2', '--work-dir', work,
                     '--cfg-options', f'data_root={mini_refer_kitti}', 'train_cfg.max_epochs=1'],
                    cwd=str(tmp_path))
    finally:
        os.environ.pop('PORT', None)
    assert 'epoch_1.pth' in _checkpoints(work)
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # mmengine's words
