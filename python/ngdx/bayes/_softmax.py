"""The multinomial model's pass: K-dimensional Gaussian expectations by Monte Carlo.

Row i's linear predictor eta_i (K) is Gaussian under q, N(Theta^T x~_i, A_i A_i^T) with
A_i = sum_j x~_ij F_j (K x p), F_j the K rows of S's factor F that belong to input j.
One-dimensional quadrature does not cover a K-dimensional eta: the expectations of the
softmax terms are Monte Carlo averages over ``n_draws`` fixed draws z ~ N(0, I_K) in
antithetic pairs (seed 0, the same draws for every row and every iteration), so a fit is
deterministic and converges to the fixed point of that sampled objective.
"""

from __future__ import annotations

import functools

import numpy as np

#: Rows per block: the draws of a block are BLOCK_ROWS x n_draws x K doubles.
BLOCK_ROWS = 256


@functools.lru_cache(maxsize=16)
def draws(n_draws: int, K: int) -> np.ndarray:
    """(n_draws, K) standard normal draws in antithetic pairs, from seed 0 (read-only)."""
    half = np.random.default_rng(0).standard_normal(((n_draws + 1) // 2, K))
    z = np.concatenate([half, -half])[:n_draws]
    z.flags.writeable = False
    return z


def log_softmax(eta):
    """eta - logsumexp(eta) over the last axis."""
    top = eta.max(axis=-1, keepdims=True)
    return eta - top - np.log(np.exp(eta - top).sum(axis=-1, keepdims=True))


def block_terms(Xt, y, s, m, factor, K, n_draws):
    """(sum s_i E[loss_i], gradient (p,), Hessian (p, p)) of one block's rows; Xt (b, d')
    the rows with the intercept's 1, m (d' K,), factor (d' K, p) or None (a point)."""
    b, dp = Xt.shape
    mean = Xt @ m.reshape(dp, K)  # (b, K)
    if factor is None:
        eta = mean[:, None, :]
    else:
        A = np.einsum("ij,jkq->ikq", Xt, factor.reshape(dp, K, -1))  # (b, K, p)
        cov = A @ A.transpose(0, 2, 1)  # (b, K, K)
        vals, vecs = np.linalg.eigh(cov)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]
        eta = mean[:, None, :] + np.einsum("ikl,zl->izk", root, draws(n_draws, K))
    logp = log_softmax(eta)  # (b, z, K)
    prob = np.exp(logp)
    yi = y.astype(np.intp)
    loss = -logp[np.arange(b), :, yi].mean(axis=1)  # (b,)
    r = prob.mean(axis=1)
    r[np.arange(b), yi] -= 1.0  # E[softmax] - e_y
    W = np.einsum("izk,izl->ikl", prob, prob) / prob.shape[1]
    W = np.einsum("ik,kl->ikl", r + np.eye(K)[yi], np.eye(K)) - W  # E[diag(mu) - mu mu^T]
    w = np.ones(b) if s is None else s
    grad = (Xt.T @ (w[:, None] * r)).reshape(-1)
    hess = np.einsum("ia,ib,ikl->akbl", Xt * w[:, None], Xt, W).reshape(dp * K, dp * K)
    return float(w @ loss), grad, hess


def terms(problem, m, factor=None):
    """Problem.terms for the multinomial model, summed over blocks of rows."""
    p = problem.p
    loss, grad, hess = 0.0, np.zeros(p), np.zeros((p, p))
    for rows, Xb in problem.blocks(BLOCK_ROWS):
        Xd = Xb.toarray() if problem.sparse else Xb
        Xt = np.hstack([Xd, np.ones((Xd.shape[0], 1))]) if problem.fit_intercept else Xd
        s = None if problem.s is None else problem.s[rows]
        part = block_terms(Xt, problem.y[rows], s, m, factor, problem.n_classes,
                           problem.n_draws)
        loss, grad, hess = loss + part[0], grad + part[1], hess + part[2]
    return loss, grad, hess
