"""Small network problems for the ngdx.nn tests: targets of every output family."""

from __future__ import annotations

import numpy as np

from ngdx.nn import _reference as R

OUTPUTS = R.OUTPUTS
ACTIVATIONS = R.ACTIVATIONS


def targets(output, n, K, rng):
    """y of the shape and domain output's family accepts."""
    if output == "multinomial":
        return rng.integers(0, K, n).astype(float)
    if output == "logistic":
        y = (rng.random((n, K)) < 0.5).astype(float)
    elif output == "poisson":
        y = rng.poisson(1.0, (n, K)).astype(float)
    else:
        y = rng.normal(size=(n, K))
    return y[:, 0] if K == 1 else y


def problem(output="multinomial", layer_sizes=(4, 5, 3), n=40, seed=0, scale=0.5):
    """(X, y, theta, sample_weight) for a network of layer_sizes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, layer_sizes[0]))
    y = targets(output, n, layer_sizes[-1], rng)
    theta = rng.normal(scale=scale, size=R.n_params(layer_sizes))
    s = rng.random(n) + 0.5
    return X, y, theta, s


def output_fisher(output, eta):
    """Lambda (n, K, K) written out independently of ``fisher_sqrt``."""
    mu = R.mean(output, eta)
    n, K = eta.shape
    if output == "multinomial":
        return np.einsum("ik,kl->ikl", mu, np.eye(K)) - np.einsum("ik,il->ikl", mu, mu)
    w = {"logistic": mu * (1 - mu), "gaussian": np.ones_like(mu), "poisson": mu}[output]
    return np.einsum("ik,kl->ikl", w, np.eye(K))
