"""Online (frame-by-frame) referring tracking with a :class:`~.referring_tracker.ReferringTracker`.

iKUN's frame scores are means over 8-frame windows, and the last window of a track is aligned
to the track's end, so a frame's score is final only when its track has ended. The stream
therefore gives two outputs:

* :meth:`ReferringStream.update` returns, for the frame just seen, a *provisional* answer:
  each active track is scored on its most recent window (up to 8 frames of its current run);
* :meth:`ReferringStream.finish` returns the final answer for the whole video, identical to
  offline :meth:`~.referring_tracker.ReferringTracker.refer_video` with ``interpolation=None``
  (offline gap interpolation needs the future and is never done online).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmdet.structures import DetDataSample

from ikun_mm.structures import REFERRED_ROW, TRACK_BOX_ROW, TRACK_ROW
from ..trackers.tracking_by_detection import track_results_array
from .referring_tracker import ReferringTracker, referred_rows, tracks_from_rows


class ReferringStream:
    """Feed frames one at a time; get referred boxes per frame and, at the end, final tracks.

    Args:
        model: a built :class:`ReferringTracker`.
        expressions: the free-text expressions to refer.
        img_size: (W, H) of the frames.
        video: video name (used by ``DetectionsFromFile(det_dir=...)``).
        window: frames of the provisional window (paper: 8).

    Frames may be paths or RGB arrays; arrays are kept until :meth:`finish` (the final scores
    need them), so prefer paths for long videos.
    """

    def __init__(self, model: ReferringTracker, expressions: Sequence[str], img_size,
                 video: str = '', window: int = 8) -> None:
        if not expressions:
            raise ValueError('ReferringStream needs at least one expression')
        self.model = model.eval()
        self.expressions = list(expressions)
        self.img_size = tuple(img_size)
        self.video = video
        self.window = window
        self.frames: List = []
        self.rows: List[np.ndarray] = []

    @torch.no_grad()
    def update(self, frame) -> Dict[str, np.ndarray]:
        """Track one more frame and refer its boxes provisionally.

        Returns:
            ``{expression: array (M, 7) frame, id, x1, y1, x2, y2, score}`` for this frame.
        """
        f = len(self.frames)
        self.frames.append(frame)
        width, height = self.img_size
        sample = DetDataSample(metainfo=dict(frame_id=f, video=self.video,
                                             img_shape=(height, width), ori_shape=(height, width),
                                             scale_factor=(1.0, 1.0)))
        if isinstance(frame, str):
            sample.set_metainfo(dict(img_path=frame))
        img = None
        if self.model.needs_pixels:
            if not isinstance(frame, str):
                raise ValueError('this detector reads pixels: give frames as image paths')
            img = self.model.frame_tensor(frame)
        current = track_results_array(f, self.model.track_frame(sample, img))
        self.rows.append(current)
        all_rows = np.concatenate(self.rows)
        recent = {}
        for tid, track in tracks_from_rows(all_rows).items():
            frames = track[:, TRACK_BOX_ROW.frame]
            if frames[-1] != f:
                continue  # not in this frame
            run_start = len(track) - 1
            while run_start > 0 and frames[run_start - 1] == frames[run_start] - 1:
                run_start -= 1
            recent[tid] = track[max(run_start, len(track) - self.window):]
        if not recent:
            return {e: REFERRED_ROW.empty() for e in self.expressions}
        scores = self.model.score(self.frames, recent, self.expressions)
        last = {tid: track[-1:] for tid, track in recent.items()}
        last_scores = {tid: type(s)(frames=s.frames[-1:], scores=s.scores[-1:])
                       for tid, s in scores.items()}
        referred = referred_rows(last, last_scores, len(self.expressions), self.model.score_thr)
        return dict(zip(self.expressions, referred))

    @torch.no_grad()
    def finish(self) -> Dict[str, np.ndarray]:
        """Final referred rows of the whole video (scores from all covering windows)."""
        rows = np.concatenate(self.rows) if self.rows else TRACK_ROW.empty()
        referred = self.model.refer(self.frames, tracks_from_rows(rows), self.expressions)
        return dict(zip(self.expressions, referred))

    @property
    def track_rows(self) -> Optional[np.ndarray]:
        """The tracker output so far, array (N, 8)."""
        return np.concatenate(self.rows) if self.rows else None
