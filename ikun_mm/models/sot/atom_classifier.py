"""ATOM's online target classifier (Danelljan et al., CVPR 2019, Sec. 4).

A two-layer fully convolutional classifier learnt *during tracking* on backbone features of the
search region: a 1x1 projection ``P`` (C -> 64 channels) followed by a single-output ``k x k``
filter ``f`` (4 x 4) and a smooth activation. It is fitted to Gaussian labels centred on the
target by minimising

    L(f, P) = sum_j w_j ||act(f * (P x_j)) - y_j||^2 + lambda_f ||f||^2 + lambda_P ||P||^2

with Gauss-Newton + conjugate gradient (:func:`~.atom_optim.gauss_newton`): on the first frame
over ``(f, P)`` from the augmented first-frame samples, later over ``f`` alone from a weighted
sample memory, every ``update_interval`` frames or at once after a hard negative.

The maths lives in small functions (:func:`mlu`, :func:`gaussian_label`,
:func:`update_sample_weights`, :func:`localize_target`) and one stateful class,
:class:`OnlineClassifier`, that the ATOM model owns per tracked sequence.

Coordinates: with a ``kh x kw`` filter and padding ``(kh // 2, kw // 2)`` the score map has
``(H + 1) x (W + 1)`` cells for an even kernel, and score cell ``(i, j)`` looks at image pixel
``(i * stride, j * stride)`` of the sample; odd kernels give ``H x W`` cells at
``((i + 0.5) * stride, (j + 0.5) * stride)``. :meth:`OnlineClassifier.score_offset` gives this
offset so callers never hard-code it.

Deliberate differences from pytracking's ATOM: the memory update of the filter restarts CG from
zero in every update instead of carrying the last search direction over (``CG_forgetting_rate``);
features are not windowed (ATOM's default turns windowing off too).
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .atom_optim import gauss_newton


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


def update_sample_weights(weights: Tensor, num_stored: int, num_init: int, learning_rate: float,
                          init_min_weight: float) -> Tuple[Tensor, int]:
    """Make room for a new sample in a weighted memory and give it weight ``learning_rate``.

    Older samples decay by ``(1 - learning_rate)``; the first-frame (initial) samples keep at
    least ``init_min_weight`` of the total; the slot of the lightest non-initial sample is reused
    once the memory is full.

    Args:
        weights (Tensor): shape (M,), current weights (the first ``num_stored`` are in use).
        num_stored (int): samples already in the memory.
        num_init (int): how many of them are first-frame samples (slots ``0 .. num_init - 1``).
        learning_rate (float): weight of the new sample.
        init_min_weight (float): minimum share of the initial samples.

    Returns:
        tuple: the new weights (shape (M,), summing to 1 over the used slots) and the slot index
        for the new sample.
    """
    weights = weights.clone()
    memory_size = weights.numel()
    if num_stored < memory_size:
        slot = num_stored
    else:
        slot = num_init + int(torch.argmin(weights[num_init:]))
    weights[:num_stored] *= 1 - learning_rate
    weights[slot] = learning_rate
    used = max(num_stored, slot + 1)
    init_share = weights[:num_init].sum()
    if num_init > 0 and init_share < init_min_weight:
        rest = weights[num_init:used].sum()
        weights[:num_init] *= init_min_weight / init_share
        if rest > 0:
            weights[num_init:used] *= (1 - init_min_weight) / rest
    weights[:used] /= weights[:used].sum()
    return weights, slot


def localize_target(scores: Tensor, target_size: Tensor, not_found_threshold: float = 0.25,
                    distractor_threshold: float = 0.8, hard_negative_threshold: float = 0.5,
                    neighborhood_scale: float = 2.2,
                    displacement_scale: float = 0.8) -> Tuple[Tensor, str]:
    """Find the target in a score map and flag distractors (ATOM's "advanced localisation").

    The highest peak is the candidate. Its neighbourhood (``neighborhood_scale`` times the target
    size) is masked and the second peak taken. Flags: ``'not_found'`` when the top score is below
    ``not_found_threshold``; ``'hard_negative'`` when a second peak is strong (above
    ``hard_negative_threshold`` of the first, or above ``distractor_threshold`` of it with one of
    the two peaks clearly farther from the map centre, i.e. the previous position, in which case
    the closer one is returned); ``'uncertain'`` when two strong peaks are both near the centre;
    else ``'normal'``.

    Args:
        scores (Tensor): shape (H, W).
        target_size (Tensor): shape (2,), ``(w, h)`` of the target in score cells.

    Returns:
        tuple: the chosen peak ``(x, y)`` in score cells (shape (2,)) and the flag.
    """
    height, width = scores.shape
    flat = int(torch.argmax(scores))
    max1 = scores.view(-1)[flat]
    pos1 = scores.new_tensor([flat % width, flat // width])
    if max1 < not_found_threshold:
        return pos1, 'not_found'
    half = (neighborhood_scale * target_size / 2).ceil()
    masked = scores.clone()
    x0, x1 = int(max(pos1[0] - half[0], 0)), int(min(pos1[0] + half[0] + 1, width))
    y0, y1 = int(max(pos1[1] - half[1], 0)), int(min(pos1[1] + half[1] + 1, height))
    masked[y0:y1, x0:x1] = -math.inf
    flat2 = int(torch.argmax(masked))
    max2 = masked.view(-1)[flat2]
    if not torch.isfinite(max2):
        return pos1, 'normal'
    pos2 = scores.new_tensor([flat2 % width, flat2 // width])
    center = scores.new_tensor([(width - 1) / 2, (height - 1) / 2])
    if max2 > distractor_threshold * max1:
        disp1 = torch.linalg.norm(pos1 - center)
        disp2 = torch.linalg.norm(pos2 - center)
        threshold = displacement_scale * torch.sqrt(target_size.prod()) / 2
        if disp1 < threshold <= disp2:
            return pos1, 'hard_negative'
        if disp2 < threshold <= disp1:
            return pos2, 'hard_negative'
        return pos1, 'uncertain'
    if max2 > hard_negative_threshold * max1 and max2 > not_found_threshold:
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
        update_cg_iter (int): CG iterations of a later filter update (5).
        learning_rate (float): weight of a new sample in the memory (0.01).
        hard_negative_learning_rate (float): the same after a hard negative (0.02).
        init_min_weight (float): minimum total weight of the first-frame samples (0.25).
        memory_size (int): maximum number of samples kept (250).
        seed (int): seed of the random initialisation of ``P`` and ``f``.
    """

    def __init__(self, in_channels: int, compressed_dim: int = 64,
                 kernel_size: Tuple[int, int] = (4, 4), filter_reg: float = 0.1,
                 projection_reg: float = 1e-4, activation_alpha: float = 0.05,
                 init_gn_iter: int = 6, init_cg_iter: int = 60, update_cg_iter: int = 5,
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
        self.history: Dict[str, list] = {'init_losses': []}

    @property
    def padding(self) -> Tuple[int, int]:
        return self.kernel_size[0] // 2, self.kernel_size[1] // 2

    def score_offset(self) -> float:
        """Offset, in feature cells, of score cell 0 relative to feature cell 0's centre
        (``-0.5`` for even kernels, ``0`` for odd ones; see the module docstring)."""
        return (self.kernel_size[0] - 1) / 2 - self.padding[0]

    def score_size(self, feat_size: Tuple[int, int]) -> Tuple[int, int]:
        """Score-map size ``(Ho, Wo)`` for features of spatial size ``(H, W)``."""
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        return feat_size[0] + 2 * ph - kh + 1, feat_size[1] + 2 * pw - kw + 1

    def _apply_filter(self, projected: Tensor, filt: Tensor) -> Tensor:
        return mlu(F.conv2d(projected, filt, padding=self.padding), self.activation_alpha)[:, 0]

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
        filt = (filt * 1e-2 / math.sqrt(self.compressed_dim * filt[0, 0].numel())).to(feats)
        sqrt_w = torch.full((num, 1, 1), 1 / math.sqrt(num), dtype=feats.dtype)
        reg_f, reg_p = math.sqrt(self.filter_reg), math.sqrt(self.projection_reg)

        def residuals(proj: Tensor, f: Tensor) -> Tensor:
            data = sqrt_w * (self._apply_filter(F.conv2d(feats, proj), f) - labels)
            return torch.cat([data.flatten(), reg_f * f.flatten(), reg_p * proj.flatten()])

        num_gn = max(self.init_gn_iter, 1)
        cg_per_step = max(self.init_cg_iter // num_gn, 1)
        (projection, filt), losses = gauss_newton(residuals, (projection, filt), num_gn,
                                                  cg_per_step)
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
        self.weights, slot = update_sample_weights(self.weights, self.num_stored, self.num_init,
                                                   lr, self.init_min_weight)
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
