"""How the curvature M is stored, damped and solved: one class per representation.

``REPRESENTATIONS`` maps each name ``FitResult.linear_solver`` reports to its class; a new
representation is one new module here and one entry below (see docs/architecture.md).
"""

from .base import Curvature, Diagonal, Identity
from .dense import Dense
from .kronecker import Kronecker
from .matrix_free import MatrixFree, conjugate_gradient
from .woodbury import Woodbury

#: name -> class, for every representation the solver can run with.
REPRESENTATIONS = {cls.name: cls for cls in (Identity, Diagonal, Dense, Woodbury, MatrixFree,
                                             Kronecker)}

__all__ = ["Curvature", "Dense", "Diagonal", "Identity", "Kronecker", "MatrixFree",
           "REPRESENTATIONS", "Woodbury", "conjugate_gradient"]
