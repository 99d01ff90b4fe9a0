"""ngdx: natural gradient descent for probabilistic models, with a C++/Eigen core.

Glossary (the same words in C++, Python, docs and tests):

``eta``
    the linear predictor, X @ theta.
``mu``
    the model's mean (a probability, a rate, a mean, or a row of class probabilities).
``score``
    grad_theta log p(y | x, theta) of one sample.
``fisher``
    a Fisher information matrix of the *mean* log-likelihood: ``"true"`` (expected),
    ``"empirical"`` (mean of score outer products) or ``"mc"`` (Monte Carlo).
``hessian``
    the Hessian of the mean negative log-likelihood.
``damping``
    lambda in (F + lambda I) x = g.
``n_threads``
    threads of one compiled call; :func:`set_num_threads` sets the default.
"""

from ._fit import fit
from ._functional import fisher, grad, hessian, kl, loss, scores
from ._linalg import fisher_from_scores, natural_gradient
from ._models import MODELS
from ._result import ConvergenceWarning, FitResult
from ._threads import get_num_threads, set_num_threads
from . import plot

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "FitResult",
    "MODELS",
    "fisher",
    "fisher_from_scores",
    "fit",
    "get_num_threads",
    "grad",
    "hessian",
    "kl",
    "loss",
    "natural_gradient",
    "scores",
    "set_num_threads",
]
