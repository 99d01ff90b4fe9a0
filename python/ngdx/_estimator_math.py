"""What the estimators compute from a fitted GLM beyond ``FitResult``: log class
probabilities from the linear predictor, and the regressors' deviance (their ``score``)."""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, xlogy  # scipy is a dependency of scikit-learn

#: log P(y = 1 | eta) of the two-class models; log P(y = 0 | eta) is the same at -eta.
_LOG_MEAN = {"logistic": lambda eta: -np.logaddexp(0.0, -eta), "probit": log_ndtr}


def log_probabilities(model, eta):
    """Log class probabilities (n, K) from eta (n,) of a two-class model or (n, K) of the
    multinomial: accurate where a probability is near 1 and finite where it underflows."""
    if eta.ndim == 1:
        log_mu = _LOG_MEAN[model]
        return np.column_stack([log_mu(-eta), log_mu(eta)])
    z = eta - eta.max(axis=1, keepdims=True)
    others = np.exp(z)
    others[np.arange(len(z)), z.argmax(axis=1)] = 0.0  # exp(0) of the top class
    return z - np.log1p(others.sum(axis=1, keepdims=True))


def mean_deviance(model, y, mu, sample_weight):
    """The mean unit deviance of the regressor's family: squared error (gaussian), or
    2 (y log(y / mu) - y + mu) (poisson, 0 log 0 = 0; infinite where mu = 0 < y)."""
    if model == "gaussian":
        unit = (y - mu) ** 2
    else:
        with np.errstate(divide="ignore"):
            unit = 2.0 * (xlogy(y, y) - xlogy(y, mu) - y + mu)
    return float(np.average(unit, weights=sample_weight))
