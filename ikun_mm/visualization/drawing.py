"""Drawing referred tracks on frames and writing videos (plain OpenCV, BGR uint8 images)."""
import os
import os.path as osp
from typing import Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np

from ikun_mm.structures import REFERRED_ROW


def colour_for_id(track_id: int) -> tuple:
    """A stable, well separated BGR colour per track id (golden-ratio hue walk)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 200, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_tracks(img: np.ndarray, boxes: np.ndarray, ids: Sequence[int],
                scores: Optional[Sequence[float]] = None, caption: Optional[str] = None,
                thickness: int = 2) -> np.ndarray:
    """Draw boxes labelled ``id`` (and ``score``) and an optional caption on a copy of ``img``.

    Args:
        img: BGR image of shape (H, W, 3), uint8.
        boxes: array of shape (N, 4), ``x1, y1, x2, y2`` in pixels.
        ids: N track ids.
        scores: N scores or None.
        caption: text drawn in the top-left corner (e.g. the expression).
    """
    out = img.copy()
    scale = max(0.35, min(out.shape[:2]) / 700)
    for k, (box, tid) in enumerate(zip(np.asarray(boxes, float).reshape(-1, 4), ids)):
        colour = colour_for_id(int(tid))
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f'{int(tid)}' if scores is None else f'{int(tid)}: {float(scores[k]):.2f}'
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = max(y1, th + 2)
        cv2.rectangle(out, (x1, ty - th - 2), (x1 + tw + 2, ty), colour, -1)
        cv2.putText(out, text, (x1 + 1, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    if caption:
        (tw, th), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale * 1.2, 1)
        cv2.rectangle(out, (0, 0), (tw + 8, th + 8), (0, 0, 0), -1)
        cv2.putText(out, caption, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale * 1.2,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_video(frames: Iterable[np.ndarray], path: str, fps: float = 10.0) -> int:
    """Write BGR frames to ``path`` (``.mp4`` with the mp4v codec, ``.avi`` with MJPG).

    The file is written to a hidden temporary name (``.<name>.partial<ext>``) and moved into
    place when complete; on an error or Ctrl-C (``KeyboardInterrupt``) while the frames are
    drawn the temporary file is deleted, so an interrupted run leaves neither a truncated video
    under the final name nor a hidden partial file.

    Returns:
        number of frames written.
    """
    ext = osp.splitext(path)[1].lower()
    fourcc = {'.mp4': 'mp4v', '.avi': 'MJPG'}.get(ext)
    if fourcc is None:
        raise ValueError(f'{path}: video extension must be .mp4 or .avi')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = osp.join(osp.dirname(osp.abspath(path)), f'.{osp.basename(path)}.partial{ext}')
    writer, count = None, 0
    try:
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
                    if not writer.isOpened():
                        raise RuntimeError(f'{path}: OpenCV cannot open a {fourcc} video writer')
                writer.write(frame)
                count += 1
        finally:
            if writer is not None:
                writer.release()
        if count == 0:
            raise ValueError(f'{path}: no frames to write')
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return count


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def render_referred(frame_paths: Sequence[str], referred: dict,
                    expressions: Sequence[str], upscale: float = 1.0) -> Iterator[np.ndarray]:
    """Yield each frame (BGR) with the referred boxes of every expression drawn: box in the
    track's colour, ``#id [expression number] score``, and the numbered expressions in the
    top-left corner.

    Args:
        frame_paths: image path per frame index.
        referred: ``{expression: array (M, 7) frame, id, x1, y1, x2, y2, score}``
            (:data:`~ikun_mm.structures.REFERRED_ROW`).
        expressions: the expressions, in the numbering order.
        upscale: frames are enlarged by this factor (nearest neighbour) before drawing, so that
            labels stay readable on small frames; boxes are scaled with them.
    """
    if upscale <= 0:
        raise ValueError(f'upscale must be positive, got {upscale}')
    per_frame = {}
    for e, sentence in enumerate(expressions):
        for row in referred[sentence]:
            per_frame.setdefault(int(row[REFERRED_ROW.frame]), []).append((e, row))
    for f, path in enumerate(frame_paths):
        img = cv2.imread(path)
        if img is None:
            raise FileNotFoundError(f'{path}: cannot read this frame')
        if upscale != 1.0:
            img = cv2.resize(img, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_NEAREST)
        scale = max(0.4, min(img.shape[:2]) / 700)
        for e, row in per_frame.get(f, []):
            tid, score = row[REFERRED_ROW.id], row[REFERRED_ROW.score]
            x1, y1, x2, y2 = row[REFERRED_ROW.box]
            colour = colour_for_id(int(tid))
            p1 = (int(x1 * upscale), int(y1 * upscale))
            p2 = (int(x2 * upscale), int(y2 * upscale))
            cv2.rectangle(img, p1, p2, colour, 2)
            text = f'#{int(tid)} [{e + 1}] {score:.2f}'
            cv2.putText(img, text, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        colour, 1, cv2.LINE_AA)
        for e, sentence in enumerate(expressions):
            y = int((e + 1) * 22 * scale + 4)
            cv2.putText(img, f'[{e + 1}] {sentence}', (6, y), cv2.FONT_HERSHEY_SIMPLEX,
                        scale * 0.9, (255, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(img, f'[{e + 1}] {sentence}', (6, y), cv2.FONT_HERSHEY_SIMPLEX,
                        scale * 0.9, (0, 0, 0), 1, cv2.LINE_AA)
        yield img


def evenly_spaced(total: int, count: int) -> list:
    """``count`` frame indices spread evenly over ``range(total)``, first and last included
    (all of them when ``count >= total``)."""
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    if count == 1:
        return [total // 2]
    return [round(k * (total - 1) / (count - 1)) for k in range(count)]


def contact_sheet(images: Sequence[np.ndarray], cols: int = 2,
                  labels: Optional[Sequence[str]] = None, gap: int = 4) -> np.ndarray:
    """Tile equally sized BGR images into one picture, row by row, with an optional label in
    the bottom-left corner of each tile.

    Args:
        images: K images of shape (H, W, 3), uint8, all the same shape.
        cols: tiles per row (at most K); the last row is padded with black.
        labels: K strings (e.g. ``'frame 40'``) or None.
        gap: black pixels between tiles.

    Returns:
        array of shape (rows * (H + gap) - gap, cols * (W + gap) - gap, 3), uint8, where
        ``rows = ceil(K / cols)``.
    """
    if not len(images):
        raise ValueError('contact_sheet needs at least one image')
    h, w = images[0].shape[:2]
    if any(img.shape != images[0].shape for img in images):
        raise ValueError('contact_sheet: all images must have the same shape, got '
                         f'{sorted({img.shape for img in images})}')
    cols = max(1, min(cols, len(images)))
    rows = -(-len(images) // cols)
    sheet = np.zeros((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), np.uint8)
    scale = max(0.4, min(h, w) / 700)
    for k, img in enumerate(images):
        y, x = (k // cols) * (h + gap), (k % cols) * (w + gap)
        tile = img.copy()
        if labels is not None:
            (tw, th), _ = cv2.getTextSize(labels[k], cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            cv2.rectangle(tile, (0, h - th - 8), (tw + 8, h), (0, 0, 0), -1)
            cv2.putText(tile, labels[k], (4, h - 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
        sheet[y:y + h, x:x + w] = tile
    return sheet


def write_snapshot(frames: dict, path: str, cols: int = 2) -> int:
    """Write drawn frames as one picture: a :func:`contact_sheet` in frame order, each tile
    labelled ``frame <index>``, written to a temporary name and moved into place.

    Args:
        frames: ``{frame index: BGR image (H, W, 3)}``.
        path: ``.jpg``/``.jpeg``/``.png`` file.

    Returns:
        number of frames in the picture.
    """
    ext = osp.splitext(path)[1].lower()
    if ext not in ('.jpg', '.jpeg', '.png'):
        raise ValueError(f'{path}: a snapshot must be a .jpg or .png file')
    order = sorted(frames)
    sheet = contact_sheet([frames[f] for f in order], cols=cols,
                          labels=[f'frame {f}' for f in order])
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = osp.join(osp.dirname(osp.abspath(path)), f'.{osp.basename(path)}.partial{ext}')
    try:
        if not cv2.imwrite(tmp, sheet):
            raise RuntimeError(f'{path}: OpenCV could not write the picture')
        os.replace(tmp, path)
    except BaseException:  # Ctrl-C included: no hidden partial file is left
        _remove_quietly(tmp)
        raise
    return len(order)
