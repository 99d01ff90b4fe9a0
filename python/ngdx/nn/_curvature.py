"""Curvature representations of a network: K-FAC's Kronecker factors per layer, and Adam's
moment estimates (a diagonal preconditioner), on the protocol of ``ngdx._curvature``."""

from __future__ import annotations

import math

import numpy as np

from .. import _core
from .._curvature.base import Curvature


class LayerKronecker(Curvature):
    """K-FAC (Martens & Grosse 2015): the Fisher's block of layer l approximated by
    A_l kron G_l, the blocks of different layers by zero.

    A_l is the mean outer product of the layer's inputs with the bias's 1 appended, G_l that
    of the back-propagated output vectors (``kind``: the exact expectation over the model's
    outputs, "mc" samples, or the "empirical" residuals). Each block is solved with
    factored Tikhonov damping (sec. 6.3): gamma = damping + l2,
    pi_l = sqrt((tr A_l / dim A_l) / (tr G_l / dim G_l)) and

        step_l = (A_l + pi_l sqrt(gamma) I)^-1 Grad_l (G_l + sqrt(gamma) / pi_l I)^-1,

    Grad_l the layer's gradient as a (fan_in + 1, fan_out) matrix: two small Cholesky
    factorizations per layer instead of one of the (p, p) Fisher.

    The direction d is then rescaled by the exact quadratic model (sec. 6.4): with
    M = F + l2 P the network's exact Fisher plus the penalty (one pass of Jacobian-vector
    products, as kfac-jax measures its model), alpha = g.d / (d^T M d + damping d.d)
    minimizes m(-alpha d), so an approximate curvature's step is never too long along its
    own direction. The same product gives ``quad`` (for the Levenberg-Marquardt rule, which
    thus judges steps by the true curvature) and ``step_kl``: one pass per direction.
    """

    name = "kfac"
    #: Optimize the step in the span of the K-FAC direction and the previous step (M&G
    #: sec. 7), else along the direction alone.
    momentum = True

    def __init__(self, objective, kind="true", **kw):
        super().__init__(objective, kind, **kw)
        self._buffers = [objective.new_factors(), objective.new_factors()]
        self._factors = None  # [(chol A_d, chol G_d)] at self._damping
        self._damping = None
        # The last direction returned, d^T F d (F the exact Fisher) and d^T P d along it.
        self._direction, self._dFd, self._dPd = None, 0.0, 0.0
        self._previous = None  # the last accepted step

    def evaluate(self, theta, with_curvature=True):
        obj = self.objective
        if not with_curvature:
            return obj.evaluate(theta)
        seed = self._seed() if self.kind == "mc" else 0
        return obj.evaluate_factors(theta, self.kind, n_mc_samples=self.n_mc_samples, seed=seed,
                                    factors_out=self._free_buffer())

    def _free_buffer(self):
        return self._buffers[1] if self.stats is self._buffers[0] else self._buffers[0]

    def forget_factor(self):
        self._factors = None

    def damped_factors(self, damping):
        """[(A_l + pi_l sqrt(gamma) I, G_l + sqrt(gamma) / pi_l I)] (the matrices the solve
        factors)."""
        gamma = float(damping) + self.objective.l2
        out = []
        for A, G in self.stats:
            trA, trG = float(np.trace(A)) / len(A), float(np.trace(G)) / len(G)
            pi = math.sqrt(trA / trG) if trA > 0 and trG > 0 else 1.0
            root = math.sqrt(gamma)
            out.append((A + pi * root * np.eye(len(A)), G + (root / pi) * np.eye(len(G))))
        return out

    def solve(self, grad, damping):
        """Per layer A_d^-1 Grad G_d^-1 by the core's kron_solve (Eigen's Cholesky of both
        factors and the triangular solves: scipy's solve_triangular, used before, woke
        OpenBLAS's threads, which spun beside the core's and took ~30 ms for a 65 x 64
        layer instead of 0.1 ms; and scipy is not a dependency of ngdx)."""
        if self._factors is None or self._damping != damping:
            self._factors = self.damped_factors(damping)
            self._damping = damping
        step = np.empty_like(grad)
        for (A_d, G_d), g, s in zip(self._factors, self.objective.blocks(grad),
                                    self.objective.blocks(step)):
            out = np.empty(g.shape)
            if not _core.linalg.kron_solve(A_d, G_d, np.ascontiguousarray(g), 0.0, 0.0, out):
                self._factors = None
                return None
            s[...] = out
        return self._rescaled(grad, step, damping)

    def take_average(self, theta, factors, previous_step, refactor):
        """Mini-batch K-FAC: use the moving-average ``factors`` at theta (the batch's point),
        with ``previous_step`` (None: none yet) as the momentum direction; their damped
        inverses are recomputed only when ``refactor`` (the inverse-update period)."""
        self.theta, self.stats, self._previous = theta, factors, previous_step
        if refactor:
            self.forget_factor()

    def refresh(self, theta, stats):
        if stats is not None and self.theta is not None and theta is not self.theta:
            self._previous = theta - self.theta  # the last accepted step: the momentum
        super().refresh(theta, stats)

    def _rescaled(self, grad, d, damping):
        """The step of the exact quadratic model in span(d, previous step) (see the class):
        x = argmin g.(V x) - 1/2 ... i.e. V x with (V^T C V) x = V^T g, C = F + l2 P +
        damping I, V = [d] or [d, previous step]; the direction V x (the step is -lr V x)."""
        obj = self.objective
        V = [d] if self._previous is None or not self.momentum else [d, -self._previous]
        FV = [obj.fisher_vector_product(self.theta, v) - obj.l2 * obj.penalty_mask * v
              for v in V]                                  # a Fisher-vector product each
        MF = np.array([[float(a @ fb) for fb in FV] for a in V])
        MP = np.array([[float((a * obj.penalty_mask) @ b) for b in V] for a in V])
        MI = np.array([[float(a @ b) for b in V] for a in V])
        C = MF + obj.l2 * MP + float(damping) * MI
        b = np.array([float(grad @ v) for v in V])
        x = _solve_small(C, b)
        if x is None and len(V) == 2:
            V, C, b, MF, MP = V[:1], C[:1, :1], b[:1], MF[:1, :1], MP[:1, :1]
            x = _solve_small(C, b)
        if x is None:
            self._direction = None
            return d  # no usable model along d: the damping rule judges the plain step
        direction = sum(xi * v for xi, v in zip(x, V))
        self._direction, self._dFd, self._dPd = direction, float(x @ MF @ x), float(x @ MP @ x)
        return direction

    def _along(self, v):
        """c with v = c * the last direction (to rounding), else None."""
        d = self._direction
        if d is None or v.shape != d.shape:
            return None
        dd = float(d @ d)
        c = float(v @ d) / dd if dd > 0 else 0.0
        return c if np.allclose(v, c * d, rtol=1e-12, atol=0.0) else None

    def quad(self, v):
        c = self._along(v)
        if c is not None:
            return c * c * (self._dFd + self.objective.l2 * self._dPd)
        return float(v @ self.objective.fisher_vector_product(self.theta, v))

    def step_kl(self, delta):
        """1/2 delta^T F delta from the rescaling's product when delta lies along the last
        direction (the fixed and KL steps), else None (the objective computes it)."""
        c = self._along(delta)
        return None if c is None else 0.5 * c * c * self._dFd

    def scale(self):
        """The mean diagonal of kron(A_l, G_l) over all parameters."""
        if self.stats is None:
            return 1.0
        total = sum(float(np.trace(A)) * float(np.trace(G)) for A, G in self.stats)
        return self._finite_positive(total / self.objective.p)


class Adam(Curvature):
    """Adam (Kingma & Ba 2015) as a preconditioner: the direction m_hat / (sqrt(v_hat) + eps)
    from exponential moving averages of the gradient and its square, bias-corrected.

    The moments advance once per ``solve``: once per iteration under the fixed step and
    fixed damping Adam runs with. ``damping`` is unused (Adam's eps plays its part).
    """

    name = "adam"

    def __init__(self, objective, kind="none", *, beta1=0.9, beta2=0.999, eps=1e-8, **kw):
        super().__init__(objective, "none")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = np.zeros(objective.p)
        self.v = np.zeros(objective.p)
        self.t = 0

    def solve(self, grad, damping):
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad * grad
        m_hat = self.m / (1 - self.beta1 ** self.t)
        v_hat = self.v / (1 - self.beta2 ** self.t)
        return m_hat / (np.sqrt(v_hat) + self.eps)

    def quad(self, v):
        return float(v @ v)


def _solve_small(C, b):
    """C^-1 b for a 1x1 or 2x2 positive definite C with a descent solution, else None."""
    if not np.isfinite(C).all() or not np.isfinite(b).all():
        return None
    try:
        np.linalg.cholesky(C)  # the test of positive definiteness
    except np.linalg.LinAlgError:
        return None
    x = np.linalg.solve(C, b)
    return x if float(b @ x) > 0 else None
