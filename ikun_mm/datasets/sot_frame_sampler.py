"""``SOTFrameSampler``: draws template/search frame pairs (or triplets) from a SOT sequence."""
from typing import List, Optional, Sequence

import numpy as np

from ikun_mm.registry import TASK_UTILS


@TASK_UTILS.register_module()
class SOTFrameSampler:
    """Sample the frames of one SOT training sample from a sequence.

    A sample is ``num_template_frames`` template frames followed by ``num_search_frames`` search
    frames (a pair for OSTrack/STARK stage 1, a triplet ``(initial template, dynamic template,
    search)`` for STARK stage 2). The first template is a random frame where the target is
    visible (one with a visible frame at most ``max_frame_gap`` later, when the sequence has
    such frames); search frames are visible frames at most ``max_frame_gap`` frames away, after the
    template when there are such frames ("causal" sampling: the tracker sees the template
    before the search frame); further templates lie between the first template and the search
    frame (the dynamic template is an intermediate frame of the video).

    With probability ``1 - pos_prob`` the sample is a *negative*: the search frames come from
    another sequence (their box is that sequence's target, so the crop shows something that is
    not the template's target) and their label is 0. STARK stage 2 trains its score head with
    ``pos_prob=0.5``.

    Args:
        num_template_frames: templates per sample (1 for pairs, 2 for STARK stage 2).
        num_search_frames: search frames per sample.
        max_frame_gap: largest distance between the first template and a search frame.
        pos_prob: probability of a positive sample.
    """

    def __init__(self, num_template_frames: int = 1, num_search_frames: int = 1,
                 max_frame_gap: int = 100, pos_prob: float = 1.0) -> None:
        if num_template_frames < 1 or num_search_frames < 1:
            raise ValueError('SOTFrameSampler needs at least one template and one search frame')
        if not 0. <= pos_prob <= 1.:
            raise ValueError(f'pos_prob must be in [0, 1], got {pos_prob}')
        self.num_template_frames = num_template_frames
        self.num_search_frames = num_search_frames
        self.max_frame_gap = max_frame_gap
        self.pos_prob = pos_prob

    def sample_frame_ids(self, visible: np.ndarray,
                         rng: np.random.Generator) -> Optional[List[int]]:
        """Template ids then search ids of one positive sample, or None without visible frames.

        Args:
            visible: bool array of shape (T,), where the target is visible with a valid box.
        """
        vis_ids = np.flatnonzero(visible)
        if len(vis_ids) == 0:
            return None
        # anchors with a visible frame after them within the gap, when there are any
        nxt = np.minimum(np.searchsorted(vis_ids, vis_ids, side='right'), len(vis_ids) - 1)
        causal = (vis_ids[nxt] > vis_ids) & (vis_ids[nxt] - vis_ids <= self.max_frame_gap)
        first = int(rng.choice(vis_ids[causal] if causal.any() else vis_ids))
        after = vis_ids[(vis_ids > first) & (vis_ids <= first + self.max_frame_gap)]
        near = vis_ids[np.abs(vis_ids - first) <= self.max_frame_gap]
        pool = after if len(after) else near
        search = sorted(int(i) for i in rng.choice(pool, self.num_search_frames))
        templates = [first]
        if self.num_template_frames > 1:
            lo, hi = min(first, search[0]), max(first, search[0])
            between = vis_ids[(vis_ids >= lo) & (vis_ids <= hi)]
            templates += sorted(int(i) for i in rng.choice(between,
                                                           self.num_template_frames - 1))
        return templates + search

    def __call__(self, sequence: dict, rng: np.random.Generator,
                 others: Sequence[dict] = ()) -> Optional[dict]:
        """Draw one sample.

        Args:
            sequence: a sequence of :class:`~ikun_mm.datasets.SOTDataset` (keys ``video``,
                ``img_paths``, ``bboxes`` array (T, 4) x1y1x2y2, ``visible`` bool array (T,)).
            rng: random generator.
            others: sequences to draw negatives from (the dataset's other sequences).

        Returns:
            dict with ``img_paths`` (list of str), ``gt_bboxes`` (np.ndarray (N, 4) float32, in
            image pixels), ``gt_labels`` (np.ndarray (N,) int64: 1 positive, 0 negative),
            ``num_templates``, ``video`` and ``frame_ids``; None when the sequence has no
            visible frame (the dataset then draws another index).
        """
        ids = self.sample_frame_ids(sequence['visible'], rng)
        if ids is None:
            return None
        nt = self.num_template_frames
        paths = [sequence['img_paths'][i] for i in ids]
        boxes = sequence['bboxes'][ids].astype(np.float32)
        labels = np.ones(len(ids), dtype=np.int64)
        negatives = [s for s in others if s is not sequence and s['visible'].any()]
        if rng.random() >= self.pos_prob and negatives:
            other = negatives[int(rng.integers(len(negatives)))]
            vis = np.flatnonzero(other['visible'])
            for k in range(nt, len(ids)):
                j = int(rng.choice(vis))
                paths[k] = other['img_paths'][j]
                boxes[k] = other['bboxes'][j]
                labels[k] = 0
        return dict(img_paths=paths, gt_bboxes=boxes, gt_labels=labels, num_templates=nt,
                    video=sequence['video'], frame_ids=ids)
