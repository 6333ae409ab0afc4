"""NeuralSORT: DeepSORT's association driven by the Neural Kalman Filter, with OC-SORT's
observation-centric extras.

One frame, top to bottom (:meth:`NeuralSORTTracker.track`; the costs, gates and the cascade are
the pure functions of :mod:`.matching`):

1. drop detections below ``obj_score_thr``; with ``reid`` configured, embed the remaining ones
   with the model's ReID (crops of the frame);
2. predict every track at once with the motion model (NKF, or mmdet's ``KalmanFilter``);
3. **matching cascade** (DeepSORT) over confirmed tracks, most recently seen first
   (frames since the last match ``1, ..., cascade_depth``). The cost is

   * with appearance (``reid``): DeepSORT's nearest-neighbour cosine distance between the
     detection's feature and the last ``num_samples`` features of the track; pairs with a
     distance above ``max_appearance_dist`` are forbidden;
   * motion only (``reid=None``, or no pixels): ``1 - IoU(predicted box, detection)``, accepted
     up to ``1 - match_iou_thr``;

   plus OC-SORT's **velocity-direction consistency** term (``vel_consist_weight``); pairs outside
   the filter's chi-square 95% Mahalanobis gate (``gate_with_motion``) or of different classes
   (``per_class``) are forbidden;
4. **IoU matching** of tentative tracks and of some unmatched confirmed tracks with the remaining
   detections (``1 - IoU`` of the predicted box, up to ``1 - match_iou_thr``): with appearance,
   as DeepSORT, confirmed tracks matched in the previous frame (their appearance failed this
   frame); motion only, confirmed tracks missed for one frame (the others already had this IoU
   cost in the cascade);
5. **observation-centric recovery** (OC-SORT, ``ocr_iou_thr``; ``None`` disables it):
   still-unmatched confirmed tracks against the remaining detections by IoU with their *last
   observation* (with appearance, also within ``max_appearance_dist``);
6. matched tracks are updated; a track re-found after a gap is first **re-updated
   observation-centrically** (``observation_centric_reupdate``): its state is rolled back to its
   last observation and re-filtered through boxes interpolated linearly to the new detection
   (OC-SORT's ORU); matched detections' features join the track's gallery;
7. unmatched tracks whose predicted box has left the image (visible fraction below
   ``exit_visible_ratio``) are **terminated**, tentative tracks missed once are dropped, others
   are kept ``num_frames_retain`` frames;
8. detections left over with score ``>= init_track_thr`` start new (tentative) tracks.

The paper's offline linear interpolation of gaps is not part of the (online) tracker: it is the
model's ``interpolation`` option (:mod:`.interpolation`), applied to any tracker's output.

Where this differs from DeepSORT and from the paper: the paper's NeuralSORT code was never
released; this follows its description (DeepSORT + NKF + OC-SORT post-processing). Against
DeepSORT: the cascade cost may add OC-SORT's direction term, the Mahalanobis gate is the NKF's
(its covariances are predicted, not hand-set), boxes are tracked per class, tentative tracks need
``num_tentatives`` consecutive matches (tracks of frame 0 start confirmed), new tracks need
``init_track_thr``, observation-centric recovery and re-update run after the cascade and IoU
stages, and tracks leaving the image are ended at once. Against mmdet's ``OCSORTTracker``, the
re-update after a gap runs predict/update steps through the virtual boxes (as the OC-SORT paper
does) instead of updates only. Without pixels (e.g. tracking a detection file, ``img=None``) or
without a ReID module on the model, a tracker configured with ``reid`` logs one line and tracks
by motion only.
"""
from typing import List, NamedTuple, Optional, Tuple

import numpy as np
import torch
from addict import Dict as AttrDict
from mmdet.models.trackers import BaseTracker
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_cxcyah_to_xyxy, bbox_xyxy_to_cxcyah
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData
from torch import Tensor

from ikun_mm.registry import MODELS, TASK_UTILS
from ..reid.crops import crop_and_resize, denormalize_pixels, reid_normalize
from .matching import (CHI2_95_4DOF, FORBIDDEN, box_iou, centers, direction,  # noqa: F401
                       direction_consistency_cost, gate_cost, lap, linear_assignment,
                       matching_cascade, min_cost_matching, nearest_neighbor_cosine_distance,
                       visible_fraction)

#: Keys of the ``reid`` option and their defaults (DeepSORT's budget and cosine threshold are
#: 100 and 0.2; mmdet's person ReID crops are 256 x 128).
REID_DEFAULTS = dict(num_samples=100, img_scale=(128, 64), max_appearance_dist=0.2)


class AssociationCosts(NamedTuple):
    """One frame's costs between n tracks and m detections (step 3 of the module docstring).

    Attributes:
        iou: (n, m) IoU of each track's predicted box with each detection.
        cascade: (n, m) the cascade's cost, gated (forbidden pairs hold ``FORBIDDEN``).
        cascade_max: the largest accepted cascade cost.
        class_forbid: (n, m) bool, pairs of different classes (``per_class``).
        appearance: (n, m) nearest-neighbour cosine distances, or None (motion only).
        max_appearance: the largest accepted appearance distance, or None.
    """
    iou: np.ndarray
    cascade: np.ndarray
    cascade_max: float
    class_forbid: np.ndarray
    appearance: Optional[np.ndarray] = None
    max_appearance: Optional[float] = None


@MODELS.register_module()
class NeuralSORTTracker(BaseTracker):
    """NeuralSORT tracker (mmdet 3.x tracker API). See the module docstring for the algorithm.

    Args:
        motion: motion model config: ``dict(type='NeuralKalmanFilter', checkpoint=...)`` or
            mmdet's ``dict(type='KalmanFilter')``.
        obj_score_thr: detections scoring below are ignored.
        init_track_thr: lowest score of a detection that starts a new track.
        match_iou_thr: lowest IoU of an IoU-stage match, and of a motion-only cascade match
            (after the direction term); the largest accepted cost is ``1 - match_iou_thr``.
        ocr_iou_thr: lowest IoU between a track's last observation and a detection in
            observation-centric recovery; ``None`` disables the recovery.
        gate_with_motion: forbid pairs outside the filter's chi-square 95% Mahalanobis gate in
            the cascade.
        cascade_depth: levels of the matching cascade (frames since the last match,
            1..depth); older tracks only take part in recovery.
        vel_consist_weight: weight of the velocity-direction consistency cost in the cascade
            (0 disables it).
        vel_delta_t: frames back to the observation the motion direction is measured from.
        num_tentatives: consecutive matches that confirm a track (tracks of frame 0 start
            confirmed).
        output_tentative: also output boxes of tentative tracks (else only confirmed ones).
        exit_visible_ratio: an unmatched track whose predicted box has less than this fraction
            inside the image is terminated (0 disables).
        per_class: never match a track with a detection of another class.
        observation_centric_reupdate: re-filter a track re-found after a gap through virtual
            boxes (OC-SORT's ORU); else a plain update of its prediction.
        reid: appearance (DeepSORT), needs the model's ``reid`` module (an mmdet ``BaseReID``)
            and the frame's pixels: ``dict(num_samples=100, img_scale=(128, 64),
            max_appearance_dist=0.2)``, where ``num_samples`` is the size of a track's feature
            gallery (its last matched detections), ``img_scale`` the ``(h, w)`` the crops are
            resized to (the ReID's training size), ``max_appearance_dist`` the largest accepted
            cosine distance. ``None`` (default): motion only.
        num_frames_retain: frames an unmatched track is kept before deletion.
    """

    def __init__(self,
                 motion: dict = dict(type='NeuralKalmanFilter'),
                 obj_score_thr: float = 0.3,
                 init_track_thr: float = 0.6,
                 match_iou_thr: float = 0.3,
                 ocr_iou_thr: Optional[float] = 0.3,
                 gate_with_motion: bool = True,
                 cascade_depth: int = 30,
                 vel_consist_weight: float = 0.2,
                 vel_delta_t: int = 3,
                 num_tentatives: int = 3,
                 output_tentative: bool = True,
                 exit_visible_ratio: float = 0.3,
                 per_class: bool = True,
                 observation_centric_reupdate: bool = True,
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
        self.observation_centric_reupdate = observation_centric_reupdate
        if reid is not None:
            unknown = sorted(set(reid) - set(REID_DEFAULTS))
            if unknown:
                raise ValueError(f'NeuralSORTTracker: unknown reid option(s) {unknown}; the '
                                 f'options are {sorted(REID_DEFAULTS)}')
            reid = dict(REID_DEFAULTS, **reid)
            if int(reid['num_samples']) < 1:
                raise ValueError(f'NeuralSORTTracker: reid.num_samples must be >= 1, got '
                                 f'{reid["num_samples"]}')
        self.reid = reid
        self._fallback_logged = False

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
        track.gallery = []  # appearance features (D,) of the last matched detections

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

    # ---- appearance ------------------------------------------------------------------------------
    def _motion_only(self, reason: str) -> None:
        """Log (once per tracker) that appearance is off and why."""
        if not self._fallback_logged:
            MMLogger.get_current_instance().info(
                f'NeuralSORTTracker: reid is configured but {reason}; tracking by motion only')
            self._fallback_logged = True

    def _appearance(self, model: Optional[torch.nn.Module], img, data_sample: DetDataSample,
                    bboxes: Tensor, rescale: bool,
                    data_preprocessor: Optional[dict]) -> Optional[np.ndarray]:
        """ReID features of the detections, or None for motion only.

        Args:
            model: the tracking model; its ``reid`` module embeds the crops.
            img: the frame, Tensor (1, 3, H, W) (or a list of one (3, H, W)) in the model's
                input space, or None.
            data_sample: the frame (metainfo ``scale_factor`` maps boxes to ``img`` when
                ``rescale``).
            bboxes: detections, shape (M, 4) xyxy.
            rescale: whether ``bboxes`` are in original image coordinates.
            data_preprocessor: the normalisation ``img`` went through (``mean``, ``std``,
                ``bgr_to_rgb``), or None for raw BGR pixels.

        Returns:
            array (M, D) or None.
        """
        if self.reid is None:
            return None
        reid = getattr(model, 'reid', None) if model is not None else None
        if reid is None:
            self._motion_only('the model has no ReID module (model.reid)')
            return None
        if isinstance(img, (list, tuple)):
            img = img[0] if len(img) else None
        if img is None:
            self._motion_only('no pixels are given (img=None, e.g. detections from a file)')
            return None
        if len(bboxes) == 0:
            return np.zeros((0, 0))
        boxes = bboxes.detach().float().clone()
        if rescale and 'scale_factor' in data_sample.metainfo:
            sx, sy = data_sample.metainfo['scale_factor'][:2]
            boxes *= boxes.new_tensor([sx, sy, sx, sy])
        norm = data_preprocessor if isinstance(data_preprocessor, dict) else None
        pixels = denormalize_pixels(img, norm)
        crops = crop_and_resize(pixels, boxes, tuple(self.reid['img_scale']))
        param = next(reid.parameters(), None)
        if param is not None:
            crops = crops.to(param.device)
        x = reid_normalize(crops, getattr(reid, 'data_preprocessor', None))
        with torch.no_grad():
            feats = reid(x, mode='tensor')
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        return feats.detach().float().cpu().numpy().reshape(len(bboxes), -1).astype(np.float64)

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
            model, img, data_preprocessor, rescale: only used for appearance (``reid``): the
                model with a ``reid`` module, the frame (Tensor (1, 3, H, W)), the normalisation
                of ``img`` and whether the boxes are in original image coordinates.

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
        feats = self._appearance(model, img, data_sample, bboxes, rescale, data_preprocessor)
        det_np = bboxes.detach().cpu().numpy().astype(np.float64)
        score_np = scores.detach().cpu().numpy().astype(np.float64)
        label_np = labels.detach().cpu().numpy()
        ids = np.full(len(det_np), -1, np.int64)
        track_ids = list(self.tracks.keys())

        if track_ids:
            ids = self._associate(track_ids, frame_id, det_np, score_np, label_np, feats, meta,
                                  ids)

        # new tracks
        new = (ids == -1) & (score_np >= self.init_track_thr)
        ids[new] = np.arange(self.num_tracks, self.num_tracks + int(new.sum()))
        self.num_tracks += int(new.sum())
        keep = ids >= 0
        ids_t = torch.as_tensor(ids[keep], dtype=torch.long, device=bboxes.device)
        keep_t = torch.as_tensor(keep, device=bboxes.device)
        self.update(ids=ids_t, bboxes=bboxes[keep_t], labels=labels[keep_t],
                    scores=scores[keep_t], frame_ids=frame_id)
        if feats is not None:
            for k in np.flatnonzero(keep):
                track = self.tracks.get(int(ids[k]))
                if track is not None:  # (not popped by pop_invalid_tracks)
                    track.gallery = (track.gallery + [feats[k]])[-int(self.reid['num_samples']):]

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
                   score_np: np.ndarray, label_np: np.ndarray, feats: Optional[np.ndarray],
                   meta: dict, ids: np.ndarray) -> np.ndarray:
        """Steps 2-7 of the module docstring; fills ``ids`` (M,) with matched track ids."""
        tracks = [self.tracks[i] for i in track_ids]
        means, covs, pred_boxes = self._predict_tracks(tracks)
        age = np.array([frame_id - int(t.frame_ids[-1]) for t in tracks])
        tentative = np.array([bool(t.tentative) for t in tracks])
        costs = self._association_costs(tracks, frame_id, means, covs, pred_boxes, det_np,
                                        score_np, label_np, feats)
        last_boxes = (np.stack([self._last_observation(t) for t in tracks])
                      if self.ocr_iou_thr is not None else None)
        matches = self._match(costs, age, tentative, last_boxes, det_np)
        for r, c in matches:
            ids[c] = track_ids[r]
        self._update_matched(tracks, matches, age, means, covs, frame_id, det_np, score_np)
        matched = np.zeros(len(tracks), bool)
        matched[matches[:, 0]] = True
        self._terminate_exited(track_ids, matched, pred_boxes, meta)
        return ids

    def _predict_tracks(self, tracks: List[AttrDict]
                        ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Step 2: predict every track at once (a shrinking box keeps a zero height velocity).

        Returns:
            means (n, 8), covariances (n, 8, 8) and predicted boxes (n, 4) xyxy; the tracks'
            ``mean``/``covariance`` are set to the prediction.
        """
        means = np.stack([t.mean for t in tracks])
        covs = np.stack([t.covariance for t in tracks])
        shrink = means[:, 3] + means[:, 7] <= 0
        means[shrink, 7] = 0
        means, covs = self._predict(means, covs)
        for t, mean, cov in zip(tracks, means, covs):
            t.mean, t.covariance = mean, cov
        pred_boxes = bbox_cxcyah_to_xyxy(torch.as_tensor(means[:, :4])).numpy()
        return means, covs, pred_boxes

    def _association_costs(self, tracks: List[AttrDict], frame_id: int, means: np.ndarray,
                           covs: np.ndarray, pred_boxes: np.ndarray, det_np: np.ndarray,
                           score_np: np.ndarray, label_np: np.ndarray,
                           feats: Optional[np.ndarray]) -> AssociationCosts:
        """Step 3's costs between the n predicted tracks and the m detections."""
        n, m = len(tracks), len(det_np)
        ious = box_iou(pred_boxes, det_np)
        direction_cost = np.zeros((n, m))
        if self.vel_consist_weight and m:
            valid = np.array([t.direction is not None for t in tracks])
            dirs = np.stack([t.direction if t.direction is not None else np.zeros(2)
                             for t in tracks])
            anchors = np.stack([self._anchor_observation(t, frame_id) for t in tracks])
            direction_cost = self.vel_consist_weight * direction_consistency_cost(
                dirs, anchors, det_np, valid)
        class_forbid = np.zeros((n, m), bool)
        if self.per_class:
            track_labels = np.array([int(t.labels[-1]) for t in tracks])
            class_forbid = track_labels[:, None] != label_np[None]
        maha = None
        if self.gate_with_motion and m:
            z = bbox_xyxy_to_cxcyah(torch.as_tensor(det_np)).numpy()
            maha = self._gating(means, covs, z, score_np)
        gate_thr = getattr(self.motion, 'gating_threshold', CHI2_95_4DOF)
        if feats is not None:
            app = nearest_neighbor_cosine_distance(
                [np.asarray(t.get('gallery', [])) for t in tracks], feats)
            max_app = self.reid['max_appearance_dist']
            cascade = gate_cost(app + direction_cost, maha, gate_thr, app, max_app, class_forbid)
            return AssociationCosts(ious, cascade, FORBIDDEN / 2, class_forbid, app, max_app)
        cascade = gate_cost(1 - ious + direction_cost, maha, gate_thr, forbidden=class_forbid)
        return AssociationCosts(ious, cascade, 1 - self.match_iou_thr, class_forbid)

    def _match(self, costs: AssociationCosts, age: np.ndarray, tentative: np.ndarray,
               last_boxes: Optional[np.ndarray], det_np: np.ndarray) -> np.ndarray:
        """Steps 3-5: the matching cascade, the IoU stage and observation-centric recovery.

        Args:
            costs: the frame's costs (n tracks x m detections).
            age: (n,) frames since each track's last match (1 = matched in the previous frame).
            tentative: (n,) whether each track is tentative.
            last_boxes: (n, 4) xyxy last observation of each track (``None``: recovery off).
            det_np: (m, 4) xyxy detections.

        Returns:
            int array (K, 2) of (track index, detection index) pairs, in the order matched.
        """
        n, m = costs.iou.shape
        use_app = costs.appearance is not None
        matched = np.zeros(n, bool)
        pairs = [np.zeros((0, 2), np.int64)]

        def record(matches: np.ndarray) -> None:
            matches = np.asarray(matches, np.int64).reshape(-1, 2)
            matched[matches[:, 0]] = True
            pairs.append(matches)

        # 3. cascade over confirmed tracks, most recently seen first
        matches, _, free = matching_cascade(costs.cascade, age, np.flatnonzero(~tentative),
                                            np.arange(m), self.cascade_depth, costs.cascade_max)
        record(matches)
        # 4. IoU stage: tentative tracks and some unmatched confirmed ones
        iou_age = 1 if use_app else 2
        rows = np.flatnonzero(~matched & (tentative | (age == iou_age)))
        if len(rows) and len(free):
            matches, _, free = min_cost_matching(
                gate_cost(1 - costs.iou, forbidden=costs.class_forbid), rows, free,
                1 - self.match_iou_thr)
            record(matches)
        # 5. observation-centric recovery with the last observation
        rows = np.flatnonzero(~matched & ~tentative)
        if last_boxes is not None and len(rows) and len(free):
            ocr = gate_cost(1 - box_iou(last_boxes, det_np), appearance_distance=costs.appearance,
                            max_appearance_distance=costs.max_appearance,
                            forbidden=costs.class_forbid)
            matches, _, free = min_cost_matching(ocr, rows, free, 1 - self.ocr_iou_thr)
            record(matches)
        return np.concatenate(pairs)

    def _update_matched(self, tracks: List[AttrDict], matches: np.ndarray, age: np.ndarray,
                        means: np.ndarray, covs: np.ndarray, frame_id: int, det_np: np.ndarray,
                        score_np: np.ndarray) -> None:
        """Step 6: re-update tracks re-found after a gap, update the others in one batch."""
        det_of = {int(r): int(c) for r, c in matches}
        reupdate = [k for k in sorted(det_of) if age[k] > 1 and self.observation_centric_reupdate]
        direct = [k for k in sorted(det_of) if k not in reupdate]
        for k in reupdate:
            self._reupdate(tracks[k], frame_id, det_np[det_of[k]], score_np[det_of[k]])
        if direct:
            dets = [det_of[k] for k in direct]
            z = bbox_xyxy_to_cxcyah(torch.as_tensor(det_np[dets])).numpy()
            new_means, new_covs = self._update(means[direct], covs[direct], z, score_np[dets])
            for k, mean, cov in zip(direct, new_means, new_covs):
                tracks[k].mean, tracks[k].covariance = mean, cov
                tracks[k].saved = (mean, cov)

    def _terminate_exited(self, track_ids: List[int], matched: np.ndarray,
                          pred_boxes: np.ndarray, meta: dict) -> None:
        """Step 7: end the unmatched tracks whose predicted box has left the image."""
        shape = meta.get('ori_shape', meta.get('img_shape'))
        if self.exit_visible_ratio <= 0 or shape is None:
            return
        vis = visible_fraction(pred_boxes, shape[1], shape[0])
        for k, tid in enumerate(track_ids):
            if not matched[k] and vis[k] < self.exit_visible_ratio:
                self.tracks.pop(tid)
