"""NeuralSORT: DeepSORT-style association driven by the Neural Kalman Filter, with OC-SORT's
observation-centric post-processing.

One frame, top to bottom (:meth:`NeuralSORTTracker.track`):

1. drop detections below ``obj_score_thr``;
2. predict every track at once with the motion model (NKF, or mmdet's ``KalmanFilter``);
3. **matching cascade** (DeepSORT) over confirmed tracks, most recently seen first: cost
   ``1 - IoU(predicted box, detection)`` plus OC-SORT's **velocity-direction consistency** term,
   optionally mixed with an appearance cosine distance, gated by the filter's Mahalanobis
   distance (chi-square 95%) and by class when ``per_class``;
4. IoU matching of tentative tracks (and confirmed tracks missed for one frame) to the rest;
5. **observation-centric recovery** (OC-SORT): still-unmatched tracks against the remaining
   detections by IoU with their *last observation*;
6. matched tracks are updated; a track re-found after a gap is first **re-updated
   observation-centrically**: its state is rolled back to its last observation and re-filtered
   through boxes interpolated linearly to the new detection (OC-SORT's ORU);
7. unmatched tracks whose predicted box has left the image (visible fraction below
   ``exit_visible_ratio``) are **terminated**, tentative tracks missed once are dropped, others
   are kept ``num_frames_retain`` frames;
8. detections left over with score ``>= init_track_thr`` start new (tentative) tracks.

The paper's offline linear interpolation of gaps is not part of the (online) tracker: it is the
model's ``interpolation`` option (:mod:`.interpolation`), applied to any tracker's output.

Where we deliberately differ: the paper's NeuralSORT code was never released; this follows its
description (DeepSORT + NKF + OC-SORT post-processing). Unlike mmdet's ``OCSORTTracker``, the
re-update after a gap runs predict/update steps through the virtual boxes (as the OC-SORT paper
does) instead of updates only, and new tracks need ``init_track_thr`` in every frame, not only the
first.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch
from addict import Dict as AttrDict
from mmdet.models.trackers import BaseTracker
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_cxcyah_to_xyxy, bbox_overlaps, bbox_xyxy_to_cxcyah
from mmengine.structures import InstanceData
from torch import Tensor

from ikun_mm.registry import MODELS, TASK_UTILS

try:
    import lap
except ImportError:  # pragma: no cover - lap is a runtime requirement
    lap = None

#: Cost of forbidden pairs (class mismatch, outside the gate). Finite, so lap stays stable.
FORBIDDEN = 1e6


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------
def linear_assignment(cost: np.ndarray, max_cost: float) -> Tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Minimum-cost one-to-one matching keeping only pairs with ``cost <= max_cost``.

    Args:
        cost: array of shape (N, M).
        max_cost: largest accepted cost.

    Returns:
        matches (K, 2) of (row, col), unmatched rows, unmatched cols.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), int), np.arange(n), np.arange(m)
    _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=max_cost)
    matches = np.array([(r, c) for r, c in enumerate(row_to_col) if c >= 0], int).reshape(-1, 2)
    matches = matches[cost[matches[:, 0], matches[:, 1]] <= max_cost]
    rows = np.setdiff1d(np.arange(n), matches[:, 0])
    cols = np.setdiff1d(np.arange(m), matches[:, 1])
    return matches, rows, cols


def centers(boxes: np.ndarray) -> np.ndarray:
    """Centres (..., 2) of xyxy boxes (..., 4)."""
    return np.stack([(boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2], -1)


def direction(from_boxes: np.ndarray, to_boxes: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 2) from the centres of ``from_boxes`` to those of ``to_boxes``."""
    d = centers(to_boxes) - centers(from_boxes)
    return d / (np.linalg.norm(d, axis=-1, keepdims=True) + 1e-6)


def direction_consistency_cost(track_dirs: np.ndarray, anchor_boxes: np.ndarray,
                               det_boxes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """OC-SORT's velocity-direction consistency, as a cost in ``[-0.5, 0.5]``.

    For track ``i`` with motion direction ``track_dirs[i]`` (unit (2,)) estimated from its
    observation ``anchor_boxes[i]`` a few frames back, and detection ``j``, the cost is
    ``(angle(track_dirs[i], dir(anchor_i -> det_j)) - pi/2) / pi``: -0.5 when the detection
    continues the motion, +0.5 when it reverses it, 0 where ``valid[i]`` is False.

    Returns:
        array of shape (N, M).
    """
    if len(track_dirs) == 0 or len(det_boxes) == 0:
        return np.zeros((len(track_dirs), len(det_boxes)))
    to_det = direction(anchor_boxes[:, None], det_boxes[None])  # (N, M, 2)
    cos = np.clip((to_det * track_dirs[:, None]).sum(-1), -1, 1)
    return (np.arccos(cos) - np.pi / 2) / np.pi * valid[:, None]


def visible_fraction(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Fraction (N,) of each xyxy box (N, 4) inside the image ``[0, W] x [0, H]``."""
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0,
                                                                   None)
    iw = np.clip(np.minimum(boxes[:, 2], width) - np.maximum(boxes[:, 0], 0), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], height) - np.maximum(boxes[:, 1], 0), 0, None)
    return np.where(area > 0, iw * ih / np.maximum(area, 1e-9), 0.)


# --------------------------------------------------------------------------------------------
# The tracker
# --------------------------------------------------------------------------------------------
@MODELS.register_module()
class NeuralSORTTracker(BaseTracker):
    """NeuralSORT tracker (mmdet 3.x tracker API). See the module docstring for the algorithm.

    Args:
        motion: motion model config: ``dict(type='NeuralKalmanFilter', checkpoint=...)`` or
            mmdet's ``dict(type='KalmanFilter')``.
        obj_score_thr: detections scoring below are ignored.
        init_track_thr: lowest score of a detection that starts a new track.
        match_iou_thr: lowest IoU (after the direction term) of a cascade/IoU-stage match; the
            largest accepted cost is ``1 - match_iou_thr``.
        ocr_iou_thr: lowest IoU between a track's last observation and a detection in
            observation-centric recovery.
        gate_with_motion: reject pairs outside the filter's chi-square 95% Mahalanobis gate.
        cascade_depth: levels of the matching cascade (frames since the last match, 1..depth);
            older tracks only take part in recovery.
        vel_consist_weight: weight of the velocity-direction consistency cost (0 disables it).
        vel_delta_t: frames back to the observation the motion direction is measured from.
        num_tentatives: consecutive matches that confirm a track (tracks of frame 0 start
            confirmed).
        output_tentative: also output boxes of tentative tracks (else only confirmed ones).
        exit_visible_ratio: an unmatched track whose predicted box has less than this fraction
            inside the image is terminated (0 disables).
        per_class: never match a track with a detection of another class.
        reid: optional appearance model use (DeepSORT): ``dict(num_samples=10,
            img_scale=(128, 64), img_norm_cfg=None, appearance_weight=0.5,
            max_appearance_dist=0.5)``; needs ``model.reid`` at tracking time. ``None`` (default):
            motion only.
        num_frames_retain: frames an unmatched track is kept before deletion.
    """

    def __init__(self,
                 motion: dict = dict(type='NeuralKalmanFilter'),
                 obj_score_thr: float = 0.3,
                 init_track_thr: float = 0.6,
                 match_iou_thr: float = 0.3,
                 ocr_iou_thr: float = 0.3,
                 gate_with_motion: bool = True,
                 cascade_depth: int = 30,
                 vel_consist_weight: float = 0.2,
                 vel_delta_t: int = 3,
                 num_tentatives: int = 3,
                 output_tentative: bool = True,
                 exit_visible_ratio: float = 0.3,
                 per_class: bool = True,
                 reid: Optional[dict] = None,
                 num_frames_retain: int = 30,
                 **kwargs) -> None:
        if lap is None:
            raise RuntimeError('NeuralSORTTracker needs the "lap" package (pip install lap)')
        super().__init__(num_frames_retain=num_frames_retain, **kwargs)
        self.motion = TASK_UTILS.build(motion)
        self.batched_motion = hasattr(self.motion, 'filter_sequence')  # NKF-style batched API
        self.obj_score_thr = obj_score_thr
        self.init_track_thr = init_track_thr
        self.match_iou_thr = match_iou_thr
        self.ocr_iou_thr = ocr_iou_thr
        self.gate_with_motion = gate_with_motion
        self.cascade_depth = cascade_depth
        self.vel_consist_weight = vel_consist_weight
        self.vel_delta_t = vel_delta_t
        self.num_tentatives = num_tentatives
        self.output_tentative = output_tentative
        self.exit_visible_ratio = exit_visible_ratio
        self.per_class = per_class
        if reid is not None:
            reid = dict(dict(num_samples=10, img_scale=(128, 64), img_norm_cfg=None,
                             appearance_weight=0.5, max_appearance_dist=0.5), **reid)
        self.reid = reid

    # ---- motion model adapters (batched for NKF, looped for mmdet's KalmanFilter) --------------
    def _predict(self, means: np.ndarray, covs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        if self.batched_motion:
            return self.motion.predict(means, covs)
        out = [self.motion.predict(m, c) for m, c in zip(means, covs)]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])

    def _update(self, means: np.ndarray, covs: np.ndarray, meas: np.ndarray,
                scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        if self.batched_motion:
            return self.motion.update(means, covs, meas, scores)
        out = [self.motion.update(m, c, z, float(s)) for m, c, z, s in
               zip(means, covs, meas, scores)]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])

    def _gating(self, means: np.ndarray, covs: np.ndarray, meas: np.ndarray,
                scores: np.ndarray) -> np.ndarray:
        only_pos = getattr(self.motion, 'center_only', False)
        if self.batched_motion:
            return self.motion.gating_distance(means, covs, meas, only_pos, scores)
        return np.stack([self.motion.gating_distance(m, c, meas, only_pos)
                         for m, c in zip(means, covs)]).reshape(len(means), len(meas))

    # ---- BaseTracker overrides -------------------------------------------------------------------
    @property
    def confirmed_ids(self) -> List[int]:
        return [i for i, t in self.tracks.items() if not t.tentative]

    def init_track(self, id: int, obj: Tuple[Tensor]) -> None:
        super().init_track(id, obj)
        track = self.tracks[id]
        track.tentative = int(track.frame_ids[-1]) != 0 and self.num_tentatives > 1
        box = track.bboxes[-1].cpu().numpy().astype(np.float64)[0]
        track.mean, track.covariance = self.motion.initiate(
            bbox_xyxy_to_cxcyah(torch.as_tensor(box)[None])[0].numpy())
        track.saved = (track.mean, track.covariance)
        track.observations = {int(track.frame_ids[-1]): box}
        track.direction = None

    def update_track(self, id: int, obj: Tuple[Tensor]) -> None:
        """Append the new observation (the filter update is done batched in :meth:`track`)."""
        super().update_track(id, obj)
        track = self.tracks[id]
        if track.tentative and len(track.bboxes) >= self.num_tentatives:
            track.tentative = False
        frame = int(track.frame_ids[-1])
        box = track.bboxes[-1].cpu().numpy().astype(np.float64)[0]
        anchor = self._anchor_observation(track, frame)
        track.observations[frame] = box
        track.direction = None if anchor is None else direction(anchor, box)

    def pop_invalid_tracks(self, frame_id: int) -> None:
        """Drop tracks unseen for ``num_frames_retain`` frames and tentative tracks missed once."""
        for k in [k for k, t in self.tracks.items()
                  if frame_id - int(t.frame_ids[-1]) >= self.num_frames_retain
                  or (t.tentative and int(t.frame_ids[-1]) != frame_id)]:
            self.tracks.pop(k)

    # ---- helpers ---------------------------------------------------------------------------------
    def _anchor_observation(self, track: AttrDict, frame: int) -> Optional[np.ndarray]:
        """Observation ``vel_delta_t`` frames before ``frame`` (or the closest later one)."""
        for dt in range(self.vel_delta_t, 0, -1):
            box = track.observations.get(frame - dt)
            if box is not None:
                return box
        if track.observations:  # after a long gap: the last observation
            return track.observations[max(track.observations)]
        return None

    def _last_observation(self, track: AttrDict) -> np.ndarray:
        return track.observations[max(track.observations)]

    def _reupdate(self, track: AttrDict, frame: int, box: np.ndarray, score: float) -> None:
        """Observation-centric re-update: refilter from the last observation through boxes
        interpolated linearly to ``box`` (xyxy) at ``frame``, then update with ``box``."""
        last_frame = max(track.observations)
        last_box = track.observations[last_frame]
        mean, cov = track.saved
        gap = frame - last_frame
        for k in range(1, gap + 1):
            virtual = last_box + (box - last_box) * k / gap
            mean, cov = self._predict(mean[None], cov[None])
            z = bbox_xyxy_to_cxcyah(torch.as_tensor(virtual)[None]).numpy()
            mean, cov = self._update(mean, cov, z, np.array([score]))
            mean, cov = mean[0], cov[0]
        track.mean, track.covariance = mean, cov
        track.saved = (mean, cov)

    def _appearance(self, model, img, data_sample, bboxes: Tensor, rescale: bool,
                    data_preprocessor) -> Optional[Tensor]:
        if self.reid is None:
            return None
        if not hasattr(model, 'reid') or model.reid is None:
            raise RuntimeError('NeuralSORTTracker: reid is configured but the model has no '
                               '"reid" module')
        reid_img = img
        if self.reid.get('img_norm_cfg'):
            from mmdet.models.utils import imrenormalize
            norm = dict(mean=data_preprocessor['mean'], std=data_preprocessor['std'],
                        to_bgr=data_preprocessor.get('rgb_to_bgr', False))
            reid_img = imrenormalize(img, norm, self.reid['img_norm_cfg'])
        crops = self.crop_imgs(reid_img, data_sample.metainfo, bboxes.clone(), rescale)
        if crops.size(0) == 0:
            return bboxes.new_zeros((0, model.reid.head.out_channels))
        return model.reid(crops, mode='tensor')

    # ---- tracking --------------------------------------------------------------------------------
    def track(self,
              data_sample: DetDataSample,
              model: Optional[torch.nn.Module] = None,
              img: Optional[Tensor] = None,
              data_preprocessor: Optional[dict] = None,
              rescale: bool = False,
              **kwargs) -> InstanceData:
        """Track the detections of one frame.

        Args:
            data_sample: a frame with ``pred_instances`` (``bboxes`` (N, 4) xyxy, ``scores`` (N,),
                ``labels`` (N,)) and metainfo ``frame_id`` (0 resets the tracker) and ``ori_shape``
                or ``img_shape`` ((H, W), for terminating tracks that leave the image).
            model, img, data_preprocessor, rescale: only used for appearance (``reid``).

        Returns:
            InstanceData with ``bboxes``, ``labels``, ``scores``, ``instances_id`` of the tracked
            boxes of this frame.
        """
        meta = data_sample.metainfo
        frame_id = int(meta.get('frame_id', -1))
        if frame_id == 0:
            self.reset()
        inst = data_sample.pred_instances
        keep = inst.scores >= self.obj_score_thr
        bboxes, labels, scores = inst.bboxes[keep], inst.labels[keep], inst.scores[keep]
        embeds = self._appearance(model, img, data_sample, bboxes, rescale, data_preprocessor)
        det_np = bboxes.detach().cpu().numpy().astype(np.float64)
        score_np = scores.detach().cpu().numpy().astype(np.float64)
        label_np = labels.detach().cpu().numpy()
        ids = np.full(len(det_np), -1, np.int64)
        track_ids = list(self.tracks.keys())

        if track_ids:
            ids = self._associate(track_ids, frame_id, det_np, score_np, label_np, embeds, meta,
                                  ids)

        # new tracks
        new = (ids == -1) & (score_np >= self.init_track_thr)
        ids[new] = np.arange(self.num_tracks, self.num_tracks + int(new.sum()))
        self.num_tracks += int(new.sum())
        keep = ids >= 0
        ids_t = torch.as_tensor(ids[keep], dtype=torch.long, device=bboxes.device)
        self.update(ids=ids_t, bboxes=bboxes[keep], labels=labels[keep], scores=scores[keep],
                    embeds=None if embeds is None else embeds[keep], frame_ids=frame_id)

        out = keep.copy()
        if not self.output_tentative:
            out[keep] = [not self.tracks[int(i)].tentative for i in ids[keep]]
        result = InstanceData()
        out_t = torch.as_tensor(out, device=bboxes.device)
        result.bboxes = bboxes[out_t]
        result.labels = labels[out_t]
        result.scores = scores[out_t]
        result.instances_id = torch.as_tensor(ids[out], dtype=torch.long, device=bboxes.device)
        return result

    def _associate(self, track_ids: List[int], frame_id: int, det_np: np.ndarray,
                   score_np: np.ndarray, label_np: np.ndarray, embeds: Optional[Tensor],
                   meta: dict, ids: np.ndarray) -> np.ndarray:
        tracks = [self.tracks[i] for i in track_ids]
        n, m = len(tracks), len(det_np)
        # 1. predict all tracks at once
        means = np.stack([t.mean for t in tracks])
        covs = np.stack([t.covariance for t in tracks])
        shrink = means[:, 3] + means[:, 7] <= 0
        means[shrink, 7] = 0
        means, covs = self._predict(means, covs)
        for t, mean, cov in zip(tracks, means, covs):
            t.mean, t.covariance = mean, cov
        pred_boxes = bbox_cxcyah_to_xyxy(torch.as_tensor(means[:, :4])).numpy()
        age = np.array([frame_id - int(t.frame_ids[-1]) for t in tracks])
        tentative = np.array([bool(t.tentative) for t in tracks])
        track_labels = np.array([int(t.labels[-1]) for t in tracks])

        # 2. cost of every (track, detection) pair
        det_t = torch.as_tensor(det_np)
        ious = bbox_overlaps(torch.as_tensor(pred_boxes), det_t).numpy() if m else np.zeros((n, 0))
        cost = 1 - ious
        if self.vel_consist_weight and m:
            valid = np.array([t.direction is not None for t in tracks])
            dirs = np.stack([t.direction if t.direction is not None else np.zeros(2)
                             for t in tracks])
            anchors = np.stack([self._anchor_observation(t, frame_id) for t in tracks])
            cost = cost + self.vel_consist_weight * direction_consistency_cost(
                dirs, anchors, det_np, valid)
        if embeds is not None and m:
            track_embeds = self.get('embeds', track_ids, self.reid['num_samples'], 'mean')
            a = torch.nn.functional.normalize(track_embeds.float(), dim=1)
            b = torch.nn.functional.normalize(embeds.float(), dim=1)
            app = (1 - a @ b.T).cpu().numpy()
            w = self.reid['appearance_weight']
            cost = np.where(app > self.reid['max_appearance_dist'], FORBIDDEN,
                            (1 - w) * cost + w * app)
        class_forbid = np.zeros((n, m), bool)
        if self.per_class:
            class_forbid = track_labels[:, None] != label_np[None]
        forbidden = class_forbid.copy()
        if self.gate_with_motion and m:
            z = bbox_xyxy_to_cxcyah(det_t).numpy()
            gate = self._gating(means, covs, z, score_np)
            thr = getattr(self.motion, 'gating_threshold', 9.4877)
            forbidden |= ~(gate <= thr)
        cost = np.where(forbidden, FORBIDDEN, cost)
        max_cost = 1 - self.match_iou_thr

        matched_tracks = np.zeros(n, bool)
        free = np.ones(m, bool)

        def assign(rows: np.ndarray, pair_cost: np.ndarray, limit: float) -> None:
            cols = np.flatnonzero(free)
            sub = pair_cost[np.ix_(rows, cols)]
            matches, _, _ = linear_assignment(sub, limit)
            for r, c in matches:
                ids[cols[c]] = track_ids[rows[r]]
                matched_tracks[rows[r]] = True
                free[cols[c]] = False

        # 3. matching cascade over confirmed tracks
        for level in range(1, self.cascade_depth + 1):
            rows = np.flatnonzero(~tentative & (age == level) & ~matched_tracks)
            if len(rows) and free.any():
                assign(rows, cost, max_cost)
        # 4. IoU stage: tentative tracks and confirmed ones missed for one frame
        rows = np.flatnonzero(~matched_tracks & (tentative | (age == 2)))
        if len(rows) and free.any():
            iou_cost = np.where(class_forbid, FORBIDDEN, 1 - ious)
            assign(rows, iou_cost, max_cost)
        # 5. observation-centric recovery with the last observation
        rows = np.flatnonzero(~matched_tracks & ~tentative)
        if len(rows) and free.any():
            last = np.stack([self._last_observation(t) for t in tracks])
            ocr = 1 - bbox_overlaps(torch.as_tensor(last), det_t).numpy()
            ocr = np.where(class_forbid, FORBIDDEN, ocr)
            assign(rows, ocr, 1 - self.ocr_iou_thr)

        # 6. update matched tracks: re-update after gaps, batched update otherwise
        det_of = {int(i): k for k, i in enumerate(ids) if i >= 0}
        direct = [k for k, tid in enumerate(track_ids)
                  if matched_tracks[k] and age[k] == 1]
        for k, tid in enumerate(track_ids):
            if matched_tracks[k] and age[k] > 1:
                d = det_of[tid]
                self._reupdate(tracks[k], frame_id, det_np[d], score_np[d])
        if direct:
            dets = [det_of[track_ids[k]] for k in direct]
            z = bbox_xyxy_to_cxcyah(torch.as_tensor(det_np[dets])).numpy()
            new_means, new_covs = self._update(means[direct], covs[direct], z, score_np[dets])
            for k, mean, cov in zip(direct, new_means, new_covs):
                tracks[k].mean, tracks[k].covariance = mean, cov
                tracks[k].saved = (mean, cov)

        # 7. terminate unmatched tracks that left the image
        shape = meta.get('ori_shape', meta.get('img_shape'))
        if self.exit_visible_ratio > 0 and shape is not None:
            vis = visible_fraction(pred_boxes, shape[1], shape[0])
            for k, tid in enumerate(track_ids):
                if not matched_tracks[k] and vis[k] < self.exit_visible_ratio:
                    self.tracks.pop(tid)
        return ids
