"""``SOTFrameSampler``: draws the template and search frames of one SOT training sample.

A re-implementation of the frame sampling of the official ``TrackingSampler`` of OSTrack
(``lib/train/data/sampler.py``), STARK (same file) and pytracking (``ltr/data/sampler.py``,
``ATOMSampler``), sample by sample: which frames, which sequences qualify, and the negatives of
STARK's stage 2 (``train_cls``).
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ikun_mm.registry import TASK_UTILS

MODES = ('causal', 'interval', 'trident', 'trident_pro')


def sample_ids(rng: np.random.Generator, flags: Optional[np.ndarray], num: int, length: int,
               lo: Optional[int] = None, hi: Optional[int] = None) -> Optional[List[int]]:
    """``num`` frame ids drawn with replacement among ``lo <= i < hi`` where ``flags[i]``.

    The official ``_sample_visible_ids``: ``lo`` below 0 becomes 0, ``hi`` above the length
    becomes the length, ``flags=None`` allows every frame; ``[]`` for ``num == 0``, None when no
    frame qualifies.
    """
    if num == 0:
        return []
    lo = 0 if lo is None or lo < 0 else lo
    hi = length if hi is None or hi > length else hi
    if hi <= lo:
        return None
    cand = np.arange(lo, hi) if flags is None else np.flatnonzero(flags[lo:hi]) + lo
    if len(cand) == 0:
        return None
    return [int(i) for i in rng.choice(cand, num)]


@TASK_UTILS.register_module()
class SOTFrameSampler:
    """Sample the frames of one SOT training sample from a sequence (official samplers).

    A sample is ``num_template_frames`` template frames followed by ``num_search_frames`` search
    frames. Frames are drawn among the *visible* frames (official ``_sample_visible_ids``, with
    replacement), by ``mode``:

    * ``'causal'`` (OSTrack; pytracking's default): a base template frame in
      ``[Nt - 1, T - Ns)``, further templates in ``[base - gap, base)``, search frames in
      ``(base, base + gap)``; the gap grows by 5 frames after each failed try. Order: base,
      earlier templates, search frames.
    * ``'interval'`` (pytracking's ``ATOMSampler``): a base template anywhere, further templates
      and the search frames in ``[base - gap, base + gap)`` (the search frame may be the base
      frame itself); the gap grows by 5 after each failed try.
    * ``'trident'`` / ``'trident_pro'`` (STARK's ``SAMPLER_MODE``; the STARK-ST yaml files use
      ``trident_pro``): the initial template and the search frame are independent visible frames
      anywhere in the video; each further (dynamic) template lies within ``max_frame_gap[k]``
      frames of the search frame on the initial template's side: ``[s, s + gap)`` when the
      initial template is at or after the search frame ``s``, else ``[s - gap, s)``. ``trident``
      takes a visible dynamic template, ``trident_pro`` any frame (a frame without a valid box
      then fails the sample, which is redrawn: the official processing rejects it too).

    Image datasets (COCO, ``is_video=False``) repeat their one frame for every template and
    search frame. :meth:`accepts` is the official sequence filter (``sample_seq_from_dataset``):
    a video needs more than ``2 * (Nt + Ns)`` visible frames and at least 20 frames.

    With probability ``1 - pos_prob`` a sample is a *negative* (official ``getitem_cls``, used
    by STARK stage 2 with the sampler's ``pos_prob=0.5``): the search frame is a random frame of
    the same video where the target is not visible, with a box of 1/8 of the image size at the
    image centre (``center_box_ids``: filled in by ``LoadSOTImages``); when the video has no such
    frame, or for an image dataset, it is a random frame of a random sequence from
    ``negative_source.draw_search`` (official ``get_one_search``: dataset by ratio, any frame),
    with that frame's box. Search labels are then 0.

    Deliberate differences: the official loops without bound; here a sample gives up (None, so
    the dataset draws another) after ``max_tries`` tries; ``min_sequence_length`` and
    ``min_visible_frames`` are configurable (tiny synthetic sequences are shorter than 20).

    Args:
        num_template_frames: templates per sample (1 for OSTrack / ATOM, 2 for STARK).
        num_search_frames: search frames per sample (1 for the trident modes).
        max_frame_gap: ``MAX_SAMPLE_INTERVAL``: an int, or for the trident modes one gap per
            dynamic template (an int is repeated).
        mode: one of ``'causal'``, ``'interval'``, ``'trident'``, ``'trident_pro'``.
        pos_prob: probability of a positive sample (1: no negatives; STARK stage 2: 0.5).
        min_sequence_length: shortest video accepted (official 20).
        min_visible_frames: a video needs more visible frames than this (default, official:
            ``2 * (num_template_frames + num_search_frames)``).
        max_tries: tries of one sample before it fails.
    """

    def __init__(self, num_template_frames: int = 1, num_search_frames: int = 1,
                 max_frame_gap: Union[int, Sequence[int]] = 200, mode: str = 'causal',
                 pos_prob: float = 1.0, min_sequence_length: int = 20,
                 min_visible_frames: Optional[int] = None, max_tries: int = 1000) -> None:
        if num_template_frames < 1 or num_search_frames < 1:
            raise ValueError('SOTFrameSampler needs at least one template and one search frame')
        if not 0. <= pos_prob <= 1.:
            raise ValueError(f'pos_prob must be in [0, 1], got {pos_prob}')
        if mode not in MODES:
            raise ValueError(f'SOTFrameSampler mode must be one of {MODES}, got {mode!r}')
        self.num_template_frames = num_template_frames
        self.num_search_frames = num_search_frames
        self.mode = mode
        if mode.startswith('trident'):
            if num_template_frames < 2 or num_search_frames != 1:
                raise ValueError(f'{mode} sampling draws an initial template, dynamic templates '
                                 f'and one search frame: num_template_frames >= 2 and '
                                 f'num_search_frames == 1 (got {num_template_frames}, '
                                 f'{num_search_frames})')
            gaps = ([int(max_frame_gap)] * (num_template_frames - 1) if np.ndim(max_frame_gap)
                    == 0 else [int(g) for g in max_frame_gap])
            if len(gaps) != num_template_frames - 1:
                raise ValueError(f'{mode}: one max_frame_gap per dynamic template '
                                 f'({num_template_frames - 1}), got {max_frame_gap}')
            self.max_frame_gap = gaps
        else:
            if np.ndim(max_frame_gap) != 0:
                raise ValueError(f'{mode} sampling takes one int max_frame_gap, got '
                                 f'{max_frame_gap}')
            self.max_frame_gap = int(max_frame_gap)
        self.pos_prob = pos_prob
        self.min_sequence_length = min_sequence_length
        self.min_visible_frames = (2 * (num_template_frames + num_search_frames)
                                   if min_visible_frames is None else min_visible_frames)
        self.max_tries = max_tries

    def __repr__(self) -> str:
        return (f'SOTFrameSampler(mode={self.mode!r}, templates={self.num_template_frames}, '
                f'search={self.num_search_frames}, max_frame_gap={self.max_frame_gap}, '
                f'min_sequence_length={self.min_sequence_length}, '
                f'min_visible_frames={self.min_visible_frames})')

    def accepts(self, sequence: dict, is_video: bool = True) -> bool:
        """Official sequence filter: more than ``min_visible_frames`` visible frames and at least
        ``min_sequence_length`` frames (image datasets: always)."""
        if not is_video:
            return True
        visible = sequence['visible']
        return (len(visible) >= self.min_sequence_length
                and int(np.count_nonzero(visible)) > self.min_visible_frames)

    def sample_frame_ids(self, visible: np.ndarray, rng: np.random.Generator
                         ) -> Optional[Tuple[List[int], List[int]]]:
        """Template ids and search ids of one positive video sample (None after ``max_tries``).

        Args:
            visible: bool array of shape (T,), where the target is visible with a valid box.
        """
        n = len(visible)
        nt, ns = self.num_template_frames, self.num_search_frames
        if self.mode.startswith('trident'):
            dyn_flags = None if self.mode == 'trident_pro' else visible
            for _ in range(self.max_tries):
                first = sample_ids(rng, visible, 1, n)
                search = sample_ids(rng, visible, 1, n)
                if first is None or search is None:
                    return None
                s = search[0]
                extra = []
                for gap in self.max_frame_gap:
                    lo, hi = (s, s + gap) if first[0] >= s else (s - gap, s)
                    f = sample_ids(rng, dyn_flags, 1, n, lo, hi)
                    if f is None:
                        break
                    extra += f
                else:
                    return first + extra, search
            return None
        gap, grow = self.max_frame_gap, 0
        for _ in range(self.max_tries):
            if self.mode == 'causal':
                base = sample_ids(rng, visible, 1, n, nt - 1, n - ns)
                if base is None:
                    return None
                prev = sample_ids(rng, visible, nt - 1, n, base[0] - gap - grow, base[0])
            else:  # interval
                base = sample_ids(rng, visible, 1, n)
                if base is None:
                    return None
                prev = sample_ids(rng, visible, nt - 1, n, base[0] - gap - grow,
                                  base[0] + gap + grow)
            if prev is None:
                grow += 5
                continue
            templates = base + prev
            if self.mode == 'causal':
                lo, hi = templates[0] + 1, templates[0] + gap + grow
            else:
                lo, hi = templates[0] - gap - grow, templates[0] + gap + grow
            search = sample_ids(rng, visible, ns, n, lo, hi)
            grow += 5
            if search is not None:
                return templates, search
        return None

    def __call__(self, sequence: dict, rng: np.random.Generator, negative_source=None,
                 is_video: bool = True) -> Optional[dict]:
        """Draw one sample.

        Args:
            sequence: a sequence of :class:`~ikun_mm.datasets.SOTDataset` (keys ``video``,
                ``img_paths``, ``bboxes`` array (T, 4) x1y1x2y2, ``visible`` bool array (T,),
                optional ``valid`` bool array (T,)).
            rng: random generator.
            negative_source: object with ``draw_search(rng) -> dict(img_path, bbox)`` for
                negatives outside the sequence (the dataset, or :class:`SOTMixedDataset`).
            is_video: False for image datasets (COCO).

        Returns:
            dict with ``img_paths`` (list of str), ``gt_bboxes`` (np.ndarray (N, 4) float32, in
            image pixels; NaN rows for ``center_box_ids``), ``gt_labels`` (np.ndarray (N,)
            int64: 1 positive, 0 negative), ``num_templates``, ``video``, ``frame_ids`` (-1 for
            a frame of another sequence) and ``center_box_ids`` (list of int); None when the
            sample fails (the dataset then draws another).
        """
        nt, ns = self.num_template_frames, self.num_search_frames
        if is_video:
            drawn = self.sample_frame_ids(np.asarray(sequence['visible'], bool), rng)
            if drawn is None:
                return None
            ids = drawn[0] + drawn[1]
        else:
            ids = [0] * (nt + ns)
        bboxes = np.asarray(sequence['bboxes'], np.float32)
        valid = sequence.get('valid')
        if valid is None:
            from .sot_dataset import box_valid
            valid = box_valid(bboxes)
        if not all(valid[i] for i in ids):
            return None  # trident_pro dynamic template or an empty COCO box: redraw
        paths = [sequence['img_paths'][i] for i in ids]
        boxes = bboxes[ids].copy()
        labels = np.ones(len(ids), dtype=np.int64)
        center_box_ids = []
        if self.pos_prob < 1 and rng.random() >= self.pos_prob:
            invisible = (np.flatnonzero(~np.asarray(sequence['visible'], bool))
                         if is_video else np.zeros(0, np.int64))
            for k in range(nt, len(ids)):
                labels[k] = 0
                if len(invisible):
                    j = int(rng.choice(invisible))
                    ids[k], paths[k] = j, sequence['img_paths'][j]
                    boxes[k] = np.nan
                    center_box_ids.append(k)
                    continue
                if negative_source is None:
                    raise ValueError('SOTFrameSampler: negatives outside the sequence need a '
                                     'negative_source (the dataset)')
                other = negative_source.draw_search(rng)
                box = np.asarray(other['bbox'], np.float32)
                if not (np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]):
                    return None  # official: the processing rejects the empty box, redraw
                ids[k], paths[k], boxes[k] = -1, other['img_path'], box
        return dict(img_paths=paths, gt_bboxes=boxes, gt_labels=labels, num_templates=nt,
                    video=sequence['video'], frame_ids=ids, center_box_ids=center_box_ids)
