"""JDE/FairMOT online association, with the mmdet tracker API.

Per frame (``frame_id`` 0 resets the tracker), with detections above ``conf_thr``:

1. Kalman-predict the confirmed tracks, tracked and lost (a lost track's height velocity is
   zeroed first). Cost = cosine distance between each track's EMA embedding and each detection's
   embedding; pairs whose squared Mahalanobis distance (mmdet ``KalmanFilter.gating_distance``,
   ``(cx, cy, a, h)``) exceeds the chi-square 95% gate (4 dof) are forbidden; the rest are fused
   ``lambda * cos + (1 - lambda) * maha`` and Hungarian-matched with ``match_thr_embed``. A
   matched lost track is re-found.
2. Remaining detections vs remaining *tracked* confirmed tracks by IoU distance
   (``1 - IoU`` <= ``match_thr_iou``); still unmatched tracked tracks become lost.
3. Remaining detections vs unconfirmed tracks (born in the previous frame) by IoU distance
   (``match_thr_unconfirmed``); unmatched unconfirmed tracks are removed.
4. Remaining detections with score >= ``init_track_thr`` start tracks: confirmed at once in the
   first frame, unconfirmed otherwise.
5. Lost tracks unseen for more than ``track_buffer * frame_rate / 30`` frames are removed; a tracked
   and a lost track overlapping with IoU > ``duplicate_iou`` are deduplicated (the younger one
   goes).

A matched track's embedding is ``normalise(alpha * ema + (1 - alpha) * det)``. The defaults are
FairMOT's (``src/lib/opts.py``, ``src/lib/tracker/multitracker.py``): conf_thres 0.4, track_buffer
30, alpha 0.9, lambda 0.98, thresholds 0.4 / 0.5 / 0.7 (distances), duplicates at IoU distance 0.15.

Output boxes are the Kalman-updated states of the tracked, confirmed tracks, as in FairMOT.
Deliberate differences: ids start at 0 per video (mmdet convention); association is
class-agnostic as in FairMOT (labels are carried along).
"""
from typing import List, Optional

import numpy as np
import torch
from mmdet.models.trackers import BaseTracker
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_cxcyah_to_xyxy, bbox_xyxy_to_cxcyah
from mmengine.structures import InstanceData

from ikun_mm.registry import MODELS, TASK_UTILS
from .matching import embedding_distance, fuse_motion, iou_cost, linear_assignment

TRACKED, LOST = 'tracked', 'lost'


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-12)


@MODELS.register_module()
class JDETracker(BaseTracker):
    """FairMOT's tracker (see the module docstring for the algorithm).

    Args:
        motion: Kalman filter config (mmdet ``KalmanFilter``).
        conf_thr: detections below this score are ignored (FairMOT ``conf_thres`` 0.4).
        init_track_thr: minimum score to start a track (FairMOT: ``conf_thres``).
        match_thr_embed: max fused embedding/motion cost of a match (0.4).
        match_thr_iou: max ``1 - IoU`` of the IoU match of tracked tracks (0.5).
        match_thr_unconfirmed: max ``1 - IoU`` of the unconfirmed match (0.7).
        embed_momentum: EMA weight ``alpha`` of the old embedding (0.9).
        motion_lambda: weight of the appearance cost in the fused cost (0.98).
        track_buffer: frames a lost track is kept at 30 fps (30).
        frame_rate: frame rate of the video; the buffer scales with it.
        duplicate_iou_dist: tracked/lost pairs closer than this ``1 - IoU`` are duplicates (0.15).
        min_box_area: output only tracks whose box area (pixels) exceeds this; FairMOT's
            evaluation (``src/track.py`` ``eval_seq``, ``--min-box-area`` 100) filters its output
            this way. 0 (default) keeps all: the filter is for pedestrians (MOT configs set it).
        max_aspect_ratio: output only tracks with ``w / h <= max_aspect_ratio``; ``eval_seq``
            drops "vertical" boxes with ``w / h > 1.6``. ``None`` (default) keeps all (wide
            objects such as cars would be dropped).
    """

    def __init__(self,
                 motion: dict = dict(type='KalmanFilter'),
                 conf_thr: float = 0.4,
                 init_track_thr: float = 0.4,
                 match_thr_embed: float = 0.4,
                 match_thr_iou: float = 0.5,
                 match_thr_unconfirmed: float = 0.7,
                 embed_momentum: float = 0.9,
                 motion_lambda: float = 0.98,
                 track_buffer: int = 30,
                 frame_rate: float = 30.0,
                 duplicate_iou_dist: float = 0.15,
                 min_box_area: float = 0.0,
                 max_aspect_ratio: Optional[float] = None,
                 **kwargs) -> None:
        self.max_time_lost = int(frame_rate / 30.0 * track_buffer)
        kwargs.setdefault('num_frames_retain', self.max_time_lost)
        super().__init__(**kwargs)
        self.kf = TASK_UTILS.build(motion)
        self.gate = self.kf.chi2inv95[4]
        self.conf_thr = conf_thr
        self.init_track_thr = init_track_thr
        self.match_thr_embed = match_thr_embed
        self.match_thr_iou = match_thr_iou
        self.match_thr_unconfirmed = match_thr_unconfirmed
        self.embed_momentum = embed_momentum
        self.motion_lambda = motion_lambda
        self.duplicate_iou_dist = duplicate_iou_dist
        self.min_box_area = min_box_area
        self.max_aspect_ratio = max_aspect_ratio

    # -- per-track state ---------------------------------------------------------------------
    def _new_track(self, box: np.ndarray, embed: np.ndarray, score: float, label: int,
                   frame_id: int, confirmed: bool) -> None:
        mean, cov = self.kf.initiate(self._xyah(box))
        self.tracks[self.num_tracks] = dict(
            mean=mean, covariance=cov, embed=_normalise(embed), score=score, label=label,
            state=TRACKED, confirmed=confirmed, frame_id=frame_id, start_frame=frame_id)
        self.num_tracks += 1

    def _update_track(self, tid: int, box: np.ndarray, embed: np.ndarray, score: float,
                      frame_id: int) -> None:
        t = self.tracks[tid]
        t['mean'], t['covariance'] = self.kf.update(t['mean'], t['covariance'], self._xyah(box))
        a = self.embed_momentum
        t['embed'] = _normalise(a * t['embed'] + (1 - a) * _normalise(embed))
        t.update(score=score, state=TRACKED, confirmed=True, frame_id=frame_id)

    @staticmethod
    def _xyah(box: np.ndarray) -> np.ndarray:
        return bbox_xyxy_to_cxcyah(torch.as_tensor(box, dtype=torch.float64)[None])[0].numpy()

    def _boxes(self, ids: List[int]) -> np.ndarray:
        if not ids:
            return np.zeros((0, 4))
        means = torch.as_tensor(np.stack([self.tracks[i]['mean'][:4] for i in ids]))
        return bbox_cxcyah_to_xyxy(means).numpy()

    # -- association stages ------------------------------------------------------------------
    def _match_embed(self, ids: List[int], boxes: np.ndarray, embeds: np.ndarray):
        if not ids or not len(boxes):
            return linear_assignment(np.zeros((len(ids), len(boxes))), self.match_thr_embed)
        cost = embedding_distance(np.stack([self.tracks[i]['embed'] for i in ids]), embeds)
        xyah = bbox_xyxy_to_cxcyah(torch.as_tensor(boxes, dtype=torch.float64)).numpy()
        maha = np.stack([
            self.kf.gating_distance(self.tracks[i]['mean'], self.tracks[i]['covariance'], xyah)
            for i in ids
        ])
        return linear_assignment(fuse_motion(cost, maha, self.gate, self.motion_lambda),
                                 self.match_thr_embed)

    def track(self, data_sample: DetDataSample, **kwargs) -> InstanceData:
        """Associate one frame.

        Args:
            data_sample: with ``metainfo['frame_id']`` and ``pred_instances`` holding ``bboxes``
                (N, 4) xyxy, ``scores`` (N, ), ``labels`` (N, ) and ``embeds`` (N, E).

        Returns:
            InstanceData with ``bboxes``, ``scores``, ``labels``, ``instances_id`` of the tracked,
            confirmed tracks.
        """
        pred = data_sample.pred_instances
        frame_id = int(data_sample.metainfo.get('frame_id', -1))
        if frame_id == 0:
            self.reset()
        device = pred.bboxes.device
        keep = (pred.scores > self.conf_thr).cpu().numpy()
        boxes = pred.bboxes.detach().cpu().double().numpy()[keep]
        scores = pred.scores.detach().cpu().double().numpy()[keep]
        labels = pred.labels.detach().cpu().numpy()[keep]
        embeds = pred.embeds.detach().cpu().double().numpy()[keep]

        confirmed = [i for i, t in self.tracks.items() if t['confirmed']]
        unconfirmed = [i for i, t in self.tracks.items() if not t['confirmed']]
        for i in confirmed:
            t = self.tracks[i]
            if t['state'] != TRACKED:
                t['mean'] = t['mean'].copy()
                t['mean'][7] = 0
            t['mean'], t['covariance'] = self.kf.predict(t['mean'], t['covariance'])

        # 1. appearance + motion gating
        matches, u_trk, u_det = self._match_embed(confirmed, boxes, embeds)
        for r, c in matches:
            self._update_track(confirmed[r], boxes[c], embeds[c], scores[c], frame_id)
        # 2. IoU for the remaining tracked ones
        rest = [confirmed[r] for r in u_trk if self.tracks[confirmed[r]]['state'] == TRACKED]
        matches, u_trk, u_det2 = linear_assignment(
            iou_cost(self._boxes(rest), boxes[u_det]), self.match_thr_iou)
        for r, c in matches:
            self._update_track(rest[r], boxes[u_det[c]], embeds[u_det[c]], scores[u_det[c]],
                               frame_id)
        for r in u_trk:
            self.tracks[rest[r]]['state'] = LOST
        u_det = u_det[u_det2]
        # 3. unconfirmed tracks
        matches, u_unc, u_det3 = linear_assignment(
            iou_cost(self._boxes(unconfirmed), boxes[u_det]), self.match_thr_unconfirmed)
        for r, c in matches:
            self._update_track(unconfirmed[r], boxes[u_det[c]], embeds[u_det[c]],
                               scores[u_det[c]], frame_id)
        for r in u_unc:
            self.tracks.pop(unconfirmed[r])
        # 4. new tracks
        for c in u_det[u_det3]:
            if scores[c] >= self.init_track_thr:
                self._new_track(boxes[c], embeds[c], float(scores[c]), int(labels[c]), frame_id,
                                confirmed=frame_id == 0)
        # 5. forget old lost tracks, deduplicate tracked vs lost
        for i in [i for i, t in self.tracks.items()
                  if t['state'] == LOST and frame_id - t['frame_id'] > self.max_time_lost]:
            self.tracks.pop(i)
        self._remove_duplicates()

        out_ids = [i for i, t in self.tracks.items()
                   if t['state'] == TRACKED and t['confirmed'] and t['frame_id'] == frame_id]
        out_boxes = self._boxes(out_ids).reshape(-1, 4)
        w, h = out_boxes[:, 2] - out_boxes[:, 0], out_boxes[:, 3] - out_boxes[:, 1]
        shown = w * h > self.min_box_area if self.min_box_area > 0 else np.ones(len(w), bool)
        if self.max_aspect_ratio is not None:
            shown &= ~(w / np.maximum(h, 1e-12) > self.max_aspect_ratio)
        out_ids = [i for i, k in zip(out_ids, shown) if k]
        result = InstanceData()
        result.bboxes = torch.as_tensor(out_boxes[shown], dtype=torch.float32,
                                        device=device).reshape(-1, 4)
        result.scores = torch.tensor([self.tracks[i]['score'] for i in out_ids],
                                     dtype=torch.float32, device=device)
        result.labels = torch.tensor([self.tracks[i]['label'] for i in out_ids],
                                     dtype=torch.long, device=device)
        result.instances_id = torch.tensor(out_ids, dtype=torch.long, device=device)
        return result

    def _remove_duplicates(self) -> None:
        tracked = [i for i, t in self.tracks.items() if t['state'] == TRACKED]
        lost = [i for i, t in self.tracks.items() if t['state'] == LOST]
        dist = iou_cost(self._boxes(tracked), self._boxes(lost))
        drop = set()
        for p, q in zip(*np.where(dist < self.duplicate_iou_dist)):
            tp, tq = self.tracks[tracked[p]], self.tracks[lost[q]]
            age_p = tp['frame_id'] - tp['start_frame']
            age_q = tq['frame_id'] - tq['start_frame']
            drop.add(lost[q] if age_p > age_q else tracked[p])
        for i in drop:
            self.tracks.pop(i)
