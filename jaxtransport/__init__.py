"""jaxtransport: exact transient quantum transport between Gaussian reservoirs, in JAX.

Units ħ = k_B = 1. Currents are OUT OF each reservoir. C_ij = <a_j† a_i>.
"""

from ._validation import ToleranceWarning, enable_x64, readable_errors

enable_x64()

from . import markov, master_equation, statistics, thermodynamics  # noqa: E402
from ._version import __version__  # noqa: E402, F401
from .correlated import StationaryState  # noqa: E402
from .cycles import (  # noqa: E402
    CycleThermodynamics,
    cycle_boundaries,
    cycle_integral,
    cycle_thermodynamics,
)
from .densities import (  # noqa: E402
    AbstractSpectralDensity,
    CutoffDrudeLorentz,
    CutoffLorentzian,
    Drude,
    DrudeLorentz,
    FlatBand,
    Lorentzian,
    LorentzianSum,
    Ohmic,
    Semicircle,
    SumDensity,
    Tabulated,
)
from .drive import (  # noqa: E402
    AbstractAmplitude,
    Constant,
    Drive,
    Function,
    PiecewiseLinear,
    Pulse,
    Ramp,
    Sine,
)
from .markov import markov_generator, markov_solve, markov_steady_state  # noqa: E402
from .master_equation import effective_generator, effective_generator_from_response  # noqa: E402
from .model import AbstractModel, Model, QuadraticModel  # noqa: E402
from .optimise import (  # noqa: E402
    BosonicGaussian,
    CycleHeat,
    CycleWork,
    DriveParameters,
    FermionicGaussian,
    HeatCurrentAt,
    IntegratedHeat,
    MinConductanceG1,
    MinHeatCurrent,
    MinSymmetricHeatCurrent,
    ModelParameters,
    ReversalDuration,
    ReversedHeat,
    SlaterDeterminant,
    SmoothMinHeatCurrent,
    ThermalState,
    UphillDuration,
    UphillHeat,
    optimal_linear_preparation,
    optimise_preparation,
)
from .pole_fit import KernelFit, fit_kernel  # noqa: E402
from .reservoir import AbstractReservoir, PositionReservoir, Reservoir, occupation  # noqa: E402
from .response import Continuum, Discretised, Response  # noqa: E402
from .response.base import AbstractResponse  # noqa: E402
from .response.currents import CurrentResponse, CurrentSolution  # noqa: E402
from .response.driven_general import (  # noqa: E402
    DrivenGeneralResponse,
    DrivenGeneralSolution,
)
from .response.driven_response import DrivenResponse, DrivenSolution  # noqa: E402
from .response.general import GeneralResponse, GeneralSolution  # noqa: E402
from .response.general_continuum import GeneralContinuum  # noqa: E402
from .response.pade import Pade, PadeResponse  # noqa: E402
from .response.stationary import StationaryResponse  # noqa: E402
from .solution import AbstractSolution, Solution  # noqa: E402
from .solve import general_response, response, solve, solve_general  # noqa: E402
from .state import AbstractState, CovarianceState, GaussianState, covariance_entropy  # noqa: E402
from .statistics import FiniteModes, cumulants, joint_cumulants  # noqa: E402
from .steady_state import (  # noqa: E402
    GeneralSteadyState,
    SteadyState,
    general_steady_state,
    self_energy,
    steady_state,
    transmission,
)
from .sweep import Sweep, SweepResult, run_sweep  # noqa: E402
from .thermodynamics import (  # noqa: E402
    conductances,
    energy_balance,
    entropy_production,
    gaussian_entropy,
    linear_response_conductance,
    negative_windows,
)
from .uphill import UphillFlow, uphill_flow, uphill_heat, uphill_rate  # noqa: E402

__all__ = [
    # optimisation layer (jaxtransport.optimise)
    "BosonicGaussian",
    "FermionicGaussian",
    "HeatCurrentAt",
    "IntegratedHeat",
    "MinConductanceG1",
    "MinHeatCurrent",
    "MinSymmetricHeatCurrent",
    "ModelParameters",
    "ReversalDuration",
    "ReversedHeat",
    "UphillDuration",
    "UphillHeat",
    "SlaterDeterminant",
    "SmoothMinHeatCurrent",
    "ThermalState",
    "optimal_linear_preparation",
    "optimise_preparation",
    # core
    "AbstractModel",
    "AbstractReservoir",
    "AbstractResponse",
    "AbstractSolution",
    "AbstractState",
    "AbstractSpectralDensity",
    "Continuum",
    "Pade",
    "PadeResponse",
    "CutoffLorentzian",
    "Drude",
    "FlatBand",
    "Ohmic",
    "Semicircle",
    "Tabulated",
    "fit_kernel",
    "KernelFit",
    "Discretised",
    "GaussianState",
    "Lorentzian",
    "LorentzianSum",
    "Model",
    "Reservoir",
    "Response",
    "Solution",
    "SteadyState",
    "Sweep",
    "SweepResult",
    "self_energy",
    "steady_state",
    "transmission",
    "SumDensity",
    "occupation",
    "response",
    "CurrentResponse",
    "CurrentSolution",
    "DrivenResponse",
    "DrivenSolution",
    "DrivenGeneralResponse",
    "DrivenGeneralSolution",
    "run_sweep",
    "solve",
    # heat statistics and thermodynamics (issue 5)
    "FiniteModes",
    "conductances",
    "cumulants",
    "effective_generator",
    "effective_generator_from_response",
    "energy_balance",
    "entropy_production",
    "gaussian_entropy",
    "joint_cumulants",
    "linear_response_conductance",
    "markov",
    "markov_generator",
    "markov_solve",
    "markov_steady_state",
    "master_equation",
    "negative_windows",
    "UphillFlow",
    "uphill_flow",
    "uphill_heat",
    "uphill_rate",
    "statistics",
    "thermodynamics",
    "ToleranceWarning",
    "readable_errors",
    # general quadratic systems (issue 9)
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
    # correlated initial states (issue 21)
    "StationaryState",
    "StationaryResponse",
    # time-dependent driving (issue 20)
    "AbstractAmplitude",
    "Constant",
    "Drive",
    "Function",
    "PiecewiseLinear",
    "Pulse",
    "Ramp",
    "Sine",
    "CycleThermodynamics",
    "cycle_boundaries",
    "cycle_integral",
    "cycle_thermodynamics",
    "DriveParameters",
    "CycleHeat",
    "CycleWork",
]
