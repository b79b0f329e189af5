"""Bad input to the optimisation layer: one check per rejected input, message names it.
All of these fail before stage 1 runs (fast)."""

import numpy as np
import pytest
from systems import two_site

import jaxtransport as jt
from jaxtransport.optimise import BosonicGaussian

TIMES = np.linspace(0.0, 2.0, 11)
H = np.asarray(two_site().hamiltonian)
OBJ = jt.HeatCurrentAt(TIMES[2])


def _opt(**kw):
    args = {"objective": OBJ, "parametrisation": None}
    args.update(kw)
    return jt.optimise_preparation(two_site(), TIMES, args.pop("objective"),
                                   args.pop("parametrisation"), progress=False, **args)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"parametrisation": jt.FermionicGaussian(3)}, "n_modes = 3 but the model has 2"),
        ({"parametrisation": BosonicGaussian(2)},
         "use a parametrisation of the model.s statistics"),
        ({"objective": jt.HeatCurrentAt(0.33)}, "time 0.33 is not on the time grid"),
        ({"objective": jt.MinHeatCurrent(window=(5.0, 6.0))}, "contains no time of the grid"),
        ({"objective": jt.MinHeatCurrent(window=(1.0, 0.5))}, "t_start <= t_end"),
        ({"objective": jt.MinHeatCurrent(reservoir=2)}, r"integer index in \[0, 2\)"),
        ({"objective": jt.MinConductanceG1(hot=1, cold=1)}, "hot != cold"),
        ({"objective": jt.SmoothMinHeatCurrent(smoothing=-1.0)}, "smoothing temperature must be > 0"),  # noqa: E501
        ({"objective": 3.0}, "objective must be a jt objective or a callable"),
        ({"optimiser": "sgd"}, "optimiser must be 'adam', 'lbfgs'"),
        ({"optimiser": "lbfgs", "learning_rate": 0.1}, "line search"),
        ({"learning_rate": -0.1}, "learning_rate must be > 0"),
        ({"n_starts": 0}, "n_starts must be an integer >= 1"),
        ({"steps": 2.5}, "steps must be an integer >= 1"),
        ({"temperature": [1.0, 2.0, 3.0]}, r"temperature must have shape \(2,\)"),
        ({"model_parameters": jt.ModelParameters(chemical_potential=[(0.5, 1.0), None])},
         r"model's value 0 must lie strictly inside the bounds \(0.5, 1\)"),
        ({"model_parameters": jt.ModelParameters(coupling_strengths=[(-1.0, 1.0), None])},
         "bounds must be >= 0"),
        ({"model_parameters": jt.ModelParameters(hoppings=[(0.0, 1.0), None])},
         r"one entry per bond \(1\)"),
        ({"model_parameters": {"temperature": [(1.0, 2.0), None]}},
         "model_parameters must be jt.ModelParameters"),
        ({"model_parameters": jt.ModelParameters(temperature=[(1.0, 2.5), None]),
          "method": jt.Continuum(temperature_range=(0.4, 2.0))},
         "does not cover the temperature values"),
    ],
)
def test_optimise_preparation_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _opt(**kwargs)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: jt.FermionicGaussian(2, particle_number=2), "0 < N < n_modes = 2"),
        (lambda: jt.FermionicGaussian(2, energy=5.0, hamiltonian=H), "energy must lie strictly"),
        (lambda: jt.FermionicGaussian(2, energy=0.1), "needs hamiltonian"),
        (lambda: jt.FermionicGaussian(2, energy=0.1, particle_number=1, hamiltonian=H),
         "at most one constraint"),
        (lambda: jt.FermionicGaussian(2, hamiltonian=np.eye(3)), "must be 2x2"),
        (lambda: jt.FermionicGaussian(0), "n_modes must be an integer >= 1"),
        (lambda: jt.SlaterDeterminant(2, 3), r"n_particles must be an integer in \[0, n_modes = 2\]"),  # noqa: E501
        (lambda: jt.ThermalState(H, temperature=(0.0, 1.0)), r"\(lo > 0\)"),
        (lambda: jt.ThermalState(H, temperature=(2.0, 1.0)), "lo < hi"),
        (lambda: jt.ThermalState(H, temperature=1.0), r"pair \(lo, hi\)"),
        (lambda: jt.ThermalState([[0.0, 1.0], [0.0, 0.0]], temperature=(0.1, 1.0)), "Hermitian"),
        (lambda: BosonicGaussian(2, form="wigner"), "form must be 'cholesky' or 'occupations'"),
    ],
)
def test_parametrisation_rejects(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_particle_number_out_of_range_in_analytic_optimum():
    resp = jt.response(two_site(), TIMES[:3], method=jt.Continuum(tolerance=1e-4))
    with pytest.raises(ValueError, match=r"particle_number must lie in \[0, 2\]"):
        jt.optimal_linear_preparation(response=resp, objective=OBJ, particle_number=3)
    with pytest.raises(ValueError, match="Give model and times"):
        jt.optimal_linear_preparation(objective=OBJ)
