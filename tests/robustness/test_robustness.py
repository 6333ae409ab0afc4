"""Bad input and faults (issue 14, part): every case builds its own small bad input and asserts
the error message or the correct result.

* nothing the user made is replaced without ``--overwrite`` (test.py --out, train.py work dir,
  fit_calibration.py --out, the data generator);
* a NaN loss stops training with an error, and no checkpoint of it is saved;
* unreadable checkpoints (truncated, random bytes) are errors naming the file;
* the demo: natural frame order, ``--max-frames`` checked, expressions with ``/``, 1-based ids;
* a misspelled tracker setting is an error naming the key, unless it came from a tracker swap.

The tools are called in-process through their ``main(argv)`` (this checkout's code); each case
stops before any long computation.
"""
import importlib.util
import os
import os.path as osp
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.utils import ROOT, load_tool

from tests.robustness.conftest import RMOT, TINY


def _demo():
    spec = importlib.util.spec_from_file_location('_demo_rmot', osp.join(ROOT, 'demo',
                                                                       'rmot_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------
# 1. nothing the user made is replaced without --overwrite
# --------------------------------------------------------------------------------------------
def _test_out_exists(tmp_path, ckpt, root):
    out = tmp_path / 'results.pkl'
    out.write_bytes(b'my earlier results')
    argv = [TINY, ckpt, '--work-dir', str(tmp_path / 'w'), '--out', str(out),
            '--cfg-options', f'data_root={root}']
    with pytest.raises(SystemExit, match=r'results\.pkl exists; pass --overwrite'):
        load_tool('test.py').main(argv)
    assert out.read_bytes() == b'my earlier results'
    # with --overwrite the config gets the dump (the run itself is not needed here)
    cfg = load_tool('test.py').build_config(load_tool('test.py').parse_args(argv +
                                                                              ['--overwrite']))
    assert cfg.test_evaluator[-1] == dict(type='DumpResults', out_file_path=str(out))


def _train_into_earlier_run(tmp_path, ckpt, root):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_3.pth').write_bytes(b'earlier checkpoint')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_3.pth'))
    argv = [TINY, '--work-dir', str(work), '--cfg-options', f'data_root={root}']
    with pytest.raises(SystemExit) as exc:
        load_tool('train.py').main(argv)
    msg = str(exc.value)
    assert str(work) in msg and '--resume' in msg and '--overwrite' in msg and \
        'another' in msg, msg
    assert (work / 'epoch_3.pth').read_bytes() == b'earlier checkpoint'
    assert sorted(os.listdir(work)) == ['epoch_3.pth', 'last_checkpoint']  # nothing written


def _train_overwrite_deletes_earlier_checkpoints(tmp_path, ckpt, root):
    tool = load_tool('train.py')
    work = tmp_path / 'work'
    log_dir = work / '20240101_120000'
    log_dir.mkdir(parents=True)
    (log_dir / '20240101_120000.log').write_text('earlier log')
    for name in ['epoch_3.pth', 'iter_40.pth', 'best_HOTA_epoch_2.pth']:
        (work / name).write_bytes(b'earlier checkpoint')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_3.pth'))
    (work / 'init.pth').write_bytes(b'the user put this here; no run writes it')
    tool.check_work_dir(str(work), resume='auto', overwrite=False)  # --resume: allowed, kept
    assert (work / 'epoch_3.pth').exists()
    tool.check_work_dir(str(work), resume=None, overwrite=True)
    # logs and the user's own file stay, the run's checkpoints are gone
    assert sorted(os.listdir(work)) == ['20240101_120000', 'init.pth']
    tool.check_work_dir(str(work), resume=None, overwrite=False)  # not an earlier run any more


def _train_overwrite_trains_again(tmp_path, ckpt, root):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_2.pth').write_bytes(b'earlier checkpoint')  # of a longer earlier run
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    load_tool('train.py').main([TINY, '--work-dir', str(work), '--overwrite', '--cfg-options',
                                f'data_root={root}', 'train_cfg.max_epochs=1',
                                'train_cfg.val_interval=100'])
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == ['epoch_1.pth']
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')


def _train_resume_and_overwrite(tmp_path, ckpt, root):
    with pytest.raises(SystemExit):
        load_tool('train.py').parse_args([TINY, '--resume', '--overwrite'])


def _fit_calibration_out_exists(tmp_path, ckpt, root):
    for out in [tmp_path / 'mine.pth', tmp_path / 'ikun_calibrated.pth']:  # given / default
        own = tmp_path / 'ikun.pth'
        own.write_bytes(open(ckpt, 'rb').read())
        out.write_bytes(b'my earlier calibration')
        argv = [TINY, str(own), '--split', '0003', '--cfg-options', f'data_root={root}']
        if out.name == 'mine.pth':
            argv += ['--out', str(out)]
        with pytest.raises(SystemExit, match=f'{out.name} exists; pass --overwrite'):
            load_tool('analysis', 'fit_calibration.py').main(argv)
        assert out.read_bytes() == b'my earlier calibration'


GEN_ARGS = ['--videos', '2', '--frames', '8', '--size', '64x32', '--seed', '0']


def _gen(out, *extra):
    return load_tool('data', 'generate_refer_kitti.py').main(['--out', str(out), *GEN_ARGS,
                                                              *extra])


def _snapshot(root):
    return {osp.relpath(osp.join(d, f), root): open(osp.join(d, f), 'rb').read()
            for d, _, fs in os.walk(root) for f in fs}


def _no_temp_left(parent):
    return [n for n in os.listdir(parent) if '.partial-' in n or n.endswith('-old')] == []


def _generator_rerun_same_tree(tmp_path, ckpt, root):
    out = tmp_path / 'data'
    _gen(out)
    before = _snapshot(out)
    _gen(out)  # same arguments: left as it is, exit 0
    assert _snapshot(out) == before and _no_temp_left(tmp_path)


def _generator_refuses_a_different_tree(tmp_path, ckpt, root):
    out = tmp_path / 'data'
    _gen(out)
    frame = out / 'KITTI/training/image_02/0000/000003.png'
    frame.write_bytes(b'the user edited this')
    before = _snapshot(out)
    with pytest.raises(SystemExit, match=r'data already holds a different tree.*1 files with '
                       r'other contents.*--overwrite'):
        _gen(out)
    with pytest.raises(SystemExit, match='different tree.*files the new tree does not have'):
        load_tool('data', 'generate_refer_kitti.py').main(
            ['--out', str(out), '--videos', '1', '--frames', '8', '--size', '64x32'])
    assert _snapshot(out) == before and _no_temp_left(tmp_path)


def _generator_overwrite_leaves_no_stale_frames(tmp_path, ckpt, root):
    out = tmp_path / 'data'
    load_tool('data', 'generate_refer_kitti.py').main(
        ['--out', str(out), '--videos', '2', '--frames', '12', '--size', '64x32'])
    _gen(out, '--overwrite')  # 8 frames now
    frames = sorted(os.listdir(out / 'KITTI/training/image_02/0000'))
    assert frames == [f'{i:06d}.png' for i in range(8)]
    fresh = tmp_path / 'fresh'
    _gen(fresh)
    assert _snapshot(out) == _snapshot(fresh) and _no_temp_left(tmp_path)


def _generator_failure_keeps_the_tree(tmp_path, ckpt, root):
    import ikun_mm.datasets.synthetic as synthetic
    out = tmp_path / 'data'
    _gen(out)
    before = _snapshot(out)
    real = synthetic.generate_mini_refer_kitti

    def half_then_crash(target, **kwargs):
        real(target, **dict(kwargs, videos=1))
        raise RuntimeError('disk full (simulated)')

    synthetic.generate_mini_refer_kitti = half_then_crash
    try:
        with pytest.raises(RuntimeError, match='simulated'):
            _gen(out, '--overwrite')
        with pytest.raises(SystemExit, match='frames must be >= 8'):  # bad argument
            load_tool('data', 'generate_refer_kitti.py').main(['--out', str(out), '--frames',
                                                              '4', '--overwrite'])
    finally:
        synthetic.generate_mini_refer_kitti = real
    assert _snapshot(out) == before and _no_temp_left(tmp_path)


# --------------------------------------------------------------------------------------------
# 3. unreadable checkpoints name the file
# --------------------------------------------------------------------------------------------
def _bad_checkpoint(tmp_path, ckpt, kind):
    path = tmp_path / f'{kind}.pth'
    if kind == 'truncated':
        data = open(ckpt, 'rb').read()
        path.write_bytes(data[:len(data) // 2])
    else:
        path.write_bytes(np.random.RandomState(0).bytes(4096))
    return str(path)


def _read_via_helper(path):
    from ikun_mm.utils.checkpoint import read_checkpoint
    read_checkpoint(path)


def _read_via_mmengine(path):  # tools/test.py, --resume, load_from
    from mmengine.runner.checkpoint import load_checkpoint
    load_checkpoint(torch.nn.Linear(2, 2), path, map_location='cpu')


def _read_via_referrer(path):  # ReferringTracker.load_referrer_checkpoint (the demo)
    from ikun_mm.models.referring.referring_tracker import ReferringTracker
    ReferringTracker.load_referrer_checkpoint(None, path)  # fails before it touches the model


def _read_via_encoders(path):  # ``pretrained`` files of the encoders
    from ikun_mm.models.referring.encoders import read_state_dict
    read_state_dict(path)


def _checkpoint_case(kind, reader):
    def case(tmp_path, ckpt, root):
        from ikun_mm.utils.checkpoint import UnreadableCheckpointError
        path = _bad_checkpoint(tmp_path, ckpt, kind)
        with pytest.raises(UnreadableCheckpointError) as exc:
            reader(path)
        assert f'{path}: not a readable checkpoint' in str(exc.value)
        assert 'truncated' in str(exc.value)  # says what may be wrong
    return case


def _test_tool_unreadable_checkpoint(tmp_path, ckpt, root):
    path = _bad_checkpoint(tmp_path, ckpt, 'truncated')
    with pytest.raises(SystemExit, match='truncated.pth: not a readable checkpoint'):
        load_tool('test.py').main([TINY, path, '--work-dir', str(tmp_path / 'w'),
                                   '--cfg-options', f'data_root={root}'])


def _fit_calibration_unreadable_checkpoint(tmp_path, ckpt, root):
    path = _bad_checkpoint(tmp_path, ckpt, 'random')
    with pytest.raises(SystemExit, match='random.pth: not a readable checkpoint'):
        load_tool('analysis', 'fit_calibration.py').main(
            [TINY, path, '--split', '0003', '--cfg-options', f'data_root={root}'])
    assert not osp.exists(tmp_path / 'random_calibrated.pth')


def _demo_unreadable_checkpoint(tmp_path, ckpt, root, rmot_tiny_cfg):
    path = _bad_checkpoint(tmp_path, ckpt, 'truncated')
    frames = osp.join(root, 'KITTI/training/image_02/0005')
    with pytest.raises(SystemExit, match='truncated.pth: not a readable checkpoint'):
        _demo().main([frames, 'cars', '--config', rmot_tiny_cfg, '--checkpoint', path,
                      '--out', str(tmp_path / 'demo.mp4')])
    assert os.listdir(tmp_path) == ['truncated.pth']  # nothing written


# --------------------------------------------------------------------------------------------
# 4. the demo
# --------------------------------------------------------------------------------------------
def _demo_natural_frame_order(tmp_path, ckpt, root):
    folder = tmp_path / 'frames'
    folder.mkdir()
    for i in [3, 12, 1, 10, 2, 11, 4, 5, 6, 7, 8, 9]:
        cv2.imwrite(str(folder / f'{i}.png'), np.zeros((32, 64, 3), np.uint8))
    frames = _demo().list_frames(str(folder), str(tmp_path))
    assert [osp.basename(f) for f in frames] == [f'{i}.png' for i in range(1, 13)]
    frames = _demo().list_frames(str(folder), str(tmp_path), max_frames=10)
    assert osp.basename(frames[-1]) == '10.png'


def _demo_max_frames(value):
    def case(tmp_path, ckpt, root, capsys):
        with pytest.raises(SystemExit) as exc:
            _demo().parse_args(['frames', 'cars', '--config', 'c.py', '--checkpoint', 'x.pth',
                                '--out', 'o.mp4', '--max-frames', value])
        assert exc.value.code == 2  # argparse's usage error
        assert '--max-frames' in capsys.readouterr().err
    return case


def _demo_expression_with_slash_and_one_based_ids(tmp_path, ckpt, root, monkeypatch):
    from ikun_mm.models.referring.referring_tracker import ReferringTracker
    frames = osp.join(root, 'KITTI/training/image_02/0005')
    expressions = ['cars/trucks', 'cars trucks', 'red cars']

    def fake_refer(self, img_paths, exprs, **kwargs):  # track 0 referred in frames 0 and 1
        rows = np.array([[0, 0, 1, 2, 11, 22, 0.5], [1, 0, 2, 3, 12, 23, 0.6]], np.float64)
        return {e: rows.copy() if i == 0 else np.zeros((0, 7)) for i, e in enumerate(exprs)}

    monkeypatch.setattr(ReferringTracker, 'refer_video', fake_refer)
    cfg = Config.fromfile(RMOT)
    cfg.model.referrer = Config.fromfile(TINY).model
    cfg.model.detector.det_dir = osp.join(root, 'KITTI/detections/image_02')
    cfg_file = str(tmp_path / 'rmot_tiny.py')
    cfg.dump(cfg_file)
    out = tmp_path / 'demo' / 'clip.mp4'
    assert _demo().main([frames, *expressions, '--config', cfg_file, '--checkpoint', ckpt,
                         '--out', str(out), '--max-frames', '3', '--fps', '5']) == 0
    written = sorted(os.listdir(out.parent))
    assert written == ['clip.mp4', 'clip_cars-trucks.txt', 'clip_cars-trucks_2.txt',
                       'clip_red-cars.txt'], written
    lines = (out.parent / 'clip_cars-trucks.txt').read_text().splitlines()
    assert [line.split(',')[:2] for line in lines] == [['1', '1'], ['2', '1']]  # 1-based


# --------------------------------------------------------------------------------------------
# 5. a misspelled tracker setting
# --------------------------------------------------------------------------------------------
def _tracker_typo(tmp_path, ckpt, root, rmot_tiny_cfg):
    with pytest.raises(ValueError, match=r"takes no setting 'obj_scor_thr' \(did you mean "
                       r"'obj_score_thr'\?\)"):
        load_tool('test.py').main([rmot_tiny_cfg, ckpt, '--work-dir', str(tmp_path / 'w'),
                                   '--cfg-options', f'data_root={root}',
                                   'model.tracker.obj_scor_thr=0.99'])


def _tracker_swap_keeps_log_line(tmp_path, ckpt, root, rmot_tiny_cfg):
    bad = _bad_checkpoint(tmp_path, ckpt, 'random')
    # the model builds (the swap drops NeuralSORT's own settings), then the checkpoint is read
    with pytest.raises(SystemExit, match='random.pth: not a readable checkpoint'):
        load_tool('test.py').main([rmot_tiny_cfg, bad, '--work-dir', str(tmp_path / 'w'),
                                   '--cfg-options', f'data_root={root}',
                                   'model.tracker.type=OCSORTTracker',
                                   # a logger of its own (the log file), whatever ran before
                                   f'experiment_name=swap_{uuid.uuid4().hex[:8]}'])
    import glob
    logs = glob.glob(str(tmp_path / 'w' / '*' / '*.log'))  # the run's log file
    assert len(logs) == 1
    log = open(logs[0]).read()
    assert "OCSORTTracker takes no ['cascade_depth'" in log and 'are ignored' in log


def _tracker_swap_cases(tmp_path, ckpt, root):
    from ikun_mm.models.referring.referring_tracker import swappable_tracker_cfg
    file_cfg = Config.fromfile(osp.join(ROOT, 'configs', 'rmot',
                                        'ikun_cascade_tracks-from-file_refer_kitti.py'))
    swapped = swappable_tracker_cfg(dict(file_cfg.model.tracker, type='OCSORTTracker'))
    assert 'track_dir' not in swapped  # TracksFromFile's settings: a swap, dropped
    neuralsort = dict(Config.fromfile(RMOT).model.tracker)
    with pytest.raises(ValueError, match="takes no setting 'init_trak_thr'"):  # swap + typo
        swappable_tracker_cfg(dict(neuralsort, type='ByteTracker', init_trak_thr=0.5))


# --------------------------------------------------------------------------------------------
# 2. a NaN loss stops training (kept last: it builds a Runner with a toy model)
# --------------------------------------------------------------------------------------------
def _nan_training(nan_from_iter):
    def case(tmp_path, ckpt, root):
        from mmengine.model import BaseModel
        from mmengine.runner import Runner

        from ikun_mm.registry import MODELS

        @MODELS.register_module(name='_NaNAfterModel', force=True)
        class NaNAfter(BaseModel):
            def __init__(self, start):
                super().__init__()
                self.start, self.calls = start, 0
                self.w = torch.nn.Parameter(torch.ones(1))

            def forward(self, inputs, data_samples=None, mode='loss'):
                self.calls += 1
                loss = (self.w * inputs.float()).mean()
                if self.calls >= self.start:
                    loss = loss * float('nan')
                return dict(loss=loss)

        base = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'default_runtime.py'))
        assert base.default_hooks.finite_loss == dict(type='FiniteLossHook')
        cfg = Config(dict(
            base.to_dict(), work_dir=str(tmp_path / 'work'),
            model=dict(type='_NaNAfterModel', start=nan_from_iter),
            train_dataloader=dict(dataset=[dict(inputs=torch.ones(1))] * 4, batch_size=2,
                                  sampler=dict(type='DefaultSampler', shuffle=False),
                                  collate_fn=dict(type='default_collate')),
            train_cfg=dict(by_epoch=True, max_epochs=3),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1))))
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
        runner = Runner.from_cfg(cfg)
        with pytest.raises(FloatingPointError, match=r'non-finite training loss at epoch '
                           rf'{(nan_from_iter + 1) // 2}, iteration {nan_from_iter} '
                           r'\(loss=nan\)'):
            runner.train()
        saved = sorted(n for n in os.listdir(tmp_path / 'work') if n.endswith('.pth'))
        assert saved == [f'epoch_{e}.pth' for e in range(1, (nan_from_iter + 1) // 2)]
        for name in saved:  # the saved ones are finite
            state = torch.load(tmp_path / 'work' / name, weights_only=False)['state_dict']
            assert all(torch.isfinite(v).all() for v in state.values())
    return case


CASES = {
    # 1. --overwrite
    'test_out_pkl_exists': _test_out_exists,
    'train_into_work_dir_with_checkpoints': _train_into_earlier_run,
    'train_overwrite_deletes_checkpoints_only': _train_overwrite_deletes_earlier_checkpoints,
    'train_overwrite_trains_again': _train_overwrite_trains_again,
    'train_resume_with_overwrite': _train_resume_and_overwrite,
    'fit_calibration_out_exists': _fit_calibration_out_exists,
    'generator_rerun_same_tree': _generator_rerun_same_tree,
    'generator_refuses_different_tree': _generator_refuses_a_different_tree,
    'generator_overwrite_no_stale_frames': _generator_overwrite_leaves_no_stale_frames,
    'generator_failure_keeps_tree': _generator_failure_keeps_the_tree,
    # 3. checkpoints
    **{f'checkpoint_{kind}_{name}': _checkpoint_case(kind, reader)
       for kind in ('truncated', 'random')
       for name, reader in [('helper', _read_via_helper), ('mmengine', _read_via_mmengine),
                            ('referrer', _read_via_referrer), ('encoders', _read_via_encoders)]},
    'checkpoint_truncated_test_tool': _test_tool_unreadable_checkpoint,
    'checkpoint_random_fit_calibration': _fit_calibration_unreadable_checkpoint,
    'checkpoint_truncated_demo': _demo_unreadable_checkpoint,
    # 4. demo
    'demo_natural_frame_order': _demo_natural_frame_order,
    'demo_max_frames_0': _demo_max_frames('0'),
    'demo_max_frames_negative': _demo_max_frames('-5'),
    'demo_max_frames_not_a_number': _demo_max_frames('ten'),
    'demo_slash_expression_one_based_ids': _demo_expression_with_slash_and_one_based_ids,
    # 5. tracker settings
    'tracker_typo_is_an_error': _tracker_typo,
    'tracker_swap_keeps_log_line': _tracker_swap_keeps_log_line,
    'tracker_swap_from_file_and_swap_with_typo': _tracker_swap_cases,
    # 2. NaN loss
    'nan_loss_from_the_start': _nan_training(1),
    'nan_loss_in_epoch_2': _nan_training(4),
}


@pytest.mark.parametrize('name', list(CASES))
def test_case(name, tmp_path, ikun_ckpt, mini_refer_kitti, request):
    case = CASES[name]
    import inspect
    extra = {p: request.getfixturevalue(p) for p in inspect.signature(case).parameters
             if p not in ('tmp_path', 'ckpt', 'root')}
    case(tmp_path, ikun_ckpt, mini_refer_kitti, **extra)
