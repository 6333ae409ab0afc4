"""MOT evaluation with TrackEval (HOTA, CLEAR, Identity), from arrays.

:func:`evaluate_mot` writes ground truth and predictions as MOTChallenge files in TrackEval's
folder layout and runs TrackEval's ``MotChallenge2DBox`` evaluator: nothing of HOTA & co. is
re-implemented here. Sequences are combined by TrackEval's own ``combine_sequences`` (sums of
counts over sequences, not a mean of per-sequence scores), which is what the Refer-KITTI protocol
asks for when each (video, expression) is a sequence.

Layout written under ``work_dir``::

    gt/<seq>/gt/gt.txt                  frame,id,x,y,w,h,1,1,1      (class 1, all considered)
    trackers/<tracker>/data/<seq>.txt   frame,id,x,y,w,h,score,-1,-1,-1
"""
import contextlib
import io
import os
import os.path as osp
import tempfile
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from ikun_mm.structures import MOT_GT_ROW, MOT_PRED_ROW

#: Scalar fields returned per sequence and combined (TrackEval's names; HOTA's are means over
#: the localisation thresholds alpha = 0.05..0.95).
HOTA_FIELDS = ('HOTA', 'DetA', 'AssA', 'DetRe', 'DetPr', 'AssRe', 'AssPr', 'LocA')
CLEAR_FIELDS = ('MOTA', 'MOTP', 'IDSW', 'Frag', 'MT', 'ML')
IDENTITY_FIELDS = ('IDF1', 'IDR', 'IDP')


def _check_rows(name: str, seq: str, rows: np.ndarray, num_frames: int) -> np.ndarray:
    """``rows`` (N, 6+) checked: MOTChallenge rows :data:`~ikun_mm.structures.MOT_GT_ROW`
    (``frame (1-based), id, x, y, w, h``), extra columns (a score) kept."""
    rows = np.asarray(rows, dtype=np.float64)
    width = MOT_GT_ROW.width
    if rows.size == 0:
        return rows.reshape(0, width)
    if rows.ndim != 2 or rows.shape[1] < width:
        raise ValueError(f'evaluate_mot: {name}[{seq!r}] must have shape (N, 6+) '
                         f'(frame, id, x, y, w, h), got {rows.shape}')
    frames = rows[:, MOT_GT_ROW.frame]
    if (frames < 1).any() or (frames > num_frames).any() or (frames != np.round(frames)).any():
        bad = rows[(frames < 1) | (frames > num_frames) | (frames != np.round(frames))][0]
        raise ValueError(f'evaluate_mot: {name}[{seq!r}] has frame {bad[0]} outside 1..'
                         f'{num_frames} (frames are 1-based)')
    if not np.isfinite(rows[:, :width]).all():
        raise ValueError(f'evaluate_mot: {name}[{seq!r}] has non-finite values')
    if len(np.unique(MOT_GT_ROW.take(rows, 'frame', 'id'), axis=0)) != len(rows):
        raise ValueError(f'evaluate_mot: {name}[{seq!r}] has an id twice in one frame')
    return rows


def write_trackeval_layout(work_dir: str, gt: Mapping[str, np.ndarray],
                           pred: Mapping[str, np.ndarray], num_frames: Mapping[str, int],
                           tracker: str = 'tracker') -> None:
    """Write ``gt``/``pred`` (see :func:`evaluate_mot`) as MOTChallenge files under ``work_dir``."""
    for seq, n in num_frames.items():
        g = _check_rows('gt', seq, gt.get(seq, np.zeros((0, 6))), n)
        p = _check_rows('pred', seq, pred.get(seq, np.zeros((0, 6))), n)
        gt_file = osp.join(work_dir, 'gt', seq, 'gt', 'gt.txt')
        pred_file = osp.join(work_dir, 'trackers', tracker, 'data', f'{seq}.txt')
        os.makedirs(osp.dirname(gt_file), exist_ok=True)
        os.makedirs(osp.dirname(pred_file), exist_ok=True)
        with open(gt_file, 'w') as f:
            f.writelines(f'{int(r[0])},{int(r[1])},{r[2]:.6f},{r[3]:.6f},{r[4]:.6f},{r[5]:.6f},'
                         '1,1,1\n' for r in g)
        with open(pred_file, 'w') as f:
            f.writelines(f'{int(r[0])},{int(r[1])},{r[2]:.6f},{r[3]:.6f},{r[4]:.6f},{r[5]:.6f},'
                         f'{r[6] if len(r) > 6 else 1.0:.6f},-1,-1,-1\n' for r in p)


def trackeval_config(work_dir: str, num_frames: Mapping[str, int],
                     tracker: str = 'tracker') -> dict:
    """TrackEval ``MotChallenge2DBox`` dataset config for the layout written under ``work_dir``."""
    return {
        'GT_FOLDER': osp.join(work_dir, 'gt'),
        'TRACKERS_FOLDER': osp.join(work_dir, 'trackers'),
        'OUTPUT_FOLDER': osp.join(work_dir, 'output'),
        'TRACKERS_TO_EVAL': [tracker],
        'CLASSES_TO_EVAL': ['pedestrian'],
        'BENCHMARK': 'MOT17',
        'SPLIT_TO_EVAL': 'train',
        'SKIP_SPLIT_FOL': True,
        'DO_PREPROC': False,
        'SEQ_INFO': {seq: int(n) for seq, n in num_frames.items()},
        'GT_LOC_FORMAT': '{gt_folder}/{seq}/gt/gt.txt',
        'PRINT_CONFIG': False,
    }


def _summarise(res: dict, metric_names: Sequence[str]) -> Dict[str, float]:
    out = {}
    if 'HOTA' in res:
        for k in HOTA_FIELDS:
            out[k] = float(np.mean(res['HOTA'][k]))
    if 'CLEAR' in res:
        for k in CLEAR_FIELDS:
            out[k] = float(res['CLEAR'][k])
    if 'Identity' in res:
        for k in IDENTITY_FIELDS:
            out[k] = float(res['Identity'][k])
    return out


def evaluate_mot(gt: Mapping[str, np.ndarray],
                 pred: Mapping[str, np.ndarray],
                 num_frames: Mapping[str, int],
                 metrics: Sequence[str] = ('HOTA', 'CLEAR', 'Identity'),
                 work_dir: Optional[str] = None) -> Dict[str, Dict[str, float]]:
    """Evaluate MOT predictions against ground truth with TrackEval.

    Args:
        gt: ``{seq: array (N, 6+)}``: ``frame (1-based), id, x, y, w, h`` per row.
        pred: ``{seq: array (M, 6+)}``: ``frame (1-based), id, x, y, w, h[, score]``; a sequence
            missing here counts as tracked with nothing.
        num_frames: ``{seq: number of frames}``; these are the evaluated sequences.
        metrics: any of ``'HOTA'``, ``'CLEAR'``, ``'Identity'``.
        work_dir: where the MOTChallenge files are written (kept); default a temporary folder
            (removed).

    Returns:
        ``{'COMBINED': {...}, seq: {...}, ...}``, each a dict of floats: HOTA, DetA, AssA, DetRe,
        DetPr, AssRe, AssPr, LocA (HOTA), MOTA, MOTP, IDSW, Frag, MT, ML (CLEAR), IDF1, IDR, IDP
        (Identity); fractions in [0, 1] (counts for IDSW, Frag, MT, ML).
    """
    import trackeval
    known = {'HOTA': trackeval.metrics.HOTA, 'CLEAR': trackeval.metrics.CLEAR,
             'Identity': trackeval.metrics.Identity}
    unknown = [m for m in metrics if m not in known]
    if unknown or not metrics:
        raise ValueError(f'evaluate_mot: metrics must be a non-empty subset of {sorted(known)}, '
                         f'got {list(metrics)}')
    if not num_frames:
        raise ValueError('evaluate_mot: num_frames is empty (no sequence to evaluate)')
    extra = sorted(set(gt) - set(num_frames))
    if extra:
        raise ValueError(f'evaluate_mot: gt has sequences {extra} missing from num_frames')
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix='trackeval_'))
        write_trackeval_layout(work_dir, gt, pred, num_frames)
        eval_cfg = dict(USE_PARALLEL=False, BREAK_ON_ERROR=True, LOG_ON_ERROR=None,
                        PRINT_RESULTS=False, PRINT_CONFIG=False, TIME_PROGRESS=False,
                        OUTPUT_SUMMARY=False, OUTPUT_DETAILED=False, PLOT_CURVES=False)
        metric_objs = [known[m](dict(PRINT_CONFIG=False)) for m in metrics]
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = trackeval.Evaluator(eval_cfg)
            dataset = trackeval.datasets.MotChallenge2DBox(trackeval_config(work_dir, num_frames))
            results, messages = evaluator.evaluate([dataset], metric_objs)
    res = results['MotChallenge2DBox']['tracker']
    names = [m.get_name() for m in metric_objs]
    out = {'COMBINED': _summarise(res['COMBINED_SEQ']['pedestrian'], names)}
    for seq in num_frames:
        out[seq] = _summarise(res[seq]['pedestrian'], names)
    return out


def mot_rows_from_boxes(boxes: np.ndarray, zero_based: bool = True) -> np.ndarray:
    """``frame, id, x1, y1, x2, y2[, score]`` rows -> ``frame (1-based), id, x, y, w, h[, score]``.

    ``zero_based``: the input frames are 0-based (as in ``VideoAnnotation``, ``track_video``) and
    are written at frame + 1; otherwise they are kept. This is the MOTChallenge writing of
    :func:`~ikun_mm.datasets.refer_kitti_io.prediction_mot_rows` in the ``corrected`` convention;
    the referring metric calls that function with its own convention.
    """
    from ikun_mm.datasets.refer_kitti_io import prediction_mot_rows
    out = prediction_mot_rows(boxes, 'corrected')
    if not zero_based:
        out[:, MOT_PRED_ROW.frame] -= 1
    return out
