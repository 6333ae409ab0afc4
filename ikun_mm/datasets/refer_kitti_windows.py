"""``ReferKittiWindowDataset``: (track window, expression, label) samples of iKUN on GT tracks.

Reads real Refer-KITTI and the generated mini Refer-KITTI alike, through
:mod:`ikun_mm.datasets.refer_kitti_io`.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset

from ikun_mm.registry import DATASETS
from ikun_mm.structures import GT_ROW
from ikun_mm.structures.expression_synonyms import Synonyms, resolve_synonyms
from ikun_mm.structures.track_windows import (STRIDE, WINDOW, inference_frame_positions,
                                              split_at_gaps, track_windows,
                                              training_frame_positions)
from .refer_kitti_io import Expression, VideoAnnotation, load_split, merge_synonymous_expressions


@DATASETS.register_module()
class ReferKittiWindowDataset(BaseDataset):
    """Track windows of the GT tracks of a Refer-KITTI split, paired with expressions.

    **Training** (``test_mode=False``), as in the iKUN paper: one item per GT track; each time an
    item is drawn, one random window of up to ``window`` consecutive frames of the track is
    chosen, one random frame from each half of the window (T=2), and one expression of the video
    is sampled. The label is 1 when the expression holds for the object in the *reference frame*,
    the later of the two sampled frames. ``positive_ratio=None`` samples the expression uniformly
    from the video's expressions (the paper); a number p draws it from the expressions that hold
    for the object with probability p (when there are any) and from the others otherwise, which
    balances the labels on small data. ``num_expressions=None`` instead pairs the window with
    *every* expression of the video (dense supervision, see below).

    **Validation/test** (``test_mode=True``): one item per window as the iKUN paper cuts
    tracks at test time (runs split at gaps, windows of ``window`` frames, stride ``stride``,
    last one aligned to the run's end), with its test frames (window positions 0 and len//2)
    and *all* the video's expressions; the reference frame is the later test frame.
    ``IKUN.predict`` scores each window against all of them with one visual encoding.

    Items given to the pipeline hold ``video``, ``track_id``, ``window`` (frame indices),
    ``frames`` (the T sampled frame indices), ``ref_frame``, ``img_paths`` (T paths),
    ``boxes`` ((T, 4) x1, y1, x2, y2 pixels), ``sentences`` (list of E) and ``labels`` ((E,)).

    Args:
        data_root: root of the Refer-KITTI tree.
        split: ``'train'``/``'test'`` (``split.json`` or the paper split) or a list of videos.
        pipeline: transforms (see :mod:`ikun_mm.datasets.transforms`).
        window: frames per window (paper: 8).
        stride: window stride at test time (paper: 4).
        positive_ratio: see above; ``None`` is the paper's uniform sampling. Only with
            ``num_expressions=1``.
        num_expressions: expressions per training item: 1 (paper) draws one as above; ``None``
            takes all of the video's expressions. Deliberate difference from the paper when
            ``None``: the visual encoding of a window is shared by all its expressions (the
            fast path of :meth:`IKUN.score_windows`), so every hard negative (same class,
            another colour or direction) is seen at every step at little extra cost, where
            one sampled expression per track shows it rarely.
        exclude_sentences: expressions containing any of these substrings are dropped (before
            synonyms are merged).
        synonyms: ``None`` (off), ``'refer_kitti'`` or a dict ``{phrase: replacement}`` (see
            :mod:`ikun_mm.structures.expression_synonyms`). As in the official iKUN training
            data, every sentence becomes its canonical text and the synonymous expressions of a
            video are merged into one whose positives are the union of theirs
            (``cars in red`` + ``vehicles in red`` -> ``car in red``).
        official_sampling: training only; sample as the official iKUN ``RMOT_Dataset``: a
            track keeps only the frames where at least one expression of the video holds for
            it (a track with ``window`` or fewer such frames is dropped), the window is
            ``window`` consecutive entries of that list (gaps included), one frame is drawn
            from each half, and the label is read at a random one of the two frames. Off: the
            window lies in a gap-free run of all the track's frames and the label is read at
            the later frame.
        test_mode: see above.
    """

    METAINFO = dict(classes=('car', 'pedestrian'))

    def __init__(self,
                 data_root: str,
                 split: Union[str, Sequence[str]] = 'train',
                 pipeline: Sequence[dict] = (),
                 window: int = WINDOW,
                 stride: int = STRIDE,
                 positive_ratio: Optional[float] = None,
                 num_expressions: Optional[int] = 1,
                 exclude_sentences: Sequence[str] = (),
                 synonyms: Synonyms = None,
                 official_sampling: bool = False,
                 test_mode: bool = False,
                 **kwargs) -> None:
        if positive_ratio is not None and not 0.0 <= positive_ratio <= 1.0:
            raise ValueError(f'positive_ratio must be in [0, 1] or None, got {positive_ratio}')
        if num_expressions not in (None, 1):
            raise ValueError(f'num_expressions must be 1 or None (all), got {num_expressions}')
        if num_expressions is None and positive_ratio is not None:
            raise ValueError('positive_ratio applies to one sampled expression; it cannot be '
                             'combined with num_expressions=None (all expressions)')
        self.num_expressions = num_expressions
        self.official_sampling = bool(official_sampling)
        self.split = split
        self.window = int(window)
        self.stride = int(stride)
        self.positive_ratio = positive_ratio
        self.exclude_sentences = tuple(exclude_sentences)
        resolve_synonyms(synonyms)  # fail at build time on a bad table
        self.synonyms = synonyms
        self.videos: Dict[str, Tuple[VideoAnnotation, List[Expression]]] = {}
        self._positives: Dict[str, List[set]] = {}
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, ann_file='', pipeline=list(pipeline),
                         test_mode=test_mode, **kwargs)

    # ---------------------------------------------------------------- building the index
    def load_data_list(self) -> List[dict]:
        items = []
        for video, ann, exprs in load_split(self.data_root, self.split, self.exclude_sentences):
            exprs = merge_synonymous_expressions(exprs, self.synonyms)
            if not exprs:
                continue
            self.videos[video] = (ann, exprs)
            self._positives[video] = [e.positives() for e in exprs]
            referred = set().union(*self._positives[video])  # (frame, id) referred at all
            for tid in ann.track_ids():
                rows = ann.track(tid)
                frames = rows[:, GT_ROW.frame].astype(np.int64)
                boxes = {int(f): b for f, b in zip(frames, GT_ROW.boxes(rows))}
                if self.test_mode:
                    for win in track_windows(frames, self.window, self.stride):
                        items.append(dict(video=video, track_id=tid, window=win.tolist(),
                                          boxes=boxes))
                else:
                    if self.official_sampling:
                        frames = np.array([f for f in frames if (int(f), tid) in referred],
                                          dtype=np.int64)
                        if len(frames) <= self.window:
                            continue
                    items.append(dict(video=video, track_id=tid, frames=frames.tolist(),
                                      boxes=boxes))
        return items

    def sentences(self, video: str) -> List[str]:
        """The expressions of ``video`` in dataset order."""
        return [e.sentence for e in self.videos[video][1]]

    def holds(self, video: str, track_id: int, frame: int) -> np.ndarray:
        """Bool array (E,): which expressions of ``video`` hold for ``track_id`` at ``frame``."""
        key = (int(frame), int(track_id))
        return np.array([key in pos for pos in self._positives[video]], dtype=bool)

    # ---------------------------------------------------------------- sampling
    def _sample_train(self, info: dict) -> dict:
        if self.official_sampling:  # `window` consecutive entries of the referred frames
            frames_all = np.asarray(info['frames'])
            start = np.random.randint(len(frames_all) - self.window + 1)
            win = frames_all[start:start + self.window]
        else:  # every window of up to `window` consecutive frames, each equally likely
            runs = split_at_gaps(info['frames'])
            windows = [(run, s) for run in runs
                       for s in range(max(1, len(run) - self.window + 1))]
            run, start = windows[np.random.randint(len(windows))]
            win = run[start:start + self.window]
        pos = training_frame_positions(len(win), np.random.default_rng(np.random.randint(2**31)))
        frames = [int(win[p]) for p in pos]
        ref = frames[np.random.randint(2)] if self.official_sampling else frames[-1]
        holds = self.holds(info['video'], info['track_id'], ref)
        if self.num_expressions is None:
            return dict(window=win.tolist(), frames=frames, ref_frame=ref,
                        sentences=self.sentences(info['video']),
                        labels=holds.astype(np.float32))
        if self.positive_ratio is None or holds.all() or not holds.any():
            k = np.random.randint(len(holds))
        else:
            pool = np.nonzero(holds if np.random.rand() < self.positive_ratio else ~holds)[0]
            k = int(pool[np.random.randint(len(pool))])
        sentence = self.videos[info['video']][1][k].sentence
        return dict(window=win.tolist(), frames=frames, ref_frame=ref, sentences=[sentence],
                    labels=holds[k:k + 1].astype(np.float32))

    def _sample_test(self, info: dict) -> dict:
        win = info['window']
        frames = [int(win[p]) for p in inference_frame_positions(len(win))]
        ref = frames[-1]
        holds = self.holds(info['video'], info['track_id'], ref)
        return dict(window=list(win), frames=frames, ref_frame=ref,
                    sentences=self.sentences(info['video']), labels=holds.astype(np.float32))

    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        sample = self._sample_test(info) if self.test_mode else self._sample_train(info)
        ann = self.videos[info['video']][0]
        info.pop('window', None)
        results = dict(video=info['video'], track_id=int(info['track_id']),
                       img_paths=[ann.img_paths[f] for f in sample['frames']],
                       boxes=np.stack([info['boxes'][f] for f in sample['frames']]), **sample)
        return self.pipeline(results)
