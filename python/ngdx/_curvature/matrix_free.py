"""Matrix-free curvature: conjugate gradient on Fisher-vector products, no p x p matrix."""

from __future__ import annotations

import math

import numpy as np

from .base import Curvature

CG_MAX_ITER = 500  # conjugate-gradient iterations per solve


class MatrixFree(Curvature):
    """M = F + l2 P applied by Fisher-vector products (two passes over the data each), with
    its diagonal (one fused pass) as the Jacobi preconditioner.

    Each solve runs preconditioned CG to the relative residual min(0.1, sqrt(max|grad|)),
    the Eisenstat-Walker forcing term of inexact Newton: loose far from the optimum,
    tight near it. Memory O(p) beyond the data. For the true Fisher, or the Hessian of a
    canonical-link model (where they are equal).
    """

    name = "cg"
    exact = True
    diagonal_pass = True

    def solve(self, grad, damping):
        theta, lam = self.theta, float(damping) * self.unit
        rtol = min(0.1, math.sqrt(float(np.abs(grad).max())))
        return conjugate_gradient(lambda v: self.objective.fisher_vector_product(theta, v)
                                  + lam * v, grad, self.stats + lam, rtol, CG_MAX_ITER)

    def quad(self, v):
        return float(v @ self.objective.fisher_vector_product(self.theta, v))

    def scale(self):
        if self.stats is None:
            return 1.0
        return self._finite_positive(float(np.mean(self.stats / self.unit)))


def conjugate_gradient(matvec, b, precond, rtol, max_iter):
    """Solve A x = b (A symmetric positive definite, given by ``matvec``) from x = 0 by
    conjugate gradient preconditioned with diag(``precond``), until |r| <= rtol |b| or
    ``max_iter`` products. Returns x, or None when A shows a direction of non-positive
    curvature before any progress (A + damping not positive definite)."""
    if not (precond > 0).all():
        return None
    x = np.zeros_like(b)
    r = b.copy()
    z = r / precond
    p = z.copy()
    rz = float(r @ z)
    target = rtol * float(np.linalg.norm(b))
    for _ in range(max_iter):
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if not pAp > 0:
            return x if x.any() else None
        alpha = rz / pAp
        x += alpha * p
        r -= alpha * Ap
        if float(np.linalg.norm(r)) <= target:
            break
        z = r / precond
        rz, rz_old = float(r @ z), rz
        p = z + (rz / rz_old) * p
    return x
