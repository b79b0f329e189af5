"""Deprecated namespace: general quadratic systems are part of the one model hierarchy now.

``jt.QuadraticModel`` (``jaxtransport.model``), ``jt.PositionReservoir``
(``jaxtransport.reservoir``), ``jt.DrudeLorentz`` (``jaxtransport.densities``),
``jt.CovarianceState`` (``jaxtransport.state``) go through ``jt.response``, ``jt.solve`` and
``jt.steady_state`` like every model. These names stay importable from here.

Units ħ = k_B = 1; currents out of each reservoir; C_ij = <a_j† a_i>.
"""

from ..densities import CutoffDrudeLorentz, DrudeLorentz
from ..model import QuadraticModel
from ..reservoir import PositionReservoir
from ..response.general import GeneralResponse, GeneralSolution
from ..response.general_continuum import GeneralContinuum
from ..solve import general_response, solve_general
from ..state import CovarianceState, covariance_entropy
from ..steady_state import GeneralSteadyState, general_steady_state

__all__ = ["CovarianceState", "CutoffDrudeLorentz", "DrudeLorentz", "GeneralContinuum",  # noqa: RUF022
           "GeneralResponse", "GeneralSolution", "GeneralSteadyState", "PositionReservoir",
           "QuadraticModel", "covariance_entropy", "general_response", "general_steady_state",
           "solve_general"]
