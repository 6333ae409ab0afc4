"""HOTA (TrackEval) of NeuralSORT and mmdet's trackers on the same cached detections.

    python benchmarks/tracker_hota.py [--data-root data/mini_refer_kitti]
        [--split test|val|train|all]
        [--trackers neuralsort neuralsort_reid deepsort strongsort_reid ocsort bytetrack sort
                    strongsort]
        [--nkf-checkpoint CKPT] [--reid-checkpoint CKPT] [--json]

Every tracker is built from ``configs/{neuralsort,baselines}/<name>_mini_refer_kitti.py`` (they
differ only in ``model.tracker``, and the ``*reid*``/``deepsort`` ones add ``model.reid``) and
run on the data root's detection files; ground truth is each video's ``labels_with_ids``. Scores
are combined over videos by TrackEval. Trackers with a ReID read the frames and need
``--reid-checkpoint``.

Timing: ``ms/frame`` is the wall time of tracking divided by the number of frames (one thread);
``reid ms/frame`` is the part spent reading frames and in the ReID's forward (crops included in
the tracker's own time), i.e. what appearance costs on top of the tracker.
"""
import argparse
import json
import os.path as osp
import time

import numpy as np
from mmengine.config import DictAction
from tracker_configs import tracker_config_path  # benchmarks/tracker_configs.py


def gt_rows(ann) -> np.ndarray:
    """MOTChallenge GT rows (``MOT_GT_ROW``: 1-based frame, id, x, y, w, h) of every object."""
    from ikun_mm.evaluation import mot_rows_from_boxes
    from ikun_mm.structures import GT_ROW
    return mot_rows_from_boxes(GT_ROW.take(ann.boxes, 'frame', 'id', 'x1', 'y1', 'x2', 'y2'))


def _wrap_timer(obj, method: str, timer: dict = None) -> dict:
    """Accumulate the wall time of ``obj.method`` calls into ``timer['seconds']``."""
    timer = timer if timer is not None else dict(seconds=0.)
    inner = getattr(obj, method)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            timer['seconds'] += time.perf_counter() - start

    setattr(obj, method, timed)
    return timer


def run(trackers, data_root, split, nkf_checkpoint=None, cfg_options=None,
        reid_checkpoint=None, neuralsort_motion='nkf'):
    from mmengine.config import Config

    from ikun_mm.datasets.refer_kitti_io import DETECTION_DIR, load_video_annotation, resolve_videos
    from ikun_mm.evaluation import evaluate_mot, mot_rows_from_boxes
    from ikun_mm.models.trackers import track_video
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if split == 'all':
        videos = resolve_videos(data_root, 'train') + resolve_videos(data_root, 'test')
    else:
        videos = resolve_videos(data_root, split)
    anns = {v: load_video_annotation(data_root, v) for v in sorted(videos)}
    gt = {v: gt_rows(a) for v, a in anns.items()}
    frames = {v: a.num_frames for v, a in anns.items()}
    table = {}
    for name in trackers:
        cfg = Config.fromfile(tracker_config_path(name))
        cfg.model.detector.det_dir = osp.join(data_root, DETECTION_DIR)
        if name.startswith('neuralsort') and nkf_checkpoint:
            cfg.model.tracker.motion.checkpoint = nkf_checkpoint
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        if name.startswith('neuralsort') and neuralsort_motion == 'kf':
            # the same tracker with mmdet's fixed filter, gated as the NKF is configured
            nkf = cfg.model.tracker.motion
            cfg.model.tracker.motion = dict(type='KalmanFilter',
                                            center_only=nkf.get('center_only', False),
                                            use_nsa=nkf.get('use_nsa', False))
        if cfg.model.get('reid') is not None:
            if not reid_checkpoint:
                raise SystemExit(f'{name} needs --reid-checkpoint (a trained ReID)')
            cfg.model.reid.checkpoint = reid_checkpoint
        model = MODELS.build(cfg.model).eval()
        pixel_timer = _wrap_timer(model, 'frame_tensor')
        if model.reid is not None:
            pixel_timer = _wrap_timer(model.reid, 'forward', pixel_timer)
        pred, seconds = {}, 0.
        for v, a in anns.items():
            start = time.perf_counter()
            res = track_video(model, a.num_frames, a.img_size, video=v,
                              img_paths=a.img_paths if model.needs_pixels else None)
            seconds += time.perf_counter() - start
            pred[v] = mot_rows_from_boxes(res[:, :7])
        table[name] = dict(evaluate_mot(gt, pred, frames)['COMBINED'])
        num_frames = sum(frames.values())
        table[name]['ms_per_frame'] = 1000 * seconds / num_frames
        table[name]['reid_ms_per_frame'] = 1000 * pixel_timer['seconds'] / num_frames
    return dict(data_root=data_root, split=split, videos=sorted(videos),
                nkf_checkpoint=nkf_checkpoint, cfg_options=cfg_options, results=table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/mini_refer_kitti')
    parser.add_argument('--split', default='test', choices=['all', 'train', 'val', 'test'],
                        help='videos to score (default test: the NKF trains on the train split, '
                        'so only test is held out)')
    parser.add_argument('--trackers', nargs='+',
                        default=['neuralsort', 'ocsort', 'bytetrack', 'sort', 'strongsort'])
    parser.add_argument('--nkf-checkpoint', default=None, help='trained NKF for NeuralSORT')
    parser.add_argument('--reid-checkpoint', default=None,
                        help='trained ReID for neuralsort_reid (configs/reid/...)')
    parser.add_argument('--neuralsort-motion', choices=['nkf', 'kf'], default='nkf',
                        help="NeuralSORT's motion model: the NKF, or mmdet's fixed KalmanFilter")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='overrides of every listed tracker\'s config (list only the '
                        'trackers they fit), e.g. model.tracker.gate_with_motion=False')
    parser.add_argument('--json', action='store_true', help='print JSON only')
    args = parser.parse_args()
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    import torch
    torch.set_num_threads(1)
    cfg_options = dict(args.cfg_options or {})
    out = run(args.trackers, args.data_root, args.split, args.nkf_checkpoint, cfg_options,
              args.reid_checkpoint, args.neuralsort_motion)
    if args.json:
        print(json.dumps(out, indent=1), file=result_stream)
        return
    keys = ['HOTA', 'DetA', 'AssA', 'MOTA', 'IDF1', 'IDSW']
    print(f'{len(out["videos"])} videos ({args.split}) of {args.data_root}')
    print('| tracker | ' + ' | '.join(keys) + ' | ms/frame | of which ReID |')
    for name, r in out['results'].items():
        cells = [f'{100 * r[k]:.2f}' if k != 'IDSW' else f'{r[k]:.0f}' for k in keys]
        cells += [f'{r["ms_per_frame"]:.1f}', f'{r["reid_ms_per_frame"]:.1f}']
        print(f'| {name} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
