"""The public API is typed: annotations on every public callable, and py.typed ships.

* ``py.typed`` (PEP 561) is in the installed package, so type checkers read ngdx's
  annotations instead of treating it as untyped.
* Every public function of ``ngdx.__all__`` and ``ngdx.plot``, and every public method,
  property and constructor of the public classes, annotates each parameter and its return.
* The ``Literal`` aliases of the string choices (``ngdx._typing``) list exactly the values
  the registries accept.
"""

from __future__ import annotations

import importlib
import importlib.resources
import inspect
import typing

import pytest

import ngdx
import ngdx.plot
from ngdx import _typing

OPTIONAL = {"NGDClassifier", "NGDRegressor"}  # need scikit-learn


def test_py_typed_ships_in_the_installed_package():
    assert importlib.resources.files("ngdx").joinpath("py.typed").is_file()


def missing_annotations(func):
    """The parameters (and "return") of func that carry no annotation."""
    signature = inspect.signature(func)
    missing = [name for name, parameter in signature.parameters.items()
               if name not in ("self", "cls")
               and parameter.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def public_callables():
    """(qualified name, function) of every public function, method and property."""
    names = [("ngdx", name) for name in ngdx.__all__]
    names += [("ngdx.plot", name) for name in ngdx.plot.__all__]
    for module, name in names:
        if name == "ConvergenceWarning":  # scikit-learn's class when it is installed
            continue
        if name in OPTIONAL:
            pytest.importorskip("sklearn")
        obj = getattr(importlib.import_module(module), name)
        if inspect.isfunction(obj):
            yield f"{module}.{name}", obj
        elif inspect.isclass(obj):
            for klass in obj.__mro__:
                if not klass.__module__.startswith("ngdx"):
                    continue
                for attr, member in vars(klass).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    if isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        yield f"{module}.{name}.{attr}", member


def test_public_callables_are_annotated():
    found = dict(public_callables())
    assert "ngdx.fit" in found and "ngdx.plot.convergence" in found
    assert "ngdx.FitResult.predict" in found and "ngdx.FitResult.__init__" in found
    unannotated = {name: missing for name, func in found.items()
                   if (missing := missing_annotations(func))}
    assert not unannotated, f"parameters without annotations: {unannotated}"


def test_estimators_are_annotated():
    pytest.importorskip("sklearn")
    found = dict(public_callables())
    for name in ("ngdx.NGDClassifier.__init__", "ngdx.NGDClassifier.fit",
                 "ngdx.NGDClassifier.coef_", "ngdx.NGDRegressor.predict",
                 "ngdx.NGDRegressor.n_iter_"):
        assert name in found and not missing_annotations(found[name]), name


def test_literal_aliases_match_the_registries():
    from ngdx._functional import CURVATURE_KINDS
    from ngdx._models import FISHER_KINDS
    from ngdx._solver import STEP_RULES
    from ngdx._solver.choose import LINEAR_SOLVERS, METHODS

    assert set(typing.get_args(_typing.Model)) == set(ngdx.MODELS)
    assert set(typing.get_args(_typing.Method)) == set(METHODS)
    assert set(typing.get_args(_typing.FisherKind)) == set(FISHER_KINDS)
    assert set(typing.get_args(_typing.CurvatureKind)) | {None} == set(CURVATURE_KINDS)
    assert set(typing.get_args(_typing.StepRule)) == set(STEP_RULES)
    assert set(typing.get_args(_typing.LinearSolver)) == set(LINEAR_SOLVERS)
    from ngdx._stderr import COVARIANCE_KINDS
    assert typing.get_args(_typing.CovarianceKind) == COVARIANCE_KINDS
