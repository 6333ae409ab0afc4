"""``TrackSequenceDataset``: fixed-length windows of GT tracks with detector-like observations,
for training the Neural Kalman Filter."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from ikun_mm.registry import DATASETS
from ikun_mm.structures import DET_ROW, GT_ROW, bbox_iou, xyxy_to_cxcyah
from .refer_kitti_io import (DETECTION_DIR, ReferKittiFormatError, load_detections,
                             load_video_annotation, resolve_videos)


def match_detections_to_gt(gt: np.ndarray, dets: np.ndarray, iou_thr: float = 0.5
                           ) -> Dict[tuple, np.ndarray]:
    """Assign each GT box the detection it overlaps best, frame by frame (Hungarian on IoU).

    Args:
        gt: array (N, 7), :data:`~ikun_mm.structures.GT_ROW` (``VideoAnnotation.boxes``).
        dets: array (M, 7), :data:`~ikun_mm.structures.DET_ROW` (``load_detections``).
        iou_thr: minimum IoU of a match.

    Returns:
        ``{(frame, track_id): [x1, y1, x2, y2, score]}`` for matched GT boxes.
    """
    from scipy.optimize import linear_sum_assignment
    matches = {}
    for frame in np.unique(gt[:, GT_ROW.frame]):
        g = gt[gt[:, GT_ROW.frame] == frame]
        d = dets[dets[:, DET_ROW.frame] == frame]
        if len(g) == 0 or len(d) == 0:
            continue
        ious = bbox_iou(GT_ROW.boxes(g), DET_ROW.boxes(d), eps=1e-9)
        rows, cols = linear_sum_assignment(-ious)
        for r, c in zip(rows, cols):
            if ious[r, c] >= iou_thr:
                matches[(int(frame), int(g[r, GT_ROW.id]))] = DET_ROW.take(
                    d[c], 'x1', 'y1', 'x2', 'y2', 'score')
    return matches


@DATASETS.register_module()
class TrackSequenceDataset(BaseDataset):
    """Windows of GT tracks paired with noisy observations, for unrolled NKF training.

    Reads videos through :mod:`ikun_mm.datasets.refer_kitti_io` (the generated mini Refer-KITTI
    and real KITTI-style ``labels_with_ids`` alike). Two observation sources:

    - ``'simulated'``: GT boxes with simulated detector noise, drawn afresh at every access. Each
      observation gets a quality ``q ~ U(0, 1)``; its score is ``score_range`` interpolated by
      ``q`` and its noise standard deviation is ``(1.5 - q)`` times ``center_noise`` (of the box
      width/height) and ``size_noise`` (log-scale), so R-Net can learn that low scores mean noisy
      boxes; observations are missed with probability ``miss_prob``.
    - ``'detections'``: the video's detection file (MOTChallenge, e.g. the simulated detector of
      the generated data or a real detector's), matched to GT boxes frame by frame (Hungarian,
      IoU >= ``match_iou_thr``); unmatched GT boxes are misses. Tracker runs work the same way:
      point ``det_dir`` at the ``<video>.txt`` outputs of ``tools/track_detections.py`` (their
      boxes are what a tracker associated, matched back to GT here).

    Each item is a dict ``inputs`` of tensors: ``obs`` (T, 4) ``(cx, cy, a, h)``, ``scores`` (T,),
    ``valid`` (T,) bool, ``gt`` (T, 4), ``gt_valid`` (T,) bool; windows shorter than ``seq_len``
    (short tracks) are padded with invalid steps. Every window starts with an observation.

    Args:
        data_root: Refer-KITTI root.
        split: ``'train'``/``'test'`` or a list of videos.
        sources: observation sources, any of ``'simulated'``, ``'detections'``.
        seq_len: window length T.
        stride: step between window starts within a track.
        min_len: shortest track (in GT frames) used.
        det_dir: folder of ``<video>.txt`` detection files for ``'detections'``; defaults to
            ``KITTI/detections/image_02`` under ``data_root``.
        match_iou_thr: IoU to match a detection to a GT box.
        center_noise, size_noise, miss_prob, score_range: the simulated detector (see above).
        seed: seed of the simulated noise (``None``: numpy's global generator, which mmengine
            seeds from ``randomness``).
    """

    METAINFO = dict(classes=('car', 'pedestrian'))

    def __init__(self,
                 data_root: str,
                 split: Union[str, Sequence[str]] = 'train',
                 sources: Sequence[str] = ('simulated', 'detections'),
                 seq_len: int = 16,
                 stride: int = 4,
                 min_len: int = 4,
                 det_dir: Optional[str] = None,
                 match_iou_thr: float = 0.5,
                 center_noise: float = 0.04,
                 size_noise: float = 0.05,
                 miss_prob: float = 0.1,
                 score_range: Sequence[float] = (0.4, 0.95),
                 seed: Optional[int] = None,
                 **kwargs) -> None:
        unknown = set(sources) - {'simulated', 'detections'}
        if unknown or not sources:
            raise ValueError(f'TrackSequenceDataset: sources must be a non-empty subset of '
                             f'("simulated", "detections"), got {sources}')
        if seq_len < 2 or stride < 1:
            raise ValueError(f'TrackSequenceDataset: need seq_len >= 2 and stride >= 1, got '
                             f'{seq_len}, {stride}')
        self.split = split
        self.sources = tuple(sources)
        self.seq_len, self.stride, self.min_len = seq_len, stride, min_len
        self.det_dir = det_dir
        self.match_iou_thr = match_iou_thr
        self.center_noise, self.size_noise = center_noise, size_noise
        self.miss_prob, self.score_range = miss_prob, tuple(score_range)
        self.rng = np.random.default_rng(seed) if seed is not None else None
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, ann_file='', **kwargs)

    # ---- loading -----------------------------------------------------------------------------
    def _det_file(self, video: str) -> str:
        import os.path as osp
        folder = self.det_dir or osp.join(self.data_root, DETECTION_DIR)
        path = osp.join(folder, f'{video}.txt')
        if not osp.isfile(path):
            raise ReferKittiFormatError(f'{path}: detection file of video {video} does not exist '
                                        '(needed by the "detections" source)')
        return path

    def load_data_list(self) -> List[dict]:
        items = []
        for video in resolve_videos(self.data_root, self.split):
            ann = load_video_annotation(self.data_root, video)
            matches = None
            if 'detections' in self.sources:
                matches = match_detections_to_gt(ann.boxes, load_detections(self._det_file(video)),
                                                 self.match_iou_thr)
            for tid in ann.track_ids():
                rows = ann.track(tid)
                if len(rows) < self.min_len:
                    continue
                frames = rows[:, GT_ROW.frame].astype(int)
                first, last = int(frames[0]), int(frames[-1])
                span = last - first + 1
                gt = np.zeros((span, 4))
                gt_valid = np.zeros(span, bool)
                gt[frames - first] = xyxy_to_cxcyah(GT_ROW.boxes(rows))
                gt_valid[frames - first] = True
                dets = None
                if matches is not None:
                    dets = np.zeros((span, 5))
                    det_valid = np.zeros(span, bool)
                    for t in range(span):
                        m = matches.get((first + t, tid))
                        if m is not None:
                            dets[t], det_valid[t] = m, True
                for source in self.sources:
                    observed = gt_valid if source == 'simulated' else det_valid
                    starts = range(0, max(span - self.seq_len, 0) + 1, self.stride)
                    for s in starts:
                        # move the start to the next observed step
                        s = next((t for t in range(s, min(s + self.stride, span)) if observed[t]),
                                 None)
                        if s is None or span - s < 2:
                            continue
                        items.append(dict(video=video, track_id=tid, source=source, start=s,
                                          gt=gt[s:s + self.seq_len],
                                          gt_valid=gt_valid[s:s + self.seq_len],
                                          dets=None if dets is None else dets[s:s + self.seq_len],
                                          det_valid=None if dets is None else
                                          det_valid[s:s + self.seq_len]))
        if not items:
            raise ReferKittiFormatError(f'{self.data_root}: no GT track of split {self.split!r} '
                                        f'has {self.min_len}+ frames')
        return items

    # ---- sampling ----------------------------------------------------------------------------
    def _simulate(self, gt: np.ndarray, gt_valid: np.ndarray):
        rng = self.rng if self.rng is not None else np.random.default_rng(np.random.randint(2**31))
        n = len(gt)
        q = rng.uniform(0, 1, n)
        lo, hi = self.score_range
        scores = lo + (hi - lo) * q
        scale = 1.5 - q
        w, h = gt[:, 2] * gt[:, 3], gt[:, 3]
        cx = gt[:, 0] + rng.normal(0, 1, n) * self.center_noise * scale * w
        cy = gt[:, 1] + rng.normal(0, 1, n) * self.center_noise * scale * h
        w = w * np.exp(rng.normal(0, 1, n) * self.size_noise * scale)
        h = h * np.exp(rng.normal(0, 1, n) * self.size_noise * scale)
        obs = np.stack([cx, cy, w / h, h], -1)
        valid = gt_valid & (rng.uniform(0, 1, n) >= self.miss_prob)
        valid[0] = gt_valid[0]
        return obs, scores, valid

    def get_data_info(self, idx: int) -> dict:
        return self.data_list[idx]

    def prepare_data(self, idx: int) -> dict:
        item = self.data_list[idx]
        gt, gt_valid = item['gt'], item['gt_valid']
        if item['source'] == 'simulated':
            obs, scores, valid = self._simulate(gt, gt_valid)
        else:
            obs, scores, valid = xyxy_to_cxcyah(item['dets'][:, :4]), item['dets'][:, 4], \
                item['det_valid']
            obs = np.where(valid[:, None], obs, gt)  # placeholders where missing (masked out)
        t = len(gt)
        pad = self.seq_len - t
        if pad:
            gt = np.concatenate([gt, np.repeat(gt[-1:], pad, 0)])
            obs = np.concatenate([obs, np.repeat(obs[-1:], pad, 0)])
            scores = np.concatenate([scores, np.zeros(pad)])
            valid = np.concatenate([valid, np.zeros(pad, bool)])
            gt_valid = np.concatenate([gt_valid, np.zeros(pad, bool)])
        # fill GT gaps with the previous box so every tensor entry is finite (masked anyway)
        gt = gt.copy()
        for k in range(1, len(gt)):
            if not gt_valid[k]:
                gt[k] = gt[k - 1]
        inputs = dict(obs=torch.as_tensor(obs, dtype=torch.float64),
                      scores=torch.as_tensor(scores, dtype=torch.float64),
                      valid=torch.as_tensor(valid), gt=torch.as_tensor(gt, dtype=torch.float64),
                      gt_valid=torch.as_tensor(gt_valid))
        return dict(inputs=inputs)
