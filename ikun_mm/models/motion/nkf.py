"""Neural Kalman Filter (NKF): a Kalman filter whose noise covariances are predicted per step.

State and interface follow :class:`mmdet.models.task_modules.tracking.KalmanFilter` so NKF drops
into any mmdet tracker: the state is ``(cx, cy, a, h, vcx, vcy, va, vh)`` (box centre, aspect ratio
w/h, height, and their velocities) with a constant-velocity motion model, observations are
``(cx, cy, a, h)``.

What is learned (the NKF of the NeuralSORT/iKUN paper):

- **Q-Net** sees the previous state estimate ``x_{k-1}`` and outputs the process noise ``Q_k``.
- **R-Net** sees the current observation ``z_k`` (its shape, see below) and its detection
  score and outputs the observation noise ``R_k``.

Both are small MLPs that output a per-dimension *log-variance correction* ``delta`` that
multiplies mmdet's hand-set noise: ``Q_k = diag(q_fixed(x) * exp(delta_Q))`` and
``R_k = diag(r_fixed(x) * exp(delta_R))``. ``delta`` is bounded by ``max_log_scale * tanh(.)`` and
the fixed variances are floored at ``min_var``, so Q and R are diagonal with strictly positive,
finite entries, i.e. symmetric positive definite by construction, whatever the inputs. The last
layer of both nets is zero-initialised: an untrained NKF *is* mmdet's KalmanFilter (same numbers to
float64 round-off).

What R-Net sees of the observation: its shape (aspect ratio, log height) and the detection
score, not its position. The paper feeds the observation ``z_k`` to R-Net; we leave out the
centre on purpose: a pixel position is not scale-free (an NKF trained on one image size would
learn noise per image region and not transfer to another size or camera), the filter gets no
image size to normalise it with, and the observation noise of a detector depends on the box's
size and confidence, not on where it lies. The position *relative to the prediction* (the
innovation) would be scale-free but makes R depend on the residual itself, i.e. a robust
(outlier-down-weighting) filter the paper does not describe; it is not done either.

Where we deliberately differ from the paper's description: the nets predict diagonal
covariances as corrections of the fixed filter's (scale-aware) noise rather than full matrices
from scratch. This keeps the filter well conditioned, makes the zero-correction case exactly the
classic filter, and lets the nets see scale-free inputs (velocities divided by the box height),
so one NKF works on any image size.

The maths lives in small pure torch functions (:func:`kalman_predict`, :func:`kalman_project`,
:func:`kalman_update`, :func:`mahalanobis_sq`, ...) batched over any leading dimensions and
differentiable, so the filter trains by unrolling over sequences (:meth:`filter_sequence`). The
tracker-facing methods take and return numpy arrays like mmdet's filter, single-track
(``(8,)``/``(8, 8)``) or batched (``(N, 8)``/``(N, 8, 8)``).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from ikun_mm.registry import TASK_UTILS
from ikun_mm.utils.checkpoint import (load_state_dict_strict, read_checkpoint,
                                      state_dict_from_checkpoint)

ArrayLike = Union[np.ndarray, Tensor]

#: Weights of mmdet's KalmanFilter (``_std_weight_position``, ``_std_weight_velocity``).
STD_WEIGHT_POSITION = 1. / 20
STD_WEIGHT_VELOCITY = 1. / 160
#: 0.95 quantiles of the chi-square distribution (as in mmdet's KalmanFilter).
CHI2INV95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067,
             8: 15.507, 9: 16.919}


# --------------------------------------------------------------------------------------------
# Pure functions (torch, batched over leading dimensions, differentiable)
# --------------------------------------------------------------------------------------------
def motion_matrices(dtype: torch.dtype = torch.float64,
                    device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """Constant-velocity motion matrix ``F`` (8, 8) and observation matrix ``H`` (4, 8), dt=1."""
    motion = torch.eye(8, dtype=dtype, device=device)
    motion[:4, 4:] = torch.eye(4, dtype=dtype, device=device)
    return motion, torch.eye(4, 8, dtype=dtype, device=device)


def fixed_initial_var(measurement: Tensor) -> Tensor:
    """mmdet's initial state variances from a measurement ``(..., 4)`` -> ``(..., 8)``."""
    h = measurement[..., 3]
    pos, vel = 2 * STD_WEIGHT_POSITION * h, 10 * STD_WEIGHT_VELOCITY * h
    std = torch.stack([pos, pos, torch.full_like(h, 1e-2), pos, vel, vel,
                       torch.full_like(h, 1e-5), vel], dim=-1)
    return std.square()


def fixed_process_var(mean: Tensor) -> Tensor:
    """mmdet's process noise variances (diagonal of Q) for states ``(..., 8)`` -> ``(..., 8)``."""
    h = mean[..., 3]
    pos, vel = STD_WEIGHT_POSITION * h, STD_WEIGHT_VELOCITY * h
    std = torch.stack([pos, pos, torch.full_like(h, 1e-2), pos, vel, vel,
                       torch.full_like(h, 1e-5), vel], dim=-1)
    return std.square()


def fixed_measurement_var(mean: Tensor, score: Optional[Tensor] = None) -> Tensor:
    """mmdet's observation noise variances (diagonal of R) for states ``(..., 8)`` -> ``(..., 4)``.

    With ``score`` (shape ``(...)``) the standard deviations are scaled by ``1 - score`` (NSA
    Kalman filter, StrongSORT), as mmdet does with ``use_nsa=True``.
    """
    h = mean[..., 3]
    pos = STD_WEIGHT_POSITION * h
    std = torch.stack([pos, pos, torch.full_like(h, 1e-1), pos], dim=-1)
    if score is not None:
        std = (1 - score)[..., None] * std
    return std.square()


def kalman_predict(mean: Tensor, cov: Tensor, motion_mat: Tensor,
                   process_var: Tensor) -> Tuple[Tensor, Tensor]:
    """Prediction step ``x' = F x``, ``P' = F P F^T + diag(q)``.

    Args:
        mean: Tensor of shape (..., 8).
        cov: Tensor of shape (..., 8, 8).
        motion_mat: Tensor of shape (8, 8).
        process_var: Tensor of shape (..., 8), the diagonal of Q.
    """
    mean = mean @ motion_mat.T
    cov = motion_mat @ cov @ motion_mat.T + torch.diag_embed(process_var)
    return mean, cov


def kalman_project(mean: Tensor, cov: Tensor, update_mat: Tensor,
                   meas_var: Tensor) -> Tuple[Tensor, Tensor]:
    """Observation-space distribution ``(H x, H P H^T + diag(r))``: shapes (..., 4), (..., 4, 4)."""
    return mean @ update_mat.T, update_mat @ cov @ update_mat.T + torch.diag_embed(meas_var)


def kalman_update(mean: Tensor, cov: Tensor, measurement: Tensor, update_mat: Tensor,
                  meas_var: Tensor) -> Tuple[Tensor, Tensor]:
    """Correction step with a Cholesky solve (as mmdet's filter).

    Args:
        mean: Tensor of shape (..., 8), predicted state.
        cov: Tensor of shape (..., 8, 8).
        measurement: Tensor of shape (..., 4), ``(cx, cy, a, h)``.
        update_mat: Tensor of shape (4, 8).
        meas_var: Tensor of shape (..., 4), the diagonal of R.

    Returns:
        updated mean (..., 8) and covariance (..., 8, 8).
    """
    proj_mean, proj_cov = kalman_project(mean, cov, update_mat, meas_var)
    chol = torch.linalg.cholesky(proj_cov)
    # K^T = S^{-1} (P H^T)^T  ->  K: (..., 8, 4)
    gain = torch.cholesky_solve(update_mat @ cov.transpose(-1, -2), chol).transpose(-1, -2)
    innovation = measurement - proj_mean
    new_mean = mean + (gain @ innovation[..., None])[..., 0]
    new_cov = cov - gain @ proj_cov @ gain.transpose(-1, -2)
    return new_mean, new_cov


def mahalanobis_sq(proj_mean: Tensor, proj_cov: Tensor, measurements: Tensor) -> Tensor:
    """Squared Mahalanobis distance of measurements to projected distributions.

    Args:
        proj_mean: Tensor of shape (..., D).
        proj_cov: Tensor of shape (..., D, D).
        measurements: Tensor of shape (..., M, D), broadcast against the leading dims.

    Returns:
        Tensor of shape (..., M).
    """
    chol = torch.linalg.cholesky(proj_cov)
    diff = (measurements - proj_mean[..., None, :]).transpose(-1, -2)  # (..., D, M)
    z = torch.linalg.solve_triangular(chol, diff, upper=False)
    return z.square().sum(-2)


# --------------------------------------------------------------------------------------------
# The noise networks
# --------------------------------------------------------------------------------------------
class NoiseNet(nn.Module):
    """MLP giving a bounded log-variance correction ``|delta| < max_log_scale``.

    The last layer starts at zero, so an untrained net outputs ``delta = 0`` exactly.

    Args:
        in_dim: input features.
        out_dim: corrected variances (8 for Q, 4 for R).
        hidden_dims: hidden layer widths.
        max_log_scale: bound of ``|delta|`` (a factor of ``exp(max_log_scale)`` on the variance).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dims: Sequence[int] = (32, 32),
                 max_log_scale: float = 4.0) -> None:
        super().__init__()
        layers, dim = [], in_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(dim, hidden), nn.ReLU(inplace=True)]
            dim = hidden
        last = nn.Linear(dim, out_dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.mlp = nn.Sequential(*layers, last)
        self.max_log_scale = float(max_log_scale)

    def forward(self, features: Tensor) -> Tensor:
        """Features (..., in_dim) -> delta (..., out_dim)."""
        raw = self.mlp(features)
        return self.max_log_scale * torch.tanh(raw / self.max_log_scale)


def _log_height(h: Tensor) -> Tensor:
    return torch.log(h.abs().clamp_min(1e-3))


def qnet_features(mean: Tensor, clip: float = 20.) -> Tensor:
    """Scale-free Q-Net inputs from states (..., 8): ``vx/h, vy/h, va, vh/h, a, log h`` -> (..., 6).

    Non-finite values become 0 and everything is clipped to ``[-clip, clip]``.
    """
    h = mean[..., 3].abs().clamp_min(1e-3)
    feats = torch.stack([mean[..., 4] / h, mean[..., 5] / h, mean[..., 6], mean[..., 7] / h,
                         mean[..., 2], _log_height(mean[..., 3])], dim=-1)
    return torch.nan_to_num(feats, nan=0., posinf=clip, neginf=-clip).clamp(-clip, clip)


def rnet_features(measurement: Tensor, score: Tensor, clip: float = 20.) -> Tensor:
    """R-Net inputs from observations (..., 4) and scores (...): ``a, log h, score`` -> (..., 3)."""
    feats = torch.stack([measurement[..., 2], _log_height(measurement[..., 3]),
                         score.to(measurement.dtype)], dim=-1)
    return torch.nan_to_num(feats, nan=0., posinf=clip, neginf=-clip).clamp(-clip, clip)


# --------------------------------------------------------------------------------------------
# The registered filter
# --------------------------------------------------------------------------------------------
@TASK_UTILS.register_module()
class NeuralKalmanFilter(nn.Module):
    """Kalman filter for boxes with learned process (Q-Net) and observation (R-Net) noise.

    Drop-in for mmdet's ``KalmanFilter`` (same state, same methods, numpy in/out, single track or
    batched over tracks). See the module docstring for the model.

    Args:
        checkpoint: optional path of a checkpoint (a plain state dict or an mmengine checkpoint of
            :class:`~ikun_mm.models.motion.NKFRegressor`, whose ``motion.`` prefix is stripped).
            Loading is strict; a missing or mismatching file raises.
        hidden_dims: hidden widths of both MLPs.
        max_log_scale: bound of the log-variance corrections.
        center_only: gate on the box centre only (2 dof) instead of the full box (4 dof).
        use_nsa: scale the fixed observation noise by ``1 - score`` (NSA filter of StrongSORT).
        unknown_score: score fed to R-Net when a caller gives none (mmdet's SORT/OC-SORT/ByteTrack
            call ``update`` without a score).
        min_var: floor of every fixed variance (keeps Q and R definite for zero-height boxes).
    """
    chi2inv95 = CHI2INV95

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 hidden_dims: Sequence[int] = (32, 32),
                 max_log_scale: float = 4.0,
                 center_only: bool = False,
                 use_nsa: bool = False,
                 unknown_score: float = 0.9,
                 min_var: float = 1e-12) -> None:
        super().__init__()
        self.qnet = NoiseNet(6, 8, hidden_dims, max_log_scale)
        self.rnet = NoiseNet(3, 4, hidden_dims, max_log_scale)
        self.center_only = center_only
        self.gating_threshold = CHI2INV95[2] if center_only else CHI2INV95[4]
        self.use_nsa = use_nsa
        self.unknown_score = float(unknown_score)
        self.min_var = float(min_var)
        motion_mat, update_mat = motion_matrices(torch.float64)
        self.register_buffer('_motion_mat', motion_mat, persistent=False)
        self.register_buffer('_update_mat', update_mat, persistent=False)
        self.double()
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)
        self.eval()

    # ---- checkpoint --------------------------------------------------------------------------
    def load_checkpoint(self, path: str) -> None:
        """Load Q-Net/R-Net weights (strict) from a state dict or an mmengine checkpoint of
        ``NKFRegressor`` (its ``motion.`` prefix is removed).

        Raises:
            FileNotFoundError: the file does not exist.
            UnreadableCheckpointError: (a ``RuntimeError``) torch cannot read the file.
            CheckpointMismatchError: (a ``RuntimeError``) no state dict, or keys / shapes that
                differ from this filter's; the message names the file and the keys.
        """
        state = state_dict_from_checkpoint(read_checkpoint(path, map_location='cpu'), path,
                                           keys=('state_dict', ))
        if any(k.startswith('motion.') for k in state):
            state = {k[len('motion.'):]: v for k, v in state.items() if k.startswith('motion.')}
        load_state_dict_strict(self, state, path)

    # ---- noise -------------------------------------------------------------------------------
    def process_var(self, mean: Tensor) -> Tensor:
        """Diagonal of Q for previous states (..., 8) -> (..., 8), strictly positive."""
        fixed = fixed_process_var(mean).clamp_min(self.min_var)
        return fixed * torch.exp(self.qnet(qnet_features(mean)))

    def measurement_var(self, mean: Tensor, measurement: Tensor,
                        score: Optional[Tensor] = None) -> Tensor:
        """Diagonal of R (..., 4) for states (..., 8), observations (..., 4) and scores (...).

        ``score=None`` uses ``unknown_score`` for R-Net and disables NSA scaling.
        """
        nsa = score if (self.use_nsa and score is not None) else None
        if score is None:
            score = torch.full_like(measurement[..., 0], self.unknown_score)
        fixed = fixed_measurement_var(mean, nsa).clamp_min(self.min_var)
        return fixed * torch.exp(self.rnet(rnet_features(measurement, score)))

    # ---- differentiable torch API ---------------------------------------------------------------
    def initiate_torch(self, measurement: Tensor) -> Tuple[Tensor, Tensor]:
        """Measurements (..., 4) -> mean (..., 8) (zero velocity), covariance (..., 8, 8)."""
        mean = torch.cat([measurement, torch.zeros_like(measurement)], dim=-1)
        return mean, torch.diag_embed(fixed_initial_var(measurement))

    def predict_torch(self, mean: Tensor, cov: Tensor) -> Tuple[Tensor, Tensor]:
        """One prediction step for (..., 8), (..., 8, 8) with Q from Q-Net."""
        motion_mat = self._motion_mat.to(mean.dtype)
        return kalman_predict(mean, cov, motion_mat, self.process_var(mean))

    def update_torch(self, mean: Tensor, cov: Tensor, measurement: Tensor,
                     score: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """One correction step with R from R-Net. Shapes (..., 8), (..., 8, 8), (..., 4), (...)."""
        update_mat = self._update_mat.to(mean.dtype)
        meas_var = self.measurement_var(mean, measurement, score)
        return kalman_update(mean, cov, measurement, update_mat, meas_var)

    def filter_sequence(self, obs: Tensor, scores: Tensor, valid: Tensor) -> Dict[str, Tensor]:
        """Run the filter over sequences, unrolled (differentiable).

        Args:
            obs: Tensor of shape (B, T, 4), observations ``(cx, cy, a, h)``; ``obs[:, 0]`` must be
                valid (the track starts with a detection).
            scores: Tensor of shape (B, T), detection scores.
            valid: bool Tensor of shape (B, T), whether a detection exists at that step.

        Returns:
            dict with ``predicted`` (B, T, 4): one-step-ahead prediction of the box at ``t``
            (``predicted[:, 0]`` is the first observation), ``filtered`` (B, T, 4): the
            estimate after the update at ``t`` (equal to the prediction where ``valid`` is False),
            and ``nll`` (B, T): negative log-likelihood (up to a constant) of each observation
            under the predicted observation distribution ``N(H x, H P H^T + R)`` (0 where there is
            no observation), which calibrates the covariances used for gating.
        """
        if not bool(valid[:, 0].all()):
            raise ValueError('filter_sequence: every sequence must start with a detection')
        update_mat = self._update_mat.to(obs.dtype)
        mean, cov = self.initiate_torch(obs[:, 0])
        predicted, filtered = [obs[:, 0]], [obs[:, 0]]
        nll = [torch.zeros_like(scores[:, 0])]
        for t in range(1, obs.shape[1]):
            mean, cov = self.predict_torch(mean, cov)
            predicted.append(mean[:, :4])
            # keep the update well defined where there is no observation, then select
            mask = valid[:, t]
            z = torch.where(mask[:, None], obs[:, t], mean[:, :4].detach())
            meas_var = self.measurement_var(mean, z, scores[:, t])
            proj_mean, proj_cov = kalman_project(mean, cov, update_mat, meas_var)
            maha = mahalanobis_sq(proj_mean, proj_cov, z[:, None])[:, 0]
            logdet = torch.logdet(proj_cov)
            nll.append(torch.where(mask, 0.5 * (maha + logdet), torch.zeros_like(maha)))
            new_mean, new_cov = kalman_update(mean, cov, z, update_mat, meas_var)
            mean = torch.where(mask[:, None], new_mean, mean)
            cov = torch.where(mask[:, None, None], new_cov, cov)
            filtered.append(mean[:, :4])
        return dict(predicted=torch.stack(predicted, 1), filtered=torch.stack(filtered, 1),
                    nll=torch.stack(nll, 1))

    # ---- mmdet KalmanFilter-compatible numpy API -----------------------------------------------
    @staticmethod
    def _t(x: ArrayLike) -> Tensor:
        if isinstance(x, Tensor):
            return x.detach().to(torch.float64)
        return torch.as_tensor(np.asarray(x, dtype=np.float64))

    @staticmethod
    def _score(score, like: Tensor) -> Optional[Tensor]:
        if score is None:
            return None
        return torch.as_tensor(np.asarray(score, dtype=np.float64)).expand(like.shape[:-1])

    @torch.no_grad()
    def initiate(self, measurement: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Measurement(s) ``(cx, cy, a, h)`` (4,) or (N, 4) -> mean (.., 8), cov (.., 8, 8)."""
        mean, cov = self.initiate_torch(self._t(measurement))
        return mean.numpy(), cov.numpy()

    @torch.no_grad()
    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Prediction step for one track ((8,), (8, 8)) or a batch ((N, 8), (N, 8, 8))."""
        mean, cov = self.predict_torch(self._t(mean), self._t(covariance))
        return mean.numpy(), cov.numpy()

    @torch.no_grad()
    def project(self, mean: np.ndarray, covariance: np.ndarray, bbox_score: Optional[float] = None,
                measurement: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Observation-space mean (.., 4) and covariance (.., 4, 4).

        R-Net sees ``measurement`` if given, else the projected box itself.
        """
        mean_t, cov_t = self._t(mean), self._t(covariance)
        z = mean_t[..., :4] if measurement is None else self._t(measurement)
        meas_var = self.measurement_var(mean_t, z, self._score(bbox_score, z))
        proj_mean, proj_cov = kalman_project(mean_t, cov_t, self._update_mat, meas_var)
        return proj_mean.numpy(), proj_cov.numpy()

    @torch.no_grad()
    def update(self, mean: np.ndarray, covariance: np.ndarray, measurement: np.ndarray,
               bbox_score: Optional[Union[float, np.ndarray]] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Correction step; single track or batched (scores of shape (N,) for a batch)."""
        mean_t, cov_t, z = self._t(mean), self._t(covariance), self._t(measurement)
        new_mean, new_cov = self.update_torch(mean_t, cov_t, z, self._score(bbox_score, z))
        return new_mean.numpy(), new_cov.numpy()

    @torch.no_grad()
    def gating_distance(self, mean: np.ndarray, covariance: np.ndarray, measurements: np.ndarray,
                        only_position: bool = False,
                        scores: Optional[np.ndarray] = None) -> np.ndarray:
        """Squared Mahalanobis distance between track state(s) and measurements.

        Args:
            mean: (8,) or (N, 8).
            covariance: (8, 8) or (N, 8, 8).
            measurements: (M, 4) boxes ``(cx, cy, a, h)``.
            only_position: use the centre only (2 dof).
            scores: optional (M,) detection scores for R-Net (and NSA).

        Returns:
            (M,) for one track or (N, M) for a batch. R is computed per (track, measurement) pair.
        """
        mean_t, cov_t, z = self._t(mean), self._t(covariance), self._t(measurements)
        single = mean_t.dim() == 1
        if single:
            mean_t, cov_t = mean_t[None], cov_t[None]
        n, m = mean_t.shape[0], z.shape[0]
        if n == 0 or m == 0:
            out = np.zeros((n, m))
            return out[0] if single else out
        pair_mean = mean_t[:, None].expand(n, m, 8)
        pair_z = z[None].expand(n, m, 4)
        score_t = None if scores is None else self._score(scores, z)[None].expand(n, m)
        meas_var = self.measurement_var(pair_mean, pair_z, score_t)  # (N, M, 4)
        proj_mean = mean_t @ self._update_mat.T  # (N, 4)
        proj_cov = self._update_mat @ cov_t @ self._update_mat.T  # (N, 4, 4)
        proj_cov = proj_cov[:, None] + torch.diag_embed(meas_var)  # (N, M, 4, 4)
        diff = pair_z - proj_mean[:, None]
        if only_position:
            diff, proj_cov = diff[..., :2], proj_cov[..., :2, :2]
        chol = torch.linalg.cholesky(proj_cov)
        sol = torch.linalg.solve_triangular(chol, diff[..., None], upper=False)[..., 0]
        dist = sol.square().sum(-1).numpy()
        return dist[0] if single else dist

    def track(self, tracks: dict, bboxes: Tensor) -> Tuple[dict, np.ndarray]:
        """Predict every track of a buffer at once and gate detections (mmdet ``track`` API).

        Args:
            tracks: ``{id: track}`` where each track has ``mean`` (8,) and ``covariance`` (8, 8).
            bboxes: Tensor of shape (M, 4), detections as ``(cx, cy, a, h)``.

        Returns:
            the tracks (predicted in place) and costs of shape (num_tracks, M): squared
            Mahalanobis distances, NaN where above the gating threshold.
        """
        ids = list(tracks.keys())
        if not ids:
            return tracks, np.zeros((0, len(bboxes)))
        means = np.stack([tracks[i].mean for i in ids])
        covs = np.stack([tracks[i].covariance for i in ids])
        means, covs = self.predict(means, covs)
        for k, i in enumerate(ids):
            tracks[i].mean, tracks[i].covariance = means[k], covs[k]
        costs = self.gating_distance(means, covs, bboxes.detach().cpu().numpy(), self.center_only)
        costs[costs > self.gating_threshold] = np.nan
        return tracks, costs
