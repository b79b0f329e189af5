"""General quadratic systems: pairing (BdG), squeezing and position–position coupling in the
Majorana / quadrature covariance formalism (physics.md §8). Conventions: ``model.py``."""

from .model import DrudeLorentz, PositionReservoir, QuadraticModel
from .state import CovarianceState

__all__ = ["CovarianceState", "DrudeLorentz", "PositionReservoir", "QuadraticModel"]
