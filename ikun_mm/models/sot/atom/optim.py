"""Gauss-Newton with conjugate-gradient inner solves, the optimiser of ATOM's online classifier.

ATOM minimises a non-linear least-squares objective ``||r(theta)||^2`` over the classifier's
parameters ``theta = (projection, filter)``. Each Gauss-Newton step linearises the residuals,
``r(theta + d) ~ r + J d``, and solves the normal equations ``J^T J d = -J^T r`` with a few
conjugate-gradient iterations, never forming ``J``: ``J d`` is a forward-mode product
(``torch.func.jvp``) and ``J^T v`` a reverse-mode one (``torch.func.vjp``).

Parameters are tuples of tensors of any shapes; the helpers below treat such a tuple as one
vector. This module is framework-free maths: no registry, no state.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

TensorTuple = Tuple[Tensor, ...]


def tuple_dot(a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
    """Inner product of two tuples of tensors seen as one vector (a 0-d tensor)."""
    return sum((x * y).sum() for x, y in zip(a, b))


def tuple_axpy(alpha: Tensor, x: Sequence[Tensor], y: Sequence[Tensor]) -> TensorTuple:
    """``y + alpha * x`` element-wise over two tuples of tensors."""
    return tuple(yi + alpha * xi for xi, yi in zip(x, y))


def conjugate_gradient(apply_a: Callable[[TensorTuple], TensorTuple],
                       b: Sequence[Tensor],
                       x0: Optional[Sequence[Tensor]] = None,
                       num_iter: int = 10,
                       tol: float = 1e-12,
                       preconditioner: Optional[Sequence[float]] = None,
                       polak_ribiere: bool = True) -> Tuple[TensorTuple, List[float]]:
    """Solve ``A x = b`` for a symmetric positive (semi-)definite ``A`` given as a function.

    Preconditioned linear CG as pytracking's ``ConjugateGradientBase.run_CG`` runs it: ``z = M^-1
    r`` with a diagonal ``M`` that is one constant per parameter tensor (pytracking's ``M1``; ATOM
    divides the filter part by ``filter_reg`` and the projection part by ``projection_reg``),
    ``rho = <r, z>``, the direction update ``beta = (rho - <r_prev, z>) / rho_prev``
    (Polak-Ribiere, ATOM's ``fletcher_reeves=False``) or ``rho / rho_prev`` (Fletcher-Reeves),
    clamped at 0, and the standard step ``alpha = rho / <p, A p>``. In exact arithmetic both
    formulas coincide for a fixed linear ``A``; with a handful of iterations the preconditioner
    changes the result, since it decides how far each parameter block moves.

    Args:
        apply_a: maps a tuple of tensors ``p`` to ``A p`` (same shapes).
        b: right-hand side, tuple of tensors.
        x0: starting point (zeros when None).
        num_iter: maximum number of iterations.
        tol: stop when ``rho = <r, M^-1 r>`` falls to this or below.
        preconditioner: one positive constant per tensor of ``b``; ``r_i`` is divided by it
            (None: no preconditioning).
        polak_ribiere: the Polak-Ribiere direction update (ATOM's default) instead of
            Fletcher-Reeves.

    Returns:
        tuple: the solution (tuple of tensors shaped like ``b``) and ``rho`` before each
        iteration (floats, for monitoring; the squared residual norm without a preconditioner).
    """
    b = tuple(b)
    scale = [1.0] * len(b) if preconditioner is None else [float(m) for m in preconditioner]
    if len(scale) != len(b):
        raise ValueError(f'conjugate_gradient: {len(scale)} preconditioner constants for '
                         f'{len(b)} parameter tensors')
    if x0 is None:
        x = tuple(torch.zeros_like(t) for t in b)
        r = b
    else:
        x = tuple(x0)
        r = tuple(bi - ai for bi, ai in zip(b, apply_a(x)))
    p, r_prev, rho_prev = None, None, None
    history = []
    for _ in range(num_iter):
        z = tuple(ri / m for ri, m in zip(r, scale))
        rho = tuple_dot(r, z)
        history.append(float(rho))
        if rho <= tol:
            break
        if p is None:
            p = z
        else:
            numerator = rho - tuple_dot(r_prev, z) if polak_ribiere else rho
            beta = (numerator / rho_prev).clamp(min=0)
            p = tuple_axpy(beta, p, z)
        q = apply_a(p)
        denom = tuple_dot(p, q)
        if denom <= 0:  # A is only semi-definite along p: no further progress possible
            break
        alpha = rho / denom
        x = tuple_axpy(alpha, p, x)
        r_prev, rho_prev = r, rho
        r = tuple_axpy(-alpha, q, r)
    return x, history


def gauss_newton(residual_fn: Callable[..., Tensor],
                 params: Sequence[Tensor],
                 num_gn_iter: int,
                 num_cg_iter: int,
                 preconditioner: Optional[Sequence[float]] = None,
                 polak_ribiere: bool = True) -> Tuple[TensorTuple, List[float]]:
    """Minimise ``||residual_fn(*params)||^2`` by Gauss-Newton steps solved with CG.

    Args:
        residual_fn: maps the parameters (positional tensors) to a residual tensor of any shape.
            It must be differentiable in forward and reverse mode (``torch.func``).
        params: initial parameters.
        num_gn_iter: number of Gauss-Newton (linearise + solve) steps.
        num_cg_iter: CG iterations per step; every step restarts CG from zero (ATOM's default
            ``CG_forgetting_rate=None`` forgets the previous direction too).
        preconditioner: per-parameter constants of :func:`conjugate_gradient`.
        polak_ribiere: CG direction formula (pytracking's ``GaussNewtonCG`` as ATOM builds it
            keeps its default Fletcher-Reeves, i.e. False; its filter updates use Polak-Ribiere).

    Returns:
        tuple: the final parameters (detached) and the objective ``||r||^2`` before every step and
        after the last one (``num_gn_iter + 1`` floats).
    """
    params = tuple(p.detach() for p in params)
    losses = []
    for _ in range(num_gn_iter):
        residual, vjp_fn = torch.func.vjp(residual_fn, *params)
        residual = residual.detach()
        losses.append(float((residual ** 2).sum()))
        grad = vjp_fn(residual)  # J^T r

        def normal_matrix(direction: TensorTuple) -> TensorTuple:
            _, jd = torch.func.jvp(residual_fn, params, tuple(direction))
            return tuple(vjp_fn(jd))  # J^T J d

        step, _ = conjugate_gradient(normal_matrix, tuple(-g for g in grad), num_iter=num_cg_iter,
                                     preconditioner=preconditioner,
                                     polak_ribiere=polak_ribiere)
        params = tuple((p + s).detach() for p, s in zip(params, step))
    losses.append(float((residual_fn(*params).detach() ** 2).sum()))
    return params, losses
