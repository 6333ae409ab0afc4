"""Bad input (issue 14, part 2): every case builds its own small bad input (a damaged copy of a
small generated tree, a typo'd file, an interrupted write) and asserts the error message, the
warning or the correct result.

* ``--cfg-options`` values with spaces reach the config unchanged (mmengine's parser deleted
  them), in every tool; an unquoted value with spaces is an error saying to quote it;
* frames: every frame's size read from its header; a resized frame, a truncated PNG/JPEG and two
  files for one frame are errors naming the files, reported by prepare_refer_kitti.py;
* labels, expressions, split.json: ``inf`` ids, ``Infinity``, ``"ignore": 5``, non-UTF-8 files,
  pixel instead of normalised boxes, an empty expression folder: errors naming the file (and
  line or key); prepare_refer_kitti.py skips the video with a warning naming it;
* detections: frames beyond the video (a typo'd 10000000, the file of a longer video), boxes
  outside the image, a swapped ``--img-size``: errors naming the file and line, fast;
* metric: predicted boxes of negative size and sentences the GT does not have: warnings;
* ``--resume`` on a truncated last checkpoint: the previous one, with a warning naming both;
* no hidden ``*.partial*`` file after Ctrl-C while drawing;
* fit_calibration_hota.py names an unreadable checkpoint.
"""
import inspect
import json
import os
import os.path as osp
import re
import time
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import DictAction

from tests.robustness.conftest import TINY
from tests.utils import ROOT, load_tool

E = re.escape  # paths inside message patterns

NEURALSORT = osp.join(ROOT, 'configs', 'neuralsort', 'neuralsort_mini_refer_kitti.py')


def _frame(root, video, frame, ext='png'):
    return osp.join(root, 'KITTI', 'training', 'image_02', video, f'{frame:06d}.{ext}')


def _label(root, video, frame):
    return osp.join(root, 'KITTI', 'labels_with_ids', 'image_02', video, f'{frame:06d}.txt')


def _expr_dir(root, video):
    return osp.join(root, 'expression', video)


def _first_expression(root, video):
    folder = _expr_dir(root, video)
    return osp.join(folder, sorted(n for n in os.listdir(folder) if n.endswith('.json'))[0])


def _dets(root, video):
    return osp.join(root, 'KITTI', 'detections', 'image_02', f'{video}.txt')


def _prepare(root, tmp_path, capsys):
    """Run prepare_refer_kitti.py on ``root``; returns (exit code, stderr, prepared videos)."""
    out = str(tmp_path / 'prepared')
    code = load_tool('data', 'prepare_refer_kitti.py').main([root, '--out', out])
    err = capsys.readouterr().err
    prepared = sorted(os.listdir(osp.join(out, 'gt_template'))) if osp.isdir(
        osp.join(out, 'gt_template')) else []
    return code, err, prepared


# --------------------------------------------------------------------------------------------
# 1. --cfg-options values with spaces
# --------------------------------------------------------------------------------------------
def _parse_value_matches_mmengine(tmp_path, root):
    from ikun_mm.utils.config import CfgOptionsAction
    # without spaces: the values mmengine's own parser gives
    for text in ['1', '-2', '1.5', 'true', 'False', 'None', 'a', 'a,b', '1,2,3,', '[1,2]',
                 '(1,2)', '[(1,2,3),[a,b],c]', '[]', '()', '"quoted"', "'x'", 'path/to/x.pth']:
        assert CfgOptionsAction.parse_value(text) == DictAction._parse_iterable(text), text
    # spaces around list elements are dropped (as mmengine), spaces inside a value are kept
    assert CfgOptionsAction.parse_value('[1, 2]') == [1, 2]
    assert CfgOptionsAction.parse_value('[(1, 2), [a, b]]') == [(1, 2), ['a', 'b']]
    assert CfgOptionsAction.parse_value('qa/my data/mini ref') == 'qa/my data/mini ref'
    assert CfgOptionsAction.parse_value('[my dir/a b.txt, c]') == ['my dir/a b.txt', 'c']
    assert DictAction._parse_iterable('qa/my data/mini ref') == 'qa/mydata/miniref'  # the bug


SPACED = 'qa/my data/mini ref'

#: (tool, argv before --cfg-options): every tool whose README usage takes --cfg-options
PARSERS = {
    'train': (('train.py', ), [TINY]),
    'test': (('test.py', ), [TINY, 'x.pth']),
    'track_detections': (('track_detections.py', ), ['--config', 'c.py', '--det', 'd.txt',
                                                     '--img-size', '64', '32', '--out', 'o.txt']),
    'fit_calibration': (('analysis', 'fit_calibration.py'), [TINY, 'x.pth']),
    'fit_calibration_hota': (('analysis', 'fit_calibration_hota.py'), [TINY, 'x.pth']),
    'demo': (None, ['frames', 'cars', '--config', 'c.py', '--checkpoint', 'x.pth', '--out',
                    'o.mp4']),
}


def _parse_with(tool, argv):
    if tool is None:
        return _demo().parse_args(argv)
    return load_tool(*tool).parse_args(argv)


def _demo():
    import importlib.util
    spec = importlib.util.spec_from_file_location('_demo_rmot_b', osp.join(ROOT, 'demo',
                                                                         'rmot_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _spaces_kept(name):
    def case(tmp_path, root):
        tool, argv = PARSERS[name]
        args = _parse_with(tool, argv + ['--cfg-options', f'data_root={SPACED}',
                                         'model.tracker.obj_score_thr=0.5'])
        assert args.cfg_options == {'data_root': SPACED, 'model.tracker.obj_score_thr': 0.5}
    return case


def _unquoted_spaces(name):
    def case(tmp_path, root, capsys):
        tool, argv = PARSERS[name]
        with pytest.raises(SystemExit) as exc:  # the shell split the unquoted value
            _parse_with(tool, argv + ['--cfg-options', 'data_root=qa/my', 'data/mini', 'ref'])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "'data/mini' is not key=value" in err and 'quote the whole pair' in err, err
    return case


def _test_config_gets_spaced_root(tmp_path, root):
    tool = load_tool('test.py')
    spaced = str(tmp_path / 'my data' / 'mini ref')
    args = tool.parse_args([TINY, TINY, '--work-dir', str(tmp_path / 'w'),
                            '--cfg-options', f'data_root={spaced}'])
    cfg = tool.build_config(args)
    assert cfg.data_root == spaced
    assert cfg.test_dataloader.dataset.data_root == spaced
    assert cfg.train_dataloader.dataset.data_root == spaced


def _paths_with_spaces_end_to_end(tmp_path, root):
    """track_detections.py and prepare_refer_kitti.py on a tree, config and output whose paths
    have spaces (the config's data_root changed through --cfg-options)."""
    import shutil
    spaced = str(tmp_path / 'my data' / 'mini ref')
    shutil.copytree(root, spaced)
    assert load_tool('data', 'prepare_refer_kitti.py').main([spaced]) == 0
    assert osp.isfile(osp.join(spaced, 'gt_template', '0000', 'cars', 'gt.txt'))
    cfg = str(tmp_path / 'my configs' / 'neural sort.py')
    os.makedirs(osp.dirname(cfg))
    open(cfg, 'w').write(f'_base_ = [{NEURALSORT!r}]\n')
    out = str(tmp_path / 'my results' / 'track 0000.txt')
    load_tool('track_detections.py').main([
        '--config', cfg, '--det', _dets(spaced, '0000'), '--frames',
        osp.dirname(_frame(spaced, '0000', 0)), '--out', out, '--no-progress',
        '--cfg-options', f'data_root={spaced}'])
    rows = np.loadtxt(out, delimiter=',', ndmin=2)
    assert len(rows) and rows[:, 0].max() <= 8


# --------------------------------------------------------------------------------------------
# 2. frames: sizes, truncation, duplicates
# --------------------------------------------------------------------------------------------
def _resize(path, size):
    img = cv2.imread(path)
    cv2.imwrite(path, cv2.resize(img, size))


def _resized_frame(frame):
    def case(tmp_path, root, capsys):
        from ikun_mm.datasets.refer_kitti_io import (ReferKittiFormatError,
                                                     load_video_annotation)
        path = _frame(root, '0001', frame)
        _resize(path, (128, 64))
        with pytest.raises(ReferKittiFormatError, match=rf'{E(path)}: frame of size 128x64, but 7 '
                           r'of the 8 frames of this video are 64x32'):
            load_video_annotation(root, '0001')
        code, err, prepared = _prepare(root, tmp_path, capsys)
        assert code == 1 and prepared == ['0000', '0002'], (code, prepared)
        assert f'video 0001 skipped: {path}: frame of size 128x64' in err
    return case


def _truncated_png(tmp_path, root, capsys):
    path = _frame(root, '0002', 5)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) * 2 // 3])
    code, err, prepared = _prepare(root, tmp_path, capsys)
    assert code == 1 and prepared == ['0000', '0001']
    assert f'video 0002 skipped: {path}: truncated PNG' in err, err


def _truncated_jpeg(tmp_path, root):
    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError, image_header_size
    path = str(tmp_path / '000000.jpg')
    cv2.imwrite(path, np.random.RandomState(0).randint(0, 255, (128, 256, 3), np.uint8))
    assert image_header_size(path) == (256, 128)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])  # cut in the scan data
    with pytest.raises(ReferKittiFormatError, match=rf'{E(path)}: truncated JPEG'):
        image_header_size(path)
    open(path, 'wb').write(b'not an image at all')
    with pytest.raises(ReferKittiFormatError, match=rf'{E(path)}: cannot read image'):
        image_header_size(path)


def _header_size_is_pil_size(tmp_path, root):
    from PIL import Image

    from ikun_mm.datasets.refer_kitti_io import image_header_size
    for ext, shape in [('png', (37, 91)), ('jpg', (120, 33)), ('png', (1, 1))]:
        path = str(tmp_path / f'x.{ext}')
        cv2.imwrite(path, np.zeros((*shape, 3), np.uint8))
        with Image.open(path) as img:
            assert image_header_size(path) == img.size


def _duplicate_frame_files(tmp_path, root, capsys):
    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError, load_video_annotation
    folder = osp.dirname(_frame(root, '0000', 0))
    extra = osp.join(folder, '5.png')
    cv2.imwrite(extra, np.zeros((32, 64, 3), np.uint8))
    first = E(_frame(root, '0000', 5))
    with pytest.raises(ReferKittiFormatError, match=rf'{first} and {E(extra)}: '
                       r'two files for frame 5'):
        load_video_annotation(root, '0000')
    code, err, prepared = _prepare(root, tmp_path, capsys)
    assert code == 1 and prepared == ['0001', '0002'] and 'video 0000 skipped' in err


# --------------------------------------------------------------------------------------------
# 3. labels, expressions, split.json
# --------------------------------------------------------------------------------------------
def _append_label(line):
    def damage(root):
        path = _label(root, '0001', 3)
        text = open(path).read()
        text += ('' if text.endswith('\n') or not text else '\n') + line
        open(path, 'w').write(text)
        return path, len(text.splitlines())
    return damage


def _append_bytes(data):
    def damage(root):
        path = _label(root, '0001', 3)
        with open(path, 'ab') as f:
            f.write(data)
        return path, None
    return damage


def _edit_expression(edit):
    def damage(root):
        path = _first_expression(root, '0001')
        data = json.load(open(path))
        text = edit(data)
        if isinstance(text, bytes):
            open(path, 'wb').write(text)
        else:
            open(path, 'w').write(text if isinstance(text, str) else json.dumps(data))
        return path, None
    return damage


def _set(key, value):
    def edit(data):
        data[key] = value
    return edit


def _infinity_in_label(data):
    data['label'] = {'0': ['__INF__']}
    return json.dumps(data).replace('"__INF__"', 'Infinity')


def _latin1(data):
    data['sentence'] = 'cars caf\u00e9'
    return json.dumps(data, ensure_ascii=False).encode('latin-1')


#: name: (damage(root) -> (file, line or None), expected message after "<file>[:<line>]: ")
READER_CASES = {
    'label_id_inf': (_append_label('0 inf 0.1 0.1 0.2 0.2\n'),
                     "class and track id must be integers, got '0' 'inf'"),
    'label_id_fraction': (_append_label('0 2.5 0.1 0.1 0.2 0.2\n'),
                          "class and track id must be integers"),
    'label_in_pixels': (_append_label('0 77 10 5 20 12\n'),
                        r'box x=10 y=5 w=20 h=12 is not normalised by the image size 64x32 .*'
                        r'these look like pixels'),
    'label_non_utf8': (_append_bytes(b'0 9 0.1 0.1 0.2 0.2 \xe9t\xe9\n'),
                       'not a UTF-8 text file'),
    'expression_infinity': (_edit_expression(_infinity_in_label),
                            r'invalid JSON \(Infinity is not a JSON number\)'),
    'expression_nan': (_edit_expression(lambda d: json.dumps(d).replace('"label"',
                                                                        '"x": NaN, "label"', 1)),
                       r'invalid JSON \(NaN is not a JSON number\)'),
    'expression_ignore_5': (_edit_expression(_set('ignore', 5)),
                            r'"ignore" must be a list, got int 5'),
    'expression_non_utf8': (_edit_expression(_latin1), 'not a UTF-8 text file'),
    'expression_id_fraction': (_edit_expression(_set('label', {'0': [1.5]})),
                               r"label entry '0': \[1.5\] is not"),
    'expression_ids_not_a_list': (_edit_expression(_set('label', {'0': 3})),
                                  r"label entry '0': 3 is not"),
}


def _reader_case(name):
    damage, message = READER_CASES[name]

    def case(tmp_path, root, capsys):
        from ikun_mm.datasets.refer_kitti_io import (ReferKittiFormatError, load_expressions,
                                                     load_video_annotation)
        path, line = damage(root)
        where = f'{path}:{line}' if line else path
        with pytest.raises(ReferKittiFormatError) as exc:
            load_expressions(root, '0001', load_video_annotation(root, '0001'))
        assert str(exc.value).startswith(f'{where}: '), str(exc.value)
        assert re.search(message, str(exc.value)), str(exc.value)
        # prepare skips that video with a warning naming it, and prepares the others
        code, err, prepared = _prepare(root, tmp_path, capsys)
        assert code == 1 and prepared == ['0000', '0002'], (code, prepared, err)
        assert f'warning: video 0001 skipped: {where}: ' in err, err
    return case


def _split_json(text):
    def case(tmp_path, root, capsys):
        from ikun_mm.datasets import ReferKittiDataset
        from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
        split = osp.join(root, 'split.json')
        open(split, 'wb').write(text)
        with pytest.raises(ReferKittiFormatError, match=rf'^{E(split)}: '):
            ReferKittiDataset(data_root=root, split='train')
        code, err, prepared = _prepare(root, tmp_path, capsys)
        assert code == 1 and prepared == ['0000', '0001', '0002']  # the videos are fine
        assert f'{split}: ' in err and 'no seqmap_train.txt written' in err, err
    return case


def _video_without_expressions(tmp_path, root, capsys):
    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
    folder = _expr_dir(root, '0001')
    for name in os.listdir(folder):
        os.remove(osp.join(folder, name))
    with pytest.raises(ReferKittiFormatError, match=rf'{E(folder)}: video 0001 has no '
                       'expression'):
        ReferKittiDataset(data_root=root, split=['0000', '0001'])
    code, err, prepared = _prepare(root, tmp_path, capsys)
    assert code == 1 and prepared == ['0000', '0002'] and 'video 0001 skipped' in err


def _every_expression_excluded(tmp_path, root):
    from ikun_mm.datasets import ReferKittiDataset
    sentences = [json.load(open(osp.join(_expr_dir(root, '0001'), n)))['sentence']
                 for n in os.listdir(_expr_dir(root, '0001'))]
    with pytest.warns(UserWarning, match=r'every expression of video 0001 is excluded'):
        ds = ReferKittiDataset(data_root=root, split=['0001'], exclude_sentences=sentences)
    assert len(ds) == 1 and ds[0]['expressions'] == []


# --------------------------------------------------------------------------------------------
# 4. detections against the video
# --------------------------------------------------------------------------------------------
def _track(root, tmp_path, det, *extra):
    load_tool('track_detections.py').main(['--config', NEURALSORT, '--det', det, '--out',
                                           str(tmp_path / 'out.txt'), '--no-progress', *extra])


def _append_detection(root, tmp_path, row):
    det = str(tmp_path / 'dets.txt')
    text = open(_dets(root, '0000')).read()
    open(det, 'w').write(text + row)
    return det, len(text.splitlines()) + 1


def _huge_frame_number(tmp_path, root):
    det, line = _append_detection(root, tmp_path, '10000000,-1,10,10,8,8,0.9\n')
    start = time.time()
    with pytest.raises(SystemExit, match=rf'{E(det)}:{line}: image index 9999999 \(0-based\) '
                       r'comes \d+ frames without any row after image \d+ .*--num-frames'):
        _track(root, tmp_path, det, '--img-size', '64', '32')
    assert time.time() - start < 20  # it ran ~40 minutes
    frames = osp.dirname(_frame(root, '0000', 0))
    for extra in (['--img-size', '64', '32', '--num-frames', '8'], ['--frames', frames]):
        with pytest.raises(SystemExit, match=rf'{E(det)}:{line}: image index 9999999 '
                           r'\(0-based\) is beyond the 8 frames of the video'):
            _track(root, tmp_path, det, *extra)
    assert not (tmp_path / 'out.txt').exists()


def _detections_of_a_longer_video(tmp_path, root):
    from mmdet.structures import DetDataSample

    from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError
    from ikun_mm.registry import MODELS
    det_dir = tmp_path / 'dets'
    det_dir.mkdir()
    det = str(det_dir / '0000.txt')
    text = open(_dets(root, '0000')).read()
    open(det, 'w').write(text + '9,-1,10,10,8,8,0.9\n12,-1,10,10,8,8,0.9\n')
    # tools/test.py: the detector of the config (det_dir), the video's frames from the tree
    message = (rf'{E(det)}:{len(text.splitlines()) + 1}: image index 8 \(0-based\) is beyond '
               r'the 8 frames of the video \(2 such')
    model = MODELS.build(dict(type='DetectionsFromFile', det_dir=str(det_dir)))
    sample = DetDataSample(metainfo=dict(frame_id=0, video='0000', num_frames=8,
                                         img_shape=(32, 64)))
    with pytest.warns(UserWarning, match=message + '.*these rows are skipped'):
        model.predict(None, [sample])
    strict = MODELS.build(dict(type='DetectionsFromFile', det_dir=str(det_dir),
                               beyond_video='error'))
    with pytest.raises(ReferKittiFormatError, match=message):
        strict.predict(None, [sample])
    # a box wholly outside the frames is an error whatever beyond_video says
    open(det, 'w').write(text + '3,-1,10,40,8,8,0.9\n')
    with pytest.raises(ReferKittiFormatError, match=r'box x1=10 y1=40 x2=18 y2=48 lies wholly '
                       r'outside the 64x32 image'):
        model.predict(None, [sample])


def _demo_max_frames_with_whole_video_detections(tmp_path, root, ikun_ckpt, rmot_tiny_cfg,
                                                 mini_refer_kitti):
    """The demo's --max-frames tracks the first frames of a longer video: the detections of
    the later frames (here even one beyond the whole video) are skipped quietly. (Without
    --max-frames such rows are a warning naming the file: detections_of_a_longer_video.)"""
    frames = osp.join(mini_refer_kitti, 'KITTI', 'training', 'image_02', '0005')
    longer = tmp_path / 'longer.txt'
    longer.write_text(open(_dets(mini_refer_kitti, '0005')).read() + '30,-1,10,10,8,8,0.9\n')
    out = tmp_path / 'demo' / 'clip.mp4'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert _demo().main([frames, 'cars', '--config', rmot_tiny_cfg, '--checkpoint',
                             ikun_ckpt, '--det', str(longer), '--out', str(out),
                             '--max-frames', '3']) == 0
    assert out.exists()
    assert not [w for w in caught if 'beyond' in str(w.message)]


def _detections_outside_the_image(tmp_path, root):
    det, line = _append_detection(root, tmp_path, '3,-1,70,10,8,8,0.9\n')
    with pytest.raises(SystemExit, match=rf'{E(det)}:{line}: box x1=70 y1=10 x2=78 y2=18 lies '
                       r'wholly outside the 64x32 image \(--img-size\)'):
        _track(root, tmp_path, det, '--img-size', '64', '32')


def _swapped_img_size(tmp_path, root):
    det = _dets(root, '0000')
    with pytest.raises(SystemExit, match=rf'{E(det)}:\d+: box .* lies wholly outside the 32x64 '
                       r'image \(--img-size\).*width and height swapped'):
        _track(root, tmp_path, det, '--img-size', '32', '64')
    frames = osp.dirname(_frame(root, '0000', 0))
    with pytest.raises(SystemExit, match=rf'--img-size 32 64 differs from the 64x32 frames of '
                       rf'{E(frames)} \(W H order'):
        _track(root, tmp_path, det, '--img-size', '32', '64', '--frames', frames)


def _track_detections_needs_a_size(tmp_path, root, capsys):
    with pytest.raises(SystemExit):
        load_tool('track_detections.py').parse_args(['--config', 'c', '--det', 'd', '--out', 'o'])
    assert '--img-size W H, or --frames DIR' in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# 5. metric predictions
# --------------------------------------------------------------------------------------------
def _metric_sample(root):
    from ikun_mm.datasets.refer_kitti_io import load_expressions, load_video_annotation
    ann = load_video_annotation(root, '0000')
    exprs = load_expressions(root, '0000', ann)
    return ann, exprs


def _metric_with(pred_of):
    from ikun_mm.evaluation import ReferringMetric

    def run(root):
        ann, exprs = _metric_sample(root)
        metric = ReferringMetric(log_table=False)
        metric.process({}, [dict(video='0000', num_frames=ann.num_frames, annotation=ann,
                                 expressions=exprs, pred_referred=pred_of(ann, exprs))])
        return metric.evaluate(size=1)['refer/HOTA']
    return run


def _gt_rows(ann, expr):
    """The referred GT boxes as predictions (frame, id, x1, y1, x2, y2, score): HOTA 100."""
    rows = [np.r_[ann.boxes[(ann.boxes[:, 0] == f) & (ann.boxes[:, 1] == i)][0][[0, 1, 3, 4, 5,
                                                                                  6]], 1.0]
            for f, ids in expr.label.items() for i in ids]
    return np.asarray(rows, np.float64).reshape(-1, 7)


def _negative_width(tmp_path, root):
    from ikun_mm.evaluation.referring_metric import PredictionWarning

    sentence = next(e.sentence for e in _metric_sample(root)[1] if e.label)

    def pred(ann, exprs):
        out = {e.sentence: _gt_rows(ann, e) for e in exprs}
        rows = out[sentence]
        rows[:, [2, 4]] = rows[:, [4, 2]]  # x1 > x2
        return out
    with pytest.warns(PredictionWarning, match=rf"video 0000, '{E(sentence)}': \d+ of \d+ "
                      r"predicted boxes have negative width or height"):
        hota = _metric_with(pred)(root)
    assert hota < 100


def _unknown_sentence(tmp_path, root):
    from ikun_mm.evaluation.referring_metric import PredictionWarning

    def pred(ann, exprs):
        out = {e.sentence: _gt_rows(ann, e) for e in exprs}
        out['cars movng left'] = out.pop(exprs[0].sentence)
        return out
    with pytest.warns(PredictionWarning, match=r"video 0000: predictions for 1 sentence\(s\) "
                      r"that are not expressions of this video are not evaluated: "
                      r"\['cars movng left'\]"):
        _metric_with(pred)(root)


def _good_predictions_no_warning(tmp_path, root):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        hota = _metric_with(lambda ann, exprs: {e.sentence: _gt_rows(ann, e) for e in exprs})(root)
    assert hota == pytest.approx(100.0)


# --------------------------------------------------------------------------------------------
# 6. --resume on a truncated last checkpoint
# --------------------------------------------------------------------------------------------
def _work_dir_with(tmp_path, truncate=('epoch_3.pth', )):
    work = tmp_path / 'work'
    work.mkdir()
    for epoch in (1, 2, 3):
        path = work / f'epoch_{epoch}.pth'
        torch.save(dict(meta=dict(epoch=epoch), state_dict={'w': torch.ones(3)}), path)
        if path.name in truncate:
            data = path.read_bytes()
            path.write_bytes(data[:len(data) // 2])
    (work / 'last_checkpoint').write_text(str(work / 'epoch_3.pth'))
    return work


def _resume_truncated_last(tmp_path, root, capsys):
    work = _work_dir_with(tmp_path)
    tool = load_tool('train.py')
    with pytest.warns(UserWarning, match=rf'the last checkpoint {E(str(work))}/epoch_3.pth .*is '
                      rf'not readable.*Resuming from the previous readable checkpoint '
                      rf'{E(str(work))}/epoch_2.pth'):
        cfg = tool.build_config(tool.parse_args([TINY, '--work-dir', str(work), '--resume']))
    assert cfg.resume is True and cfg.load_from == str(work / 'epoch_2.pth')


def _resume_nothing_readable(tmp_path, root):
    work = _work_dir_with(tmp_path, truncate=('epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth'))
    tool = load_tool('train.py')
    with pytest.raises(SystemExit, match=rf'--resume: {E(str(work))}/epoch_3.pth: not a readable '
                       r'checkpoint.*no earlier readable checkpoint.*--overwrite'):
        tool.build_config(tool.parse_args([TINY, '--work-dir', str(work), '--resume']))


def _resume_explicit_truncated(tmp_path, root):
    work = _work_dir_with(tmp_path)
    tool = load_tool('train.py')
    with pytest.raises(SystemExit, match=rf'--resume: {E(str(work))}/epoch_3.pth: not a readable '
                       rf'checkpoint.*pass --resume {E(str(work))}/epoch_2.pth'):
        tool.build_config(tool.parse_args([TINY, '--work-dir', str(work), '--resume',
                                           str(work / 'epoch_3.pth')]))
    cfg = tool.build_config(tool.parse_args([TINY, '--work-dir', str(work), '--resume',
                                             str(work / 'epoch_2.pth')]))
    assert cfg.load_from == str(work / 'epoch_2.pth')


def _resume_random_bytes_checkpoint(tmp_path, root):
    from ikun_mm.utils.checkpoint import checkpoint_problem
    path = tmp_path / 'random.pth'
    path.write_bytes(np.random.RandomState(0).bytes(4096))
    assert 'not a readable checkpoint' in checkpoint_problem(str(path))
    good = tmp_path / 'good.pth'
    torch.save({'w': torch.ones(1)}, good)
    assert checkpoint_problem(str(good)) is None


def _resume_trains_on(tmp_path, root, mini_refer_kitti):
    """End to end: a run of 2 epochs whose epoch_2.pth is truncated resumes from epoch 1."""
    tool = load_tool('train.py')
    work = tmp_path / 'work'
    opts = ['--cfg-options', f'data_root={mini_refer_kitti}', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.max_keep_ckpts=-1']
    tool.main([TINY, '--work-dir', str(work), *opts, 'train_cfg.max_epochs=2'])
    data = (work / 'epoch_2.pth').read_bytes()
    (work / 'epoch_2.pth').write_bytes(data[:len(data) // 3])
    with pytest.warns(UserWarning, match='Resuming from the previous readable checkpoint'):
        tool.main([TINY, '--work-dir', str(work), '--resume', *opts, 'train_cfg.max_epochs=2'])
    state = torch.load(work / 'epoch_2.pth', weights_only=False)  # written again, whole
    assert state['meta']['epoch'] == 2


# --------------------------------------------------------------------------------------------
# 7. no hidden partial files after Ctrl-C while drawing
# --------------------------------------------------------------------------------------------
def _interrupted(exc_type, after):
    def frames():
        for k in range(5):
            if k == after:
                raise exc_type('stopped while drawing (simulated)')
            yield np.zeros((32, 64, 3), np.uint8)
    return frames()


def _partial_video(exc_type, after):
    def case(tmp_path, root):
        from ikun_mm.visualization import write_video
        out = tmp_path / 'vis' / 'clip.mp4'
        with pytest.raises(exc_type):
            write_video(_interrupted(exc_type, after), str(out))
        assert os.listdir(tmp_path / 'vis') == []  # neither the video nor .clip.mp4.partial.mp4
    return case


def _partial_snapshot(tmp_path, root, monkeypatch):
    from ikun_mm.visualization import drawing

    def imwrite_then_interrupt(path, img, *args):
        open(path, 'wb').write(b'half a picture')
        raise KeyboardInterrupt

    monkeypatch.setattr(drawing.cv2, 'imwrite', imwrite_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        drawing.write_snapshot({0: np.zeros((32, 64, 3), np.uint8)},
                               str(tmp_path / 'vis' / 'snap.jpg'))
    assert os.listdir(tmp_path / 'vis') == []


# --------------------------------------------------------------------------------------------
# 8. fit_calibration_hota.py reads checkpoints through read_checkpoint
# --------------------------------------------------------------------------------------------
def _fit_calibration_hota_unreadable(tmp_path, root, rmot_tiny_cfg, mini_refer_kitti):
    path = tmp_path / 'truncated.pth'
    torch.save(dict(state_dict={'w': torch.ones(100)}), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(SystemExit, match='truncated.pth: not a readable checkpoint'):
        load_tool('analysis', 'fit_calibration_hota.py').main(
            [rmot_tiny_cfg, str(path), '--split', '0000', '--cfg-options',
             f'data_root={mini_refer_kitti}'])
    assert sorted(os.listdir(tmp_path)) == ['tree', 'truncated.pth']  # nothing written
    src = open(osp.join(ROOT, 'tools', 'analysis', 'fit_calibration_hota.py')).read()
    assert 'torch.load' not in src


CASES = {
    # 1. spaces
    'cfg_options_parse_like_mmengine_but_keep_spaces': _parse_value_matches_mmengine,
    **{f'cfg_options_spaces_kept_{name}': _spaces_kept(name) for name in PARSERS},
    **{f'cfg_options_unquoted_spaces_{name}': _unquoted_spaces(name)
       for name in ('train', 'test', 'track_detections', 'demo')},
    'cfg_options_spaced_data_root_reaches_datasets': _test_config_gets_spaced_root,
    'paths_with_spaces_prepare_and_track': _paths_with_spaces_end_to_end,
    # 2. frames
    'frame_0_resized': _resized_frame(0),
    'frame_mid_video_resized': _resized_frame(4),
    'truncated_png': _truncated_png,
    'truncated_jpeg_and_not_an_image': _truncated_jpeg,
    'header_size_equals_pil': _header_size_is_pil_size,
    'duplicate_frame_files': _duplicate_frame_files,
    # 3. readers
    **{name: _reader_case(name) for name in READER_CASES},
    'split_json_invalid_json': _split_json(b'{"train": ["0000", "0001"'),
    'split_json_not_lists': _split_json(b'{"train": "0000", "test": ["0002"]}'),
    'split_json_non_utf8': _split_json(b'{"train": ["0000\xff"]}'),
    'video_without_expressions': _video_without_expressions,
    'video_every_expression_excluded': _every_expression_excluded,
    # 4. detections
    'detection_frame_10000000': _huge_frame_number,
    'detections_of_a_longer_video_in_test': _detections_of_a_longer_video,
    'demo_max_frames_skips_later_detections': _demo_max_frames_with_whole_video_detections,
    'detection_outside_the_image': _detections_outside_the_image,
    'swapped_img_size': _swapped_img_size,
    'track_detections_needs_a_size': _track_detections_needs_a_size,
    # 5. metric
    'metric_negative_width': _negative_width,
    'metric_sentence_not_in_gt': _unknown_sentence,
    'metric_good_predictions_no_warning': _good_predictions_no_warning,
    # 6. resume
    'resume_truncated_last_uses_previous': _resume_truncated_last,
    'resume_nothing_readable': _resume_nothing_readable,
    'resume_explicit_truncated': _resume_explicit_truncated,
    'resume_random_bytes': _resume_random_bytes_checkpoint,
    'resume_truncated_trains_on': _resume_trains_on,
    # 7. partial files
    'draw_interrupted_ctrl_c': _partial_video(KeyboardInterrupt, 2),
    'draw_interrupted_error': _partial_video(RuntimeError, 3),
    'snapshot_interrupted_ctrl_c': _partial_snapshot,
    # 8. calibration tool
    'fit_calibration_hota_unreadable_checkpoint': _fit_calibration_hota_unreadable,
}


@pytest.mark.parametrize('name', list(CASES))
def test_case(name, tmp_path, small_tree, request):
    case = CASES[name]
    extra = {p: request.getfixturevalue(p) for p in inspect.signature(case).parameters
             if p not in ('tmp_path', 'root')}
    case(tmp_path, small_tree, **extra)
