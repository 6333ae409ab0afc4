"""Trackers on simulated pedestrian crowds: walking, crossing, standing, occluding each other,
at several image sizes and frame rates, with detection dropouts, jitter and equal scores.

    python benchmarks/pedestrian_crowd.py [--scenes 12] [--seed 0]
        [--trackers neuralsort ocsort bytetrack] [--cfg-options model.tracker.X=...] [--json]

The generated mini Refer-KITTI has cars on lanes and a few pedestrians; this checks the trackers'
defaults on the motion they were not tuned on. A scene (all random numbers from ``--seed``):

* camera: image (W, H) from (1920, 1080), (1242, 375), (640, 480); frame rate 10, 15 or 30 fps
  (the same walking speeds in metres per second, so per-frame displacements differ 3x);
* people: 8-24 pedestrians; each walks at 0.8-1.8 m/s (some stand still), turns slowly (random
  heading drift) and crosses others; people enter and leave through the image borders; box height
  follows a ground-plane perspective (far people are small), aspect 0.35-0.45;
* detections: each visible person is missed with probability 0.15, and with probability 0.8
  when less than half of the box is visible (occluded by people nearer the camera, i.e. with a
  lower foot point); box corners jittered by N(0, 0.05 * size); about 0.3 false positives a frame
  at pedestrian sizes; **every detection has score 0.9** (no confidence to lean on);
* ground truth: every person at least half inside the image (boxes clipped to the image).

Trackers are built from their mini Refer-KITTI configs (``benchmarks/tracker_configs.py``; they
differ only in ``model.tracker``), run online (no interpolation) over detection files written to
a temporary folder, and scored with TrackEval (HOTA, IDF1, MOTA, ID switches) over all scenes,
and per frame rate and image size (HOTA).
"""
import argparse
import json
import os.path as osp
import tempfile
from typing import Dict, List, Tuple

import numpy as np
from mmengine.config import DictAction
from tracker_configs import tracker_config_path  # benchmarks/tracker_configs.py

from ikun_mm.structures import bbox_inside_fraction

SIZES = ((1920, 1080), (1242, 375), (640, 480))
FPS = (10, 15, 30)


def simulate_scene(rng: np.random.Generator, size: Tuple[int, int], fps: int,
                   seconds: float = 12.0) -> Tuple[np.ndarray, np.ndarray]:
    """One scene.

    Returns:
        gt: array (G, 6) ``frame (1-based), id, x, y, w, h`` (MOTChallenge ground truth);
        dets: array (D, 7) ``frame (1-based), -1, x, y, w, h, score``.
    """
    width, height = size
    frames = int(seconds * fps)
    horizon = 0.3 * height
    # box height (px) of a person whose feet are at image row y: linear ground-plane perspective
    near_h = 0.45 * height

    def box_height(y):
        return np.clip((y - horizon) / (height - horizon), 0.08, None) * near_h

    n = int(rng.integers(8, 25))
    # ground coordinates: u in [0, 1] across the image, depth row y_foot in [horizon+, H]
    state = []
    for k in range(n):
        start = int(rng.integers(0, frames // 2)) if k >= n // 2 else 0
        u = rng.uniform(-0.05, 1.05)
        y = rng.uniform(horizon + 0.15 * (height - horizon), height * 1.02)
        speed = 0. if rng.uniform() < 0.15 else rng.uniform(0.8, 1.8)
        heading = rng.uniform(0, 2 * np.pi)
        aspect = rng.uniform(0.35, 0.45)
        state.append(dict(start=start, u=u, y=y, speed=speed, heading=heading, aspect=aspect))
    gt, dets = [], []
    for f in range(frames):
        boxes, ids = [], []
        for k, p in enumerate(state):
            if f < p['start']:
                continue
            h = box_height(p['y'])
            # 1 m is about h / 1.7 pixels at this depth; per-frame displacement from m/s
            step = p['speed'] / fps * h / 1.7
            p['heading'] += rng.normal(0, 0.6 / np.sqrt(fps))
            p['u'] += np.cos(p['heading']) * step / width
            p['y'] += 0.5 * np.sin(p['heading']) * step  # depth moves slower on screen
            p['y'] = float(np.clip(p['y'], horizon + 0.1 * (height - horizon), height * 1.05))
            h = box_height(p['y'])
            w = p['aspect'] * h
            cx = p['u'] * width
            boxes.append([cx - w / 2, p['y'] - h, cx + w / 2, p['y']])
            ids.append(k + 1)
        if not boxes:
            continue
        boxes = np.array(boxes)
        ids = np.array(ids)
        inside = bbox_inside_fraction(boxes, width, height)
        vis = _visible_fraction(boxes) * inside
        clipped = np.clip(boxes, 0, [width, height, width, height])
        for b, i, s in zip(clipped, ids, inside):
            if s >= 0.5:
                gt.append([f + 1, i, b[0], b[1], b[2] - b[0], b[3] - b[1]])
        for b, v, s in zip(clipped, vis, inside):
            if s < 0.5:
                continue
            miss = 0.8 if v < 0.5 else 0.15
            if rng.uniform() < miss:
                continue
            w, h = b[2] - b[0], b[3] - b[1]
            noisy = b + rng.normal(0, 0.05, 4) * np.array([w, h, w, h])
            if noisy[2] - noisy[0] > 2 and noisy[3] - noisy[1] > 2:
                dets.append([f + 1, -1, noisy[0], noisy[1], noisy[2] - noisy[0],
                             noisy[3] - noisy[1], 0.9])
        for _ in range(rng.poisson(0.3)):
            y = rng.uniform(horizon + 0.2 * (height - horizon), height)
            h = box_height(y)
            x = rng.uniform(0, width - 0.4 * h)
            dets.append([f + 1, -1, x, y - h, 0.4 * h, h, 0.9])
    return np.array(gt, float).reshape(-1, 6), np.array(dets, float).reshape(-1, 7)


def _visible_fraction(boxes: np.ndarray, samples: int = 8) -> np.ndarray:
    """Fraction of each box not covered by boxes nearer the camera (lower foot point), on a
    ``samples`` x ``samples`` grid of points."""
    g = (np.arange(samples) + 0.5) / samples
    vis = np.ones(len(boxes))
    for i, b in enumerate(boxes):
        xs = b[0] + g * (b[2] - b[0])
        ys = b[1] + g * (b[3] - b[1])
        px, py = np.meshgrid(xs, ys)
        covered = np.zeros_like(px, bool)
        for j in np.flatnonzero(boxes[:, 3] > b[3]):
            c = boxes[j]
            covered |= (px >= c[0]) & (px <= c[2]) & (py >= c[1]) & (py <= c[3])
        vis[i] = 1 - covered.mean()
    return vis


def make_scenes(num: int, seed: int) -> List[dict]:
    """``num`` scenes cycling through every (image size, frame rate) pair."""
    rng = np.random.default_rng(seed)
    combos = [(s, f) for s in SIZES for f in FPS]
    scenes = []
    for k in range(num):
        size, fps = combos[k % len(combos)]
        gt, dets = simulate_scene(rng, size, fps)
        scenes.append(dict(name=f'crowd{k:02d}', size=size, fps=fps, gt=gt, dets=dets,
                           num_frames=int(max(gt[:, 0].max(), dets[:, 0].max()))))
    return scenes


def run(scenes: List[dict], trackers: List[str], cfg_options=None) -> Dict[str, dict]:
    from mmengine.config import Config

    from ikun_mm.evaluation import evaluate_mot, mot_rows_from_boxes
    from ikun_mm.models.trackers import track_video
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for s in scenes:
            np.savetxt(osp.join(tmp, f'{s["name"]}.txt'), s['dets'], delimiter=',', fmt='%.3f')
        gt = {s['name']: s['gt'] for s in scenes}
        frames = {s['name']: s['num_frames'] for s in scenes}
        for name in trackers:
            cfg = Config.fromfile(tracker_config_path(name))
            cfg.model.detector.det_dir = tmp
            if name == 'neuralsort' and cfg_options:
                cfg.merge_from_dict(cfg_options)
            model = MODELS.build(cfg.model).eval()
            pred = {}
            for s in scenes:
                res = track_video(model, s['num_frames'], s['size'], video=s['name'],
                                  postprocess=False)
                pred[s['name']] = mot_rows_from_boxes(res[:, :7])
            res = evaluate_mot(gt, pred, frames)
            groups = {}
            for key, members in _groups(scenes).items():
                groups[key] = evaluate_mot({m: gt[m] for m in members},
                                           {m: pred[m] for m in members},
                                           {m: frames[m] for m in members})['COMBINED']['HOTA']
            out[name] = dict(combined=res['COMBINED'], groups=groups)
    return out


def _groups(scenes: List[dict]) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = {}
    for s in scenes:
        groups.setdefault(f'{s["fps"]}fps', []).append(s['name'])
        groups.setdefault(f'{s["size"][0]}x{s["size"][1]}', []).append(s['name'])
    return groups


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenes', type=int, default=9)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--trackers', nargs='+', default=['neuralsort', 'ocsort', 'bytetrack'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='overrides of the NeuralSORT config')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    import torch
    torch.set_num_threads(1)
    scenes = make_scenes(args.scenes, args.seed)
    table = run(scenes, args.trackers, args.cfg_options)
    summary = dict(seed=args.seed, scenes=len(scenes),
                   gt_boxes=int(sum(len(s['gt']) for s in scenes)),
                   detections=int(sum(len(s['dets']) for s in scenes)),
                   cfg_options=args.cfg_options, results=table)
    if args.json:
        print(json.dumps(summary, indent=1, default=float), file=result_stream)
        return
    print(f'{len(scenes)} scenes, seed {args.seed}: {summary["gt_boxes"]} GT boxes, '
          f'{summary["detections"]} detections')
    keys = ('HOTA', 'DetA', 'AssA', 'MOTA', 'IDF1', 'IDSW')
    print('| tracker | ' + ' | '.join(keys) + ' | ' + ' | '.join(_groups(scenes)) + ' |')
    for name, r in table.items():
        c = r['combined']
        print(f'| {name} | ' + ' | '.join(f'{100 * c[k]:.2f}' if k != 'IDSW' else f'{int(c[k])}'
                                          for k in keys)
              + ' | ' + ' | '.join(f'{100 * v:.2f}' for v in r['groups'].values()) + ' |')


if __name__ == '__main__':
    main()
