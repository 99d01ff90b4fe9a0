"""The four network problems of bench/compare_nn.py (issue 11), built deterministically.

Every problem has a training set, a held-out test set, a network (layer sizes, hidden
activation, output family) and a penalty: the objective of every method is ngdx's,

    f = mean NLL of the output family + l2 / 2 * sum_l ||W_l||^2     (biases unpenalized)

``make(name, quick)`` returns a dict with X, y, X_test, y_test and the problem's fields.
"""

from __future__ import annotations

import numpy as np

#: name -> the problem. ``budget``: the first-order anchors' epochs (adam, sgd), L-BFGS's
#: iterations, ngdx's second-order iterations (kfac, ngd) and its full-batch Adam's.
#: ``init``: the scheme of ``MLP.init`` every method that takes a start begins from (ngdx's
#: and PyTorch's; scikit-learn always uses its own Glorot start). The autoencoder starts
#: from Martens's sparse initialization, as in Martens & Grosse's K-FAC experiments: from
#: Glorot's small weights K-FAC falls onto the plateau where every pixel is predicted by
#: its mean (objective 27.09, R^2 0) in a few steps and stays there (see the results).
PROBLEMS = {
    "digits": dict(
        source="digits", layer_sizes=(64, 64, 10), activation="tanh", output="multinomial",
        l2=1e-4, budget=dict(epochs=300, lbfgs=500, second_order=200, adam=3000)),
    "digits-autoencoder": dict(
        source="autoencoder", layer_sizes=(64, 128, 32, 8, 32, 128, 64),
        activation="logistic", output="logistic", l2=1e-5, init="sparse",
        budget=dict(epochs=300, lbfgs=1000, second_order=300, adam=5000)),
    "teacher-classification": dict(
        source="teacher", n=100_000, n_test=20_000, layer_sizes=(50, 128, 128, 10),
        activation="relu", output="multinomial", l2=1e-5,
        budget=dict(epochs=50, lbfgs=300, second_order=100, adam=1000)),
    "teacher-regression": dict(
        source="teacher", n=100_000, n_test=20_000, layer_sizes=(20, 64, 64, 1),
        activation="relu", output="gaussian", l2=1e-5,
        budget=dict(epochs=50, lbfgs=300, second_order=100, adam=1000)),
}

#: --quick: the same code paths on 150 rows, hidden layers 8x narrower and a
#: handful of iterations, so that the whole comparison runs in well under a minute even
#: while ngdx.nn runs its NumPy reference passes.
QUICK = dict(n=150, n_test=100, width_divisor=8,
             budget=dict(epochs=2, lbfgs=4, second_order=3, adam=4))


def quick(pb):
    """The --quick version of a problem."""
    sizes = pb["layer_sizes"]
    hidden = tuple(max(2, h // QUICK["width_divisor"]) for h in sizes[1:-1])
    return dict(pb, n=QUICK["n"], n_test=QUICK["n_test"], budget=QUICK["budget"],
                layer_sizes=(sizes[0],) + hidden + (sizes[-1],))


def make(name, quick_mode=False, seed=0):
    """The problem ``name`` with its data: X, y (training), X_test, y_test."""
    pb = quick(PROBLEMS[name]) if quick_mode else dict(PROBLEMS[name])
    pb["name"] = name
    if pb["source"] == "teacher":
        data = teacher_data(pb, seed)
    else:
        data = digits_data(pb, seed)
    pb.update(data)
    return pb


def digits_data(pb, seed):
    """scikit-learn's 8x8 digits, pixels / 16 in [0, 1], a seeded 80/20 split.

    The autoencoder's targets are the pixels themselves (grey levels in [0, 1]): the
    classic cross-entropy of the logistic outputs on grey levels."""
    from sklearn.datasets import load_digits

    X, labels = load_digits(return_X_y=True)
    X = X / 16.0
    order = np.random.default_rng(seed).permutation(len(X))
    n = pb.get("n", None) or int(0.8 * len(X))
    n_test = pb.get("n_test", None) or len(X) - n
    train, test = order[:n], order[n: n + n_test]
    if pb["source"] == "autoencoder":
        Y = X.copy()
        return dict(X=X[train], y=Y[train], X_test=X[test], y_test=Y[test])
    return dict(X=X[train], y=labels[train].astype(float), X_test=X[test],
                y_test=labels[test].astype(float))


def teacher_params(layer_sizes, activation, seed):
    """A random teacher of the student's architecture: W ~ N(0, gain / fan_in) (gain 2
    for relu, He's; 1 otherwise), b ~ N(0, 0.1^2)."""
    rng = np.random.default_rng(seed)
    gain = 2.0 if activation == "relu" else 1.0
    return [(rng.normal(scale=np.sqrt(gain / i), size=(i, o)), rng.normal(scale=0.1, size=o))
            for i, o in zip(layer_sizes[:-1], layer_sizes[1:])]


def teacher_data(pb, seed):
    """X standard normal; the teacher's output eta scaled to standard deviation 3
    (classification: labels drawn from softmax(eta)) or 1 (regression: y = eta + N(0,
    0.3^2), so the best R^2 is about 0.92). Test rows are drawn the same way."""
    import ngdx

    sizes, act = pb["layer_sizes"], pb["activation"]
    teacher_sizes = PROBLEMS[pb["name"]]["layer_sizes"]  # the full-size teacher, always
    teacher_sizes = (sizes[0],) + teacher_sizes[1:-1] + (sizes[-1],)
    params = teacher_params(teacher_sizes, act, seed + 1)
    net = ngdx.nn.MLP(teacher_sizes, activation=act, output="gaussian")  # mean = eta
    rng = np.random.default_rng(seed + 2)
    n, n_test = pb["n"], pb["n_test"]
    X = rng.standard_normal((n + n_test, sizes[0]))
    eta = net.predict(params, X).reshape(n + n_test, -1)
    eta = (eta - eta.mean(axis=0)) / eta.std(axis=0)
    if pb["output"] == "multinomial":
        eta *= 3.0
        prob = np.exp(eta - eta.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        u = rng.random((n + n_test, 1))
        y = np.minimum((u > prob.cumsum(axis=1)).sum(axis=1), sizes[-1] - 1).astype(float)
    else:
        y = eta[:, 0] + 0.3 * rng.standard_normal(n + n_test)
    return dict(X=X[:n], y=y[:n], X_test=X[n:], y_test=y[n:])


def objective(pb, params, X=None, y=None):
    """ngdx's penalized mean NLL of ``params`` (a list of (W, b)) on the training set."""
    net = network(pb)
    X = pb["X"] if X is None else X
    y = pb["y"] if y is None else y
    penalty = 0.5 * pb["l2"] * sum(float(np.sum(W * W)) for W, _ in params)
    return net.loss(params, X, y) + penalty


def start_params(pb):
    """The problem's starting parameters: its network's ``init(seed=0)`` in its scheme."""
    return network(pb).init(seed=0, scheme=pb.get("init", "glorot"))


def network(pb, output=None):
    import ngdx

    return ngdx.nn.MLP(pb["layer_sizes"], activation=pb["activation"],
                       output=output or pb["output"])


def test_score(pb, params, identity_output=False):
    """Test accuracy (classification) or R^2 (regression; variance-weighted over the
    outputs for the autoencoder) of params; ``identity_output`` for a network whose
    outputs are the linear predictor itself (scikit-learn's MLPRegressor)."""
    net = network(pb, "gaussian" if identity_output else None)
    mean = net.predict(params, pb["X_test"])
    y = pb["y_test"]
    if pb["output"] == "multinomial":
        return float((mean.argmax(axis=1) == y).mean())
    mean, y = mean.reshape(len(y), -1), y.reshape(len(y), -1)
    return 1.0 - float(((y - mean) ** 2).sum() / ((y - y.mean(axis=0)) ** 2).sum())
