"""Optimisation layer: parametrised preparations, objectives, multi-start optimiser and the
analytic optimum of linear objectives (see each module's docs for conventions).

Units ħ = k_B = 1 (energies, temperatures in the units of h); every current and heat is out
of its reservoir; C_ij = <a_j† a_i>."""

from .drive_parameters import DriveParameters
from .linear import LinearOptimum, affine_kernel, optimal_linear_preparation
from .objectives import (
    AbstractObjective,
    Custom,
    CycleHeat,
    CycleWork,
    HeatCurrentAt,
    IntegratedHeat,
    MinConductanceG1,
    MinHeatCurrent,
    MinSymmetricHeatCurrent,
    ReversalDuration,
    ReversedHeat,
    SmoothMinHeatCurrent,
    UphillDuration,
    UphillHeat,
    as_objective,
    soft_minimum,
)
from .optimiser import ModelParameters, OptimisationResult, optimise_preparation
from .parametrisations import (
    AbstractParametrisation,
    BosonicGaussian,
    FermionicGaussian,
    SlaterDeterminant,
    ThermalState,
    random_states,
)

__all__ = [
    "AbstractObjective",
    "AbstractParametrisation",
    "BosonicGaussian",
    "Custom",
    "CycleHeat",
    "CycleWork",
    "DriveParameters",
    "FermionicGaussian",
    "HeatCurrentAt",
    "IntegratedHeat",
    "LinearOptimum",
    "MinConductanceG1",
    "MinHeatCurrent",
    "MinSymmetricHeatCurrent",
    "ModelParameters",
    "OptimisationResult",
    "ReversalDuration",
    "ReversedHeat",
    "UphillDuration",
    "UphillHeat",
    "SlaterDeterminant",
    "SmoothMinHeatCurrent",
    "ThermalState",
    "affine_kernel",
    "as_objective",
    "optimal_linear_preparation",
    "optimise_preparation",
    "random_states",
    "soft_minimum",
]
