"""Pure NumPy reference of the multilayer perceptron's kernels: the oracle of the parity
tests and the readable definition of each formula.

Written for clarity, not speed: it holds n x width activations and n x K x p Jacobians.

The network
-----------
``layer_sizes = (d, h_1, ..., h_{L-1}, K)``; layer l (1..L) has weights W_l of shape
(fan_in, fan_out) and bias b_l (fan_out,)::

    a_0 = x,   z_l = a_{l-1} W_l + b_l,   a_l = phi(z_l) (l < L),   eta = z_L

``phi`` is the activation ("relu", "tanh", "logistic", "identity"); eta (K,) is the
linear predictor of the output family, whose negative log-likelihood of a row is the sum
over its outputs (for "multinomial", the one softmax over the K classes):

=============  ======================================  =======================
output         -log p(y | eta) of one row             r = d(-log p)/d eta
=============  ======================================  =======================
multinomial    logsumexp(eta) - eta_y  (y in 0..K-1)   softmax(eta) - e_y
logistic       sum_k log(1 + e^eta_k) - y_k eta_k      sigmoid(eta) - y
gaussian       sum_k (y_k - eta_k)^2/2 + log(2 pi)/2   eta - y
poisson        sum_k e^eta_k - y_k eta_k + log y_k!    e^eta - y
=============  ======================================  =======================

Every link is canonical: the Hessian of -log p in eta is the output Fisher Lambda
(diag(mu) - mu mu^T, diag(mu (1 - mu)), I, diag(e^eta)), and the network's Fisher is its
generalized Gauss-Newton matrix F = sum_i s_i J_i^T Lambda_i J_i / sum_i s_i, J_i = d eta_i /
d theta (K x p). Sample weights s turn every mean into a weighted one.

Parameters in one flat vector ``theta``: W_1.ravel() (row-major), b_1, W_2.ravel(), b_2, ...
Layer l's block is the row-major (fan_in + 1, fan_out) matrix [W_l; b_l], so a network with
no hidden layer has the GLM's order (coef, then intercept).

K-FAC (Martens & Grosse 2015): the Fisher's block of layer l is approximated by A_l kron G_l,
A_l = mean a~ a~^T over rows (a~ = [a_{l-1}, 1]), G_l = mean g g^T with g the derivative of
q^T eta with respect to z_l for the output vectors q of each row:

* ``"true"``: the K columns q_k of a square root of Lambda (Lambda = sum_k q_k q_k^T), so
  that sum_k g_k g_k^T is the exact expectation over the model's outputs;
* ``"empirical"``: q = r at the observed labels;
* ``"mc"``: q = r at labels drawn from the model (``n_mc_samples`` per row, averaged).
"""

from __future__ import annotations

import math

import numpy as np

from .._reference import LOG_2PI, _special, log_softmax, sample_labels, uniforms

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
OUTPUTS = ("multinomial", "logistic", "gaussian", "poisson")


# --------------------------------------------------------------------------- layout
def shapes(layer_sizes):
    """[(fan_in, fan_out)] of each layer."""
    return list(zip(layer_sizes[:-1], layer_sizes[1:]))


def n_params(layer_sizes):
    return sum((i + 1) * o for i, o in shapes(layer_sizes))


def unflatten(layer_sizes, theta):
    """[(W, b)] views of the flat vector theta."""
    params, at = [], 0
    for i, o in shapes(layer_sizes):
        block = theta[at: at + (i + 1) * o].reshape(i + 1, o)
        params.append((block[:i], block[i]))
        at += (i + 1) * o
    return params


def flatten(params):
    return np.concatenate([np.concatenate([np.ravel(W), np.ravel(b)]) for W, b in params])


# --------------------------------------------------------------------------- activations
def activate(activation, z):
    if activation == "relu":
        return np.maximum(z, 0.0)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "logistic":
        return _special().expit(z)
    return z


def activation_derivative(activation, z, a):
    """phi'(z), given z and a = phi(z)."""
    if activation == "relu":
        return (z > 0).astype(float)
    if activation == "tanh":
        return 1.0 - a * a
    if activation == "logistic":
        return a * (1.0 - a)
    return np.ones_like(z)


# --------------------------------------------------------------------------- passes
def forward(layer_sizes, theta, X, activation):
    """(inputs, pre, eta): a_0..a_{L-1}, z_1..z_{L-1} (the hidden pre-activations) and eta."""
    inputs, pre = [np.asarray(X, dtype=float)], []
    params = unflatten(layer_sizes, theta)
    for W, b in params[:-1]:
        z = inputs[-1] @ W + b
        pre.append(z)
        inputs.append(activate(activation, z))
    W, b = params[-1]
    return inputs, pre, inputs[-1] @ W + b


def backward(layer_sizes, theta, inputs, pre, delta, activation):
    """[d(q . eta)/d z_l for l = 1..L] given delta = q, shape (..., n, K): the output
    vectors back-propagated to every layer's pre-activation (leading axes are batches of
    vectors)."""
    params = unflatten(layer_sizes, theta)
    out = [None] * len(params)
    g = delta
    for l in range(len(params) - 1, -1, -1):
        out[l] = g
        if l > 0:
            g = (g @ params[l][0].T) * activation_derivative(activation, pre[l - 1], inputs[l])
    return out


def layer_gradients(inputs, gs):
    """Per-row gradients of q . eta: (..., n, p) from the back-propagated vectors."""
    blocks = []
    for a, g in zip(inputs, gs):
        a1 = np.concatenate([a, np.ones(a.shape[:-1] + (1,))], axis=-1)
        a1 = np.broadcast_to(a1, g.shape[:-1] + a1.shape[-1:])
        blocks.append((a1[..., :, None] * g[..., None, :]).reshape(g.shape[:-1] + (-1,)))
    return np.concatenate(blocks, axis=-1)


# --------------------------------------------------------------------------- the output
def as_targets(output, y, K):
    """y as an (n, K) array of the per-output labels (one-hot for multinomial)."""
    y = np.asarray(y, dtype=float)
    if output == "multinomial":
        return np.eye(K)[y.astype(int)]
    return y.reshape(len(y), K)


def row_loss(output, eta, Y):
    """-log p(y_i | eta_i), (n,); Y (n, K) from :func:`as_targets`."""
    if output == "multinomial":
        return -(log_softmax(eta) * Y).sum(axis=1)
    if output == "logistic":
        return (np.logaddexp(0.0, eta) - Y * eta).sum(axis=1)
    if output == "gaussian":
        return (0.5 * (Y - eta) ** 2 + 0.5 * LOG_2PI).sum(axis=1)
    return (np.exp(eta) - Y * eta + _special().gammaln(Y + 1.0)).sum(axis=1)


def mean(output, eta):
    """The output family's mean, (n, K)."""
    if output == "multinomial":
        return np.exp(log_softmax(eta))
    if output == "logistic":
        return _special().expit(eta)
    if output == "gaussian":
        return eta.copy()
    return np.exp(eta)


def residual(output, eta, Y):
    """r = d(-log p)/d eta = mean - Y, (n, K)."""
    return mean(output, eta) - Y


def fisher_sqrt(output, eta):
    """Q (n, K, K) with Lambda_i = sum_k Q[i, k] Q[i, k]^T: sqrt(mu_k) (e_k - mu) for the
    softmax, sqrt(lambda_k) e_k for the diagonal families."""
    n, K = eta.shape
    mu = mean(output, eta)
    if output == "multinomial":
        return np.sqrt(mu)[:, :, None] * (np.eye(K)[None] - mu[:, None, :])
    w = {"logistic": mu * (1.0 - mu), "gaussian": np.ones_like(eta), "poisson": mu}[output]
    return np.sqrt(w)[:, :, None] * np.eye(K)[None]


#: Uniforms drawn per output and sample (the GLM sampler's): output k of a row uses the
#: draws k * DRAWS .. (k + 1) * DRAWS - 1 of its stream.
DRAWS = {"multinomial": 2, "logistic": 2, "gaussian": 2, "poisson": 2000}


def sample_targets(output, eta, n_samples, seed):
    """(n_samples, n, K) targets drawn from the model at eta, as the core draws them: with
    K = 1 (or the softmax) exactly the GLM's ``sample_labels``; output k of a row takes its
    uniforms from the draws k * DRAWS.. of the row's stream."""
    n, K = eta.shape
    if output == "multinomial":
        labels = sample_labels(eta, np.eye(K).ravel(), "multinomial", n_samples, seed)
        return np.eye(K)[labels.T.astype(int)]
    model = {"logistic": "logistic", "gaussian": "gaussian", "poisson": "poisson"}[output]
    out = np.empty((n_samples, n, K))
    D = DRAWS[output]
    if output == "poisson":
        for k in range(K):
            out[:, :, k] = _shifted_poisson(eta[:, k], n_samples, seed, k * D).T
        return out
    u = uniforms(seed, n, n_samples, D * K)
    for k in range(K):
        uk = u[:, :, k * D: k * D + 2]
        e = eta[:, k: k + 1]
        if output == "logistic":
            out[:, :, k] = (uk[:, :, 0] < _special().expit(e)).T
        else:
            out[:, :, k] = (e + np.sqrt(-2.0 * np.log1p(-uk[:, :, 0]))
                            * np.cos(2.0 * np.pi * uk[:, :, 1])).T
    return out


def _shifted_poisson(eta, n_samples, seed, offset):
    """Poisson draws of the GLM sampler reading draws offset.. of each row's stream."""
    from .._reference import _poisson_inversion, _poisson_ptrs
    n = len(eta)
    u = uniforms(seed, n, n_samples, offset + 2000)[:, :, offset:]
    out = np.empty((n, n_samples))
    for i in range(n):
        lam = math.exp(eta[i])
        for s in range(n_samples):
            out[i, s] = (_poisson_inversion(lam, u[i, s, 0]) if lam < 12.0
                         else _poisson_ptrs(lam, u[i, s]))
    return out


def output_vectors(output, eta, Y, kind, n_mc_samples=1, seed=0):
    """(m, n, K) output vectors q and their weight c (the curvature is c sum over m of the
    q-terms): the columns of Lambda's square root ("true"), the residual ("empirical") or
    the residuals at sampled targets ("mc", c = 1 / n_mc_samples)."""
    if kind == "true":
        return np.moveaxis(fisher_sqrt(output, eta), 1, 0), 1.0
    if kind == "empirical":
        return residual(output, eta, Y)[None], 1.0
    if kind == "mc":
        return mean(output, eta)[None] - sample_targets(output, eta, n_mc_samples, seed), \
            1.0 / n_mc_samples
    raise ValueError(kind)


# --------------------------------------------------------------------------- public kernels
def _weights(n, sample_weight):
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    return s / s.sum()


def loss(layer_sizes, theta, X, y, activation, output, sample_weight=None):
    """The weighted mean NLL (no penalty)."""
    _, _, eta = forward(layer_sizes, theta, X, activation)
    return float(_weights(len(eta), sample_weight) @ row_loss(output, eta,
                                                             as_targets(output, y, eta.shape[1])))


def grad(layer_sizes, theta, X, y, activation, output, sample_weight=None):
    """Gradient of :func:`loss`, (p,)."""
    inputs, pre, eta = forward(layer_sizes, theta, X, activation)
    r = residual(output, eta, as_targets(output, y, eta.shape[1]))
    gs = backward(layer_sizes, theta, inputs, pre, r, activation)
    return _weights(len(eta), sample_weight) @ layer_gradients(inputs, gs)


def jacobian(layer_sizes, theta, X, activation):
    """J (n, K, p): d eta_ik / d theta."""
    inputs, pre, eta = forward(layer_sizes, theta, X, activation)
    n, K = eta.shape
    eye = np.broadcast_to(np.eye(K)[:, None, :], (K, n, K))
    gs = backward(layer_sizes, theta, inputs, pre, eye, activation)
    return np.moveaxis(layer_gradients(inputs, gs), 0, 1)


def fisher(layer_sizes, theta, X, y, activation, output, kind="true", sample_weight=None,
           n_mc_samples=1, seed=0):
    """The (p, p) Fisher of the mean NLL: "true" the exact J^T Lambda J (the GGN),
    "empirical" / "mc" the mean of r r^T pulled back by J."""
    inputs, pre, eta = forward(layer_sizes, theta, X, activation)
    K = eta.shape[1]
    Y = None if y is None else as_targets(output, y, K)
    q, c = output_vectors(output, eta, Y, kind, n_mc_samples, seed)
    gs = backward(layer_sizes, theta, inputs, pre, q, activation)
    S = layer_gradients(inputs, gs)  # (m, n, p)
    s = _weights(len(eta), sample_weight)
    return c * np.einsum("mip,i,miq->pq", S, s, S)


def kfac_factors(layer_sizes, theta, X, y, activation, output, kind="true", sample_weight=None,
                 n_mc_samples=1, seed=0):
    """([A_l], [G_l]): A_l (fan_in + 1)^2 the mean a~ a~^T, G_l (fan_out)^2 the mean of
    sum over the output vectors of g g^T (times their weight)."""
    inputs, pre, eta = forward(layer_sizes, theta, X, activation)
    K = eta.shape[1]
    Y = None if y is None else as_targets(output, y, K)
    q, c = output_vectors(output, eta, Y, kind, n_mc_samples, seed)
    gs = backward(layer_sizes, theta, inputs, pre, q, activation)
    s = _weights(len(eta), sample_weight)
    As, Gs = [], []
    for a, g in zip(inputs, gs):
        a1 = np.concatenate([a, np.ones((len(a), 1))], axis=1)
        As.append((a1 * s[:, None]).T @ a1)
        Gs.append(c * np.einsum("mia,i,mib->ab", g, s, g))
    return As, Gs


def fisher_vector_product(layer_sizes, theta, X, v, activation, output, sample_weight=None):
    """F v with F the true Fisher (the GGN), through J v, Lambda and J^T: no p x p."""
    J = jacobian(layer_sizes, theta, X, activation)
    _, _, eta = forward(layer_sizes, theta, X, activation)
    Q = fisher_sqrt(output, eta)                          # (n, K, K), rows q_k
    Jv = J @ v                                            # (n, K)
    LJv = np.einsum("ikj,ikl,il->ij", Q, Q, Jv)           # Lambda_i J_i v
    return np.einsum("i,ikp,ik->p", _weights(len(eta), sample_weight), J, LJv)


def predict(layer_sizes, theta, X, activation, output):
    """The output family's mean, (n, K)."""
    return mean(output, forward(layer_sizes, theta, X, activation)[2])


def n_misclassified(layer_sizes, theta, X, y, activation, output):
    """Rows whose most probable class is not their label (multinomial; logistic outputs
    count a row when any output is on the wrong side of 1/2); 0 for regression."""
    _, _, eta = forward(layer_sizes, theta, X, activation)
    if output == "multinomial":
        return int((eta.argmax(axis=1) != np.asarray(y).astype(int)).sum())
    if output == "logistic":
        Y = as_targets(output, y, eta.shape[1])
        return int(((eta > 0) != (Y > 0.5)).any(axis=1).sum())
    return 0
