"""Calibration fit, objective F1 (ikun_mm.evaluation.calibration and
tools/analysis/fit_calibration.py): grid F1 closed form, the split rule, the checkpoint writer
that never overwrites, a run that writes a new file with the table, and the fitted numbers
pinned from before the fit moved into the library."""
import os.path as osp

import numpy as np
import pytest
import torch

from ikun_mm.evaluation.calibration import default_split, f1_grid, fit_f1, frame_decisions
from ikun_mm.utils.checkpoint import save_new_checkpoint
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs', 'ikun', 'ikun_tiny_mini_refer_kitti.py')


def _tool():
    return load_tool('analysis', 'fit_calibration.py')


def test_f1_grid_closed_form():
    raw = np.array([0.3, -0.1, -0.2, 0.05])
    freq = np.array([0.0, 0.5, 0.0, 0.0])
    labels = np.array([True, True, False, False])
    grid = f1_grid(raw, freq, labels, np.array([0.0, 1.0]), np.array([0.0, -0.1]))
    # a=0, b=0: predicted {0, 3}: tp 1, fp 1, fn 1 -> F1 0.5
    # a=0, b=-0.1: predicted {0}: F1 = 2/3
    # a=1, b=0: x = (0.3, 0.4, -0.2, 0.05): predicted {0, 1, 3}: F1 = 0.8
    # a=1, b=-0.1: predicted {0, 1}: F1 = 1
    np.testing.assert_allclose(grid, [[0.5, 2 / 3], [0.8, 1.0]])
    fit = fit_f1(raw, freq, labels, (0.0, 1.0, 2), (-0.1, 0.0, 2))
    assert (fit['a'], fit['b'], fit['f1']) == (1.0, -0.1, 1.0)
    assert fit['f1_uncalibrated'] == 0.5 and fit['decisions'] == 4 and fit['positives'] == 2


def test_frame_decisions_follow_track_frame_expression():
    from ikun_mm.models.referring import TrackScores
    scores = {7: TrackScores(frames=np.array([0, 1]), scores=np.array([[.1, .2], [.3, .4]]))}
    raw, freq, labels = frame_decisions(scores, np.array([.5, .6]), [{(1, 7)}, {(0, 7)}])
    np.testing.assert_allclose(raw, [.1, .2, .3, .4])
    np.testing.assert_allclose(freq, [.5, .6, .5, .6])
    assert labels.tolist() == [False, True, True, False]


def test_save_new_checkpoint_never_overwrites(tmp_path):
    path = tmp_path / 'sub' / 'new.pth'
    assert save_new_checkpoint({'x': torch.ones(2)}, str(path)) == str(path)
    assert torch.equal(torch.load(path)['x'], torch.ones(2))
    with pytest.raises(FileExistsError, match='new.pth exists; pass --overwrite'):
        save_new_checkpoint({'x': torch.zeros(2)}, str(path))
    assert torch.equal(torch.load(path)['x'], torch.ones(2))
    save_new_checkpoint({'x': torch.zeros(2)}, str(path), overwrite=True)
    assert torch.equal(torch.load(path)['x'], torch.zeros(2))
    # a save that fails half-way leaves neither the file nor a temporary one
    with pytest.raises(Exception):
        save_new_checkpoint({'f': lambda: 0}, str(tmp_path / 'sub' / 'bad.pth'))
    assert sorted(p.name for p in (tmp_path / 'sub').iterdir()) == ['new.pth']


def test_fit_calibration_writes_a_new_checkpoint(mini_refer_kitti, tmp_path):
    torch.set_num_threads(1)
    from mmengine.config import Config

    from ikun_mm.registry import MODELS
    cfg_path = TINY
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), ckpt)
    before = ckpt.read_bytes()
    summary = _tool().main([cfg_path, str(ckpt), '--split', '0003,0004', '--cfg-options',
                            f'data_root={mini_refer_kitti}', '--a-range', '0', '4', '5',
                            '--b-range', '-0.5', '0.5', '11'])
    assert ckpt.read_bytes() == before  # the user's file is untouched
    out = torch.load(tmp_path / 'tiny_calibrated.pth', weights_only=False)
    assert out['meta']['calibration']['a'] == summary['a']
    assert out['state_dict']['calibration.b'].item() == pytest.approx(summary['b'])
    assert summary['f1'] >= summary['f1_uncalibrated']
    assert summary['decisions'] > 0 and 0 < summary['positives'] < summary['decisions']
    assert summary['split'] == ['0003', '0004']
    # the training-expression table travels with the checkpoint (official p_j: sums to 1)
    table = out['state_dict']['calibration.table']
    assert len(table['sentences']) == len(table['shares']) == summary['table_expressions'] > 0
    assert sum(table['shares']) == pytest.approx(1.0)
    with pytest.raises(SystemExit, match='input checkpoint'):
        _tool().main([cfg_path, str(ckpt), '--split', '0004', '--out', str(ckpt)])


def _split_tree(tmp_path, **splits):
    import json
    with open(tmp_path / 'split.json', 'w') as f:
        json.dump(splits, f)
    return str(tmp_path)


def _cfg(val_split, test_split='test'):
    from mmengine.config import Config
    cfg = dict(test_dataloader=dict(dataset=dict(split=test_split)))
    if val_split is not None:
        cfg['val_dataloader'] = dict(dataset=dict(split=val_split))
    return Config(cfg)


def test_default_split_is_the_validation_split_never_the_test_split(tmp_path):
    root = _split_tree(tmp_path, train=['a', 'b'], val=['c'], test=['d'])
    assert default_split(_cfg('val'), root) == 'val'
    assert default_split(_cfg(['c']), root) == ['c']
    # no val_dataloader: the tree's "val" split
    assert default_split(_cfg(None), root) == 'val'
    # a config that validates on the test split (as the real Refer-KITTI configs do)
    with pytest.raises(ValueError, match='--split'):
        default_split(_cfg('test'), root)
    # ... under another name, or the test dataloader's own split
    with pytest.raises(ValueError, match='--split'):
        default_split(_cfg(['d']), root)
    with pytest.raises(ValueError, match='--split'):
        default_split(_cfg('val', test_split='val'), root)
    # no validation split at all
    root = _split_tree(tmp_path, train=['a', 'b'], test=['d'])
    with pytest.raises(ValueError, match='--split'):
        default_split(_cfg(None), root)


def test_fit_calibration_refuses_a_config_validating_on_test(mini_refer_kitti, tmp_path):
    # the tiny config validates on the test videos: without --split the tool stops before
    # reading the checkpoint (which does not even exist)
    with pytest.raises(SystemExit, match='test split'):
        _tool().main([TINY, str(tmp_path / 'missing.pth'), '--cfg-options',
                      f'data_root={mini_refer_kitti}'])


def test_f1_fit_numbers_pinned(mini_refer_kitti, tmp_path):
    """The F1 fit of a seeded tiny iKUN on videos 0003, 0004 of the generated tree, and the
    calibrated scores of the written checkpoint: the numbers the two former tools
    (tools/analysis/fit_calibration.py before the fit moved into ikun_mm.evaluation.calibration)
    computed on the same inputs. The written table replaces data_root: the reloaded model is
    given an empty folder as data_root."""
    from mmengine.config import Config

    from ikun_mm.datasets import load_video_annotation
    from ikun_mm.models.referring import score_tracks
    from ikun_mm.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY).model)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), ckpt)
    out = tmp_path / 'f1.pth'
    summary = _tool().main([TINY, str(ckpt), '--objective', 'f1', '--split', '0003,0004',
                            '--out', str(out), '--cfg-options', f'data_root={mini_refer_kitti}',
                            '--a-range', '0', '4', '5', '--b-range', '-0.5', '0.5', '11'])
    assert (summary['a'], summary['b']) == (4.0, 0.0)
    assert summary['f1'] == pytest.approx(0.31972564795884717, abs=1e-9)
    assert summary['f1_uncalibrated'] == pytest.approx(0.20321620011911853, abs=1e-9)
    assert summary['f1_paper_ab'] == pytest.approx(0.34167490682284934, abs=1e-9)
    assert (summary['decisions'], summary['positives']) == (19824, 3331)

    empty = tmp_path / 'no_tree'
    empty.mkdir()
    cal = dict(type='SimilarityCalibration', data_root=str(empty), split='train',
               synonyms='refer_kitti', a=8.0, b=-0.1)
    calibrated = MODELS.build(dict(Config.fromfile(TINY).model, calibration=cal))
    calibrated.load_state_dict(torch.load(out, weights_only=False)['state_dict'], strict=True)
    ann = load_video_annotation(mini_refer_kitti, '0005')
    sentences = ['black car', 'black car on the left', 'car']
    tracks = {k: ann.track_boxes()[k] for k in (1, 2)}
    freq = calibrated.calibration.pseudo_frequency(sentences).numpy()
    np.testing.assert_allclose(freq, [0.021357059478759766, 0.01034482754766941,
                                      0.09609164297580719], rtol=1e-6)
    scores = score_tracks(calibrated, ann.img_paths, tracks, sentences)
    np.testing.assert_allclose(scores[1].scores[:4], [[-0.13188953697681427,
                                                       -0.21550807356834412,
                                                       0.15423250198364258]] * 4, atol=1e-6)
    np.testing.assert_allclose(scores[2].scores[:4], [[-0.13179686665534973,
                                                       -0.2155734896659851,
                                                       0.15442442893981934]] * 4, atol=1e-6)
