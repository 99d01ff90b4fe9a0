"""One descriptor per GLM family: everything the rest of ngdx asks about a model.

A :class:`Family` says how many outputs the model has, whether its link is canonical
(observed Hessian = true Fisher), whether it classifies, which labels it accepts and where
the intercept-only model's optimum lies. Every layer asks the descriptor instead of
comparing model names; the compiled core is the only place that dispatches on the name
(it receives ``family.name``). A neural network's output layer and a policy's action
distribution are these same families.

To add a family: one class here (or an instance of an existing one), one entry in
``FAMILIES``, and its kernels in ``cpp/include/ngdx/glm/families.hpp``.
"""

from __future__ import annotations

import math
import numbers
from statistics import NormalDist

import numpy as np

from .. import _core


def softmax(eta: np.ndarray) -> np.ndarray:
    """Row-wise softmax of an (n, K) array, computed from eta - max(eta) (no overflow)."""
    mu = np.exp(eta - eta.max(axis=-1, keepdims=True))
    mu /= mu.sum(axis=-1, keepdims=True)
    return mu


class Family:
    """What ngdx knows about one GLM family (scikit-learn's ``BaseLoss``, glum's
    distribution objects).

    Attributes
    ----------
    name : str
        The name users pass as ``model`` and the core dispatches on.
    canonical : bool
        The link is canonical, so the observed Hessian equals the true Fisher (and
        Fisher-vector products serve Newton's method).
    classifier : bool
        Labels are classes: with ``l2 = 0`` separable classes have no finite optimum.
    zero_counts_unbounded : bool
        Labels are counts whose mean can go to 0: with ``l2 = 0`` rows with y = 0 that a
        direction separates from the others leave no finite optimum (``_models.existence``).
    multi_output : bool
        K >= 2 outputs per row (theta is (d, K)); the outputs are then invariant to a
        common shift (the softmax), which the solver removes.
    labels : str
        The label domain, as error messages say it.
    estimated_dispersion : bool
        The likelihood has a scale the fit does not estimate (the gaussian's noise variance,
        fixed at 1 in its NLL): standard errors multiply the inverse information by the
        Pearson estimate of it (``FitResult.covariance``). False: dispersion 1.
    """

    canonical = True
    classifier = False
    zero_counts_unbounded = False
    multi_output = False
    labels = "reals"
    estimated_dispersion = False

    def __init__(self, name: str, *, estimated_dispersion: bool = False):
        self.name = name
        self.estimated_dispersion = estimated_dispersion

    def __repr__(self) -> str:
        return f"<ngdx family {self.name!r}>"

    def n_classes(self, y: np.ndarray, coef_init=None, n_classes=None) -> int:
        """K, the number of outputs: 1 for one-output families."""
        if n_classes is not None and n_classes != 1:
            raise ValueError(f"n_classes is for model 'multinomial'; model {self.name!r} has "
                             f"one output, got n_classes={n_classes!r}")
        return 1

    def check_labels(self, y: np.ndarray, n_classes: int) -> None:
        """Raise ``ValueError`` when finite float64 labels are outside the domain."""

    def null_intercept(self, y: np.ndarray, s: np.ndarray, n_classes: int):
        """The optimum of the intercept-only model (clipped): the usual GLM start."""
        with np.errstate(over="ignore", invalid="ignore"):
            mean = _core.linalg.dot(s, y) / float(s.sum())  # not s @ y: see _core.linalg.dot
        if not np.isfinite(mean):  # the weighted sum overflowed: the same mean, rescaled
            scale = max(float(np.abs(y).max()), 1.0)
            mean = float(np.average(y / scale, weights=s / s.max())) * scale
        return mean


class Binary(Family):
    """Two classes, 0/1 labels, P(y = 1) = link(eta)."""

    classifier = True
    labels = "0 or 1"

    def __init__(self, name: str, canonical: bool, inverse_link):
        super().__init__(name)
        self.canonical = canonical
        self._inverse_link = inverse_link  # eta at a probability p

    def check_labels(self, y, n_classes):
        bad = (y != 0.0) & (y != 1.0)
        if bad.any():
            raise ValueError(
                f"y for model {self.name!r} must be 0 or 1; got {float(y[bad][0])!r} "
                f"({int(bad.sum())} values outside {{0, 1}})")

    def null_intercept(self, y, s, n_classes):
        """The intercept-only optimum link^-1(mean y), exact (a probit start of
        logit(p) / 1.7 left the intercept stuck under an absurd ridge, l2 >~ 1e15)."""
        p = min(max(super().null_intercept(y, s, n_classes), 1e-10), 1 - 1e-10)
        return self._inverse_link(p)


class Poisson(Family):
    labels = "non-negative counts"
    zero_counts_unbounded = True

    def check_labels(self, y, n_classes):
        if (y < 0).any():
            raise ValueError(
                f"y for model 'poisson' must be non-negative counts; got {float(y[y < 0][0])!r}")

    def null_intercept(self, y, s, n_classes):
        return math.log(max(super().null_intercept(y, s, n_classes), 1e-10))


class Multinomial(Family):
    """K classes, integer labels 0..K-1, class probabilities softmax(eta)."""

    classifier = True
    multi_output = True
    labels = "integer labels 0..K-1"

    def check_integer_labels(self, y):
        """Raise ``ValueError`` unless the labels are integers >= 0."""
        if y.size and (not np.all(y == np.floor(y)) or y.min() < 0):
            bad = y[(y != np.floor(y)) | (y < 0)][0]
            raise ValueError("y for model 'multinomial' must hold integer labels 0..K-1; got "
                             f"{float(bad)!r} (the scikit-learn estimator NGDClassifier encodes "
                             "labels of any type)")

    def n_classes(self, y, coef_init=None, n_classes=None, distinct=False):
        """K: ``n_classes`` when given, else the columns of coef_init, else max(y) + 1 with
        every class 0..K-1 present in y (checked before anything of size K is allocated).
        Labels must be integers >= 0 below K. ``distinct``: y holds the sorted distinct
        labels of the rows (of a Dask array), not one per row."""
        self.check_integer_labels(y)
        top = float(y.max())
        if n_classes is not None:
            if (isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral)
                    or n_classes < 2):
                raise ValueError(f"n_classes must be an integer >= 2 or None, got {n_classes!r}")
            if top >= n_classes:
                raise ValueError(f"y has the label {top:g} but n_classes={n_classes}: labels "
                                 f"must be in 0..{n_classes - 1}")
            return int(n_classes)
        if coef_init is not None and np.ndim(coef_init) == 2:
            return int(np.shape(coef_init)[1])
        if top + 1 < 2:
            raise ValueError("model 'multinomial' needs at least 2 classes; y has labels 0..0")
        if distinct:
            missing = np.setdiff1d(np.arange(int(top) + 1), y.astype(np.intp))
            return self._all_present(int(top) + 1, missing)
        if top >= len(y):  # some class 0..top has no row: decided before any bincount
            raise ValueError(
                f"y has the label {top:g} but only {len(y)} rows, so some of the classes "
                f"0..{top:g} have no row; labels must be 0..K-1 with every class present. "
                "Relabel them (NGDClassifier encodes any labels) or pass n_classes=K "
                "to fit classes that have no rows")
        K = int(top) + 1
        return self._all_present(K, np.flatnonzero(np.bincount(y.astype(np.intp), minlength=K) == 0))

    def _all_present(self, K, missing):
        """K, or ``ValueError`` naming the classes 0..K-1 that have no row."""
        if missing.size:
            shown = ", ".join(str(c) for c in missing[:10]) + (", ..." if missing.size > 10 else "")
            raise ValueError(
                f"y has labels 0..{K - 1} but the classes {shown} have no row; labels must be "
                "0..K-1 with every class present. Relabel them (NGDClassifier encodes any "
                f"labels) or pass n_classes={K} to fit classes that have no rows")
        return K

    def check_labels(self, y, n_classes):
        bad = (y != np.floor(y)) | (y < 0) | (y >= n_classes)
        if bad.any():
            raise ValueError(
                f"y for model 'multinomial' must hold integer labels in 0..{n_classes - 1} "
                f"(theta has {n_classes} columns); got {float(y[bad][0])!r}")

    def null_intercept(self, y, s, n_classes):
        freq = np.bincount(y.astype(int), weights=s, minlength=n_classes) / s.sum()
        logf = np.log(np.clip(freq, 1e-10, None))
        return logf - logf.mean()


#: Every family the core implements, by name, in the order error messages list them.
FAMILIES = {f.name: f for f in (
    Binary("logistic", canonical=True, inverse_link=lambda p: math.log(p / (1 - p))),
    Binary("probit", canonical=False, inverse_link=NormalDist().inv_cdf),
    Poisson("poisson"),
    Family("gaussian", estimated_dispersion=True),
    Multinomial("multinomial"),
)}

#: The model names, for ``model=`` arguments and ``ngdx.MODELS``.
MODELS = tuple(FAMILIES)

#: Curvature kinds of ``ngdx.fisher`` (``"hessian"`` has its own function).
FISHER_KINDS = ("true", "empirical", "mc")


def get_family(model) -> Family:
    """The descriptor of ``model``, a name in ``MODELS`` (or a descriptor), else
    ``ValueError`` listing the valid names."""
    if isinstance(model, Family):
        return model
    if not isinstance(model, str) or model not in FAMILIES:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    return FAMILIES[model]


def check_model(model) -> str:
    """Return ``model`` if it names a known model, else raise ``ValueError``."""
    return get_family(model).name


def check_labels(y: np.ndarray, model: str, n_classes: int) -> None:
    """Raise ``ValueError`` when a finite float64 label vector is outside ``model``'s domain."""
    get_family(model).check_labels(y, n_classes)
