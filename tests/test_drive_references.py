"""Driven models against independent references: QuTiP HEOM with a time-dependent system
Hamiltonian (tests/reference_heom_driven.py), the Floquet–Landauer prediction for cycle-averaged
currents of a harmonic drive (tests/reference_floquet.py), the instantaneous steady state for a
slow drive, and the driven finite-mode method (jt.Discretised).

Measured (see the individual tests): listed in each docstring."""

import numpy as np
import pytest
from reference_floquet import floquet_currents, lead

import jaxtransport as jt

# hot / cold Lorentzian leads (γ = 1, W = 2) on a level or on sites 0 / 1
LEADS1 = [lead(1.0, 0.3, [1.0]), lead(0.4, -0.2, [1.0])]
LEADS2 = [lead(1.0, 0.3, [1.0, 0.0]), lead(0.4, -0.2, [0.0, 1.0])]
HOP = np.array([[0.0, 1.0], [1.0, 0.0]])


def model(h, leads, terms):
    res = [jt.Reservoir(jt.Lorentzian(ld["gamma"], ld["width"], ld["center"]),
                        ld["temperature"], ld["chemical_potential"], ld["coupling"])
           for ld in leads]
    return jt.Model(np.asarray(h, float), res, drive=jt.Drive(terms) if terms else None)


# --- the reference itself (cheap) ----------------------------------------------------------
def test_floquet_reference_reduces_to_landauer_and_conserves():
    """Without drive the Floquet reference is the Landauer steady state (jt.steady_state);
    with a drive its two outflow forms (sideband sum, unitarity) agree and particles are
    conserved (checks of the reference, independent of the driven engine)."""
    for h, v, leads in (([[0.2]], [[1.0]], LEADS1),
                        ([[0.3, 0.4], [0.4, -0.2]], HOP, LEADS2)):
        jn, je, jq = floquet_currents(h, v, 0.0, 1.0, leads, n_sidebands=2, n_nodes=2048)
        ss = jt.steady_state(model(h, leads, None))
        np.testing.assert_allclose(jn, ss.particle_current, atol=1e-9)
        np.testing.assert_allclose(je, ss.energy_current, atol=1e-9)
        np.testing.assert_allclose(jq, ss.heat_current, atol=1e-9)
        a = floquet_currents(h, v, 0.8, 1.0, leads, n_sidebands=8, n_nodes=2048)
        b = floquet_currents(h, v, 0.8, 1.0, leads, n_sidebands=8, n_nodes=2048,
                             outflow="unitarity")
        np.testing.assert_allclose(a, b, atol=1e-10)
        assert abs(a[0].sum()) < 1e-10


# --- QuTiP HEOM with a time-dependent system Hamiltonian (slow) ----------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["driven_level", "driven_hopping"])
def test_driven_continuum_against_heom(name):
    """Continuum method vs QuTiP HEOM (QobjEvo H_S(t), depth 2, Padé 12 checked against 8),
    t ∈ [0, 12]: ≤ 1e-6 in occupations and particle currents, ≤ 1e-5 in heat currents."""
    pytest.importorskip("qutip")
    from reference_heom_driven import TIMES, cases, heom_driven, jaxtransport_driven

    h, terms, leads, occ = cases()[name]
    qterms = [(v, f) for v, f, _ in terms]
    coarse = heom_driven(h, qterms, leads, occ, TIMES, 8)
    ref = heom_driven(h, qterms, leads, occ, TIMES, 12)
    sol = jaxtransport_driven(h, terms, leads, occ, TIMES)
    tol = {"occupation": 1e-6, "particle_current": 1e-6, "heat_current": 1e-5}
    pade = {k: float(np.max(np.abs(ref[k] - coarse[k]))) for k in tol}
    errs = {k: float(np.max(np.abs(np.asarray(getattr(sol, k)) - ref[k]))) for k in tol}
    assert all(pade[k] <= 0.1 * tol[k] for k in tol), pade  # the reference is converged
    assert all(errs[k] <= tol[k] for k in tol), errs


# --- Floquet–Landauer: cycle-averaged currents of a harmonic drive (slow) ------------------
FLOQUET_CASES = {
    "level": ([[0.2]], [[1.0]], 1.2, 1.0, LEADS1),
    "hopping": ([[0.3, 0.4], [0.4, -0.2]], HOP, 0.5, 1.3, LEADS2),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FLOQUET_CASES))
def test_harmonic_drive_cycle_average_equals_floquet_landauer(name):
    """ε(t) = ε0 + A cos Ωt on a level (hopping 0.4 + A cos Ωt on two sites): the currents
    averaged over the 6th period (64 points, periodic trapezoid) equal the Floquet–Landauer
    prediction (8 sidebands, 2048 nodes; 12 sidebands / 4096 nodes change it by < 1e-10);
    the 5th period's average agrees (the transient is gone)."""
    h, v, amp, freq, leads = FLOQUET_CASES[name]
    ref = floquet_currents(h, v, amp, freq, leads, n_sidebands=8, n_nodes=2048)
    finer = floquet_currents(h, v, amp, freq, leads, n_sidebands=12, n_nodes=4096)
    assert np.max(np.abs(np.asarray(ref) - np.asarray(finer))) < 1e-10
    period, per = 2 * np.pi / freq, 64
    times = np.linspace(0.0, 6 * period, 6 * per + 1)
    drive = [(np.asarray(v, float), jt.Sine(amp, freq, np.pi / 2))]  # A cos Ωt
    sol = jt.solve(model(h, leads, drive), np.zeros((len(h), len(h))), times)
    for k, name_k in enumerate(("particle_current", "energy_current", "heat_current")):
        j = np.asarray(getattr(sol, name_k))
        last, before = j[-per - 1:-1].mean(0), j[-2 * per - 1:-per - 1].mean(0)
        np.testing.assert_allclose(last, ref[k], atol=1e-7, err_msg=name_k)
        np.testing.assert_allclose(before, ref[k], atol=1e-7, err_msg=name_k)


# --- slow (adiabatic) drive: the instantaneous steady state to first order (slow) ---------
@pytest.mark.slow
def test_slow_ramp_follows_instantaneous_steady_state_to_first_order():
    """A smooth ramp of the level 0.2 → 0.8 over τ, started at t = 14 (the switch-on transient
    has died): at the ramp's midpoint (ε̈ = 0) the currents differ from the steady state of
    the instantaneous Hamiltonian (jt.steady_state, ε = 0.5) by a deviation of first order in
    the rate ε̇ = 0.3π/τ: doubling τ halves it."""
    dev = []
    for tau in (20.0, 40.0):
        t_mid = 14.0 + 0.5 * tau
        times = np.linspace(0.0, t_mid, int(round(t_mid / 0.1)) + 1)
        drive = [(np.eye(1), jt.Ramp(0.0, 0.6, tau, start=14.0))]
        sol = jt.solve(model([[0.2]], LEADS1, drive), np.array([[0.5]]), times)
        ss = jt.steady_state(model([[0.5]], LEADS1, None))
        dev.append(np.array([np.asarray(sol.particle_current)[-1] - ss.particle_current,
                             np.asarray(sol.heat_current)[-1] - ss.heat_current]))
    ratio = dev[0] / dev[1]
    assert np.all(np.abs(dev[1]) > 1e-4), dev  # a deviation well above the method's error
    np.testing.assert_allclose(ratio, 2.0, rtol=0.05, err_msg=str(dev))
