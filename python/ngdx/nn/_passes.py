"""The passes of an MLP over its rows, with the compiled core's signatures.

``fused_pass``, ``fisher_vector_product`` and ``forward`` take the arguments of
``_core.nn``'s functions and fill the same outputs. They run the compiled core when this
build has it, and otherwise the NumPy reference (``_reference.py``): the reference is the
specification the core is checked against, exact but slow (it holds n x width arrays).
"""

from __future__ import annotations

import numpy as np

from .. import _core
from . import _reference as ref

HAVE_CORE = hasattr(_core, "nn")


def _unflatten_out(layer_sizes, factors_out, As, Gs):
    for l, (A, G) in enumerate(zip(As, Gs)):
        factors_out[2 * l][...] = A
        factors_out[2 * l + 1][...] = G


def fused_pass(X, y, sample_weight, layer_sizes, theta, activation, output, curvature, kind,
               n_mc_samples, seed, n_threads, grad_out, factors_out, fisher_out):
    """(weighted mean NLL, misclassified rows); fills grad_out, the K-FAC factors
    [A_1, G_1, ...] (curvature "kfac") or the exact Fisher (curvature "dense")."""
    if HAVE_CORE:
        return _core.nn.fused_pass(X, y, sample_weight, list(layer_sizes), theta, activation,
                                   output, curvature, kind, int(n_mc_samples), int(seed),
                                   int(n_threads), grad_out, factors_out, fisher_out)
    ls, X = tuple(layer_sizes), np.asarray(X, dtype=float)
    loss, n_mis = float("nan"), 0
    if y is not None:
        loss = ref.loss(ls, theta, X, y, activation, output, sample_weight)
        n_mis = ref.n_misclassified(ls, theta, X, y, activation, output)
    if grad_out is not None:
        grad_out[...] = ref.grad(ls, theta, X, y, activation, output, sample_weight)
    kw = dict(sample_weight=sample_weight, n_mc_samples=n_mc_samples, seed=seed)
    if curvature == "kfac":
        _unflatten_out(ls, factors_out, *ref.kfac_factors(ls, theta, X, y, activation, output,
                                                          kind, **kw))
    elif curvature == "dense":
        fisher_out[...] = ref.fisher(ls, theta, X, y, activation, output, kind, **kw)
    return loss, n_mis


def fisher_vector_product(X, sample_weight, layer_sizes, theta, activation, output, v,
                          n_threads, out):
    """Fills out = F v (F the true Fisher of the mean NLL); returns v^T F v."""
    if HAVE_CORE:
        return _core.nn.fisher_vector_product(X, sample_weight, list(layer_sizes), theta,
                                              activation, output, v, int(n_threads), out)
    out[...] = ref.fisher_vector_product(tuple(layer_sizes), theta, np.asarray(X, dtype=float),
                                         v, activation, output, sample_weight)
    return float(v @ out)


def forward(X, layer_sizes, theta, activation, output, mean, n_threads, out):
    """Fills out (n, K) with eta, or the output family's mean when ``mean``."""
    if HAVE_CORE:
        return _core.nn.forward(X, list(layer_sizes), theta, activation, output, bool(mean),
                                int(n_threads), out)
    _, _, eta = ref.forward(tuple(layer_sizes), theta, np.asarray(X, dtype=float), activation)
    out[...] = ref.mean(output, eta) if mean else eta
