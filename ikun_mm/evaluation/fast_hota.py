"""Exact, vectorised HOTA / CLEAR / Identity: TrackEval's numbers without TrackEval's loops.

:func:`evaluate_mot_fast` takes the arrays of :func:`~.trackeval_utils.evaluate_mot` and returns
the same dict; :class:`ShiftGrid` scores many *subsets* of candidate predictions (a score
threshold, a per-sequence score shift, a calibration ``a·p(e) + b``) in one call, reusing the
ground truth / candidate similarities of every sequence. Both reproduce what TrackEval 1.3
(``MotChallenge2DBox`` with ``DO_PREPROC=False``, metrics ``HOTA``, ``CLEAR``, ``Identity``)
computes from the MOTChallenge files :func:`~.trackeval_utils.write_trackeval_layout` writes, to
floating-point rounding (the tests hold it to 1e-9), per sequence and combined over sequences.

What has to match, and how it is matched (the facts, not TrackEval's code):

* **Inputs.** Boxes are written with 6 decimals and read back, ids truncated to ``int``: the
  boxes are rounded the same way (:func:`trackeval_round`). Within a frame, rows keep the order
  of the input (the file order), which decides the row/column order of every assignment.
* **Similarity.** The box IoU is computed with TrackEval's operations in TrackEval's order
  (corners as ``x + w``, areas from the corners, the ``eps`` guards), element by element, so the
  values are bit-identical; pairs with IoU 0 are never stored (they never match).
* **HOTA assignment.** Per frame, TrackEval maximises ``A(g, t) · IoU`` with
  ``A = P / (n_g + n_t - P)``, ``P`` the sum over frames of ``IoU / (row sum + column sum -
  IoU)``, by ``scipy.optimize.linear_sum_assignment``. The row and column sums are reproduced
  with numpy's own summation order (pairwise along a row, sequential down a column except for a
  one-column frame), the accumulation over frames in frame order, so every score is
  bit-identical. Only entries with a positive score can count as matches (a counted match needs
  IoU >= 0.05); the positive entries of an assignment form a maximum-weight matching, so a frame
  whose positive entries are disjoint pairs, or stars with a strict maximum, has one answer,
  computed without scipy; every other frame (cycles, paths, ties, near-ties within 1e-12) is
  solved by ``linear_sum_assignment`` on the same matrix TrackEval builds, giving TrackEval's
  tie-breaking.
* **CLEAR** (MOTA, MOTP, IDSW, Frag, MT, ML): the matching of a frame only depends on the
  previous frame (the 1000 bonus) when IoU >= 0.5 entries share a row or a column; other frames
  are matched all at once, those frames in order with scipy on TrackEval's matrix.
* **Identity** (IDF1, IDR, IDP): ``IDTP`` is the weight of a maximum-weight matching of the
  per-id-pair counts of IoU >= 0.5 (its value is unique, whatever the tie-breaking).
* **Empty sequences and combination.** TrackEval's early returns (no predictions / no GT) and its
  sequence combination (sums of TP/FN/FP per alpha, AssA/AssRe/AssPr weighted by TP, LocA
  weighted by TP with its 1e-10 guards; sums of the CLEAR and Identity counts) are applied as is,
  including the per-sequence MOTA of 0 for a sequence without GT or without predictions.

Shapes: ``A = 19`` localisation thresholds ``alpha = 0.05, 0.10, ..., 0.95``
(:data:`ALPHAS`); per sequence ``G`` GT boxes, ``C`` candidate boxes, ``F`` frames.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from ikun_mm.structures import MOT_GT_ROW, MOT_PRED_ROW, TRACKEVAL_EPS, trackeval_box_iou_pairs
from .trackeval_utils import CLEAR_FIELDS, HOTA_FIELDS, IDENTITY_FIELDS, _check_rows

#: HOTA's localisation thresholds (TrackEval's ``np.arange(0.05, 0.99, 0.05)``), shape (19,).
ALPHAS: np.ndarray = np.arange(0.05, 0.99, 0.05)
_EPS = TRACKEVAL_EPS
#: A match counts at alpha when IoU >= alpha - eps.
_ALPHA_THR: np.ndarray = ALPHAS - np.finfo('float').eps
_A = len(ALPHAS)
#: Relative gap under which two star scores count as tied (then scipy decides, as in TrackEval).
_NEAR_TIE = 1e-12
METRIC_NAMES = ('HOTA', 'CLEAR', 'Identity')
#: Subsets x (pairs + candidates) evaluated at once by :class:`ShiftGrid`.
_CHUNK = 4_000_000
#: Per-alpha arrays kept per sequence to combine HOTA over sequences.
HOTA_COUNTS = ('HOTA_TP', 'HOTA_FN', 'HOTA_FP', 'AssA', 'AssRe', 'AssPr', 'LocA')
CLEAR_COUNTS = ('CLR_TP', 'CLR_FN', 'CLR_FP', 'IDSW', 'MT', 'PT', 'ML', 'Frag', 'MOTP_sum')
IDENTITY_COUNTS = ('IDTP', 'IDFN', 'IDFP')


# ----------------------------------------------------------------------------------------------
# Inputs as TrackEval reads them

def trackeval_round(x: np.ndarray) -> np.ndarray:
    """``float(f'{v:.6f}')`` for every element of ``x`` (how a value written to a MOTChallenge
    file by :func:`~.trackeval_utils.write_trackeval_layout` is read back), vectorised.

    ``np.round(x, 6)`` is the same number except when ``x·1e6`` lies within rounding error of a
    half-integer; those few elements go through the string formatting.
    """
    x = np.asarray(x, dtype=np.float64)
    s = x * 1e6
    out = np.round(x, 6)
    tol = 1e-7 + 8 * np.spacing(np.abs(s))
    risky = (np.abs(s - np.floor(s) - 0.5) < tol) | (np.abs(s) >= 2.0 ** 51)
    if risky.any():
        out[risky] = [float(f'{v:.6f}') for v in x[risky]]
    return out


def _frame_positions(frames: np.ndarray, num_frames: int) -> Tuple[np.ndarray, np.ndarray]:
    """Rows sorted by frame (stable): ``(per-frame counts (F,), position within frame (N,))``."""
    counts = np.bincount(frames, minlength=num_frames)
    starts = np.cumsum(counts) - counts
    return counts, np.arange(len(frames)) - starts[frames]


def _contiguous(ids: np.ndarray) -> Tuple[np.ndarray, int]:
    uniq, inv = np.unique(ids, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), len(uniq)


@dataclass
class SequenceData:
    """One sequence, prepared once: GT boxes, candidate prediction boxes and the IoU of every
    (GT box, candidate box) pair of one frame with IoU > 0.

    Rows are sorted by frame, the input order kept within a frame (TrackEval's file order).

    Attributes:
        name: sequence name.
        num_frames: ``F``.
        gt_frame, gt_pos, gt_id: (G,) 0-based frame, position within the frame, contiguous id.
        gt_per_frame: (F,) GT boxes per frame.
        gt_id_count: (n_gt_ids,) float, boxes per GT id.
        cand_frame, cand_id, cand_score: (C,) 0-based frame, contiguous id, score (column 6 of
            the input, 1.0 without one).
        cand_order: (C,) input row index of each (sorted) candidate.
        pair_g, pair_c, pair_iou: (Np,) GT index, candidate index and IoU, sorted by (frame,
            GT position, candidate position).
    """
    name: str
    num_frames: int
    gt_frame: np.ndarray
    gt_pos: np.ndarray
    gt_id: np.ndarray
    n_gt_ids: int
    gt_per_frame: np.ndarray
    gt_id_count: np.ndarray
    cand_frame: np.ndarray
    cand_id: np.ndarray
    n_cand_ids: int
    cand_score: np.ndarray
    cand_order: np.ndarray
    pair_g: np.ndarray
    pair_c: np.ndarray
    pair_iou: np.ndarray

    @property
    def num_gt(self) -> int:
        return len(self.gt_frame)

    @property
    def num_cand(self) -> int:
        return len(self.cand_frame)


def prepare_sequence(name: str, gt: np.ndarray, cand: np.ndarray,
                     num_frames: int) -> SequenceData:
    """:class:`SequenceData` of one sequence.

    Args:
        gt: (G, 6+) ``frame (1-based), id, x, y, w, h`` (:data:`~ikun_mm.structures.MOT_GT_ROW`,
            as :func:`evaluate_mot`).
        cand: (C, 6+) ``frame (1-based), id, x, y, w, h[, score]``
            (:data:`~ikun_mm.structures.MOT_PRED_ROW`): every box any evaluated subset may
            contain.
        num_frames: frames of the sequence.
    """
    num_frames = int(num_frames)
    gt = _check_rows('gt', name, gt, num_frames)
    cand = _check_rows('pred', name, cand, num_frames)
    G, C = MOT_GT_ROW, MOT_PRED_ROW
    g_order = np.argsort(gt[:, G.frame], kind='stable')
    c_order = np.argsort(cand[:, C.frame], kind='stable')
    gt, cand_s = gt[g_order], cand[c_order]
    gt_frame = gt[:, G.frame].astype(np.int64) - 1
    cand_frame = cand_s[:, C.frame].astype(np.int64) - 1
    gt_per_frame, gt_pos = _frame_positions(gt_frame, num_frames)
    c_per_frame, _ = _frame_positions(cand_frame, num_frames)
    gt_id, n_gt_ids = _contiguous(gt[:, G.id].astype(np.int64))
    cand_id, n_cand_ids = _contiguous(cand_s[:, C.id].astype(np.int64))
    gt_box, cand_box = trackeval_round(G.boxes(gt)), trackeval_round(C.boxes(cand_s))
    # every (GT, candidate) pair of one frame, sorted by (frame, GT position, candidate position)
    c_start = np.cumsum(c_per_frame) - c_per_frame
    reps = c_per_frame[gt_frame]
    pair_g = np.repeat(np.arange(len(gt_frame)), reps)
    offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    pair_c = np.repeat(c_start[gt_frame], reps) + offs
    iou = trackeval_box_iou_pairs(gt_box[pair_g], cand_box[pair_c])
    keep = iou > 0
    score = (cand_s[:, C.score].astype(np.float64) if cand_s.shape[1] > C.score
             else np.ones(len(cand_s)))
    return SequenceData(
        name=name, num_frames=num_frames, gt_frame=gt_frame, gt_pos=gt_pos, gt_id=gt_id,
        n_gt_ids=n_gt_ids, gt_per_frame=gt_per_frame,
        gt_id_count=np.bincount(gt_id, minlength=n_gt_ids).astype(np.float64),
        cand_frame=cand_frame, cand_id=cand_id, n_cand_ids=n_cand_ids, cand_score=score,
        cand_order=c_order, pair_g=pair_g[keep], pair_c=pair_c[keep], pair_iou=iou[keep])


# ----------------------------------------------------------------------------------------------
# numpy's summation orders

def _numpy_sums(keys: np.ndarray, num_keys: int, pos: np.ndarray, length: np.ndarray,
                values: np.ndarray, pairwise: np.ndarray) -> np.ndarray:
    """Sums of ``values`` per key, in the order numpy sums the dense vector of that key.

    Args:
        keys: (N,) key of each value; within a key the values come in position order.
        num_keys: number of keys.
        pos, length: (N,) position of the value in its dense vector and that vector's length
            (the other entries are zeros).
        pairwise: (N,) True where numpy sums the vector pairwise (a contiguous reduction of 8 or
            more elements); elsewhere it adds the elements one by one (zeros change nothing).

    Returns:
        (num_keys,) sums.
    """
    seq = ~pairwise
    # (an empty bincount is integer even with weights)
    out = np.bincount(keys[seq], weights=values[seq], minlength=num_keys).astype(np.float64)
    if pairwise.any():
        k, p, ln, v = keys[pairwise], pos[pairwise], length[pairwise], values[pairwise]
        for n in np.unique(ln):
            sel = ln == n
            uk, inv = np.unique(k[sel], return_inverse=True)
            dense = np.zeros((len(uk), int(n)))
            dense[inv.reshape(-1), p[sel]] = v[sel]
            out[uk] = dense.sum(1)
    return out


def _segment_sum(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Sum of the rows of ``values`` (N, K) per ``seg`` (N,) (non-decreasing) -> (n, K)."""
    out = np.zeros((n, ) + values.shape[1:])
    if len(seg):
        starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
        out[seg[starts]] = np.add.reduceat(values, starts, axis=0)
    return out


def _rev_cumsum_levels(hist: np.ndarray) -> np.ndarray:
    """(n, A + 1) counts per level -> (n, A) counts of levels > a (matches kept at alpha a)."""
    return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]


# ----------------------------------------------------------------------------------------------
# Frame-wise assignment

def _star_or_lsa(n_rows_key: int, row_key: np.ndarray, col_key: np.ndarray,
                 frame_key: np.ndarray, weight: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Maximum-weight matching where it is unique without scipy.

    Args:
        row_key, col_key, frame_key: (E,) global row, column and frame of each positive edge.
        weight: (E,) its weight.

    Returns:
        ``(chosen, lsa_frames)``: (E,) bool, the edges in the unique maximum-weight matching of
        frames that are resolved here; sorted unique frame keys that need scipy.
    """
    if not len(weight):
        return np.zeros(0, bool), np.zeros(0, np.int64)
    _, r_inv, r_cnt = np.unique(row_key, return_inverse=True, return_counts=True)
    _, c_inv, c_cnt = np.unique(col_key, return_inverse=True, return_counts=True)
    dr, dc = r_cnt[r_inv.reshape(-1)], c_cnt[c_inv.reshape(-1)]
    chosen = (dr == 1) & (dc == 1)
    bad = (dr > 1) & (dc > 1)
    star = ~chosen & ~bad
    if star.any():
        # a star's centre: the row (dr > 1) or the column (dc > 1); every edge of a component
        # has a degree-1 end exactly when the component is a star
        centre = np.where(dr > 1, r_inv.reshape(-1), n_rows_key + c_inv.reshape(-1))[star]
        w = weight[star]
        order = np.lexsort((-w, centre))
        cs, ws = centre[order], w[order]
        first = np.r_[True, cs[1:] != cs[:-1]]
        grp = np.cumsum(first) - 1
        gmax = ws[np.flatnonzero(first)][grp]  # each group sorted by decreasing weight
        near = ws >= gmax - _NEAR_TIE * np.abs(gmax)
        tied = np.bincount(grp, weights=near)[grp] > 1
        pick = np.zeros(len(ws), bool)
        pick[first & ~tied] = True
        star_idx = np.flatnonzero(star)[order]
        chosen[star_idx[pick]] = True
        bad[star_idx[tied]] = True
    lsa_frames = np.unique(frame_key[bad])
    chosen &= ~np.isin(frame_key, lsa_frames)
    return chosen, lsa_frames


def _lsa_frames(frames: np.ndarray, frame_key: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                shapes: np.ndarray, edge_weight: np.ndarray) -> np.ndarray:
    """Edges matched by ``linear_sum_assignment(-W)`` in each of ``frames``, ``W`` the dense
    (rows, cols) matrix of the frame with ``edge_weight`` at the edges and 0 elsewhere.

    Args:
        frames: (K,) sorted frame keys to solve.
        frame_key, rows, cols, edge_weight: (E,) the edges (all of them; sorted by frame key).
        shapes: (K, 2) matrix shape of each frame.

    Returns:
        (M,) indices of the matched edges.
    """
    if not len(frames):
        return np.zeros(0, np.int64)
    lo = np.searchsorted(frame_key, frames, 'left')
    hi = np.searchsorted(frame_key, frames, 'right')
    out = []
    for (a, b), (nr, nc) in zip(zip(lo, hi), shapes):
        w = np.zeros((nr, nc))
        idx = np.full((nr, nc), -1, np.int64)
        r, c = rows[a:b], cols[a:b]
        w[r, c] = edge_weight[a:b]
        idx[r, c] = np.arange(a, b)
        mr, mc = linear_sum_assignment(-w)
        m = idx[mr, mc]
        out.append(m[m >= 0])
    return np.concatenate(out)


# ----------------------------------------------------------------------------------------------
# HOTA over many subsets of one sequence

def hota_subsets(sd: SequenceData, masks: np.ndarray) -> Dict[str, np.ndarray]:
    """TrackEval's per-sequence HOTA arrays for each subset of candidates.

    Args:
        sd: the prepared sequence.
        masks: (n, C) bool, ``masks[i, c]``: candidate ``c`` (sorted order, see
            :class:`SequenceData`) is predicted in subset ``i``.

    Returns:
        ``HOTA_TP, HOTA_FN, HOTA_FP, AssA, AssRe, AssPr, LocA``: (n, A) arrays as TrackEval's
        ``HOTA.eval_sequence`` leaves them before its final fields.
    """
    masks = np.asarray(masks, bool)
    n, F, G, T, nG = len(masks), sd.num_frames, sd.num_gt, sd.n_cand_ids, sd.n_gt_ids
    sub_k, c_k = np.nonzero(masks)
    n_pred = np.bincount(sub_k, minlength=n).astype(np.float64)
    kcount = np.bincount(sub_k * F + sd.cand_frame[c_k], minlength=n * F)
    kpos = np.arange(len(c_k)) - (np.cumsum(kcount) - kcount)[sub_k * F + sd.cand_frame[c_k]]
    tc = np.bincount(sub_k * T + sd.cand_id[c_k], minlength=n * T).astype(np.float64)
    kidx = np.full(masks.shape, -1, np.int64)
    kidx[sub_k, c_k] = np.arange(len(c_k))

    sub_p, p = np.nonzero(masks[:, sd.pair_c])
    pk = kidx[sub_p, sd.pair_c[p]]
    g, iou = sd.pair_g[p], sd.pair_iou[p]
    fkey = sub_p * F + sd.gt_frame[g]
    row = sub_p * G + g
    n_k = kcount[fkey]  # predictions in the frame (row length)
    n_g = sd.gt_per_frame[sd.gt_frame[g]]  # GT in the frame (column length)
    rowsum = _numpy_sums(row, n * G, kpos[pk], n_k, iou, n_k >= 8)
    colsum = _numpy_sums(pk, len(c_k), sd.gt_pos[g], n_g, iou, (n_k == 1) & (n_g >= 8))
    denom = colsum[pk] + rowsum[row] - iou
    sim_iou = np.divide(iou, denom, out=np.zeros_like(iou), where=denom > 0 + _EPS)
    gid, tid = sd.gt_id[g], sd.cand_id[sd.pair_c[p]]
    ukey, inv = np.unique((sub_p * nG + gid) * T + tid, return_inverse=True)
    inv = inv.reshape(-1)
    pmc = np.bincount(inv, weights=sim_iou, minlength=len(ukey))  # frame order, as TrackEval
    u_sub, u_gid, u_tid = ukey // (nG * T), (ukey // T) % nG, ukey % T
    gc_u, tc_u = sd.gt_id_count[u_gid], tc[u_sub * T + u_tid]
    score = (pmc / (gc_u + tc_u - pmc))[inv] * iou

    edge = np.flatnonzero(score > 0)  # sorted by frame key
    chosen, lsa = _star_or_lsa(n * G, row[edge], pk[edge], fkey[edge], score[edge])
    f_of = lsa % F
    shapes = np.stack([sd.gt_per_frame[f_of], kcount[lsa]], 1)
    by_lsa = _lsa_frames(lsa, fkey[edge], sd.gt_pos[g[edge]], kpos[pk[edge]], shapes,
                         score[edge])
    matched = np.concatenate([edge[chosen], edge[by_lsa]])

    sim = iou[matched]
    level = np.searchsorted(_ALPHA_THR, sim, side='right')  # thresholds passed: 0..A
    msub = sub_p[matched]
    tp = _rev_cumsum_levels(np.bincount(msub * (_A + 1) + level, minlength=n * (_A + 1))
                            .reshape(n, _A + 1).astype(np.float64))
    loc = _rev_cumsum_levels(np.bincount(msub * (_A + 1) + level, weights=sim,
                                         minlength=n * (_A + 1)).reshape(n, _A + 1).astype(float))
    mu = inv[matched]
    mc = _rev_cumsum_levels(np.bincount(mu * (_A + 1) + level, minlength=len(ukey) * (_A + 1))
                            .reshape(len(ukey), _A + 1).astype(np.float64))
    has = mc[:, 0] > 0  # pairs matched at the lowest alpha (all others have mc = 0)
    mc, gcu, tcu, su = mc[has], gc_u[has, None], tc_u[has, None], u_sub[has]
    ass_a = _segment_sum(mc * (mc / np.maximum(1, gcu + tcu - mc)), su, n)
    ass_re = _segment_sum(mc * (mc / np.maximum(1, gcu)), su, n)
    ass_pr = _segment_sum(mc * (mc / np.maximum(1, tcu)), su, n)
    den = np.maximum(1, tp)
    return dict(HOTA_TP=tp, HOTA_FN=G - tp, HOTA_FP=n_pred[:, None] - tp,
                AssA=ass_a / den, AssRe=ass_re / den, AssPr=ass_pr / den,
                LocA=np.maximum(1e-10, loc) / np.maximum(1e-10, tp))


def hota_final(res: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """TrackEval's final HOTA fields (``DetRe ... HOTA``) from the counts, any shape (..., A)."""
    tp, fn, fp = res['HOTA_TP'], res['HOTA_FN'], res['HOTA_FP']
    out = dict(res)
    out['DetRe'] = tp / np.maximum(1, tp + fn)
    out['DetPr'] = tp / np.maximum(1, tp + fp)
    out['DetA'] = tp / np.maximum(1, tp + fn + fp)
    out['HOTA'] = np.sqrt(out['DetA'] * res['AssA'])
    return out


def hota_combine(res: Mapping[str, np.ndarray], axis: int = 0) -> Dict[str, np.ndarray]:
    """TrackEval's ``HOTA.combine_sequences`` over ``axis`` of per-sequence arrays (..., A);
    returns the combined counts and final fields."""
    tp = res['HOTA_TP'].sum(axis)
    out = {'HOTA_TP': tp, 'HOTA_FN': res['HOTA_FN'].sum(axis),
           'HOTA_FP': res['HOTA_FP'].sum(axis)}
    for k in ('AssRe', 'AssPr', 'AssA'):
        out[k] = (res[k] * res['HOTA_TP']).sum(axis) / np.maximum(1.0, tp)
    out['LocA'] = (np.maximum(1e-10, (res['LocA'] * res['HOTA_TP']).sum(axis))
                   / np.maximum(1e-10, tp))
    return hota_final(out)


# ----------------------------------------------------------------------------------------------
# CLEAR and Identity of one subset

def _subset_pairs(sd: SequenceData, mask: np.ndarray):
    """Kept candidates and pairs of one subset: ``(kept (K,), kpos (K,), kcount (F,), pairs
    (Np',) indices into sd.pair_*, their kept index (Np',))``."""
    kept = np.flatnonzero(mask)
    kcount, kpos = _frame_positions(sd.cand_frame[kept], sd.num_frames)
    kidx = np.full(sd.num_cand, -1, np.int64)
    kidx[kept] = np.arange(len(kept))
    pairs = np.flatnonzero(mask[sd.pair_c])
    return kept, kpos, kcount, pairs, kidx[sd.pair_c[pairs]]


def clear_subset(sd: SequenceData, mask: np.ndarray, threshold: float = 0.5) -> Dict[str, float]:
    """TrackEval's CLEAR counts (``CLR_TP, CLR_FN, CLR_FP, IDSW, MT, PT, ML, Frag, MOTP_sum``)
    of one subset ``mask`` (C,) of the candidates, plus its per-sequence ``MOTA`` and ``MOTP``
    (0 when the sequence has no GT or no prediction, as TrackEval returns early there)."""
    kept, kpos, kcount, pairs, pk = _subset_pairs(sd, mask)
    G, P, F = sd.num_gt, len(kept), sd.num_frames
    res = dict.fromkeys(CLEAR_COUNTS, 0.0)
    res.update(MOTA=0.0, MOTP=0.0)
    if P == 0 or G == 0:
        res.update(CLR_FN=float(G), CLR_FP=float(P), ML=float(sd.n_gt_ids if P == 0 else 0))
        return res
    g, iou = sd.pair_g[pairs], sd.pair_iou[pairs]
    e = np.flatnonzero(iou >= threshold - _EPS)
    g, pke, iou, frame = g[e], pk[e], iou[e], sd.gt_frame[g[e]]
    tid = sd.cand_id[kept[pke]]
    full = (sd.gt_per_frame > 0) & (kcount > 0)
    conflict_frames = np.unique(frame[(np.bincount(g, minlength=G)[g] > 1)
                                     | (np.bincount(pke, minlength=P)[pke] > 1)])
    easy = ~np.isin(frame, conflict_frames)
    # matches as (frame, gid, tid, iou); frames with conflicts in order, on TrackEval's matrix
    m_frame, m_g, m_t, m_iou = [frame[easy]], [sd.gt_id[g[easy]]], [tid[easy]], [iou[easy]]
    if len(conflict_frames):
        full_idx = np.flatnonzero(full)
        lo, hi = np.searchsorted(frame, conflict_frames), np.searchsorted(frame, conflict_frames,
                                                                           'right')
        easy_frame = frame[easy]
        solved: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
        prev_tid = np.full(sd.n_gt_ids, np.nan)
        for f, a, b in zip(conflict_frames, lo, hi):
            prev_tid[:] = np.nan
            k = np.searchsorted(full_idx, f)
            if k > 0:
                pf = full_idx[k - 1]
                if pf in solved:
                    pg, pt = solved[pf]
                else:
                    sel = easy_frame == pf
                    pg, pt = m_g[0][sel], m_t[0][sel]
                prev_tid[pg] = pt
            gts = np.flatnonzero(sd.gt_frame == f)
            sim = np.zeros((sd.gt_per_frame[f], kcount[f]))
            sim[sd.gt_pos[g[a:b]], kpos[pke[a:b]]] = iou[a:b]
            frame_kept = kept[np.flatnonzero(sd.cand_frame[kept] == f)]
            same = sd.cand_id[frame_kept][None, :] == prev_tid[sd.gt_id[gts]][:, None]
            score = 1000 * same + sim
            score[sim < threshold - _EPS] = 0
            r, c = linear_sum_assignment(-score)
            ok = score[r, c] > 0 + _EPS
            r, c = r[ok], c[ok]
            solved[f] = (sd.gt_id[gts[r]], sd.cand_id[frame_kept[c]])
            m_frame.append(np.full(len(r), f))
            m_g.append(sd.gt_id[gts[r]])
            m_t.append(sd.cand_id[frame_kept[c]])
            m_iou.append(sim[r, c])
    mf, mg, mt, mi = (np.concatenate(x) for x in (m_frame, m_g, m_t, m_iou))
    order = np.lexsort((mf, mg))
    mf, mg, mt = mf[order], mg[order], mt[order]
    same_g = mg[1:] == mg[:-1]
    idsw = int(np.sum(same_g & (mt[1:] != mt[:-1])))
    # Frag: matched in a full frame but not in the previous full frame
    full_rank = np.cumsum(full) - 1
    fr = full_rank[mf]
    starts = ~np.r_[False, same_g & (fr[1:] == fr[:-1] + 1)][:len(mg)]
    frag_count = np.bincount(mg[starts], minlength=sd.n_gt_ids)
    frag = float(np.sum(frag_count[frag_count > 0] - 1))
    matched = np.bincount(mg, minlength=sd.n_gt_ids)
    ratio = matched / sd.gt_id_count
    mt_n = float(np.sum(ratio > 0.8))
    pt_n = float(np.sum(ratio >= 0.2)) - mt_n
    tp = float(len(mf))
    res.update(CLR_TP=tp, CLR_FN=G - tp, CLR_FP=P - tp, IDSW=float(idsw), MT=mt_n, PT=pt_n,
               ML=sd.n_gt_ids - mt_n - pt_n, Frag=frag, MOTP_sum=float(np.sum(mi)))
    res.update(clear_final(res))
    return res


def clear_final(res: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """``MOTA`` and ``MOTP`` from (summed) CLEAR counts, as TrackEval's final fields."""
    tp, fn = res['CLR_TP'], res['CLR_FN']
    return dict(MOTA=(tp - res['CLR_FP'] - res['IDSW']) / np.maximum(1.0, tp + fn),
                MOTP=res['MOTP_sum'] / np.maximum(1.0, tp))


def identity_subset(sd: SequenceData, mask: np.ndarray,
                    threshold: float = 0.5) -> Dict[str, float]:
    """TrackEval's Identity counts and scores (``IDTP, IDFN, IDFP, IDF1, IDR, IDP``) of one
    subset ``mask`` (C,) of the candidates."""
    kept, _, _, pairs, _ = _subset_pairs(sd, mask)
    G, P = sd.num_gt, len(kept)
    idtp = 0.0
    if G and P:
        ok = sd.pair_iou[pairs] >= threshold
        gid = sd.gt_id[sd.pair_g[pairs[ok]]]
        tid = sd.cand_id[sd.pair_c[pairs[ok]]]
        key, cnt = np.unique(gid * sd.n_cand_ids + tid, return_counts=True)
        kg, kt = key // sd.n_cand_ids, key % sd.n_cand_ids
        if len(np.unique(kg)) == len(kg) and len(np.unique(kt)) == len(kt):
            idtp = float(cnt.sum())
        elif len(key):
            ug, gi = np.unique(kg, return_inverse=True)
            ut, ti = np.unique(kt, return_inverse=True)
            w = np.zeros((len(ug), len(ut)))
            w[gi.reshape(-1), ti.reshape(-1)] = cnt
            r, c = linear_sum_assignment(-w)
            idtp = float(w[r, c].sum())
    res = dict(IDTP=idtp, IDFN=G - idtp, IDFP=P - idtp)
    res.update(identity_final(res))
    return res


def identity_final(res: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """``IDR, IDP, IDF1`` from (summed) Identity counts."""
    tp, fn, fp = res['IDTP'], res['IDFN'], res['IDFP']
    return dict(IDR=tp / np.maximum(1.0, tp + fn), IDP=tp / np.maximum(1.0, tp + fp),
                IDF1=tp / np.maximum(1.0, tp + 0.5 * fp + 0.5 * fn))


# ----------------------------------------------------------------------------------------------
# Public API

def _summary(hota: Optional[Mapping[str, np.ndarray]], clear: Optional[Mapping],
             ident: Optional[Mapping]) -> Dict[str, float]:
    """The scalar fields of :func:`evaluate_mot` (HOTA's are means over alpha)."""
    out: Dict[str, float] = {}
    if hota is not None:
        for k in HOTA_FIELDS:
            out[k] = float(np.mean(hota[k]))
    if clear is not None:
        for k in CLEAR_FIELDS:
            out[k] = float(clear[k])
    if ident is not None:
        for k in IDENTITY_FIELDS:
            out[k] = float(ident[k])
    return out


def _check_metrics(metrics: Sequence[str]) -> Tuple[str, ...]:
    metrics = tuple(metrics)
    if not metrics or any(m not in METRIC_NAMES for m in metrics):
        raise ValueError(f'metrics must be a non-empty subset of {sorted(METRIC_NAMES)}, got '
                         f'{list(metrics)}')
    return metrics


def evaluate_mot_fast(gt: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray],
                      num_frames: Mapping[str, int],
                      metrics: Sequence[str] = ('HOTA', 'CLEAR', 'Identity')
                      ) -> Dict[str, Dict[str, float]]:
    """:func:`~.trackeval_utils.evaluate_mot` (same arguments but ``work_dir``, same result)
    computed without TrackEval: ``{'COMBINED': {...}, seq: {...}}``."""
    metrics = _check_metrics(metrics)
    if not num_frames:
        raise ValueError('evaluate_mot: num_frames is empty (no sequence to evaluate)')
    extra = sorted(set(gt) - set(num_frames))
    if extra:
        raise ValueError(f'evaluate_mot: gt has sequences {extra} missing from num_frames')
    empty = np.zeros((0, 6))
    seqs = [prepare_sequence(s, gt.get(s, empty), pred.get(s, empty), n)
            for s, n in num_frames.items()]
    return _evaluate_masks(seqs, [np.ones((1, sd.num_cand), bool) for sd in seqs],
                           metrics, per_sequence=True)[0]


def _evaluate_masks(seqs: Sequence[SequenceData], masks: Sequence[np.ndarray],
                    metrics: Sequence[str], per_sequence: bool
                    ) -> List[Dict[str, Dict[str, float]]]:
    """Results of point ``j`` for ``masks[s][j]`` (sorted candidate order) of every sequence."""
    n = len(masks[0])
    hota = [hota_subsets(sd, m) for sd, m in zip(seqs, masks)] if 'HOTA' in metrics else None
    clear = [[clear_subset(sd, m[j]) for j in range(n)] for sd, m in zip(seqs, masks)] \
        if 'CLEAR' in metrics else None
    ident = [[identity_subset(sd, m[j]) for j in range(n)] for sd, m in zip(seqs, masks)] \
        if 'Identity' in metrics else None
    out = []
    for j in range(n):
        h = {k: np.stack([r[k][j] for r in hota]) for k in HOTA_COUNTS} if hota else None
        c = {k: np.array([r[j][k] for r in clear]) for k in CLEAR_COUNTS} if clear else None
        i = {k: np.array([r[j][k] for r in ident]) for k in IDENTITY_COUNTS} if ident else None
        res = {'COMBINED': _summary(
            hota_combine(h) if h else None,
            {**{k: v.sum() for k, v in c.items()}, **clear_final({k: v.sum() for k, v in
                                                                  c.items()})} if c else None,
            {**{k: v.sum() for k, v in i.items()}, **identity_final({k: v.sum() for k, v in
                                                                     i.items()})} if i else None)}
        if per_sequence:
            for s, sd in enumerate(seqs):
                res[sd.name] = _summary(
                    hota_final({k: v[s] for k, v in h.items()}) if h else None,
                    clear[s][j] if clear else None, ident[s][j] if ident else None)
        out.append(res)
    return out


class ShiftGrid:
    """Score many subsets of candidate predictions against fixed ground truth, TrackEval-exact.

    The candidates of a sequence are every box any evaluated point may predict, each with a
    score; a point keeps the candidates whose ``score + shift > threshold`` (the test of
    :func:`~ikun_mm.models.referring.referring_tracker.referred_rows` after a calibration
    offset). GT, candidates and their similarities are prepared once; a point only changes which
    candidates are kept, and identical subsets of a sequence are evaluated once.

    Args:
        gt: ``{seq: (G, 6+)}`` ``frame (1-based), id, x, y, w, h``.
        candidates: ``{seq: (C, 7)}`` ``frame (1-based), id, x, y, w, h, score``.
        num_frames: ``{seq: frames}``; its keys are the sequences, in combination order.
    """

    def __init__(self, gt: Mapping[str, np.ndarray], candidates: Mapping[str, np.ndarray],
                 num_frames: Mapping[str, int]) -> None:
        empty = np.zeros((0, 7))
        self.names: List[str] = list(num_frames)
        self.seqs = [prepare_sequence(s, gt.get(s, np.zeros((0, 6))), candidates.get(s, empty),
                                      num_frames[s]) for s in self.names]

    def masks(self, shifts: np.ndarray, threshold: float = 0.0) -> List[np.ndarray]:
        """Per sequence the (n, C) keep masks of ``shifts`` (n, S) (sorted candidate order)."""
        shifts = np.asarray(shifts, dtype=np.float64)
        if shifts.ndim != 2 or shifts.shape[1] != len(self.seqs):
            raise ValueError(f'shifts must have shape (n_points, {len(self.seqs)}), got '
                             f'{shifts.shape}')
        return [(sd.cand_score[None, :] + shifts[:, s, None]) > threshold
                for s, sd in enumerate(self.seqs)]

    def evaluate(self, shifts: np.ndarray, threshold: float = 0.0,
                 metrics: Sequence[str] = ('HOTA', )) -> 'GridResult':
        """Evaluate ``shifts`` (n, S): point ``j`` adds ``shifts[j, s]`` to the scores of
        sequence ``s`` and keeps the candidates above ``threshold``.

        Returns:
            a :class:`GridResult` with per-sequence counts of every point.
        """
        return self.evaluate_masks(self.masks(shifts, threshold), metrics)

    def evaluate_masks(self, masks: Sequence[np.ndarray],
                       metrics: Sequence[str] = ('HOTA', )) -> 'GridResult':
        """Evaluate explicit subsets: ``masks[s]`` (n, C_s) bool in the *input* row order of the
        candidates of sequence ``s`` (as :meth:`masks` but in sorted order when produced by
        it: use :meth:`evaluate` for shifts)."""
        return self._evaluate_sorted([np.asarray(m, bool)[:, sd.cand_order]
                                      for m, sd in zip(masks, self.seqs)], metrics)

    def _evaluate_sorted(self, masks: Sequence[np.ndarray],
                         metrics: Sequence[str]) -> 'GridResult':
        metrics = _check_metrics(metrics)
        n = len(masks[0]) if masks else 0
        counts: Dict[str, np.ndarray] = {}
        fields = ((HOTA_COUNTS if 'HOTA' in metrics else ())
                  + (CLEAR_COUNTS + ('MOTA', 'MOTP') if 'CLEAR' in metrics else ())
                  + (IDENTITY_COUNTS + IDENTITY_FIELDS if 'Identity' in metrics else ()))
        for k in fields:
            counts[k] = np.zeros((n, len(self.seqs), _A) if k in HOTA_COUNTS
                                 else (n, len(self.seqs)))
        for s, (sd, m) in enumerate(zip(self.seqs, masks)):
            # evaluate each distinct subset once
            if m.shape[1]:
                uniq, inv = np.unique(np.packbits(m, axis=1), axis=0, return_inverse=True)
                inv = inv.reshape(-1)
                first = np.zeros(len(uniq), np.int64)
                first[inv[::-1]] = np.arange(n)[::-1]
            else:
                inv, first = np.zeros(n, np.int64), np.zeros(min(n, 1), np.int64)
            sub = m[first]
            if 'HOTA' in metrics:
                # chunks of subsets keep the (subsets x pairs) work arrays to a few million
                step = max(1, _CHUNK // max(1, len(sd.pair_iou) + sd.num_cand))
                parts = [hota_subsets(sd, sub[i:i + step]) for i in range(0, len(sub), step)]
                for k in HOTA_COUNTS:
                    counts[k][:, s] = np.concatenate([q[k] for q in parts])[inv] if parts \
                        else 0
            for name, fn in (('CLEAR', clear_subset), ('Identity', identity_subset)):
                if name in metrics:
                    rows = [fn(sd, sub[u]) for u in range(len(sub))]
                    for k in rows[0] if rows else ():
                        if k in counts:
                            counts[k][:, s] = np.array([r[k] for r in rows])[inv]
        return GridResult(self.names, metrics, counts)


class GridResult:
    """Per-sequence counts of every point of a grid, combined on request over any subset of the
    sequences (TrackEval's sequence combination).

    Attributes:
        names: the sequences (S).
        counts: ``{field: (n, S, A) or (n, S)}``: TrackEval's per-sequence HOTA arrays
            (:data:`HOTA_COUNTS`), CLEAR counts and Identity counts of each point.
    """

    def __init__(self, names: Sequence[str], metrics: Sequence[str],
                 counts: Dict[str, np.ndarray]) -> None:
        self.names, self.metrics, self.counts = list(names), tuple(metrics), counts

    def _index(self, sequences: Optional[Sequence[str]]) -> np.ndarray:
        if sequences is None:
            return np.arange(len(self.names))
        pos = {s: i for i, s in enumerate(self.names)}
        return np.array([pos[s] for s in sequences], np.int64)

    def combined(self, sequences: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """The fields of :func:`evaluate_mot`'s ``'COMBINED'`` for every point, each (n,),
        over ``sequences`` (default all)."""
        idx = self._index(sequences)
        out: Dict[str, np.ndarray] = {}
        if 'HOTA' in self.metrics:
            h = hota_combine({k: self.counts[k][:, idx] for k in HOTA_COUNTS}, axis=1)
            out.update({k: h[k].mean(-1) for k in HOTA_FIELDS})
        if 'CLEAR' in self.metrics:
            c = {k: self.counts[k][:, idx].sum(1) for k in CLEAR_COUNTS}
            c.update(clear_final(c))
            out.update({k: c[k] for k in CLEAR_FIELDS})
        if 'Identity' in self.metrics:
            i = {k: self.counts[k][:, idx].sum(1) for k in IDENTITY_COUNTS}
            i.update(identity_final(i))
            out.update({k: i[k] for k in IDENTITY_FIELDS})
        return out

    def per_sequence(self) -> Dict[str, np.ndarray]:
        """Per-sequence fields of :func:`evaluate_mot` for every point, each (n, S)."""
        out: Dict[str, np.ndarray] = {}
        if 'HOTA' in self.metrics:
            h = hota_final({k: self.counts[k] for k in HOTA_COUNTS})
            out.update({k: h[k].mean(-1) for k in HOTA_FIELDS})
        for k in CLEAR_FIELDS + IDENTITY_FIELDS:
            if k in self.counts:
                out[k] = self.counts[k]
        return out


class ReferringGrid(ShiftGrid):
    """:class:`ShiftGrid` of the Refer-KITTI protocol over ``prepared`` videos
    (:func:`ikun_mm.models.referring.prepare_referring`): one sequence per (video, expression),
    named as :class:`~.referring_metric.ReferringMetric` names it, whose candidates are every box
    of every track of the video with its raw score for that expression.

    A point of :meth:`evaluate_offsets` adds ``offsets(sentences) -> (E,)`` to the raw scores of
    each video and keeps the boxes scoring above ``score_thr``, exactly as
    :func:`~.referring_eval.referring_metrics` does (same float operations), so
    ``grid.evaluate_offsets([f]).combined(...)`` equals ``referring_metrics(prepared, f)``.

    Attributes:
        videos, sentences: (S,) the video and the sentence of each sequence.
    """

    def __init__(self, prepared: Sequence[dict], convention: str = 'corrected') -> None:
        from ikun_mm.datasets.refer_kitti_io import expression_gt_rows, prediction_mot_rows
        from ikun_mm.models.referring.referring_tracker import referred_rows
        from .referring_metric import sequence_name
        gt, cand, frames = {}, {}, {}
        self.videos: List[str] = []
        self.sentences: List[str] = []
        self._video_sentences: Dict[str, List[str]] = {}
        for video in prepared:
            sentences, n = video['sentences'], int(video['num_frames'])
            rows = referred_rows(video['tracks'], video['raw'], len(sentences), -np.inf) \
                if video['raw'] else [np.zeros((0, 7))] * len(sentences)
            by_sentence = dict(zip(sentences, rows))
            self._video_sentences[video['video']] = list(sentences)
            for expr in video['expressions']:
                seq = sequence_name(video['video'], expr.file)
                r = by_sentence.get(expr.sentence, np.zeros((0, 7)))
                gt[seq] = expression_gt_rows(expr, video['annotation'], convention)
                cand[seq] = prediction_mot_rows(r[:, :7] if r.size else np.zeros((0, 7)),
                                                convention, n)
                frames[seq] = n
                self.videos.append(video['video'])
                self.sentences.append(expr.sentence)
        if len(frames) != len(self.videos):
            raise ValueError('ReferringGrid: two (video, expression) pairs share a name')
        super().__init__(gt, cand, frames)

    def sequences_of(self, videos: Sequence[str]) -> List[str]:
        """The sequences of ``videos``."""
        wanted = set(videos)
        return [s for s, v in zip(self.names, self.videos) if v in wanted]

    def shifts(self, offsets: Sequence[Callable[[List[str]], np.ndarray]]) -> np.ndarray:
        """(n, S) shifts of ``offsets`` (each ``offsets[j](sentences of a video) -> (E,)``)."""
        out = np.zeros((len(offsets), len(self.names)))
        for j, fn in enumerate(offsets):
            per_video = {v: dict(zip(ss, np.asarray(fn(ss), dtype=np.float64)))
                         for v, ss in self._video_sentences.items()}
            out[j] = [per_video[v][s] for v, s in zip(self.videos, self.sentences)]
        return out

    def evaluate_offsets(self, offsets: Sequence[Callable[[List[str]], np.ndarray]],
                         score_thr: float = 0.0,
                         metrics: Sequence[str] = ('HOTA', )) -> GridResult:
        """Evaluate each of ``offsets`` (see :meth:`shifts`) with the model's ``score_thr``."""
        return self.evaluate(self.shifts(offsets), score_thr, metrics)
