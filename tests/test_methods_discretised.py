"""jt.Discretised (finite bath modes, exact single-particle evolution): tiny systems with a few
bath modes against brute-force many-body evolution in Fock space (tests/reference.py) to
1e-10. Its convergence to the continuum: tests/test_methods_continuum.py; its gradients at a
degenerate spectrum: tests/test_transforms.py; its refusals: tests/test_validation.py.
"""

import warnings

import numpy as np
import pytest
from reference import fock_evolve
from systems import (
    coherent_c0_2,
    shared_reservoir,
    single_level,
    two_site,
)

import jaxtransport as jt


def _fock_case(model, c0, n_modes, band, times):
    method = jt.Discretised(n_modes, band, check_recurrence=False, band_warning=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = jt.solve(model, c0, times, method=method)
    baths = [dict(energies=[], couplings=[], temperature=float(r.temperature),
                  chemical_potential=float(r.chemical_potential)) for r in model.reservoirs]
    for nodes, _dw, r, dens, v, _, spacing in method.grid(model):
        amp = np.sqrt(np.asarray(dens(nodes)) * spacing / (2 * np.pi))
        baths[r]["energies"].extend(nodes)
        baths[r]["couplings"].extend(amp[:, None] * np.asarray(v)[None, :])
    for b in baths:
        b["energies"] = np.array(b["energies"])
        b["couplings"] = np.array(b["couplings"])
    ref = fock_evolve(np.asarray(model.hamiltonian), baths, c0, times)
    return sol, ref


@pytest.mark.parametrize(
    "model,c0,n_modes",
    [
        (single_level(), np.array([[0.7]]), 3),
        (two_site(), coherent_c0_2(), 2),
        (shared_reservoir(), np.array([[0.9, 0.1j], [-0.1j, 0.2]]), 2),
    ],
)
def test_discretised_matches_fock_space(model, c0, n_modes):
    """Tiny system + few bath modes: single-particle evolution == many-body ED (1e-10)."""
    times = np.linspace(0, 6, 13)
    sol, ref = _fock_case(model, c0, n_modes, 4.0, times)
    for ours, theirs in [
        (sol.correlation, ref["correlation"]),
        (sol.particle_current, ref["particle_current"]),
        (sol.energy_current, ref["energy_current"]),
        (sol.heat_current, ref["heat_current"]),
        (sol.coupling_energy, ref["coupling_energy"]),
        (sol.coupling_energy_derivative, ref["coupling_energy_derivative"]),
        (sol.system_energy, ref["system_energy"]),
    ]:
        np.testing.assert_allclose(np.asarray(ours), theirs, atol=1e-10, rtol=0)
