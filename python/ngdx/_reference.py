"""Pure NumPy reference of every compiled kernel: the oracle of the parity tests and
the readable definition of each formula.

Written for clarity, not speed (it materialises n x p and n x K x K arrays). It takes
the same arguments as the core: ``theta`` is the flat parameter vector of length
p = (d + fit_intercept) * K whose row-major (d + fit_intercept, K) reshape holds the
coefficients, the intercept (if any) in the last row; ``sample_weight`` s turns every
mean into sum_i s_i a_i / sum_i s_i.

For one row with linear predictor eta (a K-vector; K = 1 except multinomial):

=============  =====================================  ==================================
model          -log p(y | eta)                        r = d(-log p)/d eta
=============  =====================================  ==================================
logistic       log(1 + e^eta) - y eta                 sigmoid(eta) - y
probit         -log Phi(eta) if y = 1,                -phi/Phi(eta) if y = 1,
               -log Phi(-eta) if y = 0                phi/Phi(-eta) if y = 0
poisson        e^eta - y eta + log y!                 e^eta - y
gaussian       (y - eta)^2 / 2 + log(2 pi) / 2        eta - y
multinomial    logsumexp(eta) - eta_y                 softmax(eta) - e_y
=============  =====================================  ==================================

The score of the row is -x kron r; a curvature matrix is mean_i x_i x_i^T kron W_i with
the K x K weight W_i: ``"true"`` E_y[r r^T] (the Fisher), ``"hessian"`` d^2(-log p)/d eta^2,
``"empirical"`` r r^T at the observed y, ``"mc"`` the mean of r r^T over labels drawn
from the model by :func:`sample_labels`.
"""

from __future__ import annotations

import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- helpers
def _special():
    import scipy.special  # test-time dependency of the reference only

    return scipy.special


def _augment(X, fit_intercept):
    """X with a trailing column of ones when fit_intercept."""
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def _weights(n, sample_weight):
    return np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)


def _coef(theta, X, fit_intercept):
    """theta reshaped to (d + fit_intercept, K)."""
    return np.asarray(theta, dtype=float).reshape(X.shape[1] + bool(fit_intercept), -1)


def linear_predictor(X, theta, fit_intercept=False):
    """eta (n, K) = [X, 1] @ theta.reshape(d', K)."""
    return _augment(X, fit_intercept) @ _coef(theta, X, fit_intercept)


def log_softmax(eta):
    """eta - logsumexp(eta) by rows, with logsumexp = m + log1p(sum of the non-maximal
    exp(eta_k - m)) so that log-probabilities near 0 keep their digits."""
    top = eta.argmax(axis=1)
    m = eta[np.arange(len(eta)), top][:, None]
    e = np.exp(eta - m)
    e[np.arange(len(eta)), top] = 0.0
    return eta - m - np.log1p(e.sum(axis=1, keepdims=True))


def inv_mills(x):
    """phi(x) / Phi(x). For x < 0 as 1 / R(-x), R(t) = sqrt(pi/2) erfcx(t / sqrt 2) the
    Mills ratio: exp(-x^2/2 - log Phi(x)) cancels two terms of size x^2/2 and loses
    ~eps x^2 (all digits beyond |x| ~ 1e8)."""
    sp = _special()
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        direct = np.exp(-0.5 * x**2 - 0.5 * LOG_2PI - sp.log_ndtr(x))
        tail = 1.0 / (np.sqrt(np.pi / 2) * sp.erfcx(-x / np.sqrt(2)))
    return np.where(x < 0, tail, direct)


# --------------------------------------------------------------------------- per row
def row_loss(model, eta, y):
    """-log p(y_i | eta_i) for each row; eta is (n, K)."""
    if model == "multinomial":
        return -log_softmax(eta)[np.arange(len(y)), y.astype(int)]
    e = eta[:, 0]
    if model == "logistic":
        return np.logaddexp(0.0, np.where(y == 1, -e, e))
    if model == "probit":
        return -_special().log_ndtr(np.where(y == 1, e, -e))
    if model == "poisson":
        return np.exp(e) - y * e + _special().gammaln(y + 1.0)
    if model == "gaussian":
        return 0.5 * (y - e) ** 2 + 0.5 * LOG_2PI
    raise ValueError(model)


def row_dloss(model, eta, y):
    """r_i = d(-log p(y_i | eta_i))/d eta_i, shape (n, K)."""
    if model == "multinomial":
        # prob - e_y, with r_y = -(sum of the other probabilities) to avoid prob_y - 1
        prob = np.exp(log_softmax(eta))
        rows, yi = np.arange(len(y)), y.astype(int)
        r = prob.copy()
        r[rows, yi] = 0.0
        r[rows, yi] = -r.sum(axis=1)
        return r
    e = eta[:, 0]
    if model == "logistic":  # sigmoid(e) - y, as -sigmoid(-e) for y = 1 (no cancellation)
        r = np.where(y == 1, -_special().expit(-e), _special().expit(e))
    elif model == "probit":
        r = np.where(y == 1, -inv_mills(e), inv_mills(-e))
    elif model == "poisson":
        r = np.exp(e) - y
    else:
        r = e - y
    return r[:, None]


def row_fisher(model, eta):
    """W_i = E_y[r r^T], shape (n, K, K)."""
    if model == "multinomial":
        # diag(mu) - mu mu^T, its diagonal as mu (1 - mu) with 1 - mu the sum of the others
        mu = np.exp(log_softmax(eta))
        W = -np.einsum("ik,il->ikl", mu, mu)
        complement = np.where(mu <= 0.5, 1.0 - mu, mu.sum(axis=1, keepdims=True) - mu)
        big = mu > 0.5
        if big.any():  # sum of the others, without the cancellation of 1 - mu
            others = np.where(big, 0.0, mu).sum(axis=1, keepdims=True)
            complement = np.where(big, others, 1.0 - mu)
        idx = np.arange(mu.shape[1])
        W[:, idx, idx] = mu * complement
        return W
    e = eta[:, 0]
    if model == "logistic":
        w = _special().expit(e) * _special().expit(-e)
    elif model == "probit":
        w = inv_mills(e) * inv_mills(-e)  # phi^2 / (Phi (1 - Phi))
    elif model == "poisson":
        w = np.exp(e)
    else:
        w = np.ones_like(e)
    return w[:, None, None]


def row_hessian(model, eta, y):
    """W_i = d^2(-log p(y_i | eta_i))/d eta^2, shape (n, K, K)."""
    if model != "probit":
        return row_fisher(model, eta)  # canonical links: the Hessian does not depend on y
    e = np.where(y == 1, eta[:, 0], -eta[:, 0])
    return probit_curvature(e)[:, None, None]


def probit_curvature(x):
    """lambda(x) (x + lambda(x)), lambda = phi / Phi. For x < 0, lambda ~ -x and x + lambda
    cancels: there it is (1 - t R) / R^2 with t = -x and R = sqrt(pi/2) erfcx(t / sqrt 2)
    the Mills ratio (1 - Phi(t)) / phi(t), accurate to ~eps t^2 up to t = 100 and by the
    series 1 - 1/t^2 + 6/t^4 - 50/t^6 beyond (exp(-x^2/2) / Phi(x)
    followed by x + lambda lost ~eps t^4: 2e-11 at x = -23.5)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    neg = x < 0
    t = -x[neg]
    R = np.sqrt(np.pi / 2) * _special().erfcx(t / np.sqrt(2))
    # 1 - t R ~ 1/t^2 loses eps t^2 to rounding (all of it beyond t ~ 1e8): past t = 100
    # the asymptotic series, whose next term is 5e-14 there
    with np.errstate(over="ignore", divide="ignore"):
        u = 1.0 / t**2
        out[neg] = np.where(t > 100, 1.0 - u * (1.0 - u * (6.0 - 50.0 * u)),
                            (1.0 - t * R) / R**2)
    lam = inv_mills(x[~neg])
    out[~neg] = lam * (x[~neg] + lam)
    return out


def row_curvature(model, eta, y, kind, *, n_samples=1, seed=0, X=None, theta=None,
                  fit_intercept=False):
    """The K x K weight W_i of curvature ``kind`` for every row, shape (n, K, K)."""
    if kind == "true":
        return row_fisher(model, eta)
    if kind == "hessian":
        return row_hessian(model, eta, y)
    if kind == "empirical":
        r = row_dloss(model, eta, y)
        return np.einsum("ik,il->ikl", r, r)
    if kind == "mc":
        labels = sample_labels(X, theta, model, n_samples, seed, fit_intercept)
        W = 0.0
        for s in range(n_samples):
            r = row_dloss(model, eta, labels[:, s])
            W = W + np.einsum("ik,il->ikl", r, r)
        return W / n_samples
    raise ValueError(kind)


# --------------------------------------------------------------------------- kernels
def loss(X, y, theta, model, *, sample_weight=None, fit_intercept=False):
    """(Weighted) mean negative log-likelihood."""
    s = _weights(X.shape[0], sample_weight)
    return float(s @ row_loss(model, linear_predictor(X, theta, fit_intercept), y) / s.sum())


def scores(X, y, theta, model, *, fit_intercept=False):
    """Per-sample scores (n, p): row i is -x_i kron r_i."""
    r = row_dloss(model, linear_predictor(X, theta, fit_intercept), y)
    Xa = _augment(X, fit_intercept)
    return -np.einsum("ij,ik->ijk", Xa, r).reshape(X.shape[0], -1)


def grad(X, y, theta, model, *, sample_weight=None, fit_intercept=False):
    """Gradient of the (weighted) mean NLL: -sum_i s_i score_i / sum_i s_i, shape (p,)."""
    s = _weights(X.shape[0], sample_weight)
    return -(s @ scores(X, y, theta, model, fit_intercept=fit_intercept)) / s.sum()


def curvature(X, y, theta, model, kind, *, diagonal=False, n_samples=1, seed=0,
              sample_weight=None, fit_intercept=False):
    """sum_i s_i (x_i x_i^T kron W_i) / sum_i s_i, (p, p), or its diagonal (p,)."""
    eta = linear_predictor(X, theta, fit_intercept)
    W = row_curvature(model, eta, y, kind, n_samples=n_samples, seed=seed, X=X, theta=theta,
                      fit_intercept=fit_intercept)
    s = _weights(X.shape[0], sample_weight)
    Xa = _augment(X, fit_intercept)
    d, K = Xa.shape[1], eta.shape[1]
    F = np.einsum("i,ij,il,ikm->jklm", s, Xa, Xa, W).reshape(d * K, d * K) / s.sum()
    return np.diag(F).copy() if diagonal else F


def kl(X, theta_p, theta_q, model, *, sample_weight=None, fit_intercept=False):
    """(Weighted) mean over rows of KL(p(. | x_i, theta_p) || p(. | x_i, theta_q))."""
    ep = linear_predictor(X, theta_p, fit_intercept)
    eq = linear_predictor(X, theta_q, fit_intercept)
    if model == "multinomial":
        lp, lq = log_softmax(ep), log_softmax(eq)
        rows = (np.exp(lp) * (lp - lq)).sum(axis=1)
    elif model in ("logistic", "probit"):
        if model == "logistic":
            log_cdf = lambda e: -np.logaddexp(0.0, -e)  # noqa: E731  log sigmoid
        else:
            log_cdf = _special().log_ndtr
        a, b = ep[:, 0], eq[:, 0]
        lp1, lp0, lq1, lq0 = log_cdf(a), log_cdf(-a), log_cdf(b), log_cdf(-b)
        rows = np.exp(lp1) * (lp1 - lq1) + np.exp(lp0) * (lp0 - lq0)
    elif model == "poisson":
        lam_p, lam_q = np.exp(ep[:, 0]), np.exp(eq[:, 0])
        rows = lam_p * (ep[:, 0] - eq[:, 0]) - lam_p + lam_q
    else:
        rows = 0.5 * (ep[:, 0] - eq[:, 0]) ** 2
    s = _weights(X.shape[0], sample_weight)
    return float(s @ rows / s.sum())


def fisher_from_scores(S, *, diagonal=False):
    """S^T S / n, or its diagonal."""
    F = S.T @ S / S.shape[0]
    return np.diag(F).copy() if diagonal else F


def natural_gradient(F, g, damping=0.0):
    """x with (F + damping I) x = g; LinAlgError when F + damping I is not positive definite."""
    A = F + damping * np.eye(F.shape[0])
    L = np.linalg.cholesky(A)  # raises LinAlgError when not positive definite
    return np.linalg.solve(L.T, np.linalg.solve(L, g))


# --------------------------------------------------------------------------- sampling
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z):
    """SplitMix64 finalizer on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniforms(seed, n, n_samples, n_draws):
    """u[i, s, k] in [0, 1): the k-th uniform of row i, sample s (the core's generator)."""
    rows = np.arange(n, dtype=np.uint64)[:, None]
    samples = np.arange(n_samples, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        key = _mix(_mix(np.full((n, n_samples), seed, dtype=np.uint64))
                   ^ _mix(rows * np.uint64(n_samples) + samples))
        z = _mix(key[:, :, None] + np.arange(n_draws, dtype=np.uint64)[None, None, :])
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _poisson_ptrs(lam, u):
    """Hormann's PTRS for one rate lam >= 12, using the uniform pairs u[2j], u[2j + 1]."""
    slam, loglam = math.sqrt(lam), math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    for j in range(len(u) // 2):
        U, V = u[2 * j] - 0.5, u[2 * j + 1]
        us = 0.5 - abs(U)
        k = math.floor((2.0 * a / us + b) * U + lam + 0.43)
        if us >= 0.07 and V <= vr:
            return k
        if k < 0 or (us < 0.013 and V > us):
            continue
        if (math.log(V) + math.log(invalpha) - math.log(a / (us * us) + b)
                <= -lam + k * loglam - math.lgamma(k + 1.0)):
            return k
    return math.floor(lam)


def _poisson_inversion(lam, u):
    k, pk = 0, math.exp(-lam)
    cdf = pk
    while u >= cdf and k < 1000:
        k += 1
        pk *= lam / k
        cdf += pk
    return k


def sample_labels(X, theta, model, n_samples, seed, fit_intercept=False):
    """Labels (n, n_samples) drawn from the model as the core's ``"mc"`` curvature draws them:
    Bernoulli and multinomial by inversion of one uniform, gaussian by Box-Muller, poisson
    by inversion below rate 12 and Hormann's PTRS above."""
    eta = linear_predictor(X, theta, fit_intercept)
    n = X.shape[0]
    if model == "poisson":
        u = uniforms(seed, n, n_samples, 2000)
        out = np.empty((n, n_samples))
        for i in range(n):
            lam = math.exp(eta[i, 0])
            for s in range(n_samples):
                out[i, s] = (_poisson_inversion(lam, u[i, s, 0]) if lam < 12.0
                             else _poisson_ptrs(lam, u[i, s]))
        return out
    u = uniforms(seed, n, n_samples, 2)
    if model == "multinomial":
        cdf = np.cumsum(np.exp(log_softmax(eta)), axis=1)[:, None, :-1]  # (n, 1, K-1)
        return (u[:, :, :1] >= cdf).sum(axis=2).astype(float)
    e = eta[:, :1]
    if model == "logistic":
        return (u[:, :, 0] < _special().expit(e)).astype(float)
    if model == "probit":
        return (u[:, :, 0] < _special().ndtr(e)).astype(float)
    return e + np.sqrt(-2.0 * np.log1p(-u[:, :, 0])) * np.cos(2.0 * np.pi * u[:, :, 1])


# --------------------------------------------------------------------------- fit support
def fisher_vector_product(X, theta, v, model, *, sample_weight=None, fit_intercept=False):
    """(F v, v^T F v) with F the (weighted) true Fisher at theta."""
    F = curvature(X, None, theta, model, "true", sample_weight=sample_weight,
                  fit_intercept=fit_intercept)
    Fv = F @ v
    return Fv, float(v @ Fv)


def n_misclassified(X, y, theta, model, *, sample_weight=None, fit_intercept=False):
    """Rows of positive weight whose most probable class is not y (ties are errors);
    0 for models without classes."""
    if model not in ("logistic", "probit", "multinomial"):
        return 0
    eta = linear_predictor(X, theta, fit_intercept)
    if model == "multinomial":
        yi = y.astype(int)
        eta_y = eta[np.arange(len(y)), yi]
        others = eta.copy()
        others[np.arange(len(y)), yi] = -np.inf
        wrong = others.max(axis=1) >= eta_y
    else:
        wrong = (eta[:, 0] > 0) != (y == 1)
    s = _weights(X.shape[0], sample_weight)
    return int((wrong & (s > 0)).sum())
