"""The Bayesian learning rule for a Gaussian q(theta) = N(m, S) (Khan & Rue 2023).

One step with rho = lr, from the expectations of a pass at q (``Problem.terms``):

    S^-1 <- (1 - rho) S^-1 + rho (E_q[grad^2 sum_i s_i loss_i] + P)
    m    <- m - rho S (E_q[grad sum_i s_i loss_i] + P m)        (S the new one)

P = diag(alpha on the coefficients, 0 on the intercept). With rho = 1 it is Newton's method
on the expected negative log joint; with the expectations taken at the point m (variance
0) it is Newton's method on the negative log posterior, whose fixed point is the MAP and
whose S is the Laplace approximation's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class Gaussian:
    """q = N(m, S) held by its precision Lambda = S^-1 and Lambda's Cholesky factor C."""

    mean: np.ndarray
    precision: np.ndarray
    chol: np.ndarray  # lower, Lambda = C C^T

    @classmethod
    def from_precision(cls, mean, precision):
        """q from (m, Lambda); ``numpy.linalg.LinAlgError`` when Lambda is not positive
        definite."""
        precision = 0.5 * (precision + precision.T)
        return cls(mean, precision, np.linalg.cholesky(precision))

    def factor(self) -> np.ndarray:
        """A factor F with S = F F^T: C^-T (x~^T S x~ = ||F^T x~||^2)."""
        return np.linalg.inv(self.chol).T

    def covariance(self) -> np.ndarray:
        F = self.factor()
        return F @ F.T

    def logdet_covariance(self) -> float:
        return -2.0 * float(np.log(np.diag(self.chol)).sum())

    def solve(self, v) -> np.ndarray:
        """S v = Lambda^-1 v."""
        return np.linalg.solve(self.chol.T, np.linalg.solve(self.chol, v))


@dataclass(frozen=True)
class Prior:
    """N(0, 1/alpha) on the entries where ``mask`` is 1, flat elsewhere, and, when ``null``
    (a unit p-vector) is given, N(0, 1) on null^T theta: the direction that neither the
    likelihood nor the rest of the prior sees (the softmax's common intercept shift),
    given a proper prior so that q exists. Its precision P = diag(alpha mask) + null null^T."""

    alpha: float
    mask: np.ndarray
    null: np.ndarray | None = None

    def precision(self) -> np.ndarray:
        P = np.diag(self.alpha * self.mask)
        if self.null is not None:
            P += np.outer(self.null, self.null)
        return P

    def expected_log(self, q: Gaussian, variational: bool) -> float:
        """E_q[log p(theta)] (``variational``) or log p(m); the flat part counts as 1."""
        S = q.covariance() if variational else np.zeros((q.mean.size,) * 2)
        m2 = q.mean**2 + np.diag(S)
        n_coef = float(self.mask.sum())
        value = 0.5 * n_coef * (math.log(self.alpha) - LOG_2PI) - 0.5 * self.alpha * float(
            self.mask @ m2)
        if self.null is not None:
            u = self.null
            value -= 0.5 * (LOG_2PI + float(u @ q.mean) ** 2 + float(u @ S @ u))
        return value


def step(q: Gaussian, terms, prior: Prior, lr) -> Gaussian:
    """One step of the rule from q with a pass's ``terms`` and the prior."""
    P = prior.precision()
    grad = terms.grad + P @ q.mean
    new = Gaussian.from_precision(q.mean, (1.0 - lr) * q.precision + lr * (terms.hess + P))
    new.mean = q.mean - lr * new.solve(grad)
    return new


def kl(new: Gaussian, old: Gaussian) -> float:
    """KL(new || old) = 1/2 [tr(Lambda_old S_new) - p + dm^T Lambda_old dm
    + log det S_old - log det S_new]: the scale-free size of a step."""
    Fn = new.factor()
    dm = new.mean - old.mean
    trace = float(np.einsum("ij,ij->", old.precision @ Fn, Fn))
    quad = float(dm @ old.precision @ dm)
    value = 0.5 * (trace - dm.size + quad + old.logdet_covariance() - new.logdet_covariance())
    return max(value, 0.0)


def objective(q: Gaussian, loss: float, prior: Prior, variational: bool) -> float:
    """``vi``: the ELBO -E_q[sum s_i loss_i] + E_q[log p(theta)] + H[q];
    ``laplace``: the Laplace log evidence -sum s_i loss_i(m) + log p(m)
    + p/2 log(2 pi) + 1/2 log det S. The intercept's flat prior counts as density 1."""
    p = q.mean.size
    entropy = 0.5 * p * (LOG_2PI + variational) + 0.5 * q.logdet_covariance()
    return -loss + prior.expected_log(q, variational) + entropy


def empirical_bayes(q: Gaussian, prior: Prior, variational: bool) -> float:
    """The prior precision that maximizes the objective at q: ``vi`` the EM fixed point
    alpha = n_coef / (||m_coef||^2 + tr S_coef) (the ELBO's stationary point in alpha for
    this q); ``laplace`` MacKay's alpha = gamma / ||m_coef||^2, gamma = n_coef
    - alpha tr S_coef the effective number of parameters."""
    mask = prior.mask
    S_diag = np.diag(q.covariance())
    n_coef = float(mask.sum())
    m2 = float(mask @ q.mean**2)
    if variational:
        return n_coef / (m2 + float(mask @ S_diag))
    gamma = n_coef - prior.alpha * float(mask @ S_diag)
    return gamma / m2
