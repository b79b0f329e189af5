"""Exact time-local master equation: reproduces the engine, C0-independent coefficients,
singular points and non-Markovian (negative-rate) intervals against the analytic G(t)."""

import warnings

import numpy as np
import pytest
from systems import coherent_c0_2, two_site

import jaxtransport as jt
from jaxtransport import master_equation as me
from jaxtransport import statistics as st

TIMES = np.linspace(0.0, 8.0, 41)


@pytest.fixture(scope="module")
def pair():
    model = two_site()
    disc = jt.Discretised(n_modes=60, band=6.0, band_warning=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the finite band is intended: same modes both sides
        fm = st.FiniteModes.from_model(model, disc)
        resp = jt.response(model, TIMES, method=disc)
    return fm, resp


def test_propagation_reproduces_engine(pair):
    fm, resp = pair
    for c0 in (coherent_c0_2(), np.diag([0.0, 1.0])):
        c = me.propagate(fm, c0, TIMES)
        np.testing.assert_allclose(c, resp.evaluate(c0).correlation, atol=1e-8, rtol=0)


def test_coefficients_match_engine_propagator_and_are_hermitian(pair):
    fm, resp = pair
    gen = me.effective_generator(fm, TIMES)
    h, g = me.damping_from_response(resp)
    np.testing.assert_allclose(gen.hamiltonian, h, atol=1e-12)
    np.testing.assert_allclose(gen.damping, g, atol=1e-12)
    for a in (gen.hamiltonian, gen.damping, gen.gain, gen.loss):
        np.testing.assert_allclose(a, np.conj(np.swapaxes(a, -1, -2)), atol=1e-12)
    # h_eff(0) = h, γ(0) = 0 (the kernel integral vanishes at t = 0)
    np.testing.assert_allclose(gen.hamiltonian[0], two_site().hamiltonian, atol=1e-12)
    np.testing.assert_allclose(gen.damping[0], 0.0, atol=1e-12)
    # the generator (C0-independent) maps the engine's C(t) to dC/dt for any C0:
    # check with the derivative of Tr C (stored by the engine) for two states
    for c0 in (coherent_c0_2(), np.eye(2) * 0.3):
        sol = resp.evaluate(c0)
        c = np.asarray(sol.correlation)
        lam = -1j * np.asarray(gen.hamiltonian) - np.asarray(gen.damping)
        dc = lam @ c + c @ np.conj(np.swapaxes(lam, -1, -2)) + np.asarray(gen.gain)
        np.testing.assert_allclose(np.trace(dc, axis1=1, axis2=2).real,
                                   sol.particle_number_derivative, atol=1e-10)
        hdc = np.einsum("ij,tji->t", np.asarray(two_site().hamiltonian), dc).real
        np.testing.assert_allclose(hdc, sol.system_energy_derivative, atol=1e-10)
    assert not np.any(np.asarray(gen.singular)) and gen.singular_points.size == 0


def _symmetric_level(n_modes, band, gamma=3.0, width=1.0):
    """ε = 0 at the centre of two equal Lorentzians, symmetric finite grids: G(t) is real."""
    dw = 2 * band / n_modes
    eps = -band + dw * (np.arange(n_modes) + 0.5)
    v = np.sqrt(gamma * width**2 / (eps**2 + width**2) * dw / (2 * np.pi))[:, None]
    return st.FiniteModes.from_modes([[0.0]], [eps, eps], [v, v], [1.0, 0.5])


def test_singular_point_detected_at_analytic_zero_of_g():
    """Continuum: G'' + W G' + γW G = 0 (two Lorentzians, κ = γW/2 each), so
    G = e^{−Wt/2}[cos ωt + (W/2ω) sin ωt], ω = sqrt(γW − W²/4), first zero at
    t* = (π − atan(2ω/W))/ω. The finite symmetric bath (150 modes per lead, band ±30) has the
    same zero to ~1.5e-5; it lies between grid points and is located, reported, and the rates
    change sign there (non-Markovian window)."""
    gamma, width = 3.0, 1.0
    om = np.sqrt(gamma * width - width**2 / 4)
    t_star = (np.pi - np.arctan(2 * om / width)) / om
    fm = _symmetric_level(150, 30.0, gamma, width)
    ts = np.linspace(0.0, 3.0, 31)
    with pytest.warns(UserWarning, match="not invertible"):
        gen = me.effective_generator(fm, ts)
    pts = gen.singular_times()
    assert pts.size == 1
    assert abs(pts[0] - t_star) < 3e-5  # measured 1.5e-5 (discretisation)
    wins = gen.non_markovian_windows()
    assert wins["loss"] and wins["loss"][0][0] < t_star + 0.1
    assert np.all(np.isfinite(np.asarray(gen.gain)))  # no grid point hit exactly: no NaN
    with pytest.raises(ValueError, match="singular"):
        me.propagate(fm, np.array([[0.5]]), ts)


def test_grid_point_on_singularity_is_nan_and_flagged():
    gamma, width = 3.0, 1.0
    om = np.sqrt(gamma * width - width**2 / 4)
    fm = _symmetric_level(150, 30.0, gamma, width)
    with pytest.warns(UserWarning, match="not invertible"):
        first = me.effective_generator(fm, np.linspace(0.0, 3.0, 31)).singular_times()[0]
    ts = np.array([0.0, 0.5, first, 2.0])
    with pytest.warns(UserWarning, match="not invertible"):
        gen = me.effective_generator(fm, ts, singular_tolerance=1e-6)
    assert np.asarray(gen.singular).tolist() == [False, False, True, False]
    assert np.all(np.isnan(np.asarray(gen.gain[2])))
    assert np.all(np.isfinite(np.asarray(gen.gain)[[0, 1, 3]]))
    assert om > 0


def test_rejects_bad_inputs(pair):
    fm, _ = pair
    with pytest.raises(ValueError, match="start at 0"):
        me.propagate(fm, coherent_c0_2(), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="initial correlation"):
        me.propagate(fm, np.eye(3), TIMES)
    with pytest.raises(ValueError, match="singular_tolerance"):
        me.effective_generator(fm, TIMES, singular_tolerance=0.0)
    with pytest.raises(ValueError, match="shape"):
        me.effective_generator(fm, TIMES, temperature=[1.0])
