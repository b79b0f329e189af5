"""Continuum vs Discretised (two independent exact methods) and vs brute-force Fock space."""

import warnings

import numpy as np
import pytest
from reference import fock_evolve
from systems import (
    TIMES,
    coherent_c0_2,
    shared_reservoir,
    single_level,
    strong_coupling,
    three_site_chain,
    two_site,
)

import jaxtransport as jt

# The tolerances (1e-6 in occupations and particle currents, 1e-5 in energy/heat
# currents and coupling energies) for the five systems with CutoffLorentzian leads (cutoff =
# 4 × width, tails ∝ 1/ω⁴): Discretised with 1000 modes per reservoir term on a sinh-graded
# grid (scale 4) reaching |ω| = 250. Measured: occupations ≤ 4.3e-9, particle currents
# ≤ 1.3e-7, coupling energies ≤ 1.3e-7, energy/heat currents ≤ 3.8e-6 (three-site chain).
TOL_N = 1e-6  # occupations, correlations, particle currents
TOL_E = 1e-5  # energy and heat currents, coupling energies

# Plain Lorentzian leads have 1/ω² tails: a finite band misses O(γW²/B) of the energy weight
# and the graded far modes recur locally, so with 1000 modes reaching |ω| = 5000 the
# agreement is occupations ≤ 2e-6, particle currents ≤ 7.4e-6, energy currents ≤ 2e-4 (the
# Continuum's own error estimate stays < 1e-8; see the slow convergence test below).
TOL_N_TAIL = 1e-5
TOL_E_TAIL = 5e-4

FIELDS = ("occupation", "particle_current", "correlation", "coupling_energy",
          "energy_current", "heat_current")


def _discretised(n_modes=1000, scale=6.0, band=5000.0):
    return jt.Discretised(n_modes, band, grid_scale=scale, band_warning=0.05)


CASES = {
    "single_level": (single_level, lambda: np.array([[1.0]])),
    "two_site_coherent": (two_site, coherent_c0_2),
    "three_site_bias": (three_site_chain, lambda: np.diag([1.0, 0.0, 0.5])),
    "shared_reservoir": (shared_reservoir, lambda: np.array([[0.5, 0.2], [0.2, 0.5]])),
    "strong_coupling": (strong_coupling, lambda: np.array([[1.0]])),
}


def _compare(name, cont, disc, tol_n, tol_e):
    assert float(cont.error_estimate) < 1e-8
    for field in FIELDS:
        tol = tol_n if field in ("occupation", "particle_current", "correlation") else tol_e
        err = float(np.max(np.abs(np.asarray(getattr(cont, field))
                                  - np.asarray(getattr(disc, field)))))
        assert err < tol, f"{name}: {field} differs by {err:.3g} (tol {tol:g})"


@pytest.mark.parametrize("name", list(CASES))
def test_continuum_matches_discretised(name):
    make_model, make_c0 = CASES[name]
    model, c0 = make_model(cutoff=4.0), make_c0()
    cont = jt.solve(model, c0, TIMES)
    disc = jt.solve(model, c0, TIMES, method=_discretised(1000, 4.0, 250.0))
    _compare(name, cont, disc, TOL_N, TOL_E)


@pytest.mark.parametrize("name", ["single_level", "three_site_bias"])
def test_continuum_matches_discretised_lorentzian_tails(name):
    make_model, make_c0 = CASES[name]
    model, c0 = make_model(), make_c0()
    cont = jt.solve(model, c0, TIMES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        disc = jt.solve(model, c0, TIMES, method=_discretised())
    _compare(name, cont, disc, TOL_N_TAIL, TOL_E_TAIL)


@pytest.mark.slow
def test_energy_current_converges_with_modes():
    """Energy-current difference shrinks as the discretised bath is refined."""
    model, c0 = single_level(), np.array([[1.0]])
    times = np.linspace(0, 20, 41)
    cont = jt.solve(model, c0, times)
    errs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, s in [(1000, 6.0), (2000, 50.0)]:
            disc = jt.solve(model, c0, times, method=_discretised(n, s))
            errs.append(float(np.max(np.abs(cont.energy_current - disc.energy_current))))
    assert errs[1] < errs[0] and errs[1] < 1e-4


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
