"""The model registry: names, output counts and label domains of the GLM families."""

from __future__ import annotations

import numpy as np

#: Every model the core implements, in the order the error messages list them.
MODELS = ("logistic", "probit", "poisson", "gaussian", "multinomial")

#: Curvature kinds of ``ngdx.fisher`` (``"hessian"`` has its own function).
FISHER_KINDS = ("true", "empirical", "mc")


def check_model(model) -> str:
    """Return ``model`` if it names a known model, else raise ``ValueError``."""
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    return model


def check_labels(y: np.ndarray, model: str, n_classes: int) -> None:
    """Raise ``ValueError`` when a finite float64 label vector is outside ``model``'s domain."""
    if model in ("logistic", "probit"):
        bad = (y != 0.0) & (y != 1.0)
        if bad.any():
            raise ValueError(
                f"y for model {model!r} must be 0 or 1; got {float(y[bad][0])!r} "
                f"({int(bad.sum())} values outside {{0, 1}})"
            )
    elif model == "poisson":
        if (y < 0).any():
            raise ValueError(
                f"y for model 'poisson' must be non-negative counts; got {float(y[y < 0][0])!r}"
            )
    elif model == "multinomial":
        bad = (y != np.floor(y)) | (y < 0) | (y >= n_classes)
        if bad.any():
            raise ValueError(
                f"y for model 'multinomial' must hold integer labels in 0..{n_classes - 1} "
                f"(theta has {n_classes} columns); got {float(y[bad][0])!r}"
            )
