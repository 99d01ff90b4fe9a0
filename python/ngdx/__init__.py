"""ngdx: natural gradient descent for probabilistic models, with a C++/Eigen core.

Glossary (the same words in C++, Python, docs and tests):

``eta``
    the linear predictor, X @ theta (plus the intercept); never a step size.
``lr``
    the step size (alpha in formulas): theta <- theta - alpha (M + lambda I)^-1 grad.
``theta``
    the parameters: (d,), or (d, K) for a multi-output model, in the functional API; inside
    a fit, the flat vector of the (d + fit_intercept, K) matrix whose last row is the
    intercept (``FitResult`` splits it into ``coef`` and ``intercept``).
``mu``
    the model's mean (a probability, a rate, a mean, or a row of class probabilities).
``score``
    grad_theta log p(y | x, theta) of one sample.
``fisher``
    a Fisher information matrix of the *mean* log-likelihood: ``"true"`` (expected),
    ``"empirical"`` (mean of score outer products) or ``"mc"`` (Monte Carlo).
``hessian``
    the Hessian of the mean negative log-likelihood.
curvature kind
    which curvature a pass computes: ``"true"``, ``"empirical"``, ``"mc"`` (the Fisher
    kinds) or ``"hessian"``. The functional API calls it ``kind``; ``ngdx.fit`` takes the
    Fisher kind as ``fisher=`` and the Hessian as ``method="newton"``.
``n_mc_samples``
    Monte Carlo labels drawn per row for the ``"mc"`` Fisher.
``objective``
    what a fit minimizes: the mean NLL plus the penalty (``history["objective"]``), while
    ``ngdx.loss`` is the mean NLL alone.
``damping``
    lambda in (F + lambda I) x = g.
``n_threads``
    threads of one compiled call; :func:`set_num_threads` sets the default.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._fit import fit
from ._functional import fisher, grad, hessian, kl, loss, scores, value_grad_curvature
from ._linalg import fisher_from_scores, natural_gradient
from ._models import MODELS
from ._result import FitResult
from ._summary import Summary
from ._validation import PerformanceWarning
from ._config import get_num_threads, set_num_threads
from . import bayes, nn, plot, rl

if TYPE_CHECKING:  # resolved on first use by __getattr__ below; named here for type checkers
    from ._estimators import NGDClassifier, NGDRegressor
    from ._nn_estimators import NGDMLPClassifier, NGDMLPRegressor
    from ._result import _NgdxConvergenceWarning as ConvergenceWarning

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "FitResult",
    "MODELS",
    "NGDClassifier",
    "NGDMLPClassifier",
    "NGDMLPRegressor",
    "NGDRegressor",
    "PerformanceWarning",
    "Summary",
    "bayes",
    "fisher",
    "fisher_from_scores",
    "fit",
    "get_num_threads",
    "grad",
    "hessian",
    "kl",
    "loss",
    "natural_gradient",
    "nn",
    "rl",
    "scores",
    "set_num_threads",
    "value_grad_curvature",
]


#: The estimators, by the private module that defines them (they need scikit-learn).
_ESTIMATORS = {"NGDClassifier": "._estimators", "NGDRegressor": "._estimators",
               "NGDMLPClassifier": "._nn_estimators", "NGDMLPRegressor": "._nn_estimators"}


def __dir__() -> list[str]:
    # The names __getattr__ resolves on first use are public too.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    # Names that may need scikit-learn, resolved on first use so that `import ngdx` is fast
    # and works without it: the warning class (scikit-learn's when installed) ...
    if name == "ConvergenceWarning":
        from ._result import convergence_warning

        return convergence_warning()
    # ... and the estimators, which need it.
    module = _ESTIMATORS.get(name)
    if module is not None:
        try:
            estimators = importlib.import_module(module, __name__)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"ngdx.{name} needs scikit-learn >= 1.6: pip install \"ngdx[sklearn]\""
            ) from exc
        return getattr(estimators, name)
    raise AttributeError(f"module 'ngdx' has no attribute {name!r}")
