"""The solver loop and its named policies: damping, step rules, curvature schedule, and
the choices made before the loop."""

from .damping import FixedDamping, LevenbergMarquardt
from .loop import Solver
from .schedule import CurvatureSchedule, refresh_cost
from .steps import STEP_RULES, Armijo, FixedStep, KLTrustRegion

__all__ = ["Armijo", "CurvatureSchedule", "FixedDamping", "FixedStep", "KLTrustRegion",
           "LevenbergMarquardt", "STEP_RULES", "Solver", "refresh_cost"]
