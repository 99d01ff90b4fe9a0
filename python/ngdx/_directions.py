"""Search directions: each method's preconditioner, damped and solved.

Every function returns ``(step, quad)`` where ``step`` solves M_damped step = grad (the
caller moves along -step) and ``quad(v) = v^T M v`` is the *undamped* quadratic form of
the method's curvature M, which the adaptive damping rule needs; or ``(None, None)``
when M + damping is not positive definite.
"""

from __future__ import annotations

import numpy as np

from . import _core


def identity(grad):
    """Gradient descent: M = I."""
    return grad.copy(), lambda v: float(v @ v)


class CholeskyFactor:
    """C + damping I factored once (in ``out``, or a new buffer), solved any number of
    times: what lets a fit reuse one curvature over several exact-gradient steps.

    ``null_rows``: for the multinomial model, the parameter rows j along which the
    objective is flat (every direction e_j kron 1 is in the null space of C: the softmax's
    free shift). C + c/K (1 1^T) on those rows is positive definite and, since gradients
    are orthogonal to the null space, gives the same steps: the singular direction is
    removed by construction instead of being left to the damping. ``curvature`` itself is
    left as it is (``quad`` reads it). ``ok`` is False when the matrix is not positive
    definite.
    """

    def __init__(self, curvature, damping, null_rows=None, n_classes=1, out=None):
        self.curvature, self.damping = curvature, float(damping)
        A = np.empty_like(curvature) if out is None else out
        np.copyto(A, curvature)
        if null_rows is not None and len(null_rows):
            K = n_classes
            scale = max(float(np.trace(curvature)) / curvature.shape[0], 1e-300)
            for j in null_rows:
                block = slice(j * K, (j + 1) * K)
                A[block, block] += scale / K
        self.ok = _core.linalg.damped_cholesky_factor(A, self.damping)
        self._factor = A

    def solve(self, grad):
        step = np.empty_like(grad)
        _core.linalg.cholesky_solve(self._factor, grad, step)
        return step

    def quad(self, v):
        return float(v @ (self.curvature @ v))


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


def diagonal(curvature_diag, grad, damping):
    """Solve (diag(c) + damping) step = grad elementwise."""
    denom = curvature_diag + damping
    if not (denom > 1e-300 * max(float(np.abs(curvature_diag).max()), 1.0)).all():
        return None, None
    return grad / denom, lambda v: float(v @ (curvature_diag * v))


def kfac(A, G, grad, damping, l2, n_classes):
    """Kronecker-factored natural gradient for the multinomial model.

    F ~ A kron G (A = mean x x^T over inputs with the intercept's 1, G = mean of the
    per-row output Fisher diag(mu) - mu mu^T). With factored Tikhonov damping
    (Martens & Grosse 2015, sec. 6.3) gamma = damping + l2,
    pi = sqrt((tr A / dim A) / (tr G / K)), the system is
    (A + pi sqrt(gamma) I) kron (G + sqrt(gamma)/pi I) step = grad, i.e.
    step = (A + pi sqrt(gamma) I)^-1 Grad (G + sqrt(gamma)/pi I)^-1 in matrix form. G is
    singular along 1 (the softmax's free shift): 1 1^T / K is added to it, which changes
    nothing for gradients orthogonal to that direction.
    """
    K = n_classes
    gamma = float(damping) + float(l2)
    trA, trG = float(np.trace(A)) / A.shape[0], float(np.trace(G)) / K
    pi = np.sqrt(trA / trG) if trA > 0 and trG > 0 else 1.0
    A_d = A + pi * np.sqrt(gamma) * np.eye(A.shape[0])
    G_d = G + (np.sqrt(gamma) / pi) * np.eye(K) + np.full((K, K), max(trG, 1e-300) / K)
    try:
        left = np.linalg.cholesky(A_d)
        right = np.linalg.cholesky(G_d)
    except np.linalg.LinAlgError:
        return None, None
    Gm = grad.reshape(-1, K)
    step = np.linalg.solve(left.T, np.linalg.solve(left, Gm))          # A_d^-1 Grad
    step = np.linalg.solve(right.T, np.linalg.solve(right, step.T)).T  # ... G_d^-1

    def quad(v):
        V = v.reshape(-1, K)
        return float(np.sum((A @ V) * (V @ G)))

    return step.ravel(), quad


def sample_space(X, C, w, grad, l2, damping, fit_intercept):
    """Solve (J^T J + diag(l2 + damping on coef, damping on the intercept)) step = grad in
    sample space, for n < p (one-output models).

    J = diag(sqrt(w)) [X, 1] (n x p) holds the curvature sum_i w_i x~_i x~_i^T = J^T J.
    With c = l2 + damping > 0, the push-through identity J (c I + J^T J)^-1 = R J,
    R = (c I + J J^T)^-1, turns the p x p system into one n x n Cholesky of
    c I + diag(sqrt(w)) C diag(sqrt(w)), C = X X^T (Woodbury); the intercept, which the
    penalty does not reach, is eliminated by a Schur complement. Cost per call O(n^2 + n d)
    after C, against O(n d^2 + d^3) for the dense path. Returns (None, None) when c <= 0
    (J^T J alone is singular when n < p) or the n x n solve fails.
    """
    c = float(l2) + float(damping)
    if not c > 0:
        return None, None
    d = X.shape[1]
    r = np.sqrt(w)
    S = C * r[:, None]  # J J^T restricted to coef: diag(r) X X^T diag(r)
    S *= r
    S[np.diag_indices_from(S)] += c

    def J_coef(v):  # J restricted to coef: sqrt(w) * (X v)
        return r * (X @ v)

    def JT_coef(z):  # J^T restricted to coef
        return X.T @ (r * z)

    g_coef = grad[:d]
    Jg = J_coef(g_coef)
    # Every R = (c I + J J^T)^-1 needed comes from R u and R J g (u = r, J's intercept
    # column), since R J J^T = I - c R: one factorization, two right-hand sides.
    # S is positive definite (c > 0): Cholesky, half of LU's work.
    try:
        L = np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        return None, None
    rhs = [r, Jg] if fit_intercept else [Jg]
    sol = np.empty((len(r), len(rhs)))
    for k, b in enumerate(rhs):  # row-major L read column-major is the upper factor L^T
        out = np.empty(len(r))
        _core.linalg.cholesky_solve(L, np.ascontiguousarray(b), out)
        sol[:, k] = out
    if not np.isfinite(sol).all():
        return None, None
    b = 0.0
    RJv = sol[:, -1]
    if fit_intercept:
        Ru, RJg = sol[:, 0], sol[:, 1]
        denom = float(damping) + c * float(r @ Ru)
        if not denom > 0:
            return None, None
        b = (grad[d] - float(r @ RJg)) / denom
        v = g_coef - b * JT_coef(r)
        RJv = RJg - b * (r - c * Ru)  # R J v, with J J^T u = S u - c u
    else:
        v = g_coef
    a = (v - JT_coef(RJv)) / c
    step = np.append(a, b) if fit_intercept else a

    def quad(delta):  # delta^T (J^T J + l2 P) delta, P the coef mask
        z = J_coef(delta[:d]) + (r * delta[d] if fit_intercept else 0.0)
        return float(z @ z) + float(l2) * float(delta[:d] @ delta[:d])

    return step, quad
