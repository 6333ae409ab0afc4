"""Shared config handling of tools/train.py and tools/test.py."""
import pytest

from ikun_mm.utils import load_runner_config


def test_data_root_option_reaches_every_use(tmp_path):
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text("data_root = 'data/x'\n"
                        "train_dataloader = dict(dataset=dict(data_root=data_root, "
                        "ann=data_root + '/a.json', nested=[dict(root=data_root)]))\n"
                        "other = 'data/xy'\n")
    cfg = load_runner_config(str(cfg_file), cfg_options={'data_root': 'elsewhere'})
    ds = cfg.train_dataloader.dataset
    assert (ds.data_root, ds.ann, ds.nested[0].root) == ('elsewhere', 'elsewhere/a.json',
                                                          'elsewhere')
    assert cfg.other == 'data/xy'  # only the root itself and paths under it change
    assert cfg.work_dir == './work_dirs/cfg'


def test_gloo_backend_without_cuda(tmp_path):
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text("env_cfg = dict(dist_cfg=dict(backend='nccl'))\n")
    cfg = load_runner_config(str(cfg_file), work_dir=str(tmp_path / 'w'))
    import torch
    expected = 'nccl' if torch.cuda.is_available() else 'gloo'
    assert cfg.env_cfg.dist_cfg.backend == expected and cfg.work_dir == str(tmp_path / 'w')


def test_missing_config_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match='does not exist'):
        load_runner_config(str(tmp_path / 'nope.py'))


def test_demo_and_track_detections_move_the_calibration_with_data_root():
    """The demo and tools/track_detections.py merge --cfg-options like train/test: a new
    data_root also moves the calibration's training expressions and the detection folder (the
    main job runs the demo on a data root other than the config's)."""
    import os.path as osp

    from mmengine.config import Config

    from ikun_mm.utils.config import merge_cfg_options
    from tests.utils import ROOT
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'rmot',
                                   'ikun_cascade_neuralsort_mini_refer_kitti.py'))
    merge_cfg_options(cfg, {'data_root': '/tmp/elsewhere'})
    assert cfg.model.referrer.calibration.data_root == '/tmp/elsewhere'
    assert cfg.model.detector.det_dir == '/tmp/elsewhere/KITTI/detections/image_02'
    assert cfg.test_dataloader.dataset.data_root == '/tmp/elsewhere'
