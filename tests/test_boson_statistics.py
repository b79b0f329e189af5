"""Heat statistics and thermodynamics of bosonic Models (issue 5 on the bosonic engine).

Independent values: Saito–Dhar with the Caroli transmission (long-time cumulant rates), the
engine's currents and C(t) on the same finite modes (first cumulant, exact master equation),
the second law (entropy production), the sequential limit of Landauer written out in NumPy
(Markovian baseline).
"""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxtransport as jt
from jaxtransport import markov as mk
from jaxtransport import master_equation as me
from jaxtransport import statistics as st
from jaxtransport import thermodynamics as th

# gapped, smooth band above μ = 0: bosonic occupations stay finite, propagators decay fast
BAND = dict(lower=0.5, upper=4.5, edge=0.5)


def oscillator(gamma=0.6):
    d = jt.FlatBand(gamma, **BAND)
    hot = jt.Reservoir(d, temperature=2.0, coupling=[1.0])
    cold = jt.Reservoir(d, temperature=0.5, coupling=[1.0])
    return jt.Model([[2.0]], (hot, cold), statistics="boson")


def two_oscillators():
    h = np.array([[1.8, 0.3 - 0.1j], [0.3 + 0.1j, 2.6]])
    hot = jt.Reservoir(jt.FlatBand(0.5, **BAND), temperature=2.0, coupling=[1.0, 0.0])
    cold = jt.Reservoir(jt.FlatBand(0.8, **BAND), temperature=0.5, coupling=[0.0, 1.0])
    return jt.Model(h, (hot, cold), statistics="boson")


def random_boson_c0(n, k, seed=0):
    """k random physical bosonic C0 = U diag(ν) U†, ν ≥ 0 (exponential, mean 1; some 0)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        q, _ = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
        nu = rng.exponential(1.0, n) * (rng.uniform(size=n) > 0.2)
        out.append((q * nu) @ q.conj().T)
    return np.array(out)


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


@pytest.fixture(scope="module")
def pair():
    model = two_oscillators()
    disc = jt.Discretised(n_modes=96)
    times = np.linspace(0.0, 12.0, 25)
    fm = st.FiniteModes.from_model(model, disc)
    return model, fm, jt.response(model, times, method=disc), times


def test_first_cumulant_rate_is_engine_current_bosons(pair):
    _, fm, resp, times = pair
    c0 = np.array([[1.2, 0.3 + 0.2j], [0.3 - 0.2j, 0.4]])
    sol = resp.evaluate(jt.GaussianState(c0, statistics="boson"))
    rate = np.asarray(st.cumulants(fm, times, c0, order=1, time_derivative=True))[:, 0]
    np.testing.assert_allclose(rate, sol.heat_current[:, 0], atol=1e-10)
    assert np.abs(sol.heat_current[:, 0]).max() > 1e-2


def test_master_equation_reproduces_bosonic_engine(pair):
    _, fm, resp, times = pair
    gen = me.effective_generator(fm, times)
    assert gen.statistics == "boson"
    h, g = me.damping_from_response(resp)
    np.testing.assert_allclose(gen.hamiltonian, h, atol=1e-12)
    np.testing.assert_allclose(gen.damping, g, atol=1e-12)
    # bosons: loss = 2γ + Ξ = gain + 2γ
    np.testing.assert_allclose(gen.loss - gen.gain, 2 * gen.damping, atol=1e-12)
    for c0 in random_boson_c0(2, 3, seed=4):
        c = me.propagate(fm, c0, times)
        np.testing.assert_allclose(c, resp.evaluate(jt.GaussianState(c0, statistics="boson"))
                                   .correlation, atol=1e-8, rtol=0)


def test_bosonic_entropy_production_non_negative():
    """Second law for 50 random bosonic C0 (fixed seed) on the continuum model, Σ(0) = 0."""
    model = two_oscillators()
    ts = 8.0 * np.linspace(0.0, 1.0, 41) ** 3
    resp = jt.response(model, ts, method=jt.Continuum(tolerance=1e-7))
    c0 = random_boson_c0(2, 50, seed=1)
    sol = resp.evaluate(jt.GaussianState(c0, statistics="boson"))
    assert sol.statistics == "boson"
    sig = np.asarray(th.entropy_production(sol))
    assert sig.shape == (50, ts.size)
    assert np.all(sig[:, 0] == 0.0)
    assert sig.min() >= -1e-10
    assert sig[:, -1].min() > 1e-3
    with pytest.raises(ValueError, match="bosonic model"):
        th.entropy_production(sol, "fermion")


def _sequential_bose(model):
    """The sequential (weak-coupling) Landauer limit written out in NumPy with Bose functions
    (docs/theory.md, "Master equations"; cf. test_markov)."""
    w, phi = np.linalg.eigh(np.asarray(model.hamiltonian))
    res = model.reservoirs
    g = np.array([[np.real(phi[:, m].conj() @ np.asarray(r.spectral_matrix(w[m])) @ phi[:, m])
                   for m in range(len(w))] for r in res])
    temp, mu = np.asarray(model.temperatures), np.asarray(model.chemical_potentials)
    n = 1 / np.expm1((w[None, :] - mu[:, None]) / temp[:, None])
    jq = np.zeros(len(res))
    for a in range(len(res)):
        for b in range(len(res)):
            jq[a] += np.sum((w - mu[a]) * g[a] * g[b] / g.sum(0) * (n[a] - n[b]))
    return jq


@pytest.mark.parametrize("lamb_shift", [False, True])
def test_bosonic_markov_steady_state_is_sequential_landauer(lamb_shift):
    model = two_oscillators()
    gen = mk.markov_generator(model, kind="global", lamb_shift=lamb_shift)
    loss, gain = gen.jump_rates()
    assert float(np.min(loss)) >= -1e-14 and float(np.min(gain)) >= -1e-14
    # bosons: loss = Γ(1 + n) ≥ gain = Γ n
    assert float(np.min(np.asarray(loss) - np.asarray(gain))) > 0
    ref = _sequential_bose(model)
    np.testing.assert_allclose(mk.markov_steady_state(gen)[2], ref, atol=1e-8, rtol=0)
    np.testing.assert_allclose(mk.sequential_landauer(model)[2], ref, atol=1e-12)
    late = mk.markov_solve(gen, np.zeros((2, 2)), np.array([0.0, 400.0]))
    np.testing.assert_allclose(late.heat_current[-1], ref, atol=1e-10)
    assert np.abs(ref).max() > 1e-3


def test_lamb_shift_of_a_non_lorentzian_density_is_kramers_kronig():
    """The Markovian Lamb shift of a FlatBand is the principal value of its self-energy
    (it was silently dropped for non-Lorentzian densities before)."""
    model = oscillator()
    gen = mk.markov_generator(model, kind="local", lamb_shift=True)
    x = np.linspace(0.5, 4.5, 200001)
    g = np.asarray(jt.FlatBand(0.6, **BAND)(x))
    # Λ(2) = P∫dω/2π g(ω)/(2 − ω): symmetric grid around the pole (midpoint-free)
    mask = np.abs(x - 2.0) > 1e-12
    lam = np.trapezoid(np.where(mask, g / np.where(mask, 2.0 - x, 1.0), 0.0), x) / (2 * np.pi)
    shift = float(np.real(gen.hamiltonian[0, 0])) - 2.0
    np.testing.assert_allclose(shift, 2 * lam, rtol=1e-6)
    assert abs(shift) > 1e-3


def test_bosonic_preparation_optimised_within_a_bounded_thermal_family():
    """optimise_preparation on a bosonic Model with ThermalState(statistics="boson"), T ∈
    (0.2, 3), objective J^Q_cold(t = 1) + 0.3 (Tr C0)² (a preparation cost: a bosonic C0 is
    unbounded): the optimum (interior, T ≈ 1.7) equals the minimum of a dense scan of the same
    family (independent: GaussianState.thermal + evaluate)."""
    model = two_oscillators()
    times = np.linspace(0.0, 3.0, 16)
    resp = jt.response(model, times, method=jt.Discretised(n_modes=64))

    def objective(sol):
        return sol.heat_current[5, 1] + 0.3 * jnp.trace(sol.correlation[0]).real ** 2

    par = jt.ThermalState(model.hamiltonian, (0.2, 3.0), statistics="boson")
    res = jt.optimise_preparation(model, times, objective, par, response=resp, steps=300,
                                  n_starts=2, progress=False)
    scan_t = np.linspace(0.2, 3.0, 2801)
    c0 = np.stack([np.asarray(jt.GaussianState.thermal(model.hamiltonian, t,
                                                       statistics="boson").correlation)
                   for t in scan_t])
    sol = resp.evaluate(jt.GaussianState(c0, statistics="boson"))
    vals = np.asarray(sol.heat_current[:, 5, 1]) + 0.3 * np.trace(c0, axis1=1, axis2=2).real ** 2
    best = int(vals.argmin())
    assert 0 < best < scan_t.size - 1  # interior optimum
    np.testing.assert_allclose(res.value, vals.min(), atol=1e-7)
    np.testing.assert_allclose(res.correlation, c0[best], atol=2e-3)  # scan step 1e-3 in T
