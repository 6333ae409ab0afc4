"""One-step-ahead box prediction of the Neural Kalman Filter vs mmdet's KalmanFilter on held-out
tracks.

    python benchmarks/nkf_vs_kf.py --checkpoint work_dirs/nkf_mini_refer_kitti/epoch_10.pth \
        [--data-root data/mini_refer_kitti] [--split test] [--source detections|simulated] [--json]

For every GT track of the split, the filter is started at the first detection matched to it and
run through the video: at each frame it predicts the box (scored against the GT box of that frame)
and then updates with the frame's detection if there is one. Observations are the detection files
matched to GT by IoU >= 0.5 (``detections``) or GT with simulated noise (``simulated``, seeded).
Reported: mean squared error of (cx, cy, w, h) normalised by the GT height (the training loss),
and its two halves, the centre part (cx, cy) and the size part (w, h), separately; mean centre
and size (|dw| and |dh| averaged) errors in pixels; mean IoU with GT; over all predicted steps.
Both filters run through their numpy tracker API (``initiate``/``predict``/``update``), i.e. as
a tracker uses them.
"""
import argparse
import json
import os.path as osp

import numpy as np

from ikun_mm.structures import GT_ROW, bbox_iou, cxcyah_to_xyxy, xyxy_to_cxcyah


def sequences(data_root, split, source, seed=0):
    """Yield (gt (T, 4) xyah, gt_valid (T,), obs (T, 4) xyah, scores (T,), obs_valid (T,))."""
    from ikun_mm.datasets.refer_kitti_io import (DETECTION_DIR, load_detections,
                                                 load_video_annotation, resolve_videos)
    from ikun_mm.datasets.track_sequences import match_detections_to_gt
    rng = np.random.default_rng(seed)
    for video in resolve_videos(data_root, split):
        ann = load_video_annotation(data_root, video)
        matches = match_detections_to_gt(
            ann.boxes, load_detections(osp.join(data_root, DETECTION_DIR, f'{video}.txt')))
        for tid in ann.track_ids():
            rows = ann.track(tid)
            frames = rows[:, GT_ROW.frame].astype(int)
            first, last = int(frames[0]), int(frames[-1])
            span = last - first + 1
            gt = np.zeros((span, 4))
            gt_valid = np.zeros(span, bool)
            idx = frames - first
            gt[idx], gt_valid[idx] = xyxy_to_cxcyah(GT_ROW.boxes(rows)), True
            if source == 'detections':
                obs, scores, valid = np.zeros((span, 4)), np.zeros(span), np.zeros(span, bool)
                for t in range(span):
                    m = matches.get((first + t, tid))
                    if m is not None:
                        obs[t], scores[t], valid[t] = xyxy_to_cxcyah(m[:4]), m[4], True
            else:
                q = rng.uniform(0, 1, span)
                scores = 0.4 + 0.55 * q
                w, h = gt[:, 2] * gt[:, 3], gt[:, 3]
                s = 1.5 - q
                cx = gt[:, 0] + rng.normal(0, 1, span) * 0.04 * s * w
                cy = gt[:, 1] + rng.normal(0, 1, span) * 0.04 * s * h
                w = w * np.exp(rng.normal(0, 1, span) * 0.05 * s)
                h = h * np.exp(rng.normal(0, 1, span) * 0.05 * s)
                obs = np.stack([cx, cy, w / np.maximum(h, 1e-6), h], -1)
                valid = gt_valid & (rng.uniform(0, 1, span) > 0.1)
            start = np.flatnonzero(valid)
            if len(start) == 0 or span - start[0] < 2:
                continue
            s0 = start[0]
            yield gt[s0:], gt_valid[s0:], obs[s0:], scores[s0:], valid[s0:]


def evaluate(kf, seqs, pass_score):
    sq, sq_centre, sq_size, centre, size, ious = [], [], [], [], [], []
    for gt, gt_valid, obs, scores, valid in seqs:
        mean, cov = kf.initiate(obs[0])
        for t in range(1, len(gt)):
            mean, cov = kf.predict(mean, cov)
            if gt_valid[t]:
                p, g = mean[:4], gt[t]
                pc = np.array([p[0], p[1], p[2] * p[3], p[3]])
                gc = np.array([g[0], g[1], g[2] * g[3], g[3]])
                err = ((pc - gc) / g[3]) ** 2
                sq.append(np.mean(err))
                sq_centre.append(np.mean(err[:2]))
                sq_size.append(np.mean(err[2:]))
                centre.append(np.hypot(*(pc[:2] - gc[:2])))
                size.append(np.mean(np.abs(pc[2:] - gc[2:])))
                a, b = cxcyah_to_xyxy(p), cxcyah_to_xyxy(g)
                ious.append(float(bbox_iou(a[None], b[None], aligned=True, eps=1e-9)[0]))
            if valid[t]:
                if pass_score:
                    mean, cov = kf.update(mean, cov, obs[t], float(scores[t]))
                else:
                    mean, cov = kf.update(mean, cov, obs[t])
    return dict(norm_mse=float(np.mean(sq)), centre_norm_mse=float(np.mean(sq_centre)),
                size_norm_mse=float(np.mean(sq_size)), centre_err_px=float(np.mean(centre)),
                size_err_px=float(np.mean(size)), iou=float(np.mean(ious)), steps=len(sq))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', required=True, help='trained NeuralKalmanFilter')
    parser.add_argument('--data-root', default='data/mini_refer_kitti')
    parser.add_argument('--split', default='test')
    parser.add_argument('--source', default='detections', choices=['detections', 'simulated'])
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    import torch
    torch.set_num_threads(1)
    from mmdet.models.task_modules.tracking import KalmanFilter

    from ikun_mm.models.motion import NeuralKalmanFilter
    seqs = list(sequences(args.data_root, args.split, args.source))
    kf = evaluate(KalmanFilter(), seqs, pass_score=False)
    nkf = evaluate(NeuralKalmanFilter(checkpoint=args.checkpoint), seqs, pass_score=True)
    out = dict(data_root=args.data_root, split=args.split, source=args.source, tracks=len(seqs),
               kalman_filter=kf, neural_kalman_filter=nkf,
               norm_mse_reduction=1 - nkf['norm_mse'] / kf['norm_mse'],
               centre_norm_mse_reduction=1 - nkf['centre_norm_mse'] / kf['centre_norm_mse'],
               size_norm_mse_reduction=1 - nkf['size_norm_mse'] / kf['size_norm_mse'],
               centre_err_reduction=1 - nkf['centre_err_px'] / kf['centre_err_px'],
               size_err_reduction=1 - nkf['size_err_px'] / kf['size_err_px'],
               target_norm_mse_reduction=0.15)
    out['meets_target'] = out['norm_mse_reduction'] >= 0.15
    if args.json:
        print(json.dumps(out, indent=1), file=result_stream)
    else:
        for k, v in out.items():
            print(f'{k}: {v}')


if __name__ == '__main__':
    main()
