"""The result of a network fit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike


@dataclass
class MLPFitResult:
    """What [`ngdx.nn.fit`][ngdx.nn.fit] returns.

    Attributes
    ----------
    params : list of (W, b)
        The fitted parameters, one pair per layer.
    net : MLP
        The network they belong to.
    n_iter, converged, message, history, n_cholesky_failures, linear_solver, n_rejected,
    n_curvatures, n_passes
        As in [`ngdx.FitResult`][ngdx.FitResult] (``history`` has the same keys; its
        ``"grad_norm"`` is max |grad| in the parameters' own units). ``linear_solver`` is
        ``"kfac"``, ``"cholesky"``, ``"cg"``, ``"adam"`` or ``"none"``.
    """

    params: list
    net: object = field(repr=False)
    n_iter: int = 0
    converged: bool = False
    message: str = ""
    history: dict = field(default_factory=dict, repr=False)
    n_cholesky_failures: int = 0
    linear_solver: str = "kfac"
    n_rejected: int = 0
    n_curvatures: int = 0
    n_passes: int = 0

    @property
    def model(self) -> str:
        return "mlp"

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The output family's mean at X: (n,) for one output, (n, n_outputs) otherwise."""
        return self.net.predict(self.params, X)
