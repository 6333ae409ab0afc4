"""Generator of the mini Refer-KITTI: rendered street videos in the exact Refer-KITTI layout.

A video is a static street (sky and buildings, a far sidewalk, a two-lane road with a parking
strip, a near sidewalk) with cars and pedestrians drawn back to front, so nearer objects occlude
farther ones. Every object has a class, a colour, a lane, and a speed profile (constant, parked /
standing, or stop-and-go); movers enter and leave the frame. Per frame the generator knows each
object's attributes (class, colour, moving or not, direction, side of the image, fast/slow) and an
expression's label lists, per frame, exactly the objects for which its predicate holds.

Outputs (under ``out``; see :mod:`ikun_mm.datasets.refer_kitti_io` for the formats):
  - ``KITTI/training/image_02/<video>/<frame:06d>.png``
  - ``KITTI/labels_with_ids/image_02/<video>/<frame:06d>.txt``  (cls 0 = car, 1 = pedestrian)
  - ``expression/<video>/<sentence-with-dashes>.json``
  - ``KITTI/detections/image_02/<video>.txt``  simulated detector (MOTChallenge, 1-based frames,
    ``frame,-1,x,y,w,h,score,cls,-1,-1``): misses (more when occluded), false positives, box
    jitter, scores
  - ``gt_template/<video>/<sentence-with-dashes>/gt.txt``  MOTChallenge GT of each expression
  - ``split.json``  ``{"train": [...], "val": [...], "test": [...]}`` (no val for custom counts)

Deterministic per seed: the same arguments give byte-identical files.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..refer_kitti_io import (DETECTION_DIR, EXPRESSION_DIR, IMAGE_DIR, LABEL_DIR,
                              REFER_KITTI_SPLIT, SPLIT_FILE, sentence_to_filename,
                              write_gt_templates)

CLASSES = ('car', 'pedestrian')
# BGR colours; names are what the expressions say.
COLOURS = {
    'red': (40, 40, 210),
    'blue': (200, 90, 30),
    'white': (235, 235, 235),
    'black': (35, 35, 35),
    'yellow': (40, 210, 230),
    'green': (60, 170, 50),
}
#: speed (px/frame at the reference width 384) above which a mover is "fast" / below "slow".
FAST_SPEED = 4.0
SLOW_SPEED = 2.5
MOVING_SPEED = 0.3


@dataclass
class _Object:
    track_id: int
    cls: int
    colour: str
    y_bottom: float  # px, bottom of the box (depth: larger = nearer)
    width: float
    height: float
    xs: np.ndarray  # (F,) left x per frame
    speeds: np.ndarray  # (F,) signed px/frame; the velocity at that frame
    heading: int  # +1 faces right, -1 faces left: the way it moves (parked: either way)


@dataclass
class FrameAttributes:
    """What is true of one object in one frame; expressions are predicates over this."""
    cls: str
    colour: str
    moving: bool
    direction: Optional[str]  # 'left' / 'right' while moving, else None
    side: str  # 'left' / 'right' half of the image
    speed: Optional[str]  # 'fast' / 'slow' / None
    parked: bool  # never moves during the video


def _scene_layout(height: int) -> Dict[str, float]:
    return dict(horizon=0.36 * height, far_walk=0.44 * height, lane_far=0.62 * height,
                lane_near=0.80 * height, parking=0.86 * height, near_walk=0.99 * height)


def _speed_profile(rng: np.random.Generator, frames: int, v0: float,
                   kind: str) -> np.ndarray:
    speeds = np.full(frames, v0)
    if kind == 'parked':
        speeds[:] = 0.0
    elif kind == 'stop_and_go':
        start = int(rng.integers(frames // 5, frames // 2))
        stop = int(min(frames, start + rng.integers(frames // 5, frames // 2)))
        speeds[start:stop] = 0.0
    return speeds


def _heading(speeds: np.ndarray, rng: np.random.Generator) -> int:
    """The way an object faces: the sign of its velocity; a random side when it never moves."""
    moving = speeds[speeds != 0]
    if moving.size:
        return 1 if moving[0] > 0 else -1
    return 1 if rng.random() < 0.5 else -1


def _make_objects(rng: np.random.Generator, frames: int, width: int,
                  height: int) -> List[_Object]:
    lay = _scene_layout(height)
    scale = width / 384.0
    objects = []
    tid = 1
    colours = list(COLOURS)

    def mover_start(w: float, v: np.ndarray) -> float:
        # Position at frame 0 such that the object is inside the frame around a random frame.
        t_in = rng.integers(0, max(1, frames * 2 // 3))
        x_in = rng.uniform(0.1 * width, 0.9 * width - w)
        return x_in - float(np.sum(v[:t_in]))

    n_cars = int(rng.integers(5, 9))
    for k in range(n_cars):
        kind = rng.choice(['move', 'move', 'move', 'parked', 'stop_and_go'])
        lane = 'parking' if kind == 'parked' else rng.choice(['lane_far', 'lane_near'])
        depth = (lay[lane] - lay['horizon']) / (lay['near_walk'] - lay['horizon'])
        h = (0.12 + 0.12 * depth) * height * rng.uniform(0.9, 1.1)
        w = h * rng.uniform(2.0, 2.6)
        direction = -1.0 if lane == 'lane_far' else 1.0
        if rng.random() < 0.25:
            direction = -direction
        v0 = direction * rng.uniform(1.0, 6.0) * scale
        speeds = _speed_profile(rng, frames, v0, kind)
        if kind == 'parked':
            x0 = rng.uniform(0, width - w)
        else:
            x0 = mover_start(w, speeds)
        xs = x0 + np.concatenate([[0.0], np.cumsum(speeds[:-1])])
        objects.append(_Object(tid, 0, colours[int(rng.integers(len(colours)))],
                               lay[lane] + rng.uniform(-2, 2), w, h, xs, speeds,
                               _heading(speeds, rng)))
        tid += 1

    n_peds = int(rng.integers(3, 7))
    for k in range(n_peds):
        kind = rng.choice(['move', 'move', 'parked', 'stop_and_go'])
        walk = rng.choice(['far_walk', 'near_walk'])
        depth = (lay[walk] - lay['horizon']) / (lay['near_walk'] - lay['horizon'])
        h = (0.16 + 0.16 * depth) * height * rng.uniform(0.9, 1.1)
        w = h * 0.38
        v0 = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 2.0) * scale
        speeds = _speed_profile(rng, frames, v0, kind)
        x0 = rng.uniform(0, width - w) if kind == 'parked' else mover_start(w, speeds)
        xs = x0 + np.concatenate([[0.0], np.cumsum(speeds[:-1])])
        objects.append(_Object(tid, 1, colours[int(rng.integers(len(colours)))],
                               lay[walk] + rng.uniform(-1, 1), w, h, xs, speeds,
                               _heading(speeds, rng)))
        tid += 1
    return objects


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    lay = _scene_layout(height)
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = (200, 180, 150)  # sky
    x = 0
    while x < width:  # buildings
        bw = int(rng.integers(width // 12, width // 5))
        bh = int(rng.uniform(0.4, 1.0) * lay['horizon'])
        shade = tuple(int(c) for c in rng.integers(90, 170, 3))
        cv2.rectangle(img, (x, int(lay['horizon']) - bh), (x + bw, int(lay['horizon'])), shade, -1)
        x += bw
    cv2.rectangle(img, (0, int(lay['horizon'])), (width, int(lay['far_walk'])), (150, 155, 160), -1)
    cv2.rectangle(img, (0, int(lay['far_walk'])), (width, int(lay['parking'])), (85, 85, 85), -1)
    mid = int((lay['lane_far'] + lay['lane_near']) / 2) - int(0.08 * height)
    for xd in range(0, width, width // 16):
        cv2.line(img, (xd, mid), (xd + width // 32, mid), (220, 220, 220), 1)
    cv2.rectangle(img, (0, int(lay['parking'])), (width, height), (160, 165, 170), -1)
    # coarse texture (8x8 blocks) keeps the frames natural-looking and PNG-compressible
    noise = rng.integers(-5, 6, (height // 8 + 1, width // 8 + 1, 1))
    noise = np.kron(noise, np.ones((8, 8, 1), np.int16))[:height, :width]
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _box(obj: _Object, frame: int) -> Tuple[float, float, float, float]:
    x1 = obj.xs[frame]
    return x1, obj.y_bottom - obj.height, x1 + obj.width, obj.y_bottom


def _draw(img: np.ndarray, obj: _Object, frame: int) -> None:
    x1, y1, x2, y2 = (int(round(v)) for v in _box(obj, frame))
    colour = COLOURS[obj.colour]
    w, h = x2 - x1, y2 - y1
    if obj.cls == 0:
        body_top = y1 + int(0.35 * h)
        cv2.rectangle(img, (x1, body_top), (x2, y2 - int(0.15 * h)), colour, -1)
        cv2.rectangle(img, (x1 + int(0.2 * w), y1), (x2 - int(0.2 * w), body_top), colour, -1)
        cv2.rectangle(img, (x1 + int(0.27 * w), y1 + int(0.08 * h)),
                      (x2 - int(0.27 * w), body_top), (230, 200, 150), -1)  # windows
        r = max(2, int(0.17 * h))
        for cx in (x1 + int(0.22 * w), x2 - int(0.22 * w)):
            cv2.circle(img, (cx, y2 - r), r, (20, 20, 20), -1)
        # Like a real car seen from the side, the front shows which way it faces: a pale
        # headlight at the front, a red tail light at the back.
        lamp_w, lamp_y = max(2, int(0.08 * w)), (body_top + 1, body_top + max(3, int(0.2 * h)))
        right, left = (x2 - lamp_w, x2), (x1, x1 + lamp_w)
        front, back = (right, left) if obj.heading > 0 else (left, right)
        cv2.rectangle(img, (front[0], lamp_y[0]), (front[1], lamp_y[1]), (170, 250, 255), -1)
        cv2.rectangle(img, (back[0], lamp_y[0]), (back[1], lamp_y[1]), (0, 0, 150), -1)
    else:
        head = max(2, int(0.12 * h))
        cx = (x1 + x2) // 2
        cv2.circle(img, (cx, y1 + head), head, (140, 170, 220), -1)
        # dark hair on the back of the head shows which way the pedestrian faces
        hair = (cx - obj.heading * max(1, head // 2), y1 + head)
        cv2.circle(img, hair, max(1, head * 2 // 3), (30, 30, 50), -1)
        cv2.rectangle(img, (x1, y1 + 2 * head), (x2, y1 + int(0.6 * h)), colour, -1)
        swing = int(0.25 * w * np.sin(frame * 0.8)) if abs(obj.speeds[frame]) > 0 else 0
        hip, leg = (cx, y1 + int(0.6 * h)), max(1, w // 4)
        cv2.line(img, hip, (cx - swing - w // 4, y2), (50, 40, 40), leg)
        cv2.line(img, hip, (cx + swing + w // 4, y2), (50, 40, 40), leg)


def _visible_box(box, width, height) -> Optional[Tuple[float, float, float, float]]:
    x1, y1, x2, y2 = max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height)
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    return x1, y1, x2, y2


def frame_attributes(obj: _Object, frame: int, visible_box: Sequence[float], width: int,
                     scale: float) -> FrameAttributes:
    """Attributes of ``obj`` at ``frame``; the side of the image is judged on the centre of the
    visible (clipped) box, i.e. of what the labels show."""
    v = obj.speeds[frame]
    moving = abs(v) > MOVING_SPEED * scale
    centre = (visible_box[0] + visible_box[2]) / 2
    speed = None
    if moving and obj.cls == 0:
        speed = 'fast' if abs(v) >= FAST_SPEED * scale else (
            'slow' if abs(v) < SLOW_SPEED * scale else None)
    return FrameAttributes(
        cls=CLASSES[obj.cls], colour=obj.colour, moving=bool(moving),
        direction=('left' if v < 0 else 'right') if moving else None,
        side='left' if centre < width / 2 else 'right', speed=speed,
        parked=bool(np.all(obj.speeds == 0)))


def expression_predicates() -> Dict[str, Callable[[FrameAttributes], bool]]:
    """Sentence -> predicate over :class:`FrameAttributes`. Built from templates over the
    attribute values; nothing here is specific to one video."""
    preds: Dict[str, Callable[[FrameAttributes], bool]] = {}
    noun = {'car': 'cars', 'pedestrian': 'pedestrians'}
    for cls, word in noun.items():
        preds[word] = lambda a, c=cls: a.cls == c
        for side in ('left', 'right'):
            preds[f'{word} on the {side}'] = lambda a, c=cls, s=side: a.cls == c and a.side == s
        for colour in COLOURS:
            text = f'{colour} cars' if cls == 'car' else f'pedestrians in {colour}'
            preds[text] = lambda a, c=cls, k=colour: a.cls == c and a.colour == k
    for d in ('left', 'right'):
        preds[f'cars moving {d}'] = lambda a, d=d: a.cls == 'car' and a.direction == d
        preds[f'pedestrians walking {d}'] = (
            lambda a, d=d: a.cls == 'pedestrian' and a.direction == d)
        for colour in COLOURS:
            preds[f'{colour} cars moving {d}'] = (
                lambda a, d=d, k=colour: a.cls == 'car' and a.direction == d and a.colour == k)
        preds[f'moving cars on the {d}'] = (
            lambda a, d=d: a.cls == 'car' and a.moving and a.side == d)
        preds[f'parked cars on the {d}'] = (
            lambda a, d=d: a.cls == 'car' and a.parked and a.side == d)
        for colour in COLOURS:
            preds[f'{colour} cars on the {d}'] = (
                lambda a, d=d, k=colour: a.cls == 'car' and a.side == d and a.colour == k)
    preds['moving cars'] = lambda a: a.cls == 'car' and a.moving
    preds['parked cars'] = lambda a: a.cls == 'car' and a.parked
    preds['stopped cars'] = lambda a: a.cls == 'car' and not a.moving and not a.parked
    preds['fast cars'] = lambda a: a.cls == 'car' and a.speed == 'fast'
    preds['slow cars'] = lambda a: a.cls == 'car' and a.speed == 'slow'
    preds['walking pedestrians'] = lambda a: a.cls == 'pedestrian' and a.moving
    preds['standing pedestrians'] = lambda a: a.cls == 'pedestrian' and not a.moving
    return preds


#: Validation videos of the default mini Refer-KITTI: the three KITTI tracking videos that
#: Refer-KITTI does not use, so the paper's train/test split stays as it is.
VAL_VIDEOS = ('0000', '0017', '0019')


def default_split(videos: Sequence[str]) -> Dict[str, List[str]]:
    """train/val/test for the default names (the paper's train/test plus :data:`VAL_VIDEOS`),
    train/test (every sixth video held out) otherwise."""
    if list(videos) == sorted(REFER_KITTI_SPLIT['train'] + REFER_KITTI_SPLIT['test'] +
                              list(VAL_VIDEOS)):
        return dict(train=list(REFER_KITTI_SPLIT['train']), val=list(VAL_VIDEOS),
                    test=list(REFER_KITTI_SPLIT['test']))
    test = [v for i, v in enumerate(videos) if i % 6 == 5] or list(videos[-1:])
    train = [v for v in videos if v not in test] or list(videos)
    return dict(train=train, test=test)


def _write_text(path: str, text: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def generate_video(out: str, video: str, seed: int, index: int, frames: int, width: int,
                   height: int, min_expression_boxes: int = 2) -> Dict[str, int]:
    """Render one video and write all its files. Returns counts for the summary."""
    rng = np.random.default_rng([seed, index])
    scale = width / 384.0
    objects = sorted(_make_objects(rng, frames, width, height), key=lambda o: o.y_bottom)
    background = _background(rng, width, height)
    preds = expression_predicates()
    positives: Dict[str, Dict[int, List[int]]] = {s: {} for s in preds}
    det_lines = []
    img_dir = osp.join(out, IMAGE_DIR, video)
    label_dir = osp.join(out, LABEL_DIR, video)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(label_dir, exist_ok=True)
    for f in range(frames):
        img = background.copy()
        cover = np.zeros((height, width), np.int32)  # index+1 of the object drawn on top
        visible = []
        for k, obj in enumerate(objects):  # back to front
            box = _visible_box(_box(obj, f), width, height)
            if box is None:
                continue
            _draw(img, obj, f)
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cover[y1:y2, x1:x2] = k + 1
            visible.append((k, obj, box))
        lines = []
        for k, obj, box in sorted(visible, key=lambda t: t[1].track_id):
            x1, y1, x2, y2 = box
            lines.append(f'{obj.cls} {obj.track_id} {x1 / width:.6f} {y1 / height:.6f} '
                         f'{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n')
            attrs = frame_attributes(obj, f, box, width, scale)
            for sentence, pred in preds.items():
                if pred(attrs):
                    positives[sentence].setdefault(f, []).append(obj.track_id)
            # simulated detector
            xi1, yi1, xi2, yi2 = (int(round(v)) for v in box)
            area = max(1, (xi2 - xi1) * (yi2 - yi1))
            occluded = 1.0 - np.count_nonzero(cover[yi1:yi2, xi1:xi2] == k + 1) / area
            if rng.random() < 0.04 + 0.6 * occluded:
                continue
            bw, bh = x2 - x1, y2 - y1
            cx = (x1 + x2) / 2 + rng.normal(0, 0.04 * bw)
            cy = (y1 + y2) / 2 + rng.normal(0, 0.04 * bh)
            bw *= np.exp(rng.normal(0, 0.05))
            bh *= np.exp(rng.normal(0, 0.05))
            score = float(np.clip(0.92 - 0.5 * occluded + rng.normal(0, 0.04), 0.3, 0.99))
            det_lines.append((f, cx - bw / 2, cy - bh / 2, bw, bh, score, obj.cls))
        for _ in range(rng.poisson(0.3)):  # false positives
            bh = rng.uniform(0.1, 0.3) * height
            bw = bh * rng.uniform(0.4, 2.4)
            x, y = rng.uniform(0, width - bw), rng.uniform(0.35 * height, height - bh)
            det_lines.append((f, x, y, bw, bh, float(rng.uniform(0.1, 0.55)),
                              int(rng.integers(2))))
        _write_text(osp.join(label_dir, f'{f:06d}.txt'), ''.join(lines))
        cv2.imwrite(osp.join(img_dir, f'{f:06d}.png'), img)

    det_text = ''.join(f'{f + 1},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f},{c},-1,-1\n'
                       for f, x, y, w, h, s, c in det_lines)
    _write_text(osp.join(out, DETECTION_DIR, f'{video}.txt'), det_text)

    n_expr = 0
    for sentence, label in positives.items():
        if sum(len(v) for v in label.values()) < min_expression_boxes:
            continue
        name = sentence_to_filename(sentence)
        data = dict(label={str(f): ids for f, ids in sorted(label.items())}, ignore=[],
                    video_name=video, sentence=sentence)
        _write_text(osp.join(out, EXPRESSION_DIR, video, name), json.dumps(data, sort_keys=True))
        n_expr += 1
    write_gt_templates(out, video)  # read back through the Refer-KITTI reader
    return dict(objects=len(objects), expressions=n_expr, detections=len(det_lines))


def generate_mini_refer_kitti(out: str, seed: int = 0, videos: Optional[int] = None,
                              frames: int = 48, size: Tuple[int, int] = (384, 128),
                              progress: bool = False) -> Dict[str, object]:
    """Write the whole mini Refer-KITTI under ``out``.

    Args:
        out: output root (created). Existing files of the same names are overwritten; other
            files are left alone.
        seed: random seed; equal arguments give identical files.
        videos: number of videos. ``None`` (default) gives the 18 Refer-KITTI video names with
            the paper's train/test split plus a validation split of the three KITTI videos
            Refer-KITTI leaves out (0000, 0017, 0019; for fitting the calibration); any other
            number gives ``0000``... with every sixth video held out for test.
        frames: frames per video.
        size: ``(width, height)`` of the frames.
        progress: show a progress bar.

    Returns:
        summary dict: videos, split, objects, expressions, detections.
    """
    if videos is None:
        names = sorted(REFER_KITTI_SPLIT['train'] + REFER_KITTI_SPLIT['test'] + list(VAL_VIDEOS))
    else:
        if videos < 1:
            raise ValueError(f'videos must be >= 1, got {videos}')
        names = [f'{i:04d}' for i in range(videos)]
    if frames < 8:
        raise ValueError(f'frames must be >= 8 (one iKUN window), got {frames}')
    width, height = size
    if width < 64 or height < 32:
        raise ValueError(f'size must be at least 64x32, got {width}x{height}')
    split = default_split(names)
    totals = dict(objects=0, expressions=0, detections=0)
    iterator = names
    if progress:
        from tqdm import tqdm
        iterator = tqdm(names, desc='generating videos', unit='video')
    for video in iterator:
        counts = generate_video(out, video, seed, int(video), frames, width, height)
        for k in totals:
            totals[k] += counts[k]
    _write_text(osp.join(out, SPLIT_FILE), json.dumps(split, indent=1, sort_keys=True))
    return dict(videos=len(names), split=split, **totals)
