"""Neural networks trained by natural gradient: K-FAC and the exact Fisher.

A network is an :class:`MLP` (its architecture) and a list of ``(W, b)`` per layer (its
parameters). :func:`fit` trains it on the solver loop of :func:`ngdx.fit`.

>>> import ngdx
>>> net = ngdx.nn.MLP((64, 64, 10), activation="tanh", output="multinomial")
>>> net.n_params
4810
"""

from ._fit import fit
from ._network import MLP, flatten, unflatten
from ._result import MLPFitResult

__all__ = ["MLP", "MLPFitResult", "fit", "flatten", "unflatten"]
