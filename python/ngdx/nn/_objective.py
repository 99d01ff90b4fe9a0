"""The MLP objective on the solver loop: the penalized mean NLL of a network and its
curvature statistics, with the methods the loop and the curvature representations call
(the protocol of ``ngdx._models.GLMObjective``).

    f(theta) = sum_i s_i l_i(theta) / sum_i s_i + l2 / 2 * sum_l ||W_l||^2

The biases are not penalized (scikit-learn's ``alpha`` is l2 times the number of rows).
"""

from __future__ import annotations

import numpy as np

from .._models.glm import Evaluation
from . import _passes


class NetworkRows:
    """The rows of a network fit (X, targets, weights) and the passes over them; counts
    each pass in ``n_passes`` as the GLM row sources do."""

    def __init__(self, net, X, Y, sample_weight, n_threads):
        self.net, self.X, self.y, self.sample_weight = net, X, Y, sample_weight
        self.n_rows = X.shape[0]
        self.n_threads = int(n_threads)
        self.n_passes = 0

    def fused_pass(self, theta, curvature, kind, *, n_mc_samples=1, seed=0, grad_out,
                   factors_out=None, fisher_out=None):
        self.n_passes += 1
        net = self.net
        return _passes.fused_pass(self.X, self.y, self.sample_weight, net.layer_sizes, theta,
                                  net.activation, net.output, curvature, kind, n_mc_samples,
                                  seed, self.n_threads, grad_out, factors_out, fisher_out)

    def fisher_vector_product(self, theta, v, out):
        self.n_passes += 1
        net = self.net
        return _passes.fisher_vector_product(self.X, self.sample_weight, net.layer_sizes,
                                             theta, net.activation, net.output, v,
                                             self.n_threads, out)


class MLPObjective:
    """Objective, gradient and curvature statistics of one network fitting problem.

    Parameters
    ----------
    net : MLP
    rows : NetworkRows
    l2 : float
        The ridge penalty on the weight matrices.
    """

    model = "mlp"

    def __init__(self, net, rows, *, l2):
        self.net, self.rows, self.l2 = net, rows, float(l2)
        self.p = net.n_params
        self.n_classes = net.n_outputs
        #: 1.0 on weights, 0.0 on biases: the penalty's curvature is l2 * diag(penalty_mask).
        self.penalty_mask = np.concatenate([
            np.concatenate([np.ones(i * o), np.zeros(o)]) for i, o in net.shapes])
        #: Offsets of each layer's block in theta.
        self.offsets = np.cumsum([0] + [(i + 1) * o for i, o in net.shapes])
        self._fvp = np.empty(self.p)

    # ------------------------------------------------------------------ passes
    def _penalize(self, theta, loss, grad):
        if self.l2 == 0.0:
            return loss
        w = theta * self.penalty_mask
        grad += self.l2 * w
        return loss + 0.5 * self.l2 * float(w @ w)

    def evaluate(self, theta, kind="none", *, diagonal=False, n_mc_samples=1, seed=0,
                 curvature_out=None) -> Evaluation:
        """One pass at theta; ``stats`` the (p, p) Fisher of ``kind`` plus the penalty's
        curvature, or with ``diagonal`` the (p,) diagonal of its K-FAC approximation
        (kron(diag A_l, diag G_l) per layer: the Jacobi preconditioner of CG)."""
        if diagonal and kind != "none":
            ev = self.evaluate_factors(theta, kind, n_mc_samples=n_mc_samples, seed=seed)
            diag = np.concatenate([np.kron(np.diag(A), np.diag(G)) for A, G in ev.stats])
            return ev._replace(stats=diag + self.l2 * self.penalty_mask)
        grad = np.empty(self.p)
        F = None
        if kind != "none":
            F = curvature_out if curvature_out is not None else np.empty((self.p, self.p))
        loss, n_mis = self.rows.fused_pass(theta, "dense" if F is not None else "none",
                                           kind if F is not None else "true",
                                           n_mc_samples=n_mc_samples, seed=seed,
                                           grad_out=grad, fisher_out=F)
        if F is not None and self.l2 > 0.0:
            F[np.diag_indices(self.p)] += self.l2 * self.penalty_mask
        return Evaluation(self._penalize(theta, loss, grad), grad, F, n_mis)

    def evaluate_factors(self, theta, kind, *, n_mc_samples=1, seed=0, factors_out=None):
        """One pass at theta whose ``stats`` are K-FAC's factors [(A_l, G_l)] of ``kind``
        (without the penalty); ``factors_out`` the buffers to fill."""
        if factors_out is None:
            factors_out = self.new_factors()
        flat = [m for pair in factors_out for m in pair]
        grad = np.empty(self.p)
        loss, n_mis = self.rows.fused_pass(theta, "kfac", kind, n_mc_samples=n_mc_samples,
                                           seed=seed, grad_out=grad, factors_out=flat)
        return Evaluation(self._penalize(theta, loss, grad), grad, factors_out, n_mis)

    def new_factors(self):
        return [(np.empty((i + 1, i + 1)), np.empty((o, o))) for i, o in self.net.shapes]

    def fisher_vector_product(self, theta, v):
        """(F + l2 P) v: the network's exact Fisher (its Gauss-Newton matrix) times v plus
        the penalty's curvature; one pass of Jacobian-vector products, no p x p matrix."""
        out = np.empty(self.p)
        self.rows.fisher_vector_product(theta, v, out)
        return out + self.l2 * self.penalty_mask * v

    def step_kl(self, theta, delta):
        """1/2 delta^T F delta, F the exact Fisher at theta: the KL divergence a small step
        moves the network's predictive distributions by."""
        return 0.5 * self.rows.fisher_vector_product(theta, delta, self._fvp)

    def blocks(self, v):
        """Views of v's layer blocks as (fan_in + 1, fan_out) matrices."""
        return [v[a:b].reshape(i + 1, o)
                for (a, b), (i, o) in zip(zip(self.offsets[:-1], self.offsets[1:]),
                                          self.net.shapes)]

    # ------------------------------------------------------------------ the loop's questions
    def param_scale(self):
        """Ones: a network's parameters are compared in their own units (its first layer
        sees X as given; standardize X for scale-free stopping)."""
        return np.ones(self.p)

    def separated(self, n_misclassified) -> bool:
        """Never: a network that classifies every row correctly keeps lowering its loss,
        and the fit goes on to its tolerance or max_iter."""
        return False

    def no_finite_optimum(self, theta, converged=True):
        """Not checked for a network: None."""
        return None

    def remove_flat_directions(self, theta):
        """Nothing: the damping keeps the softmax's free shift in check."""

    def flat_rows(self):
        return []

    def closed_form_curvature(self, theta, kind):
        """None: a network's Fisher always takes a pass."""
        return None

    def result(self, theta, **fields):
        from ._result import MLPFitResult
        return MLPFitResult(params=self.net.unflatten(theta), net=self.net, **fields)
