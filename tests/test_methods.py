"""Continuum vs Discretised (two independent exact methods) and vs brute-force Fock space."""

import dataclasses
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
    cont = jt.solve(model, c0, TIMES, method=jt.Continuum())
    disc = jt.solve(model, c0, TIMES, method=_discretised(1000, 4.0, 250.0))
    _compare(name, cont, disc, TOL_N, TOL_E)


@pytest.mark.parametrize("name", ["single_level", "three_site_bias"])
def test_continuum_matches_discretised_lorentzian_tails(name):
    make_model, make_c0 = CASES[name]
    model, c0 = make_model(), make_c0()
    cont = jt.solve(model, c0, TIMES, method=jt.Continuum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        disc = jt.solve(model, c0, TIMES, method=_discretised())
    _compare(name, cont, disc, TOL_N_TAIL, TOL_E_TAIL)


@pytest.mark.slow
def test_energy_current_converges_with_modes():
    """Energy-current difference shrinks as the discretised bath is refined."""
    model, c0 = single_level(), np.array([[1.0]])
    times = np.linspace(0, 20, 41)
    cont = jt.solve(model, c0, times, method=jt.Continuum())
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


def _fd_grid(centres=(0.7, 2.5, 5.0), h=1e-3):
    return np.concatenate([[0.0], *[c + h * np.arange(-2, 3) for c in centres]]), h


@pytest.mark.parametrize("method", [
    jt.Continuum(correlation_dt=True),
    jt.Discretised(60, 6.0, band_warning=0.1, correlation_dt=True),
], ids=["continuum", "discretised"])
def test_correlation_dt_kernels(method):
    """The optional dC/dt kernels (``correlation_dt=True``) against (i) fourth-order central
    differences of the engine's C(t) (h = 1e-3: truncation ~1e-13, rounding ~1e-13) and (ii)
    particle conservation d/dt Tr C = Σ_α J^N_α (currents out of the reservoirs, from the
    current kernels). dC/dt = Ġ C0 G† + h.c. + Σ_β Σ_k w f_β L^Ċ_β + offset. Measured:
    (i) 3.8e-13 (Continuum), 1.6e-13 (Discretised); (ii) 7.8e-16 and 2.5e-16. Storing them
    changes nothing else."""
    model, c0 = two_site(cutoff=4.0), coherent_c0_2()
    times, h = _fd_grid()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Discretised band is deliberately small
        resp = jt.response(model, times, method=method)
    sol = resp.evaluate(c0)
    g, gd = np.asarray(resp.propagator), np.asarray(resp.propagator_dt)
    wf = np.asarray(resp.weights * resp.occupations(resp.temperature, resp.chemical_potential))
    gcg = gd @ c0 @ np.conj(np.swapaxes(g, -1, -2))
    dc = (np.einsum("mk,mktij->tij", wf, np.asarray(resp.correlation_kernel_dt))
          + np.asarray(resp.correlation_offset_dt) + gcg + np.conj(np.swapaxes(gcg, -1, -2)))
    c = np.asarray(sol.correlation)[1:].reshape(3, 5, 2, 2)
    fd = (c[:, 0] - 8 * c[:, 1] + 8 * c[:, 3] - c[:, 4]) / (12 * h)
    np.testing.assert_allclose(dc[1:].reshape(3, 5, 2, 2)[:, 2], fd, atol=1e-11, rtol=0)
    np.testing.assert_allclose(np.trace(dc, axis1=1, axis2=2).real,
                               np.asarray(sol.particle_current).sum(-1), atol=1e-12)
    plain = dataclasses.replace(method, correlation_dt=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = jt.response(model, times, method=plain)
    assert ref.correlation_kernel_dt is None and ref.correlation_offset_dt is None
    np.testing.assert_array_equal(ref.correlation_kernel, resp.correlation_kernel)
    np.testing.assert_array_equal(ref.current_kernel, resp.current_kernel)
