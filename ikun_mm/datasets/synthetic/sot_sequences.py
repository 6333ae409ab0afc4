"""Generator of small synthetic single-object-tracking sequences, written in GOT-10k layout.

Each sequence shows a textured target (a two-colour checker/stripe pattern of random colours)
moving smoothly over a static cluttered background (random rectangles and ellipses plus noise),
with:

* **scale change**: the target's size follows ``exp(a sin(2 pi t / T + phi))``, a up to 0.35;
* **distractors**: other textured patches of similar size moving on their own (drawn behind the
  target), one of them with the target's colours in a different pattern;
* **short occlusion**: in most sequences a clutter-coloured bar covers the target for a few
  frames (fully covered frames are marked absent in ``absence.label``; the box stays the true
  position, as in GOT-10k).

Output (``<out>/<split>/``): ``list.txt``, and per sequence ``<seq>/00000001.jpg ...``,
``groundtruth.txt`` (``x,y,w,h`` per frame) and ``absence.label``; readable by
:class:`~ikun_mm.datasets.GOT10kDataset`. Deterministic per seed.
"""
import os
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np


def _texture(rng: np.random.Generator, size: Tuple[int, int],
             colours: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A (h, w, 3) uint8 two-colour pattern: checker, stripes or concentric rings."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    kind = rng.integers(3)
    period = rng.uniform(4, 8)
    if kind == 0:
        mask = ((xx // period).astype(int) + (yy // period).astype(int)) % 2 == 0
    elif kind == 1:
        angle = rng.uniform(0, np.pi)
        mask = (np.cos(angle) * xx + np.sin(angle) * yy) // period % 2 == 0
    else:
        r = np.hypot(xx - w / 2, yy - h / 2)
        mask = r // (period / 1.5) % 2 == 0
    img = np.where(mask[..., None], colours[0], colours[1]).astype(np.uint8)
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), [int(c) for c in colours[0] // 2], 1)
    return img


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    base = rng.integers(40, 200, size=3)
    img = np.empty((height, width, 3), np.float32)
    img[:] = base
    img += np.linspace(-30, 30, height)[:, None, None] * rng.uniform(-1, 1, size=3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(width * height / 300)):
        colour = [int(c) for c in rng.integers(0, 256, size=3)]
        x, y = int(rng.integers(width)), int(rng.integers(height))
        a, b = int(rng.integers(2, 14)), int(rng.integers(2, 14))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + a, y + b), colour, -1)
        else:
            cv2.ellipse(img, (x, y), (a, b), float(rng.uniform(0, 180)), 0, 360, colour, -1)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return img


def _trajectory(rng: np.random.Generator, frames: int, width: int, height: int,
                box_size: np.ndarray, speed: float) -> np.ndarray:
    """Smooth random walk of a centre that bounces inside the frame; (frames, 2)."""
    margin = box_size / 2 + 2
    lo, hi = margin, np.array([width, height]) - margin
    pos = rng.uniform(lo, hi)
    angle = rng.uniform(0, 2 * np.pi)
    out = np.empty((frames, 2))
    for t in range(frames):
        out[t] = pos
        angle += rng.normal(0, 0.25)
        step = speed * np.array([np.cos(angle), np.sin(angle)])
        pos = pos + step
        for d in range(2):
            if pos[d] < lo[d] or pos[d] > hi[d]:
                pos[d] = np.clip(pos[d], lo[d], hi[d])
                angle = np.pi - angle if d == 0 else -angle
    return out


def _paste(frame: np.ndarray, patch: np.ndarray, box: np.ndarray) -> None:
    """Draw ``patch`` resized into ``box`` (x1, y1, x2, y2), clipped to the frame."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = np.round(box).astype(int)
    if x2 - x1 < 1 or y2 - y1 < 1:
        return
    resized = cv2.resize(patch, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if cx2 <= cx1 or cy2 <= cy1:
        return
    frame[cy1:cy2, cx1:cx2] = resized[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]


def render_sequence(rng: np.random.Generator, frames: int = 40, width: int = 160,
                    height: int = 120, num_distractors: int = 2,
                    occlusion: bool = True) -> Tuple[List[np.ndarray], np.ndarray, np.ndarray]:
    """Render one sequence.

    Returns:
        frames (list of (H, W, 3) uint8 BGR), boxes (np.ndarray (T, 4) x1y1x2y2 float) and
        absent (bool (T,), target fully occluded).
    """
    bg = _background(rng, width, height)
    base = np.array([rng.uniform(0.12, 0.2) * width, 0])
    base[1] = base[0] * rng.uniform(0.6, 1.5)
    t = np.arange(frames)
    scale = np.exp(rng.uniform(0.15, 0.35) * np.sin(2 * np.pi * t / frames * rng.uniform(0.5, 1)
                                                       + rng.uniform(0, 2 * np.pi)))
    sizes = base[None] * scale[:, None]
    centres = _trajectory(rng, frames, width, height, sizes.max(0), rng.uniform(1.0, 3.0))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    colours = (rng.integers(0, 256, size=3), rng.integers(0, 256, size=3))
    target_tex = _texture(rng, (32, 32), colours)
    distractors = []
    for k in range(num_distractors):
        dcol = colours[::-1] if k == 0 else (rng.integers(0, 256, size=3),
                                            rng.integers(0, 256, size=3))
        dsize = base * rng.uniform(0.8, 1.2)
        dpath = _trajectory(rng, frames, width, height, dsize, rng.uniform(1.0, 3.0))
        distractors.append((_texture(rng, (32, 32), dcol),
                            np.concatenate([dpath - dsize / 2, dpath + dsize / 2], axis=1)))
    occluded = np.zeros(frames, bool)
    absent = np.zeros(frames, bool)
    occ_colour = [int(c) for c in rng.integers(40, 200, size=3)]
    if occlusion and frames >= 12:
        start = int(rng.integers(frames // 3, frames - 6))
        occluded[start:start + int(rng.integers(3, 6))] = True
    images = []
    for i in range(frames):
        frame = bg.copy()
        for tex, dboxes in distractors:
            _paste(frame, tex, dboxes[i])
        _paste(frame, target_tex, boxes[i])
        if occluded[i]:
            x1, y1, x2, y2 = boxes[i]
            pad = 0.15 * (x2 - x1)
            cover = np.array([x1 - pad, y1 - pad, x2 + pad, y2 + pad])
            if i % 2 == 1:  # partial occlusion on alternate frames: only the left 60 %
                cover[2] = x1 + 0.6 * (x2 - x1)
            else:
                absent[i] = True
            cv2.rectangle(frame, tuple(int(v) for v in cover[:2]),
                          tuple(int(v) for v in cover[2:]), occ_colour, -1)
        noise = rng.normal(0, 4, frame.shape)
        images.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return images, boxes, absent


def generate_sot_sequences(out_dir: str, split: str = 'train', num_sequences: int = 8,
                           frames: int = 40, size: Tuple[int, int] = (160, 120),
                           seed: int = 0, num_distractors: int = 2,
                           occlusion: bool = True) -> List[str]:
    """Write ``num_sequences`` synthetic sequences to ``<out_dir>/<split>/`` (GOT-10k layout).

    Args:
        out_dir: dataset root.
        split: split folder name.
        num_sequences, frames: sequences and frames per sequence.
        size: (W, H) of the frames.
        seed: random seed (same arguments -> same files).

    Returns:
        the sequence names.
    """
    rng = np.random.default_rng(seed)
    root = osp.join(out_dir, split)
    os.makedirs(root, exist_ok=True)
    names = []
    for k in range(num_sequences):
        name = f'SYN_{split}_{k + 1:05d}'
        folder = osp.join(root, name)
        os.makedirs(folder, exist_ok=True)
        images, boxes, absent = render_sequence(rng, frames, size[0], size[1], num_distractors,
                                                occlusion)
        for i, img in enumerate(images):
            cv2.imwrite(osp.join(folder, f'{i + 1:08d}.jpg'), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
        with open(osp.join(folder, 'groundtruth.txt'), 'w') as f:
            for x1, y1, x2, y2 in boxes:
                f.write(f'{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f}\n')
        with open(osp.join(folder, 'absence.label'), 'w') as f:
            f.write(''.join(f'{int(a)}\n' for a in absent))
        names.append(name)
    with open(osp.join(root, 'list.txt'), 'w') as f:
        f.write(''.join(n + '\n' for n in names))
    return names
