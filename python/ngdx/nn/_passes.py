"""The passes of an MLP over its rows: the compiled core's ``_core.nn`` functions, called
with their arguments in the core's types (layer sizes as a list, counts as ints).

``_reference.py`` is their NumPy specification; ``tests/nn/test_core_parity.py`` checks
the core against it.
"""

from __future__ import annotations

from .. import _core


def fused_pass(X, y, sample_weight, layer_sizes, theta, activation, output, curvature, kind,
               n_mc_samples, seed, n_threads, grad_out, factors_out, fisher_out):
    """(weighted mean NLL, misclassified rows); fills grad_out, the K-FAC factors
    [A_1, G_1, ...] (curvature "kfac") or the exact Fisher (curvature "dense")."""
    return _core.nn.fused_pass(X, y, sample_weight, list(layer_sizes), theta, activation,
                               output, curvature, kind, int(n_mc_samples), int(seed),
                               int(n_threads), grad_out, factors_out, fisher_out)


def fisher_vector_product(X, sample_weight, layer_sizes, theta, activation, output, v,
                          n_threads, out):
    """Fills out = F v (F the true Fisher of the mean NLL); returns v^T F v."""
    return _core.nn.fisher_vector_product(X, sample_weight, list(layer_sizes), theta,
                                          activation, output, v, int(n_threads), out)


def forward(X, layer_sizes, theta, activation, output, mean, n_threads, out):
    """Fills out (n, K) with eta, or the output family's mean when ``mean``."""
    _core.nn.forward(X, list(layer_sizes), theta, activation, output, bool(mean),
                     int(n_threads), out)
