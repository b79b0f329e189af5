"""General quadratic systems: pairing (BdG), squeezing and position–position coupling in the
Majorana / quadrature covariance formalism (physics.md §8). Conventions: ``model.py``."""

from .continuum import GeneralContinuum
from .model import CutoffDrudeLorentz, DrudeLorentz, PositionReservoir, QuadraticModel
from .response import (
    GeneralResponse,
    GeneralSolution,
    covariance_entropy,
    general_response,
    solve_general,
)
from .state import CovarianceState
from .steady_state import GeneralSteadyState, general_steady_state

__all__ = [
    "CovarianceState",
    "CutoffDrudeLorentz",
    "DrudeLorentz",
    "GeneralContinuum",
    "GeneralResponse",
    "GeneralSolution",
    "GeneralSteadyState",
    "PositionReservoir",
    "QuadraticModel",
    "covariance_entropy",
    "general_response",
    "general_steady_state",
    "solve_general",
]
