"""Counting statistics of continuous pole-sum reservoirs (no discretisation) against
independent values: the engine's integrated heat current (jt.Pade), the finite-mode
determinant formula (statistics.FiniteModes, converged / extrapolated in the band),
Levitov–Lesovik rates with the Caroli transmission, and exact identities."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from systems import coherent_c0_2, lead, two_site

import jaxtransport as jt
from jaxtransport import fcs_continuum as fc
from jaxtransport import statistics as st


def _integrated_heat(model, t1, c0, n_pade):
    """∫_0^t1 J^Q_α dt of the engine (jt.Pade), Gauss–Legendre (the current is analytic)."""
    x, w = np.polynomial.legendre.leggauss(60)
    nodes = 0.5 * t1 * (x + 1)
    sol = jt.response(model, nodes, method=jt.Pade(n_pade=n_pade)).evaluate(c0)
    return 0.5 * t1 * np.sum(w[:, None] * np.asarray(sol.heat_current), axis=0)


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_first_cumulant_is_the_integrated_heat_current_and_t0_vanishes():
    """κ1(t) of the heat out of each lead equals ∫ J^Q of the engine at the same Padé order
    (measured ≤ 3e-12); every cumulant vanishes at t = 0."""
    model = two_site(cutoff=3.0)
    c0 = coherent_c0_2()
    ts = np.array([0.0, 1.0, 3.0])
    k1 = np.asarray(st.joint_cumulants(model, ts, c0, order=1, n_pade=8))  # (T, M)
    for i, t1 in enumerate(ts[1:], start=1):
        np.testing.assert_allclose(k1[i], _integrated_heat(model, t1, c0, 8), atol=1e-9)
    k = np.asarray(st.cumulants(model, ts, c0, n_pade=8))
    np.testing.assert_allclose(k[0], 0.0, atol=1e-10)
    assert np.abs(k[1:]).min() > 1e-2


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_particle_statistics_equal_finite_modes_at_finite_counting_field():
    """Particle counting is exact at finite λ: ln Z(λ) and κ1–κ4 equal the determinant
    formula on a converged discretisation (CutoffLorentzian tails; 160 modes per lead term,
    band ±32, t ≤ 3; measured differences ≤ 2e-7)."""
    model = two_site(cutoff=3.0)
    c0 = coherent_c0_2()
    ts = np.array([0.5, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = st.FiniteModes.from_model(model, jt.Discretised(n_modes=160, band=32.0))
    lam = np.array([0.7, -0.4])
    ref = np.asarray(st.log_generating_function(fm, ts, lam, c0, quantity="particles"))
    got = np.asarray(fc.log_generating_function(model, ts, lam, c0, n_pade=10))
    np.testing.assert_allclose(got, ref, atol=1e-6)
    assert np.abs(ref).min() > 1e-2
    kc = np.asarray(st.cumulants(model, ts, c0, quantity="particles", reservoir=1, n_pade=10))
    kf = np.asarray(st.cumulants(fm, ts, c0, quantity="particles", reservoir=1))
    np.testing.assert_allclose(kc, kf, atol=1e-6)


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_decoupled_reservoir_has_zero_cumulants_and_batches_like_a_loop():
    h = np.array([[0.3, 0.2], [0.2, -0.3]])
    res = [jt.Reservoir(lead(0.5, 2.0, cutoff=3.0), temperature=t, coupling=v)
           for t, v in ((1.5, [1.0, 0.0]), (0.5, [0.0, 1.0]), (1.0, [0.0, 0.0]))]
    model = jt.Model(h, tuple(res))
    ts = np.array([0.0, 2.0])
    c0 = np.stack([coherent_c0_2(), np.diag([0.2, 0.9])])
    temp = np.array([[1.5, 0.5, 1.0], [1.2, 0.4, 2.0]])
    k = np.asarray(st.cumulants(model, ts, c0, temp, reservoir=2, n_pade=6, order=2))
    np.testing.assert_allclose(k, 0.0, atol=1e-10)
    k0 = np.asarray(st.cumulants(model, ts, c0, temp, reservoir=0, n_pade=6, order=2))
    assert k0.shape == (2, 2, 2) and np.abs(k0[:, 1]).min() > 1e-2
    for b in range(2):
        one = st.cumulants(model, ts, c0[b], temp[b], reservoir=0, n_pade=6, order=2)
        np.testing.assert_allclose(k0[b], one, atol=1e-12)


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_differentiable_in_temperature():
    """d κ2 / d T_hot by autodiff equals a central difference."""
    model = two_site(cutoff=3.0)
    c0 = coherent_c0_2()
    ts = np.array([0.0, 1.5])

    def k2(th):
        temp = jnp.stack([th, jnp.asarray(0.5)])
        return fc.cumulants(model, ts, c0, temp, order=2, n_pade=6)[-1, 1]

    g = float(jax.grad(k2)(1.5))
    fd = (float(k2(1.5 + 1e-4)) - float(k2(1.5 - 1e-4))) / 2e-4
    assert abs(g - fd) < 1e-6 * max(1.0, abs(fd)) and abs(fd) > 1e-3


def test_rejects_bad_inputs():
    c0 = coherent_c0_2()
    t = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="order > 2"):
        fc.cumulants(two_site(), t, c0, order=3)  # Lorentzian tails: κ3 of heat infinite
    with pytest.raises(ValueError, match="quantity must be one of"):
        fc.cumulants(two_site(cutoff=3.0), t, c0, quantity="entropy")
    with pytest.raises(ValueError, match="pole-sum"):
        drude = jt.Reservoir(jt.CutoffDrudeLorentz(0.5, 1.0, 3.0), temperature=1.0,
                             coupling=[1.0])
        fc.cumulants(jt.Model([[0.0]], (drude,)), t, np.eye(1) * 0.5)
    with pytest.raises(ValueError, match="reservoir must be an index"):
        fc.cumulants(two_site(cutoff=3.0), t, c0, reservoir=5)
    with pytest.raises(ValueError, match="time_derivative"):
        st.cumulants(two_site(cutoff=3.0), t, c0, time_derivative=True)
    with pytest.raises(ValueError, match="complex number times a real"):
        fc.log_generating_function(two_site(cutoff=3.0), t, [0.1, 0.2j], c0)
