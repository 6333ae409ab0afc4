"""ATOM's online target classifier (Danelljan et al., CVPR 2019, Sec. 4).

A two-layer fully convolutional classifier learnt *during tracking* on backbone features of the
search region: a 1x1 projection ``P`` (C -> 64 channels) followed by a single-output ``k x k``
filter ``f`` (4 x 4) and a smooth activation. It is fitted to Gaussian labels centred on the
target by minimising

    L(f, P) = sum_j w_j ||act(f * (P x_j)) - y_j||^2 + lambda_f ||f||^2 + lambda_P ||P||^2

with Gauss-Newton + conjugate gradient (:func:`~.optim.gauss_newton`): on the first frame
over ``(f, P)`` from the augmented first-frame samples, later over ``f`` alone from a weighted
sample memory, every ``update_interval`` frames or at once after a hard negative.

The maths lives in small functions (:func:`mlu`, :func:`gaussian_label`,
:func:`update_sample_weights`, :func:`fourier_upsample`, :func:`localize_target`) and one stateful
class, :class:`OnlineClassifier`, that the ATOM model owns per tracked sequence. Each follows
pytracking's ``pytracking/tracker/atom/atom.py`` (and ``libs/fourier.py``, ``libs/dcf.py``,
``libs/optimization.py``, ``tracker/atom/optim.py``) with the ``parameter/atom/default.py`` values.

Coordinates: the filter is applied as pytracking's ``conv2d(mode='same')``: padding
``(kh // 2, kw // 2)`` and, for an even kernel, the last row and column dropped, so the score map
has the feature map's ``H x W`` cells. Score cell ``(i, j)`` then looks at sample pixel
``(i * stride, j * stride)`` for an even kernel (the corner shared by four feature cells) and at
``((i + 0.5) * stride, (j + 0.5) * stride)`` for an odd one; :meth:`OnlineClassifier.score_offset`
gives this offset so callers never hard-code it.

In tracking the score map is not read on these coarse cells: :func:`fourier_upsample` evaluates
its trigonometric interpolant on a grid of the search crop's pixels (ATOM's ``sample_fs`` with
``score_upsample_factor = 1``: 288 x 288 for 18 x 18 scores), and :func:`localize_target` runs
ATOM's "advanced localisation" on that map.

Deliberate difference from pytracking's ATOM: features are not windowed (ATOM's default turns
windowing off too, so this changes nothing with the default parameters).
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .optim import gauss_newton


def mlu(x: Tensor, alpha: float) -> Tensor:
    """ATOM's response activation: identity for ``x >= 0``, ``alpha * (exp(x / alpha) - 1)``
    below (an ELU rescaled to saturate at ``-alpha``). ``alpha <= 0`` means no activation."""
    if alpha <= 0:
        return x
    return alpha * F.elu(x / alpha)


def gaussian_label(center: Tensor, sigma: Tensor, size: Tuple[int, int]) -> Tensor:
    """A Gaussian bump on a score map.

    Args:
        center (Tensor): shape (2,), ``(x, y)`` in score-cell coordinates.
        sigma (Tensor): shape (2,), standard deviation ``(sx, sy)`` in score cells.
        size (tuple[int, int]): ``(height, width)`` of the map.

    Returns:
        Tensor: shape (height, width), peak value 1 at ``center``.
    """
    ys = torch.arange(size[0], dtype=center.dtype, device=center.device)
    xs = torch.arange(size[1], dtype=center.dtype, device=center.device)
    gy = torch.exp(-0.5 * ((ys - center[1]) / sigma[1]) ** 2)
    gx = torch.exp(-0.5 * ((xs - center[0]) / sigma[0]) ** 2)
    return gy[:, None] * gx[None, :]


def update_sample_weights(weights: Tensor, previous_slot: Optional[int], num_stored: int,
                          num_init: int, learning_rate: float,
                          init_min_weight: float) -> Tuple[Tensor, int]:
    """Make room for a new sample in ATOM's weighted memory (``ATOM.update_sample_weights``).

    The slot is the lightest one after the first-frame samples (an unused slot has weight 0, so
    it is the next free one until the memory is full; without ``init_min_weight`` the first-frame
    samples may be replaced too). On the first update every weight is divided by
    ``1 - learning_rate`` and the new sample gets ``learning_rate``; later the new sample gets the
    weight of the previous new sample divided by ``1 - learning_rate``, so the weights grow
    geometrically and, after normalising, older samples decay by ``1 - learning_rate`` per
    update. If the first-frame samples then hold less than ``init_min_weight`` in total, all
    weights are divided by ``init_min_weight + (weight of the others)`` and every first-frame
    sample gets ``init_min_weight / num_init`` (as in pytracking, the sum is then not exactly 1).

    Args:
        weights (Tensor): shape (M,), current weights (zeros in unused slots).
        previous_slot (int, optional): slot of the previous new sample (None before the first
            update).
        num_stored (int): samples stored so far.
        num_init (int): first-frame samples (slots ``0 .. num_init - 1``).
        learning_rate (float): ATOM's ``learning_rate`` (0.01) or ``hard_negative_learning_rate``
            (0.02).
        init_min_weight (float): ``init_samples_minimum_weight`` (0.25); 0 disables the floor.

    Returns:
        tuple: the new weights (shape (M,)) and the slot of the new sample.
    """
    weights = weights.clone()
    start = num_init if init_min_weight else 0
    if num_stored == 0 or learning_rate == 1:
        weights.zero_()
        weights[0] = 1
        slot = 0
    else:
        slot = start + int(torch.argmin(weights[start:]))
        if previous_slot is None:
            weights /= 1 - learning_rate
            weights[slot] = learning_rate
        else:
            weights[slot] = weights[previous_slot] / (1 - learning_rate)
    weights /= weights.sum()
    if init_min_weight and weights[:num_init].sum() < init_min_weight:
        weights /= init_min_weight + weights[num_init:].sum()
        weights[:num_init] = init_min_weight / num_init
    return weights, slot


def _fourier_basis(num: int, positions: Tensor) -> Tuple[Tensor, Tensor]:
    """Frequencies of an ``num``-sample signal as ATOM's ``cfft2`` / ``sample_fs`` use them, and
    the matrix that evaluates their series at ``positions``.

    For odd ``num`` the frequencies are ``-(num - 1) / 2 .. (num - 1) / 2``. For even ``num``
    pytracking's ``rfftshift2`` puts the Nyquist coefficient at both ``-num / 2`` and
    ``+num / 2`` with its full value, so it counts twice: the series then equals the samples
    at the integers only when the signal has no Nyquist component (a signal ``(-1)^n`` comes
    back as ``2 cos(pi t)``). We keep that convention so that the upsampled map is pytracking's.

    Returns:
        tuple: DFT indices of the frequencies (K,) and the matrix ``exp(2 pi i k t / num) / num``
        of shape (P, K), complex128.
    """
    half = num // 2
    low = -half if num % 2 == 0 else -(num - 1) // 2
    freqs = torch.arange(low, half + 1, dtype=torch.float64, device=positions.device)
    phase = 2 * math.pi * positions.to(torch.float64)[:, None] * freqs[None] / num
    basis = torch.polar(torch.full_like(phase, 1.0 / num), phase)
    return freqs.long() % num, basis


def fourier_upsample(scores: Tensor, positions_y: Tensor, positions_x: Tensor) -> Tensor:
    """Evaluate the trigonometric interpolant of score maps at arbitrary positions.

    ATOM interpolates its 18 x 18 classifier scores in the Fourier domain (``localize_target``:
    ``cfft2``, ``shift_fs``, ``sample_fs`` to the ``output_sz`` grid): the map is read as one
    period of a band-limited 2-D signal and that signal is evaluated on the fine grid. Here the
    grid is explicit: the series ``s(t_y, t_x) = sum_k sum_l S[k, l] exp(2 pi i (k t_y / H +
    l t_x / W)) / (H W)`` of the map's DFT ``S`` is evaluated at ``t_y = positions_y``,
    ``t_x = positions_x`` (in score cells, cell ``n`` at ``t = n``), which equals pytracking's
    zero-padded inverse FFT followed by its half-map roll when the positions are pytracking's
    grid (see :meth:`ATOM._score_grid`). Frequencies as in :func:`_fourier_basis`.

    Args:
        scores (Tensor): shape (..., H, W), real.
        positions_y (Tensor): shape (Py,), row positions in score cells.
        positions_x (Tensor): shape (Px,), column positions in score cells.

    Returns:
        Tensor: shape (..., Py, Px), real, in the dtype of ``scores``.
    """
    height, width = scores.shape[-2:]
    spectrum = torch.fft.fft2(scores.to(torch.float64))
    index_y, basis_y = _fourier_basis(height, positions_y)
    index_x, basis_x = _fourier_basis(width, positions_x)
    spectrum = spectrum[..., index_y, :][..., index_x]
    out = basis_y @ spectrum @ basis_x.transpose(0, 1)
    return out.real.to(scores.dtype)


def localize_target(scores: Tensor, target_size: Tensor, target_not_found_threshold: float = 0.25,
                    distractor_threshold: float = 0.8, hard_negative_threshold: float = 0.5,
                    target_neighborhood_scale: float = 2.2,
                    displacement_scale: float = 0.8) -> Tuple[Tensor, str]:
    """ATOM's advanced localisation (``ATOM.localize_advanced``) on an upsampled score map.

    The map is centred on the previous target position: cell ``(H // 2, W // 2)`` is zero
    displacement. The highest peak is the candidate; ``'not_found'`` when it is below
    ``target_not_found_threshold``. The target neighbourhood, ``target_neighborhood_scale``
    times the target size around the peak (bounds rounded with Python's ``round``), is set to 0
    and the second peak taken. If it exceeds ``distractor_threshold`` times the first, the
    displacements of both peaks from the centre are compared with ``displacement_scale *
    sqrt(H W) / 2`` (the score-map size, not the target size): exactly one peak near the
    centre is returned as ``'hard_negative'``; otherwise the first peak is ``'uncertain'``.
    Else a second peak above ``hard_negative_threshold`` times the first (and above the
    not-found threshold) makes the frame a ``'hard_negative'``; otherwise ``'normal'``
    (pytracking's ``None``).

    Args:
        scores (Tensor): shape (H, W), the upsampled scores.
        target_size (Tensor): shape (2,), ``(w, h)`` of the target in cells of ``scores``.

    Returns:
        tuple: the chosen peak ``(x, y)`` in cells of ``scores`` (shape (2,)) and the flag.
    """
    height, width = scores.shape
    center = scores.new_tensor([width // 2, height // 2])

    def peak(score_map: Tensor) -> Tuple[Tensor, int, int]:
        flat = int(torch.argmax(score_map))
        return score_map.reshape(-1)[flat], flat // width, flat % width

    max1, row1, col1 = peak(scores)
    pos1 = scores.new_tensor([col1, row1])
    if max1 < target_not_found_threshold:
        return pos1, 'not_found'
    neigh_w, neigh_h = (target_neighborhood_scale * target_size).tolist()
    top = max(round(row1 - neigh_h / 2), 0)
    bottom = min(round(row1 + neigh_h / 2 + 1), height)
    left = max(round(col1 - neigh_w / 2), 0)
    right = min(round(col1 + neigh_w / 2 + 1), width)
    masked = scores.clone()
    masked[top:bottom, left:right] = 0
    max2, row2, col2 = peak(masked)
    pos2 = scores.new_tensor([col2, row2])
    if max2 > distractor_threshold * max1:
        disp1 = torch.linalg.norm(pos1 - center)
        disp2 = torch.linalg.norm(pos2 - center)
        threshold = displacement_scale * math.sqrt(height * width) / 2
        if disp2 > threshold and disp1 < threshold:
            return pos1, 'hard_negative'
        if disp2 < threshold and disp1 > threshold:
            return pos2, 'hard_negative'
        return pos1, 'uncertain'
    if max2 > hard_negative_threshold * max1 and max2 > target_not_found_threshold:
        return pos1, 'hard_negative'
    return pos1, 'normal'


class OnlineClassifier:
    """The per-sequence online classifier: projection + filter, sample memory, GN/CG fitting.

    Args:
        in_channels (int): channels of the backbone features it classifies.
        compressed_dim (int): output channels of the 1x1 projection (64 in ATOM).
        kernel_size (tuple[int, int]): spatial filter size (4 x 4 in ATOM).
        filter_reg (float): ``lambda_f`` (0.1).
        projection_reg (float): ``lambda_P`` (1e-4).
        activation_alpha (float): :func:`mlu` parameter (0.05); 0 disables the activation.
        init_gn_iter (int): Gauss-Newton steps on the first frame (6).
        init_cg_iter (int): CG iterations on the first frame in total, split over the GN steps
            (60, i.e. 10 per step).
        update_cg_iter (int): CG iterations of a later filter update (``CG_iter``, 5).
        hard_negative_cg_iter (int): CG iterations of the update right after a hard negative
            (``hard_negative_CG_iter``, 5).
        learning_rate (float): weight of a new sample in the memory (0.01).
        hard_negative_learning_rate (float): the same after a hard negative (0.02).
        init_min_weight (float): minimum total weight of the first-frame samples (0.25).
        memory_size (int): maximum number of samples kept (250).
        seed (int): seed of the random initialisation of ``P`` (normal, std ``1 / sqrt(C)``)
            and ``f`` (normal, std ``1 / numel(f)``, ATOM's ``'randn'`` init methods).

    The first-frame fit is pytracking's ``GaussNewtonCG`` on ``FactorizedConvProblem``: CG
    preconditioned by ``filter_reg`` (filter) and ``projection_reg`` (projection),
    Fletcher-Reeves directions (``GaussNewtonCG``'s default, which ATOM keeps). Filter updates
    are its ``ConjugateGradient`` on ``ConvProblem``: one linearisation, CG without
    preconditioner, Polak-Ribiere (``fletcher_reeves=False``), restarted from zero each time
    (``CG_forgetting_rate=None``).
    """

    def __init__(self, in_channels: int, compressed_dim: int = 64,
                 kernel_size: Tuple[int, int] = (4, 4), filter_reg: float = 0.1,
                 projection_reg: float = 1e-4, activation_alpha: float = 0.05,
                 init_gn_iter: int = 6, init_cg_iter: int = 60, update_cg_iter: int = 5,
                 hard_negative_cg_iter: int = 5,
                 learning_rate: float = 0.01, hard_negative_learning_rate: float = 0.02,
                 init_min_weight: float = 0.25, memory_size: int = 250, seed: int = 0):
        self.in_channels = in_channels
        self.compressed_dim = compressed_dim
        self.kernel_size = tuple(kernel_size)
        self.filter_reg = filter_reg
        self.projection_reg = projection_reg
        self.activation_alpha = activation_alpha
        self.init_gn_iter = init_gn_iter
        self.init_cg_iter = init_cg_iter
        self.update_cg_iter = update_cg_iter
        self.hard_negative_cg_iter = hard_negative_cg_iter
        self.learning_rate = learning_rate
        self.hard_negative_learning_rate = hard_negative_learning_rate
        self.init_min_weight = init_min_weight
        self.memory_size = memory_size
        self.seed = seed
        self.projection: Optional[Tensor] = None  # (D, C, 1, 1)
        self.filter: Optional[Tensor] = None  # (1, D, kh, kw)
        self.samples: Optional[Tensor] = None  # (M, D, H, W), projected features
        self.labels: Optional[Tensor] = None  # (M, Ho, Wo)
        self.weights: Optional[Tensor] = None  # (M,)
        self.num_stored = 0
        self.num_init = 0
        self.previous_slot: Optional[int] = None
        self.history: Dict[str, list] = {'init_losses': []}

    @property
    def padding(self) -> Tuple[int, int]:
        return self.kernel_size[0] // 2, self.kernel_size[1] // 2

    def score_offset(self) -> float:
        """Offset, in feature cells, of score cell 0 relative to feature cell 0's centre
        (``-0.5`` for even kernels, ``0`` for odd ones; see the module docstring)."""
        return (self.kernel_size[0] - 1) / 2 - self.padding[0]

    def score_size(self, feat_size: Tuple[int, int]) -> Tuple[int, int]:
        """Score-map size ``(Ho, Wo)`` for features of spatial size ``(H, W)``: the same, as
        pytracking's ``mode='same'`` convolution."""
        return int(feat_size[0]), int(feat_size[1])

    def _apply_filter(self, projected: Tensor, filt: Tensor) -> Tensor:
        height, width = projected.shape[-2:]
        # pytracking's conv2d(mode='same'): an even kernel's extra last row/column is dropped
        out = F.conv2d(projected, filt, padding=self.padding)[..., :height, :width]
        return mlu(out, self.activation_alpha)[:, 0]

    def score(self, feats: Tensor) -> Tensor:
        """Classification scores.

        Args:
            feats (Tensor): shape (N, C, H, W), backbone features of search samples.

        Returns:
            Tensor: shape (N, Ho, Wo).
        """
        if self.filter is None:
            raise RuntimeError('OnlineClassifier.score called before initialize()')
        with torch.no_grad():
            return self._apply_filter(F.conv2d(feats, self.projection), self.filter)

    def initialize(self, feats: Tensor, labels: Tensor) -> None:
        """Fit projection and filter on the first frame's (augmented) samples.

        Args:
            feats (Tensor): shape (N, C, H, W), features of the augmented first-frame samples.
            labels (Tensor): shape (N, Ho, Wo), Gaussian labels (:func:`gaussian_label`).
        """
        if feats.dim() != 4 or feats.shape[1] != self.in_channels:
            raise ValueError(f'OnlineClassifier.initialize: features must be (N, '
                             f'{self.in_channels}, H, W), got {tuple(feats.shape)}')
        expected = (feats.shape[0], *self.score_size(feats.shape[-2:]))
        if tuple(labels.shape) != expected:
            raise ValueError(f'OnlineClassifier.initialize: labels must be {expected}, '
                             f'got {tuple(labels.shape)}')
        feats, labels = feats.detach(), labels.detach().to(feats.dtype)
        gen = torch.Generator().manual_seed(self.seed)
        num = feats.shape[0]
        projection = torch.randn(self.compressed_dim, self.in_channels, 1, 1, generator=gen)
        projection = (projection / math.sqrt(self.in_channels)).to(feats)
        filt = torch.randn(1, self.compressed_dim, *self.kernel_size, generator=gen)
        filt = (filt / filt.numel()).to(feats)
        sqrt_w = torch.full((num, 1, 1), 1 / math.sqrt(num), dtype=feats.dtype)
        reg_f, reg_p = math.sqrt(self.filter_reg), math.sqrt(self.projection_reg)

        def residuals(proj: Tensor, f: Tensor) -> Tensor:
            data = sqrt_w * (self._apply_filter(F.conv2d(feats, proj), f) - labels)
            return torch.cat([data.flatten(), reg_f * f.flatten(), reg_p * proj.flatten()])

        num_gn = max(self.init_gn_iter, 1)
        cg_per_step = max(self.init_cg_iter // num_gn, 1)
        (projection, filt), losses = gauss_newton(
            residuals, (projection, filt), num_gn, cg_per_step,
            preconditioner=(self.projection_reg, self.filter_reg), polak_ribiere=False)
        self.projection, self.filter = projection, filt
        self.history['init_losses'] = losses

        size = max(self.memory_size, num)
        projected = F.conv2d(feats, projection)
        self.samples = projected.new_zeros(size, *projected.shape[1:])
        self.labels = labels.new_zeros(size, *labels.shape[1:])
        self.weights = labels.new_zeros(size)
        self.samples[:num], self.labels[:num] = projected, labels
        self.weights[:num] = 1 / num
        self.num_stored = self.num_init = num
        self.previous_slot = None

    def add_sample(self, feat: Tensor, label: Tensor, hard_negative: bool = False) -> None:
        """Put one tracked sample into the memory.

        Args:
            feat (Tensor): shape (1, C, H, W), backbone features of the search sample.
            label (Tensor): shape (Ho, Wo), Gaussian label at the estimated target position.
            hard_negative (bool): use the (larger) hard-negative learning rate.
        """
        if self.samples is None:
            raise RuntimeError('OnlineClassifier.add_sample called before initialize()')
        lr = self.hard_negative_learning_rate if hard_negative else self.learning_rate
        self.weights, slot = update_sample_weights(self.weights, self.previous_slot,
                                                   self.num_stored, self.num_init, lr,
                                                   self.init_min_weight)
        self.previous_slot = slot
        with torch.no_grad():
            self.samples[slot] = F.conv2d(feat, self.projection)[0]
        self.labels[slot] = label
        self.num_stored = min(self.num_stored + 1, self.samples.shape[0])

    def update_filter(self, num_cg_iter: Optional[int] = None) -> Tuple[float, float]:
        """Refit the filter on the weighted memory (projection fixed): one GN step with CG.

        Returns:
            tuple: the objective before and after the update.
        """
        if self.samples is None:
            raise RuntimeError('OnlineClassifier.update_filter called before initialize()')
        num = self.num_stored
        samples, labels = self.samples[:num], self.labels[:num]
        sqrt_w = self.weights[:num].sqrt()[:, None, None]
        reg_f = math.sqrt(self.filter_reg)

        def residuals(f: Tensor) -> Tensor:
            data = sqrt_w * (self._apply_filter(samples, f) - labels)
            return torch.cat([data.flatten(), reg_f * f.flatten()])

        iters = self.update_cg_iter if num_cg_iter is None else num_cg_iter
        (self.filter, ), losses = gauss_newton(residuals, (self.filter, ), 1, iters)
        return losses[0], losses[-1]
