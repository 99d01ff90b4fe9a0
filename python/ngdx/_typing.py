"""Type aliases of the public signatures: the string choices of the arguments.

Each alias lists the values its argument accepts; tests check them against the registries
they mirror (``MODELS``, the methods, the step rules, ...).
"""

from __future__ import annotations

from typing import Literal

#: A GLM family: ``ngdx.MODELS``.
Model = Literal["logistic", "probit", "poisson", "gaussian", "multinomial"]
#: The optimizer of ``ngdx.fit``.
Method = Literal["gd", "ngd", "diag", "newton", "kfac"]
#: The Fisher information of ``ngdx.fit`` and ``ngdx.fisher``.
FisherKind = Literal["true", "empirical", "mc"]
#: The curvature of ``ngdx.value_grad_curvature`` (None: loss and gradient only).
CurvatureKind = Literal["true", "empirical", "mc", "hessian"]
#: The step rule of ``ngdx.fit``.
StepRule = Literal["fixed", "kl", "armijo"]
#: The linear solver of ``ngdx.fit``.
LinearSolver = Literal["auto", "cholesky", "woodbury", "cg"]
#: The covariance of ``FitResult.covariance`` (``std_errors``, ``summary``).
CovarianceKind = Literal["expected", "observed", "robust", "HC1", "cluster"]
