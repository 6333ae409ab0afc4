"""Pure association functions of the trackers (numpy in, numpy out, no tracker state).

DeepSORT's association, one function per idea, so each can be pinned with closed-form numbers:

* :func:`nearest_neighbor_cosine_distance`: appearance cost, the smallest cosine distance between
  a detection's feature and the features a track has gathered (DeepSORT's nearest-neighbour
  metric over a per-track gallery);
* :func:`iou_cost`: ``1 - IoU`` of predicted track boxes and detections;
* :func:`gate_cost`: forbid pairs outside the motion model's chi-square gate, too different in
  appearance, or otherwise excluded (class mismatch);
* :func:`min_cost_matching` / :func:`linear_assignment`: one-to-one minimum-cost matching under a
  largest accepted cost;
* :func:`matching_cascade`: DeepSORT's matching cascade, which gives priority to tracks seen
  more recently (frames since the last match ``1, 2, ..., depth``);

OC-SORT's helpers: :func:`direction_consistency_cost` (velocity-direction consistency) and
:func:`visible_fraction` (terminating tracks that leave the image); and FairMOT's (JDE's) costs:
:func:`embedding_distance` and :func:`fuse_motion`. Every tracker of ikun_mm (``NeuralSORTTracker``,
``JDETracker``) matches with the one :func:`linear_assignment`.

Box arrays are ``xyxy`` in pixels; "N" counts tracks, "M" detections, "D" feature channels.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from ikun_mm.structures import bbox_centers, bbox_inside_fraction, bbox_iou

try:
    import lap
except ImportError:  # pragma: no cover - lap is a runtime requirement
    lap = None

#: Cost of forbidden pairs (class mismatch, outside a gate). Finite, so lap stays stable.
FORBIDDEN = 1e6

#: 0.95 quantile of the chi-square distribution with 4 degrees of freedom: the Mahalanobis gate
#: of a 4-D (cx, cy, a, h) measurement.
CHI2_95_4DOF = 9.4877

Matches = Tuple[np.ndarray, np.ndarray, np.ndarray]


def linear_assignment(cost: np.ndarray, max_cost: float) -> Matches:
    """Minimum-cost one-to-one matching keeping only pairs with ``cost <= max_cost``.

    Args:
        cost: array of shape (N, M); a pair above ``max_cost``, ``inf`` or ``nan`` is never
            matched.
        max_cost: largest accepted cost.

    Returns:
        matches (K, 2) of (row, col), unmatched rows (N - K,), unmatched cols (M - K,).
    """
    if lap is None:  # pragma: no cover
        raise RuntimeError('linear_assignment needs the "lap" package (pip install lap)')
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), int), np.arange(n), np.arange(m)
    # inf / nan forbid a pair (FairMOT's convention); lap needs finite costs
    cost = np.where(np.isfinite(cost), cost, max_cost + FORBIDDEN)
    _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=max_cost)
    matches = np.array([(r, c) for r, c in enumerate(row_to_col) if c >= 0], int).reshape(-1, 2)
    matches = matches[cost[matches[:, 0], matches[:, 1]] <= max_cost]
    rows = np.setdiff1d(np.arange(n), matches[:, 0])
    cols = np.setdiff1d(np.arange(m), matches[:, 1])
    return matches, rows, cols


def min_cost_matching(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                      max_cost: float) -> Matches:
    """:func:`linear_assignment` restricted to ``rows`` x ``cols`` of ``cost``, in the indices
    of the full matrix.

    Args:
        cost: array of shape (N, M).
        rows: candidate row (track) indices, shape (R,).
        cols: candidate column (detection) indices, shape (C,).
        max_cost: largest accepted cost.

    Returns:
        matches (K, 2) of (row, col) of ``cost``, unmatched rows, unmatched cols (subsets of
        ``rows`` and ``cols``).
    """
    rows, cols = np.asarray(rows, int), np.asarray(cols, int)
    sub, r, c = linear_assignment(cost[np.ix_(rows, cols)], max_cost)
    return np.stack([rows[sub[:, 0]], cols[sub[:, 1]]], 1).reshape(-1, 2), rows[r], cols[c]


def matching_cascade(cost: np.ndarray, ages: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                     cascade_depth: int, max_cost: float) -> Matches:
    """DeepSORT's matching cascade.

    Level ``a = 1, ..., cascade_depth`` matches the still-unmatched tracks of ``rows`` whose last
    match was ``a`` frames ago against the detections of ``cols`` left by the levels before, so
    when two tracks compete for a detection the more recently seen one wins, even at a higher
    cost. Tracks older than ``cascade_depth`` are not matched here.

    Args:
        cost: array of shape (N, M); forbidden pairs already have a cost above ``max_cost``.
        ages: frames since each track's last match, shape (N,) (1 = matched in the previous
            frame).
        rows: candidate tracks, shape (R,).
        cols: candidate detections, shape (C,).
        cascade_depth: number of levels.
        max_cost: largest accepted cost.

    Returns:
        matches (K, 2) of (row, col) of ``cost``, unmatched rows (candidates not matched, in
        ``rows`` order), unmatched cols.
    """
    rows, cols = np.asarray(rows, int), np.asarray(cols, int)
    ages = np.asarray(ages)
    free = cols.copy()
    matches = [np.zeros((0, 2), int)]
    for level in range(1, cascade_depth + 1):
        if len(free) == 0:
            break
        level_rows = rows[ages[rows] == level]
        if len(level_rows) == 0:
            continue
        m, _, free = min_cost_matching(cost, level_rows, free, max_cost)
        matches.append(m)
    matches = np.concatenate(matches)
    unmatched_rows = rows[~np.isin(rows, matches[:, 0])]
    return matches, unmatched_rows, free


def nearest_neighbor_cosine_distance(galleries: Sequence[np.ndarray],
                                     features: np.ndarray) -> np.ndarray:
    """DeepSORT's nearest-neighbour appearance metric.

    ``cost[i, j] = min_k (1 - cos(galleries[i][k], features[j]))``: the smallest cosine distance
    between detection ``j`` and any feature track ``i`` has gathered. A track with an empty
    gallery gets distance 1 (orthogonal) to everything.

    Args:
        galleries: per track an array (K_i, D) of its last features (any scale).
        features: detection features, shape (M, D) (any scale).

    Returns:
        array of shape (N, M), values in ``[0, 2]``.
    """
    features = np.asarray(features, np.float64)
    cost = np.ones((len(galleries), len(features)))
    if len(features) == 0:
        return cost
    features = features.reshape(len(features), -1)
    f = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    for i, g in enumerate(galleries):
        g = np.asarray(g, np.float64).reshape(-1, f.shape[1])
        if len(g) == 0:
            continue
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        cost[i] = (1 - g @ f.T).min(0)
    return cost


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """IoU (N, M) of xyxy boxes (N, 4) and (M, 4): :func:`ikun_mm.structures.bbox_iou` (mmdet's
    ``bbox_overlaps``; the union is at least ``eps``)."""
    return bbox_iou(boxes1, boxes2, eps=eps)


def iou_cost(track_boxes: np.ndarray, det_boxes: np.ndarray) -> np.ndarray:
    """``1 - IoU`` (N, M) of track boxes (N, 4) and detections (M, 4), xyxy."""
    return 1 - box_iou(track_boxes, det_boxes)


def embedding_distance(track_embeds: np.ndarray, det_embeds: np.ndarray) -> np.ndarray:
    """FairMOT's appearance cost: ``max(0, 1 - <t, d>)`` (N, M) of L2-normalised track (N, D)
    and detection (M, D) embeddings."""
    if len(track_embeds) == 0 or len(det_embeds) == 0:
        return np.zeros((len(track_embeds), len(det_embeds)))
    return np.maximum(0.0, 1.0 - track_embeds @ det_embeds.T)


def fuse_motion(cost: np.ndarray, maha: np.ndarray, gate: float, lambda_: float) -> np.ndarray:
    """FairMOT's (JDE's) motion fusion: ``lambda * cost + (1 - lambda) * maha`` (N, M), ``inf``
    where the squared Mahalanobis distance ``maha`` (N, M) exceeds ``gate``."""
    fused = lambda_ * cost + (1 - lambda_) * maha
    fused[maha > gate] = np.inf
    return fused


def gate_cost(cost: np.ndarray,
              gating_distance: Optional[np.ndarray] = None,
              gating_threshold: float = CHI2_95_4DOF,
              appearance_distance: Optional[np.ndarray] = None,
              max_appearance_distance: Optional[float] = None,
              forbidden: Optional[np.ndarray] = None) -> np.ndarray:
    """Set ``cost`` to :data:`FORBIDDEN` where a pair may not match.

    A pair is forbidden when its squared Mahalanobis distance exceeds ``gating_threshold``
    (NaN counts as outside), when its appearance distance exceeds ``max_appearance_distance``,
    or where ``forbidden`` is True. Each criterion is skipped when its input is ``None``.

    Args:
        cost: array of shape (N, M).
        gating_distance: squared Mahalanobis distances (N, M) of the detections to the tracks'
            predicted measurement distributions.
        gating_threshold: largest accepted ``gating_distance`` (chi-square 95%: 9.4877 for the
            4-D box measurement, 5.9915 for the centre only).
        appearance_distance: appearance distances (N, M).
        max_appearance_distance: largest accepted ``appearance_distance``.
        forbidden: boolean mask (N, M) of pairs excluded for other reasons.

    Returns:
        a new array (N, M).
    """
    cost = np.array(cost, np.float64, copy=True)
    mask = np.zeros(cost.shape, bool)
    if gating_distance is not None:
        mask |= ~(np.asarray(gating_distance) <= gating_threshold)
    if appearance_distance is not None and max_appearance_distance is not None:
        mask |= ~(np.asarray(appearance_distance) <= max_appearance_distance)
    if forbidden is not None:
        mask |= np.asarray(forbidden, bool)
    cost[mask] = FORBIDDEN
    return cost


#: Centres (..., 2) of xyxy boxes (..., 4): :func:`ikun_mm.structures.bbox_centers`.
centers = bbox_centers


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

    Args:
        track_dirs: (N, 2) unit motion directions.
        anchor_boxes: (N, 4) xyxy observations the directions start from.
        det_boxes: (M, 4) xyxy detections.
        valid: (N,) whether a track has a direction yet.

    Returns:
        array of shape (N, M).
    """
    if len(track_dirs) == 0 or len(det_boxes) == 0:
        return np.zeros((len(track_dirs), len(det_boxes)))
    to_det = direction(anchor_boxes[:, None], det_boxes[None])  # (N, M, 2)
    cos = np.clip((to_det * track_dirs[:, None]).sum(-1), -1, 1)
    return (np.arccos(cos) - np.pi / 2) / np.pi * valid[:, None]


#: Fraction (N,) of each xyxy box (N, 4) inside the image ``[0, W] x [0, H]``:
#: :func:`ikun_mm.structures.bbox_inside_fraction`.
visible_fraction = bbox_inside_fraction
