"""Drawing referred tracks on frames and writing videos (plain OpenCV, BGR uint8 images)."""
import os
import os.path as osp
from typing import Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np


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

    The file is written to a temporary name and moved into place when complete, so an
    interrupted run never leaves a truncated video under the final name.

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
    return count


def render_referred(frame_paths: Sequence[str], referred: dict,
                    expressions: Sequence[str]) -> Iterator[np.ndarray]:
    """Yield each frame (BGR) with the referred boxes of every expression drawn: box in the
    track's colour, ``#id [expression number] score``, and the numbered expressions in the
    top-left corner.

    Args:
        frame_paths: image path per frame index.
        referred: ``{expression: array (M, 7) frame, id, x1, y1, x2, y2, score}``.
        expressions: the expressions, in the numbering order.
    """
    per_frame = {}
    for e, sentence in enumerate(expressions):
        for row in referred[sentence]:
            per_frame.setdefault(int(row[0]), []).append((e, row))
    for f, path in enumerate(frame_paths):
        img = cv2.imread(path)
        scale = max(0.4, min(img.shape[:2]) / 700)
        for e, (_, tid, x1, y1, x2, y2, score) in per_frame.get(f, []):
            colour = colour_for_id(int(tid))
            p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
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
