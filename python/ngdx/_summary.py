"""The coefficient table of ``FitResult.summary``: estimates, standard errors, z, P>|z| and
confidence intervals, printable and convertible to a pandas DataFrame."""

from __future__ import annotations

import math
import numbers
from statistics import NormalDist

from typing import TYPE_CHECKING, Sequence

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import pandas

COLUMNS = ("coef", "std err", "z", "P>|z|")


class Summary:
    """The Wald table of a fit: one row per parameter, in ``theta.ravel()`` order.

    Attributes
    ----------
    names : list of str
        Row labels: the feature names (``x0``, ``x1``, ... by default), then
        ``intercept``; for a multi-output model ``name[class]`` for every class.
    coef, std_err, z, p_value, ci_lower, ci_upper : ndarray, shape (p,)
        The estimate, its standard error, z = coef / std_err, the two-sided p-value
        P(|Z| > |z|) = erfc(|z| / sqrt 2) and the (1 - alpha) normal confidence interval
        coef -/+ q std_err, q the 1 - alpha / 2 quantile of the standard normal.
    kind : str
        The covariance kind (``FitResult.covariance``).
    alpha : float
    model : str
    """

    def __init__(self, names: Sequence[str], coef: ArrayLike, std_err: ArrayLike, *,
                 kind: str, alpha: float, model: str) -> None:
        self.names = list(names)
        self.coef = np.asarray(coef, dtype=float)
        self.std_err = np.asarray(std_err, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.z = self.coef / self.std_err
        self.p_value = np.array([math.erfc(abs(z) / math.sqrt(2.0)) if np.isfinite(z)
                                 else float("nan") for z in self.z])
        q = NormalDist().inv_cdf(1.0 - alpha / 2.0)
        self.ci_lower = self.coef - q * self.std_err
        self.ci_upper = self.coef + q * self.std_err
        self.kind, self.alpha, self.model = kind, alpha, model

    def _ci_labels(self):
        return f"[{self.alpha / 2:g}", f"{1 - self.alpha / 2:g}]"

    def to_frame(self) -> pandas.DataFrame:
        """The table as a pandas DataFrame indexed by ``names``, with columns ``coef``,
        ``std err``, ``z``, ``P>|z|`` and the interval's bounds (``[0.025``, ``0.975]``
        at alpha = 0.05, as statsmodels labels them)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Summary.to_frame() needs pandas, which is not installed: "
                              "pip install pandas (or print the summary, or read its "
                              "arrays: coef, std_err, z, p_value, ci_lower, ci_upper)") from None
        lo, hi = self._ci_labels()
        return pd.DataFrame({"coef": self.coef, "std err": self.std_err, "z": self.z,
                             "P>|z|": self.p_value, lo: self.ci_lower, hi: self.ci_upper},
                            index=pd.Index(self.names))

    def __str__(self):
        lo, hi = self._ci_labels()
        head = COLUMNS + (lo, hi)
        width = max([9] + [len(n) for n in self.names])
        cells = [[f"{v:.4f}" for v in row] for row in zip(
            self.coef, self.std_err, self.z, self.p_value, self.ci_lower, self.ci_upper)]
        cw = max([10] + [len(c) + 1 for row in cells for c in row])
        lines = [f"ngdx {self.model} fit, covariance {self.kind!r}",
                 " " * width + "".join(h.rjust(cw) for h in head)]
        lines += [name.ljust(width) + "".join(c.rjust(cw) for c in row)
                  for name, row in zip(self.names, cells)]
        rule = "=" * len(lines[1])
        return "\n".join([rule, lines[0], rule.replace("=", "-"), *lines[1:], rule])

    __repr__ = __str__


def parameter_names(d, fit_intercept, n_classes, multi_output, feature_names=None,
                    class_names=None):
    """Row labels in theta.ravel() order (checked lengths)."""
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(d)]
    feature_names = [str(n) for n in feature_names]
    if len(feature_names) != d:
        raise ValueError(f"feature_names must have one name per column of X ({d}), got "
                         f"{len(feature_names)}")
    rows = feature_names + (["intercept"] if fit_intercept else [])
    if not multi_output:
        return rows
    if class_names is None:
        class_names = range(n_classes)
    class_names = [str(c) for c in class_names]
    if len(class_names) != n_classes:
        raise ValueError(f"class_names must have one name per class ({n_classes}), got "
                         f"{len(class_names)}")
    return [f"{r}[{c}]" for r in rows for c in class_names]


def check_alpha(alpha):
    """alpha in (0, 1), else a ValueError naming it."""
    real = isinstance(alpha, numbers.Real) and not isinstance(alpha, (bool, np.bool_))
    a = float(alpha) if real else float("nan")
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be a number in (0, 1) (0.05 for 95% intervals), got "
                         f"{alpha!r}")
    return a
