"""The fits bench/compare_nn.py times, one per child process: ngdx.nn (kfac, ngd, adam),
scikit-learn's MLPClassifier/MLPRegressor (adam, sgd, lbfgs) and PyTorch (Adam, L-BFGS).

Each solver is ``run(pb, lr, threads, trace) -> (params, info)``: params the final list of
(W, b) in ngdx's layout (W of shape (fan_in, fan_out)), info a dict of facts for the
table. Along the way it records into ``trace`` the passes over the training data and
either the full-batch objective (when the solver computes exactly ngdx's objective) or a
snapshot of the parameters, whose objective the child computes after the clock stops.
"""

from __future__ import annotations

import math
import time

import numpy as np

from _nn_problems import network, start_params


class Trace:
    """(seconds, passes, objective or None, snapshot index or None) along one fit. The
    clock does not run while a point is recorded; snapshots go to a file, so they do
    not count in the process's peak memory."""

    def __init__(self, snapshot_path):
        self.points = []
        self.path = snapshot_path
        self._fh = open(snapshot_path, "wb")
        self.n_snapshots = 0
        self._t0 = self._paused = 0.0

    def start(self):
        self._t0, self._paused = time.perf_counter(), 0.0

    def elapsed(self):
        return time.perf_counter() - self._t0 - self._paused

    def record(self, passes, value=None, params=None):
        now = time.perf_counter()
        index = None
        if params is not None:
            flat = np.concatenate([np.ravel(a) for W, b in params for a in (W, b)])
            flat.astype(np.float64).tofile(self._fh)
            index, self.n_snapshots = self.n_snapshots, self.n_snapshots + 1
        self.points.append([now - self._t0 - self._paused, int(passes), value, index])
        self._paused += time.perf_counter() - now

    def close(self):
        self._fh.close()

    def snapshots(self, net):
        """The recorded parameters, as lists of (W, b)."""
        self.close()
        flat = np.fromfile(self.path).reshape(self.n_snapshots, -1)
        return [net.unflatten(row) for row in flat]


# ------------------------------------------------------------------ ngdx
def ngdx_fit(method):
    def run(pb, lr, threads, trace):
        import ngdx

        budget = pb["budget"]["adam" if method == "adam" else "second_order"]
        res = ngdx.nn.fit(network(pb), pb["X"], pb["y"], method, l2=pb["l2"], lr=lr,
                          params_init=start_params(pb), max_iter=budget, tol=1e-10, seed=0,
                          n_threads=threads)
        h = res.history  # ngdx's own objective, clock and passes at every iteration
        trace.points = [[float(t), int(p), float(f), None] for t, p, f in
                        zip(h["time"], np.cumsum(h["passes"]), h["objective"])]
        return res.params, dict(n_iter=res.n_iter, message=res.message)
    return run


# ------------------------------------------------------------------ scikit-learn
BATCH = 200  # scikit-learn's batch_size="auto" (min(200, n)), also PyTorch Adam's


def _traced(base):
    """``base`` (MLPClassifier or MLPRegressor) recording into ``self.trace_``: every
    L-BFGS function evaluation (one pass; its loss plus ``offset_`` is ngdx's objective),
    and the parameters at the end of every epoch of adam and sgd."""
    class Traced(base):
        def _loss_grad_lbfgs(self, *args, **kwargs):
            loss, grad = super()._loss_grad_lbfgs(*args, **kwargs)
            self.passes_ += 1
            self.trace_.record(self.passes_, None if self.offset_ is None
                               else float(loss) + self.offset_)
            return loss, grad

        def _update_no_improvement_count(self, *args, **kwargs):
            self.trace_.record(self.n_iter_, params=list(zip(self.coefs_, self.intercepts_)))
            return super()._update_no_improvement_count(*args, **kwargs)

    Traced.__name__ = f"Traced{base.__name__}"
    return Traced


def sklearn_fit(solver):
    def run(pb, lr, threads, trace):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        classifier = pb["output"] == "multinomial"
        n, budget = len(pb["X"]), pb["budget"]
        # scikit-learn's penalty is alpha / (2 * rows of the batch) * sum ||W||^2, per
        # batch: alpha = l2 * rows gives ngdx's l2 / 2 * sum ||W||^2 in every batch.
        rows = n if solver == "lbfgs" else min(BATCH, n)
        kw = dict(hidden_layer_sizes=pb["layer_sizes"][1:-1], activation=pb["activation"],
                  solver=solver, alpha=pb["l2"] * rows, tol=0.0, random_state=0)
        if solver == "lbfgs":
            kw.update(max_iter=budget["lbfgs"], max_fun=10**7)
        else:
            kw.update(learning_rate_init=lr, max_iter=budget["epochs"],
                      n_iter_no_change=budget["epochs"] + 1)
        est = _traced(MLPClassifier if classifier else MLPRegressor)(**kw)
        # Its loss is ngdx's objective for the classifier; the mean squared error / 2 for
        # the regressor, ngdx's Gaussian NLL less log(2 pi) / 2 with one output; another
        # objective (squared error on identity outputs) for the autoencoder.
        est.offset_ = {"multinomial": 0.0, "gaussian": 0.5 * math.log(2 * math.pi),
                       "logistic": None}[pb["output"]]
        est.trace_, est.passes_ = trace, 0
        est.fit(pb["X"], pb["y"])
        if classifier and len(est.classes_) != pb["layer_sizes"][-1]:
            raise RuntimeError(f"the training set has {len(est.classes_)} of the "
                               f"{pb['layer_sizes'][-1]} classes")
        return list(zip(est.coefs_, est.intercepts_)), dict(
            n_iter=int(est.n_iter_), identity_output=pb["output"] == "logistic")
    return run


# ------------------------------------------------------------------ PyTorch
def torch_fit(optimizer):
    def run(pb, lr, threads, trace):
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        l2, K, budget = pb["l2"], pb["layer_sizes"][-1], pb["budget"]
        layers = []
        for W, b in start_params(pb):  # ngdx's start, float64 like ngdx
            layer = torch.nn.Linear(*W.shape, dtype=torch.float64)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(W.T))
                layer.bias.copy_(torch.from_numpy(b))
            layers.append(layer)
        act = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid,
               "identity": lambda z: z}[pb["activation"]]

        def eta(X):
            for layer in layers[:-1]:
                X = act(layer(X))
            return layers[-1](X)

        nll = {"multinomial": lambda e, y: F.cross_entropy(e, y),
               "logistic": lambda e, y: F.binary_cross_entropy_with_logits(
                   e, y, reduction="none").sum(1).mean(),
               "gaussian": lambda e, y: 0.5 * ((e - y) ** 2).sum(1).mean()
               + 0.5 * K * math.log(2 * math.pi)}[pb["output"]]

        def objective(X, Y):  # ngdx's, exactly
            return nll(eta(X), Y) + 0.5 * l2 * sum((layer.weight ** 2).sum() for layer in layers)

        def params():
            return [(layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy())
                    for layer in layers]

        X = torch.from_numpy(pb["X"])
        Y = torch.from_numpy(pb["y"])
        Y = Y.long() if pb["output"] == "multinomial" else Y.reshape(len(Y), -1)
        weights = [p for layer in layers for p in layer.parameters()]
        if optimizer == "lbfgs":
            opt = torch.optim.LBFGS(weights, lr=1, max_iter=budget["lbfgs"],
                                    max_eval=2 * budget["lbfgs"], tolerance_grad=0.0,
                                    tolerance_change=0.0, line_search_fn="strong_wolfe")
            passes = [0]

            def closure():
                opt.zero_grad()
                loss = objective(X, Y)
                loss.backward()
                passes[0] += 1
                trace.record(passes[0], float(loss))
                return loss
            opt.step(closure)
            return params(), dict(n_iter=int(opt.state[weights[0]].get("n_iter", 0)))
        opt = torch.optim.Adam(weights, lr=lr)
        gen = torch.Generator().manual_seed(0)
        n = len(X)
        for epoch in range(budget["epochs"]):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, BATCH):
                rows = order[start: start + BATCH]
                opt.zero_grad()
                objective(X[rows], Y[rows]).backward()
                opt.step()
            trace.record(epoch + 1, params=params())
        return params(), dict(n_iter=budget["epochs"])
    return run


#: method name -> (solver, the learning rates tried (None: the solver has none), whether
#: it is an anchor L* is taken from, whether it needs PyTorch).
METHODS = {
    "sklearn adam": (sklearn_fit("adam"), (1e-3, 3e-3, 1e-2), True),
    "sklearn sgd": (sklearn_fit("sgd"), (1e-2, 3e-2, 1e-1), True),
    "sklearn lbfgs": (sklearn_fit("lbfgs"), (None,), True),
    "torch adam": (torch_fit("adam"), (1e-3, 3e-3, 1e-2), True),
    "torch lbfgs": (torch_fit("lbfgs"), (None,), True),
    "ngdx kfac": (ngdx_fit("kfac"), (None,), False),
    "ngdx ngd": (ngdx_fit("ngd"), (None,), False),
    "ngdx adam": (ngdx_fit("adam"), (1e-3, 1e-2, 3e-2), False),
}
