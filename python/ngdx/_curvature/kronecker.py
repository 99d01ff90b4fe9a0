"""Kronecker-factored curvature (K-FAC) for a multi-output GLM."""

from __future__ import annotations

import numpy as np

from .base import Curvature


class Kronecker(Curvature):
    """F ~ A kron G: A the input Gram (mean x x^T with the intercept's 1, constant over a
    fit), G the mean output Fisher diag(mu) - mu mu^T (its statistics, K x K).

    Solved with factored Tikhonov damping (Martens & Grosse 2015, sec. 6.3):
    gamma = damping + l2, pi = sqrt((tr A / dim A) / (tr G / K)), and
    (A + pi sqrt(gamma) I) kron (G + sqrt(gamma)/pi I) step = grad, i.e.
    step = (A + pi sqrt(gamma) I)^-1 Grad (G + sqrt(gamma)/pi I)^-1 in matrix form. G is
    singular along 1 (the softmax's free shift): 1 1^T / K is added to it, which changes
    nothing for gradients orthogonal to that direction. A neural network's layer is one
    such block per layer.
    """

    name = "kronecker"

    def __init__(self, objective, kind="true", **kw):
        super().__init__(objective, "true", **kw)  # the true Fisher's factors, whatever kind

    def evaluate(self, theta, with_curvature=True):
        ev = self.objective.evaluate(theta)
        if with_curvature:
            ev = ev._replace(stats=self.objective.output_fisher(theta))
        return ev

    def solve(self, grad, damping):
        A, G, K = self.objective.input_gram(), self.stats, self.objective.n_classes
        a_unit = self.unit.reshape(-1, K)[:, 0]  # c^2 of each input (1 for the bias)
        gamma = float(damping) + self.objective.l2
        trA, trG = float(np.mean(np.diag(A) / a_unit)), float(np.trace(G)) / K
        pi = np.sqrt(trA / trG) if trA > 0 and trG > 0 else 1.0
        A_d = A + pi * np.sqrt(gamma) * np.diag(a_unit)
        G_d = G + (np.sqrt(gamma) / pi) * np.eye(K) + np.full((K, K), max(trG, 1e-300) / K)
        try:
            left = np.linalg.cholesky(A_d)
            right = np.linalg.cholesky(G_d)
        except np.linalg.LinAlgError:
            return None
        Gm = grad.reshape(-1, K)
        step = np.linalg.solve(left.T, np.linalg.solve(left, Gm))          # A_d^-1 Grad
        step = np.linalg.solve(right.T, np.linalg.solve(right, step.T)).T  # ... G_d^-1
        return step.ravel()

    def quad(self, v):
        A, K = self.objective.input_gram(), self.objective.n_classes
        V = v.reshape(-1, K)
        return float(np.sum((A @ V) * (V @ self.stats)))

    def scale(self):
        if self.stats is None:
            return 1.0
        A, K = self.objective.input_gram(), self.objective.n_classes
        a_unit = self.unit.reshape(-1, K)[:, 0]
        return self._finite_positive(np.mean(np.diag(A) / a_unit) * np.trace(self.stats) / K)
