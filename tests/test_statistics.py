"""Full counting statistics: determinant formula vs brute-force Fock-space TPM, vs the engine,
vs finite differences of ln Z, and long-time rates vs Levitov–Lesovik with Caroli T(ω) (bosons:
Saito–Dhar); jaxtransport.statistics (jt.cumulants, jt.joint_cumulants, jt.FiniteModes)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference_fcs import (
    covariance_from_distribution,
    cumulants_from_distribution,
    tpm_distribution,
)
from systems import coherent_c0_2, oscillator, two_site

import jaxtransport as jt
from jaxtransport import statistics as st

H2 = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, -0.3]])
FERMI_BATHS = [
    dict(energies=[-0.7, 0.1, 0.9], couplings=[[0.3, 0.0], [0.25, 0.05], [0.35, 0.0]],
         temperature=1.5, chemical_potential=0.2),
    dict(energies=[-0.4, 0.3, 1.2], couplings=[[0.0, 0.3], [0.1, 0.3], [0.0, 0.2]],
         temperature=0.5, chemical_potential=-0.1),
]
# bosons: (ε − μ)/T ≥ 5 in the baths and ν = 0.05 in the system keep the Fock tail small
BOSE_BATHS = [
    dict(energies=[0.8, 1.5], couplings=[[0.3], [0.25]], temperature=0.4,
         chemical_potential=-0.5),
    dict(energies=[0.9, 1.7], couplings=[[0.3], [0.2]], temperature=0.25,
         chemical_potential=-0.2),
]
TIMES = np.array([0.0, 0.7, 2.3, 5.0])


def finite(h, baths, statistics):
    return st.FiniteModes.from_modes(
        h, [b["energies"] for b in baths], [b["couplings"] for b in baths],
        [b["temperature"] for b in baths], [b["chemical_potential"] for b in baths],
        statistics=statistics,
    )


@pytest.mark.parametrize("quantity", ["heat", "energy", "particles"])
def test_fermion_cumulants_equal_fock_space_tpm(quantity):
    """2 system modes + 3 modes per reservoir (256 Fock states): κ1–κ4 of each reservoir and
    the joint covariance equal the exact many-body TPM distribution (heat out = −Δx)."""
    fm = finite(H2, FERMI_BATHS, "fermion")
    c0 = coherent_c0_2()
    k = [np.asarray(st.cumulants(fm, TIMES, c0, quantity=quantity, reservoir=a))
         for a in (0, 1)]
    cov = np.asarray(st.joint_cumulants(fm, TIMES, c0, quantity=quantity))
    for i, t in enumerate(TIMES):
        dx, p, discarded = tpm_distribution(H2, FERMI_BATHS, c0, t, quantity=quantity)
        assert abs(discarded) < 1e-14  # nothing truncated for fermions (round-off only)
        ref = cumulants_from_distribution(-dx, p)  # (4, M)
        for a in (0, 1):
            np.testing.assert_allclose(k[a][i], ref[:, a], atol=1e-10, rtol=0)
        np.testing.assert_allclose(cov[i], covariance_from_distribution(-dx, p), atol=1e-10)
    assert np.abs(cov[-1, 0, 1]) > 1e-3  # hot/cold correlations are really tested


def test_boson_cumulants_equal_truncated_fock_space_tpm():
    """1 system mode + 2 modes per reservoir, bosons, Fock space truncated at N ≤ 9 total
    particles (exact per sector). The discarded initial weight (measured 4.3e-13) bounds the
    error: κ1, κ2 and the covariance agree to 1e-10, κ3, κ4 (heavier tails) to 1e-8
    (measured errors 1.6e-12, 1.7e-11, 1.2e-10, 1.4e-9 for κ1..κ4)."""
    h = np.array([[1.0]])
    c0 = np.array([[0.05]])
    fm = finite(h, BOSE_BATHS, "boson")
    ts = np.array([3.0])
    k = np.asarray(st.cumulants(fm, ts, c0, reservoir=0))
    cov = np.asarray(st.joint_cumulants(fm, ts, c0))
    for i, t in enumerate(ts):
        dx, p, discarded = tpm_distribution(h, BOSE_BATHS, c0, t, statistics="boson", n_max=9)
        assert discarded < 1e-12
        ref = cumulants_from_distribution(-dx, p)[:, 0]
        np.testing.assert_allclose(k[i, :2], ref[:2], atol=1e-10, rtol=0)
        np.testing.assert_allclose(k[i, 2:], ref[2:], atol=1e-8, rtol=0)  # Fock tail
        np.testing.assert_allclose(cov[i], covariance_from_distribution(-dx, p), atol=1e-10)
    assert k[-1, 1] > 1e-2


def test_third_cumulant_equals_finite_differences_of_log_z():
    fm = finite(H2, FERMI_BATHS, "fermion")
    c0 = coherent_c0_2()
    t = np.array([0.0, 3.0])
    k3 = float(st.cumulants(fm, t, c0, order=3)[1, 2])

    def lnz(lam):
        return complex(st.log_generating_function(fm, t, [lam, 0.0], c0)[1])

    # κ3 = (−i)^3 ∂³ ln Z = i ∂³ ln Z; 5-point third difference (error O(h²)), Richardson in h
    def d3(h):
        return (lnz(2 * h) - 2 * lnz(h) + 2 * lnz(-h) - lnz(-2 * h)) / (2 * h**3)

    fd = (4 * d3(0.01) - d3(0.02)) / 3
    assert abs((1j * fd).real - k3) < 1e-7
    assert abs(k3) > 1e-3
    # ln Z(0) = 0 (normalisation) and ln Z is purely imaginary-odd/real-even: Z(−λ) = Z(λ)*
    np.testing.assert_allclose(lnz(0.0), 0.0, atol=1e-14)
    np.testing.assert_allclose(lnz(-0.3), np.conj(lnz(0.3)), atol=1e-13)


@pytest.fixture(scope="module")
def engine_pair():
    """The engine's Discretised method and FiniteModes.from_model on the same finite baths."""
    model = two_site()
    disc = jt.Discretised(n_modes=60, band=6.0, band_warning=0.1)
    with pytest.warns(UserWarning, match="misses a fraction"):
        fm = st.FiniteModes.from_model(model, disc)
    return model, disc, fm


def test_first_cumulant_equals_engine_current(engine_pair):
    model, disc, fm = engine_pair
    c0 = coherent_c0_2()
    ts = np.linspace(0.0, 8.0, 21)
    with pytest.warns(UserWarning, match="misses a fraction"):
        sol = jt.response(model, ts, method=disc).evaluate(c0)
    rate = np.asarray(st.cumulants(fm, ts, c0, order=1, time_derivative=True))[:, 0]
    np.testing.assert_allclose(rate, sol.heat_current[:, 0], atol=1e-10)  # dκ1/dt = J^Q
    # κ1(t) = ∫_0^t J^Q: the finite bath's current is analytic in t, so Gauss–Legendre
    # quadrature of the engine's current converges exponentially
    x, w = np.polynomial.legendre.leggauss(40)
    t1 = 8.0
    nodes = 0.5 * t1 * (x + 1)
    order = np.argsort(nodes)
    with pytest.warns(UserWarning, match="misses a fraction"):
        j = jt.response(model, nodes[order], method=disc).evaluate(c0).heat_current
    q = 0.5 * t1 * np.sum(w[order][:, None] * np.asarray(j), axis=0)
    k1 = np.asarray(st.joint_cumulants(fm, np.array([0.0, t1]), c0, order=1))[1]
    np.testing.assert_allclose(k1, q, atol=1e-8)
    assert np.abs(q).min() > 1e-2


def _levitov_lesovik(model, order):
    """Long-time heat cumulant rates out of reservoir 0 (two terminals), Levitov–Lesovik:
    ln Z/t = ∫dω/2π ln{1 + T[f0(1−f1)(e^{iλ(ω−μ0)} − 1) + f1(1−f0)(e^{−iλ(ω−μ0)} − 1)]}."""
    x, w = np.polynomial.legendre.leggauss(20)
    edges = np.linspace(-60.0, 60.0, 481)
    half = np.diff(edges) / 2
    om = jnp.asarray((((edges[1:] + edges[:-1]) / 2)[:, None] + half[:, None] * x).ravel())
    wt = jnp.asarray((half[:, None] * w).ravel()) / (2 * np.pi)
    tr = jax.vmap(lambda o: jt.transmission(model, o))(om)[:, 0, 1]
    temp, mu = model.temperatures, model.chemical_potentials
    f0, f1 = jt.occupation(om, temp[0], mu[0]), jt.occupation(om, temp[1], mu[1])

    def lnz(lam):
        e = om - mu[0]
        arg = f0 * (1 - f1) * (jnp.exp(1j * lam * e) - 1) + f1 * (1 - f0) * (
            jnp.exp(-1j * lam * e) - 1)
        return jnp.sum(wt * jnp.log(1 + tr * arg))

    out, g = [], lnz
    for k in range(order):
        g = (lambda gg: (lambda s: jax.jvp(gg, (s,), (1.0,))[1]))(g)
        out.append(((-1j) ** (k + 1) * g(0.0)).real)
    return np.array(out)


def _ll_model():
    hot = jt.Reservoir(jt.Lorentzian(1.0, 1.0), temperature=1.5, coupling=[1.0])
    cold = jt.Reservoir(jt.Lorentzian(1.0, 1.0), temperature=0.5, coupling=[1.0])
    return jt.Model([[0.2]], (hot, cold))


# slow (400 modes per lead to t = 35); the default suite keeps the long-time rates of the
# library (st.levitov_lesovik_rates) against the independent written-out Levitov–Lesovik
# (test_public_levitov_lesovik_rates_match_the_reference, below: orders 1–4, rtol 1e-8, and
# c_1 = Landauer) and the finite-mode cumulants against Fock-space TPM
@pytest.mark.slow
def test_long_time_rates_equal_levitov_lesovik_orders_1_to_4():
    """dκ_n/dt (n = 1..4) of the heat out of the hot lead at t = 35 equals Levitov–Lesovik with
    the Caroli T(ω) of the continuum model to ≤ 1e-4 relative. 400 modes per lead, band ±25
    (recurrence at 2π/Δω = 50; the missing Lorentzian tail shifts κ1, κ2 by ~2e-5).
    Convergence in time (measured): relative errors at t = 25 are (1.9e-5, 2.0e-5, 1.5e-5,
    1.3e-4) and at t = 35 (1.9e-5, 1.9e-5, 2.3e-5, 3.0e-5): κ4 converges slowest."""
    model = _ll_model()
    fm = st.FiniteModes.from_model(model, jt.Discretised(n_modes=400, band=25.0,
                                                         band_warning=5e-2))
    rates = np.asarray(st.cumulants(fm, np.array([35.0]), np.zeros((1, 1)), order=4,
                                    time_derivative=True))[0]
    np.testing.assert_allclose(rates, _levitov_lesovik(model, 4), rtol=1e-4)


def test_rejects_bad_inputs(engine_pair):
    _, _, fm = engine_pair
    c0 = coherent_c0_2()
    t = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="quantity must be one of"):
        st.cumulants(fm, t, c0, quantity="entropy")
    with pytest.raises(ValueError, match="reservoir must be an index"):
        st.cumulants(fm, t, c0, reservoir=2)
    with pytest.raises(ValueError, match="order must be an integer"):
        st.cumulants(fm, t, c0, order=0)
    with pytest.raises(ValueError, match="counting_field must have shape"):
        st.log_generating_function(fm, t, [0.1], c0)
    with pytest.raises(ValueError, match="recur"):
        st.cumulants(fm, np.array([0.0, 100.0]), c0)
    with pytest.raises(ValueError, match="initial correlation"):
        st.cumulants(fm, t, np.eye(3))
    with pytest.raises(ValueError, match="couplings\\[0\\] must have shape"):
        st.FiniteModes.from_modes(np.eye(2), [[0.0, 1.0]], [[[1.0, 0.0]]], [1.0])
    with pytest.raises(ValueError, match="ε_αk > μ_α"):
        st.FiniteModes.from_modes([[1.0]], [[0.1]], [[[0.1]]], [1.0], [0.5], statistics="boson")
    with pytest.raises(ValueError, match="unstable"):
        st.FiniteModes.from_modes([[0.01]], [[0.05]], [[[0.5]]], [1.0], [0.0], statistics="boson")
    with pytest.raises(ValueError, match="Discretised"):
        st.FiniteModes.from_model(two_site(), jt.Continuum())


def test_batched_equals_loop_and_one_trace():
    fm = finite(H2, FERMI_BATHS, "fermion")
    rng = np.random.default_rng(3)
    c0 = np.stack([coherent_c0_2(), np.diag([0.2, 0.9]), np.eye(2) * 0.5])
    temp = np.stack([[1.5, 0.5], [1.0, 0.7], [0.8, 0.3]]) + rng.uniform(0, 0.1, (3, 2))
    mu = np.zeros((3, 2))
    batched = np.asarray(st.cumulants(fm, TIMES, c0, temp, mu))
    assert batched.shape == (3, TIMES.size, 4)
    for b in range(3):
        np.testing.assert_allclose(batched[b], st.cumulants(fm, TIMES, c0[b], temp[b], mu[b]),
                                   atol=1e-13)
    cov = np.asarray(st.joint_cumulants(fm, TIMES, c0, temp, mu))
    assert cov.shape == (3, TIMES.size, 2, 2)
    np.testing.assert_allclose(cov[..., 0, 0], batched[..., 1], atol=1e-13)


@pytest.mark.parametrize("statistics", ["fermion", "boson"])
def test_series_equals_taylor_mode_autodiff(statistics):
    """The written-out Taylor coefficients equal jax.experimental.jet on the log-det series
    (orders 1–5, and their time derivatives)."""
    if statistics == "fermion":
        fm, c0 = finite(H2, FERMI_BATHS, "fermion"), coherent_c0_2()
    else:
        fm, c0 = finite(np.array([[1.0]]), BOSE_BATHS, "boson"), np.array([[0.05]])
    for td in (False, True):
        a = st.cumulants(fm, TIMES, c0, order=5, time_derivative=td)
        b = st.cumulants(fm, TIMES, c0, order=5, time_derivative=td, method="autodiff")
        np.testing.assert_allclose(a, b, atol=1e-13)
    with pytest.raises(ValueError, match="method must be"):
        st.cumulants(fm, TIMES, c0, method="numerical")


def test_public_levitov_lesovik_rates_match_the_reference():
    model = _ll_model()
    np.testing.assert_allclose(st.levitov_lesovik_rates(model, 4), _levitov_lesovik(model, 4),
                               rtol=1e-8)
    c1 = float(st.levitov_lesovik_rates(model, 1)[0])
    np.testing.assert_allclose(c1, float(jt.steady_state(model).heat_current[0]), rtol=1e-6)
    with pytest.raises(ValueError, match="two reservoirs"):
        st.levitov_lesovik_rates(jt.Model([[0.0]], model.reservoirs[:1]))


# slow (finite-mode cumulants to t = 30 plus a 5× finer reference quadrature); the default
# suite keeps the bosonic c_2 against its closed form written out
# (test_levitov_lesovik_bosons_equal_direct_landauer_integral) and the bosonic finite-mode
# cumulants against truncated Fock-space TPM
@pytest.mark.slow
def test_long_time_rates_equal_saito_dhar_orders_1_to_4():
    """dκ_n/dt (n = 1..4) of the heat out of the hot reservoir at t = 30 equals Saito–Dhar
    with the Caroli 𝒯(ω) of the continuum model to ≤ 1e-4 relative (measured ≤ 3e-6).
    Convergence in time (measured, relative, orders 1–4): t = 10: (1.2e-4, 1.7e-3, 1.8e-3,
    4.8e-3); t = 20: (6.9e-5, 1.2e-4, 2.3e-5, 2.9e-5); t = 30: (1.5e-6, 8.4e-7, 2.7e-6,
    6.7e-7). The discretisation is converged: 160 and 240 modes per reservoir agree to 1e-13."""
    model = oscillator()
    ref = np.asarray(st.levitov_lesovik_rates(model, 4))
    # the reference's own quadrature: a 5× finer rule agrees to < 1e-9 relative
    fine = np.asarray(st.levitov_lesovik_rates(model, 4, panel_width=0.05))
    np.testing.assert_allclose(fine, ref, rtol=1e-9)
    # c_1 is the bosonic Landauer current
    np.testing.assert_allclose(ref[0], float(jt.steady_state(model).heat_current[0]), rtol=1e-9)
    fm = st.FiniteModes.from_model(model, jt.Discretised(n_modes=160))
    assert fm.statistics == "boson" and fm.recurrence_time > 30.0
    rates = np.asarray(st.cumulants(fm, np.array([10.0, 30.0]), np.zeros((1, 1)), order=4,
                                    time_derivative=True))
    np.testing.assert_allclose(rates[1], ref, rtol=1e-4)
    assert np.max(np.abs(rates[0] / ref - 1)) > 1e-3  # not yet converged at t = 10


def test_levitov_lesovik_bosons_equal_direct_landauer_integral():
    """Saito–Dhar c_2 (autodiff of ln Z) equals its closed form written out:
    c_2 = ∫dω/2π w² {𝒯[n_a(1+n_b) + n_b(1+n_a)] + 𝒯²(n_a − n_b)²} (bosons: + 𝒯², fermions −)."""
    model = oscillator()
    om = np.linspace(0.5, 4.5, 40001)[1:-1]  # 𝒯 = 0 at the band ends
    tr = np.asarray(jt.transmission(model, om))[:, 0, 1]
    na, nb = 1 / np.expm1(om / 2.0), 1 / np.expm1(om / 0.5)
    c2 = np.trapezoid(om**2 * (tr * (na * (1 + nb) + nb * (1 + na)) + tr**2 * (na - nb) ** 2),
                      om) / (2 * np.pi)
    np.testing.assert_allclose(float(st.levitov_lesovik_rates(model, 2)[1]), c2, rtol=1e-7)


def test_first_cumulant_rate_is_engine_current_bosons(boson_pair):
    _, fm, resp, times = boson_pair
    c0 = np.array([[1.2, 0.3 + 0.2j], [0.3 - 0.2j, 0.4]])
    sol = resp.evaluate(jt.GaussianState(c0, statistics="boson"))
    rate = np.asarray(st.cumulants(fm, times, c0, order=1, time_derivative=True))[:, 0]
    np.testing.assert_allclose(rate, sol.heat_current[:, 0], atol=1e-10)
    assert np.abs(sol.heat_current[:, 0]).max() > 1e-2
