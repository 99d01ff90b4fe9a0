"""The multilayer perceptron: its architecture, parameters, and the functions of a point.

``MLP`` holds no parameters: ``params`` is a list of ``(W, b)`` per layer (``init`` makes
one), as in optax and kfac-jax, so a network is a function of its parameters and the same
net serves any number of fits. Flat vectors and (p, p) matrices order the parameters
W_1.ravel() (row-major), b_1, W_2.ravel(), b_2, ... (``flatten``): a network without
hidden layers has exactly the GLM's order (coef, then intercept).
"""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from .._config import resolve_threads
from .._validation import as_design, as_float_array, check_choice, resolve_seed
from . import _passes
from ._reference import ACTIVATIONS, OUTPUTS, n_params, shapes

FISHER_KINDS = ("true", "empirical", "mc")
#: Nonzero incoming weights per unit of the sparse initialization (Martens 2010).
SPARSE_INIT_CONNECTIONS = 15

#: What each output family accepts as y, for the error messages.
_LABELS = {"multinomial": "class labels 0 .. n_outputs - 1",
           "logistic": "numbers in [0, 1] for each output (labels, or soft targets)",
           "gaussian": "real numbers",
           "poisson": "counts >= 0"}


class MLP:
    """A fully connected network whose last layer is a GLM.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_inputs, hidden_1, ..., n_outputs)``: at least two entries, each >= 1.
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation (scikit-learn's names).
    output : {"multinomial", "logistic", "gaussian", "poisson"}
        The output family: "multinomial" (n_outputs = K >= 2 classes, y integer labels),
        "logistic" (n_outputs independent Bernoulli outputs, y of shape (n,) or
        (n, n_outputs) in [0, 1]: labels, or soft targets such as grey levels, whose loss
        is the cross-entropy), "gaussian" (unit variance), "poisson" (counts).
        The loss of a row is the negative log-likelihood of all its outputs.

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> net = ngdx.nn.MLP((4, 8, 3), activation="tanh", output="multinomial")
    >>> params = net.init(seed=0)
    >>> [W.shape for W, b in params]
    [(4, 8), (8, 3)]
    >>> X = np.random.default_rng(0).normal(size=(10, 4))
    >>> net.predict(params, X).shape
    (10, 3)
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "relu",
                 output: str = "multinomial"):
        sizes = _as_layer_sizes(layer_sizes)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.output = check_choice(output, "output", OUTPUTS)
        if self.output == "multinomial" and sizes[-1] < 2:
            raise ValueError("output 'multinomial' needs n_outputs = layer_sizes[-1] >= 2 "
                             f"classes, got layer_sizes={sizes}")
        self.layer_sizes = sizes
        self.shapes = shapes(sizes)
        self.n_params = n_params(sizes)

    def __repr__(self):
        return (f"MLP(layer_sizes={self.layer_sizes}, activation={self.activation!r}, "
                f"output={self.output!r})")

    @property
    def n_inputs(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    # ------------------------------------------------------------------ parameters
    def init(self, seed=None, scheme="glorot"):
        """Random parameters.

        ``scheme="glorot"`` (default): W and b uniform in +-sqrt(6 / (fan_in + fan_out))
        (Glorot & Bengio 2010; sqrt(2 / ...) for the logistic activation), as
        scikit-learn's MLP initializes them. ``scheme="sparse"``: Martens's (2010) sparse
        initialization, as Martens & Grosse (2015) train their deep autoencoders with K-FAC:
        each unit gets min(15, fan_in) nonzero incoming weights drawn from N(0, 1), the
        biases are 0. Deep sigmoid networks (the 64-128-32-8-32-128-64 autoencoder) from the
        dense scheme's small weights fall on the plateau where every output predicts its
        mean; the sparse scheme's unit-scale weights start them off it.
        """
        scheme = check_choice(scheme, "scheme", ("glorot", "sparse"))
        rng = np.random.default_rng(resolve_seed(seed))
        params = []
        for fan_in, fan_out in self.shapes:
            if scheme == "sparse":
                W = np.zeros((fan_in, fan_out))
                k = min(SPARSE_INIT_CONNECTIONS, fan_in)
                for j in range(fan_out):
                    W[rng.choice(fan_in, size=k, replace=False), j] = rng.normal(size=k)
                params.append((W, np.zeros(fan_out)))
                continue
            factor = 2.0 if self.activation == "logistic" else 6.0
            bound = np.sqrt(factor / (fan_in + fan_out))
            params.append((rng.uniform(-bound, bound, (fan_in, fan_out)),
                           rng.uniform(-bound, bound, fan_out)))
        return params

    def as_theta(self, params, name="params") -> np.ndarray:
        """params (a list of (W, b), or a flat vector of length n_params) as a new flat
        float64 vector, checked."""
        if isinstance(params, np.ndarray) and params.ndim == 1:
            theta = as_float_array(params, name, 1).copy()
            if theta.size != self.n_params:
                raise ValueError(f"{name} has {theta.size} entries, the network has "
                                 f"{self.n_params} parameters")
            return theta
        if not isinstance(params, (list, tuple)) or len(params) != len(self.shapes):
            raise ValueError(f"{name} must be a list of {len(self.shapes)} (W, b) pairs, one "
                             f"per layer (as net.init() returns), got {type(params).__name__}"
                             + (f" of length {len(params)}" if isinstance(params, (list, tuple))
                                else ""))
        parts = []
        for l, (layer, (fan_in, fan_out)) in enumerate(zip(params, self.shapes), start=1):
            if not isinstance(layer, (list, tuple)) or len(layer) != 2:
                raise ValueError(f"{name}[{l - 1}] must be a pair (W, b)")
            W = as_float_array(layer[0], f"{name}[{l - 1}] W", 2)
            b = as_float_array(layer[1], f"{name}[{l - 1}] b", 1)
            if W.shape != (fan_in, fan_out) or b.shape != (fan_out,):
                raise ValueError(f"layer {l}'s W and b must have shapes {(fan_in, fan_out)} and "
                                 f"{(fan_out,)}, got {W.shape} and {b.shape}")
            parts += [W.ravel(), b]
        return np.concatenate(parts)

    def unflatten(self, theta):
        """[(W, b)] copies from a flat vector."""
        from ._reference import unflatten
        theta = self.as_theta(np.asarray(theta), "vector")
        return [(W.copy(), b.copy()) for W, b in unflatten(self.layer_sizes, theta)]

    # ------------------------------------------------------------------ data
    def as_inputs(self, X):
        X = as_design(X)
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"X has {X.shape[1]} columns but the network has "
                             f"{self.n_inputs} inputs (layer_sizes[0])")
        return X

    def as_targets(self, y, n):
        """y checked against the output family, as the core reads it: (n,) labels for
        multinomial, (n, n_outputs) C-contiguous float64 otherwise."""
        K = self.n_outputs
        arr = as_float_array(y, "y", 2 if np.ndim(y) == 2 else 1)
        if arr.shape[0] != n:
            raise ValueError(f"y has {arr.shape[0]} rows but X has {n}")
        if self.output == "multinomial":
            if arr.ndim != 1:
                raise ValueError(f"y must be 1-D class labels for output 'multinomial', got "
                                 f"shape {arr.shape}")
            bad = (arr != np.round(arr)) | (arr < 0) | (arr >= K)
        else:
            if arr.ndim == 1:
                if K != 1:
                    raise ValueError(f"y must have shape (n, {K}) for a network with {K} "
                                     f"outputs, got shape {arr.shape}")
                arr = arr[:, None]
            elif arr.shape[1] != K:
                raise ValueError(f"y has {arr.shape[1]} columns but the network has {K} "
                                 "outputs")
            bad = {"logistic": ~((arr >= 0) & (arr <= 1)), "poisson": arr < 0,
                   "gaussian": np.zeros(arr.shape, bool)}[self.output]
            if self.output == "poisson":
                bad |= arr != np.round(arr)
        if bad.any():
            i = np.argwhere(bad)[0]
            raise ValueError(f"y must hold {_LABELS[self.output]} for output "
                             f"{self.output!r}, got {arr[tuple(i)]!r} at {tuple(int(j) for j in i)}")
        return np.ascontiguousarray(arr, dtype=np.float64)

    # ------------------------------------------------------------------ functions of params
    def loss(self, params, X, y, *, sample_weight=None, n_threads=None) -> float:
        """The (weighted) mean negative log-likelihood of the output family."""
        return self._pass(params, X, y, sample_weight, n_threads)[0]

    def grad(self, params, X, y, *, sample_weight=None, n_threads=None):
        """The gradient of :meth:`loss`, with the structure of params."""
        theta, g = self._pass(params, X, y, sample_weight, n_threads, want_grad=True)[1:]
        return self._like(params, g)

    def fisher(self, params, X, y=None, kind="true", *, sample_weight=None, n_samples=1,
               seed=None, n_threads=None) -> np.ndarray:
        """The (p, p) Fisher of the mean NLL in flat order: "true" the exact J^T Lambda J
        (the generalized Gauss-Newton matrix; y is not needed), "empirical" the mean
        outer product of the per-row gradients at y, "mc" the same at targets drawn from
        the model (``n_samples`` per row, ``seed``)."""
        kind = check_choice(kind, "kind", FISHER_KINDS)
        if kind == "empirical" and y is None:
            raise ValueError("kind 'empirical' needs y (the observed targets)")
        p = self.n_params
        F = np.empty((p, p))
        self._pass(params, X, y, sample_weight, n_threads, curvature="dense", kind=kind,
                   n_mc_samples=_positive_int(n_samples, "n_samples"),
                   seed=resolve_seed(seed), fisher_out=F)
        return F

    def predict(self, params, X, *, n_threads=None) -> np.ndarray:
        """The output family's mean: (n,) for one output, (n, n_outputs) otherwise."""
        theta = self.as_theta(params)
        X = self.as_inputs(X)
        out = np.empty((X.shape[0], self.n_outputs))
        _passes.forward(X, self.layer_sizes, theta, self.activation, self.output, True,
                        resolve_threads(n_threads), out)
        return out[:, 0] if self.n_outputs == 1 else out

    # ------------------------------------------------------------------ helpers
    def _like(self, params, g):
        if isinstance(params, np.ndarray) and params.ndim == 1:
            return g
        return self.unflatten(g)

    def _pass(self, params, X, y, sample_weight, n_threads, *, want_grad=False,
              curvature="none", kind="true", n_mc_samples=1, seed=0, fisher_out=None):
        from .._validation import check_sample_weight
        theta = self.as_theta(params)
        X = self.as_inputs(X)
        y = None if y is None else self.as_targets(y, X.shape[0])
        sw = check_sample_weight(sample_weight, X.shape[0])
        g = np.empty(self.n_params) if want_grad else None
        loss, _ = _passes.fused_pass(X, y, sw, self.layer_sizes, theta, self.activation,
                                     self.output, curvature, kind, n_mc_samples, seed,
                                     resolve_threads(n_threads), g, None, fisher_out)
        return loss, theta, g


def _as_layer_sizes(layer_sizes):
    try:
        sizes = tuple(layer_sizes)
    except TypeError:
        raise ValueError("layer_sizes must be a sequence of integers (n_inputs, hidden..., "
                         f"n_outputs), got {layer_sizes!r}") from None
    if len(sizes) < 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                 and s >= 1 for s in sizes):
        raise ValueError("layer_sizes must hold at least two integers >= 1 (n_inputs, "
                         f"hidden..., n_outputs), got {layer_sizes!r}")
    if n_params(tuple(int(s) for s in sizes)) > 2**31:
        raise ValueError(f"layer_sizes {sizes} give more than 2**31 parameters")
    return tuple(int(s) for s in sizes)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def flatten(params) -> np.ndarray:
    """The flat parameter vector of a list of (W, b): W_1.ravel(), b_1, W_2.ravel(), ..."""
    if not isinstance(params, (list, tuple)):
        raise ValueError("params must be a list of (W, b) pairs")
    parts = []
    for layer in params:
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise ValueError("params must be a list of (W, b) pairs")
        parts += [np.asarray(layer[0], dtype=float).ravel(), np.asarray(layer[1], dtype=float).ravel()]
    return np.concatenate(parts)


def unflatten(net: MLP, vector) -> list:
    """The list of (W, b) of ``net`` from a flat vector (copies)."""
    return net.unflatten(vector)
