"""Correlated initial states (jt.StationaryState): the exact stationary state of a premodel,
then the model's Hamiltonian from t = 0. Independent references: Landauer–Büttiker
(jt.steady_state), the joint Gibbs state of a finite single-particle Hamiltonian evolved
exactly (an independent construction: eigendecomposition, no pole closure), conservation laws
and finite differences. QuTiP HEOM: tests/test_stationary_state_heom.py (slow; a separate
file because it needs the optional qutip)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxtransport as jt

LOR = jt.Lorentzian(gamma=1.0, width=2.0, center=0.0)
CUT = jt.CutoffLorentzian(gamma=1.0, width=1.0, cutoff=3.0)


def two_site(h, vl=(1.0, 0.0), vr=(0.0, 1.0), temps=(1.0, 0.5), mus=(0.2, -0.1), dens=LOR):
    return jt.Model(jnp.asarray(h), [
        jt.Reservoir(dens, temps[0], mus[0], jnp.asarray(vl)),
        jt.Reservoir(dens, temps[1], mus[1], jnp.asarray(vr))])


def level(eps, v=1.0, dens=CUT, temp=0.5, mu=0.0):
    return jt.Model(jnp.asarray([[eps]]), [jt.Reservoir(dens, temp, mu, jnp.asarray([v]))])


H = [[0.3, 0.5], [0.5, -0.2]]


def test_stationarity_equals_landauer_at_all_times():
    """premodel == model: every current constant and equal to Landauer–Büttiker ≤ 1e-8 for
    all t including t = 0 (non-equilibrium: T_L ≠ T_R, μ_L ≠ μ_R); occupations constant.
    Stage 2 is linear in the occupations: one stage 1, a batch of (T, μ), each Landauer."""
    model = two_site(H)
    times = jnp.linspace(0.0, 5.0, 11)
    method = jt.Continuum(temperature_range=(0.5, 1.0), chemical_potential_range=(-0.1, 0.2))
    state = jt.StationaryState(model)
    resp = jt.response(model, times, method, initial=state)
    temps = jnp.asarray([[1.0, 0.5], [0.6, 0.9]])
    mus = jnp.asarray([[0.2, -0.1], [0.0, 0.1]])
    batch = resp.evaluate(state, temps, mus)
    for b in range(2):
        ss = jt.steady_state(model, temps[b], mus[b])
        for k in ("particle_current", "energy_current", "heat_current"):
            err = float(jnp.max(jnp.abs(getattr(batch, k)[b] - getattr(ss, k))))
            assert err <= 1e-8, (b, k, err)
        for k in ("coupling_energy", "occupation"):
            x = np.asarray(getattr(batch, k)[b])
            assert np.max(np.abs(x - x[0])) <= 1e-10, k
    sol = jt.solve(model, state, times, method=method)  # the one-call entry point
    assert float(jnp.max(jnp.abs(sol.heat_current - batch.heat_current[0]))) <= 1e-12
    assert np.all(np.asarray(sol.coupling_energy[0]) < -0.1)  # correlations carry energy
    assert float(jnp.max(jnp.abs(sol.coupling_energy_derivative))) <= 1e-10


def test_equilibrium_quench_matches_finite_mode_gibbs_state():
    """Joint equilibrium start: the continuum result vs the Gibbs state f(H⁰) of the full
    finite single-particle Hamiltonian (300 modes, sinh grid, band ±30) evolved exactly with
    H¹. Measured: occupations / particle currents ~1e-8, energy currents 6e-7, coupling
    energy ~9e-7 (band truncation of the finite baths)."""
    pre, model = level(0.5), level(-0.5, v=0.8)
    times = jnp.linspace(0.0, 3.0, 7)
    state = jt.StationaryState(pre)
    sol = jt.solve(model, state, times)
    fin = jt.solve(model, state, times, method=jt.Discretised(
        n_modes=300, band=30.0, grid_scale=1.0, band_warning=1e-2))
    err = lambda k: float(jnp.max(jnp.abs(getattr(sol, k) - getattr(fin, k))))
    assert err("occupation") <= 1e-7
    assert err("particle_current") <= 1e-7
    assert err("energy_current") <= 1e-6
    assert err("coupling_energy") <= 2e-6
    # first law from t = 0: Σ_α J^E_α = d<H_S>/dt + Σ_α d<H_I^α>/dt
    lhs = sol.energy_current.sum(-1)
    rhs = sol.system_energy_derivative + sol.coupling_energy_derivative.sum(-1)
    assert float(jnp.max(jnp.abs(lhs - rhs))) <= 1e-8
    # at t = 0 the state is the premodel's equilibrium: currents vanish, and the coupling
    # energy follows from the equilibrium value <H_I> = −(2/π) ∫dω f(ω) Im[Σ^R(ω) G^R(ω)] (Green's
    # functions of the premodel; Gauss–Legendre in θ, ω = 3 tan θ)
    assert float(jnp.max(jnp.abs(sol.particle_current[0]))) <= 1e-10
    x, w = np.polynomial.legendre.leggauss(4000)
    theta = 0.5 * np.pi * x
    omega = 3.0 * np.tan(theta)
    sig = np.asarray(jt.self_energy(pre, jnp.asarray(omega)))[:, 0, 0]
    f = 0.5 * (1.0 - np.tanh(omega))  # T = 0.5, μ = 0
    integrand = f * np.imag(sig / (omega - 0.5 - sig)) * 3.0 / np.cos(theta) ** 2
    h_i = -(2 / np.pi) * np.sum(0.5 * np.pi * w * integrand)
    # the reported <H_I> is that of the model's coupling (v = 0.8) in the premodel's state
    # (v = 1): for one coupling vector it scales with v¹/v⁰
    assert abs(float(sol.coupling_energy[0, 0]) - 0.8 * h_i) <= 1e-8


@pytest.mark.slow
def test_long_time_limit_is_post_quench_steady_state():
    """Two sides pre-equilibrated with their own reservoirs, then connected by a hopping:
    at long times the currents equal the post-quench Landauer values."""
    pre = two_site([[0.3, 0.0], [0.0, -0.2]])
    model = two_site(H)
    sol = jt.solve(model, jt.StationaryState(pre), jnp.asarray([0.0, 1.0, 30.0, 40.0]))
    ss = jt.steady_state(model)
    for k in ("particle_current", "heat_current"):
        assert float(jnp.max(jnp.abs(getattr(sol, k)[-1] - getattr(ss, k)))) <= 1e-7, k
    # before the hopping nothing flows between the sides: each side is in its own
    # equilibrium at t = 0, so every current starts at zero
    assert float(jnp.max(jnp.abs(sol.particle_current[0]))) <= 1e-10
    assert float(jnp.max(jnp.abs(sol.heat_current[0]))) <= 1e-10


@pytest.mark.slow
def test_gradient_with_respect_to_premodel_parameters():
    """d J^Q(t) / d(premodel level energy) by autodiff vs central finite differences."""
    times = jnp.asarray([0.0, 0.5, 1.0])
    model = two_site(H)
    state = jt.StationaryState(two_site([[0.1, 0.0], [0.0, -0.2]]))
    method = state.resolve(model, times)

    def q(e0):
        pre = two_site(jnp.asarray([[e0, 0.0], [0.0, -0.2]]))
        return jt.solve(model, jt.StationaryState(pre), times, method=method).heat_current[-1, 1]

    g = jax.grad(q)(0.1)
    d = 1e-4
    fd = (q(0.1 + d) - q(0.1 - d)) / (2 * d)
    assert abs(float(g) - float(fd)) <= 1e-6 * max(1.0, abs(float(fd)))


def test_bad_inputs():
    model = two_site(H)
    with pytest.raises(ValueError, match="temperature"):
        jt.StationaryState(two_site(H, temps=(1.0, 0.6))).check(model)
    with pytest.raises(ValueError, match="spectral density"):
        jt.StationaryState(two_site(H, dens=CUT)).check(model)
    with pytest.raises(ValueError, match="system modes"):
        jt.StationaryState(level(0.0, dens=LOR)).check(model)
    with pytest.raises(ValueError, match="jt.Model"):
        jt.StationaryState(jnp.eye(2))
    with pytest.raises(ValueError, match="not by Pade"):
        jt.solve(model, jt.StationaryState(model), jnp.asarray([0.0, 1.0]), method=jt.Pade())
    with pytest.raises(ValueError, match="bound state"):  # site 2 reaches no reservoir
        jt.solve(model, jt.StationaryState(two_site([[0.3, 0.0], [0.0, -0.2]], vr=(0, 0))),
                 jnp.asarray([0.0, 1.0]))
    prod = jt.response(level(0.0), jnp.asarray([0.0, 0.5]), jt.Discretised(
        n_modes=40, band=10.0, check_recurrence=False, band_warning=0.5))
    with pytest.raises(ValueError, match="own stage 1"):
        prod.evaluate(jt.StationaryState(level(0.0)))
    two = two_site(H, dens=CUT, temps=(0.5, 0.5), mus=(0.0, 0.0))
    resp = jt.response(two, jnp.asarray([0.0, 0.5]), jt.Discretised(
        n_modes=40, band=10.0, check_recurrence=False, band_warning=0.5),
        initial=jt.StationaryState(two))
    with pytest.raises(Exception, match="same temperature"):
        resp.evaluate(None, jnp.asarray([0.5, 0.6]), jnp.asarray([0.0, 0.0]))
    with pytest.raises(ValueError, match="built for a correlated"):
        resp.evaluate(jnp.zeros((2, 2)))


def test_entropy_identity_and_bound_on_finite_modes():
    """Σ_c(t) = Σ(t) + D_0 from the currents (system entropy and integrated heat) equals
    I_SR(t) + D(ρ_R(t) ‖ σ_R) computed by brute force from the full correlation matrix
    (numpy eigh of the finite H¹, f(H⁰) by scipy eigh); hence Σ(t) ≥ −D_0 and Σ_c ≥ 0."""
    import scipy.linalg as sla

    from jaxtransport.response.discretised import full_hamiltonian
    from jaxtransport.response.stationary import finite_modes

    temp = 0.5
    pre, model = level(0.6, v=0.6, temp=temp), level(-0.4, v=1.0, temp=temp)
    method = jt.Discretised(n_modes=48, band=8.0, check_recurrence=False, band_warning=0.5)
    times = jnp.linspace(0.0, 3.0, 61)
    state = jt.StationaryState(pre)
    sol = jt.solve(model, state, times, method=method)
    d0 = float(state.initial_information(method))
    sig = np.asarray(jt.thermodynamics.entropy_production(sol))
    sig_c = np.asarray(jt.thermodynamics.correlated_entropy_production(sol, d0))

    eps, c0, _ = (np.asarray(x) for x in finite_modes(method, pre, times))
    _, c1, _ = (np.asarray(x) for x in finite_modes(method, model, times))
    h0 = np.asarray(full_hamiltonian(pre.hamiltonian, eps, c0))
    h1 = np.asarray(full_hamiltonian(model.hamiltonian, eps, c1))
    lam, phi = sla.eigh(h0)
    ctot = (phi / (np.exp(lam / temp) + 1)) @ phi.conj().T  # Gibbs state, μ = 0
    np.testing.assert_allclose(np.asarray(state.full_correlation(method)[0]), ctot, atol=1e-12)

    def entropy(c):
        nu = np.clip(np.linalg.eigvalsh(c), 1e-300, 1 - 1e-16)
        return float(-np.sum(nu * np.log(nu) + (1 - nu) * np.log1p(-nu)))

    x = eps / temp
    rhs = []
    lam1, w1 = np.linalg.eigh(h1)  # numpy: exact evolution e^{−iH¹t} = W e^{−iΛt} W†
    for t in np.asarray(times):
        u = (w1 * np.exp(-1j * lam1 * t)) @ w1.conj().T
        ct = u @ ctot @ u.conj().T
        s_s, s_r = entropy(ct[:1, :1]), entropy(ct[1:, 1:])
        mutual = s_s + s_r - entropy(ct)
        rel = -s_r + float(np.sum(np.diag(ct)[1:].real * x + np.logaddexp(0, -x)))
        rhs.append(mutual + rel)
        if t == 0.0:
            assert abs(mutual + rel - d0) <= 1e-9  # D_0 = I(0) + D(ρ_R(0) ‖ σ_R)
    rhs = np.asarray(rhs)
    assert np.max(np.abs(sig_c - rhs)) <= 1e-6, np.max(np.abs(sig_c - rhs))
    assert d0 > 1e-3 and np.all(sig_c >= -1e-9) and np.all(sig >= -d0 - 1e-9)
    # weakening the coupling spends correlations: Σ turns negative (measured −0.096), but
    # never below −D_0 (0.259)
    state2 = jt.StationaryState(level(0.0, v=1.0, temp=temp))
    sol2 = jt.solve(level(0.0, v=0.3, temp=temp), state2, times, method=method)
    sig2 = np.asarray(jt.thermodynamics.entropy_production(sol2))
    d02 = float(state2.initial_information(method))
    assert sig2.min() < -0.05 and sig2.min() >= -d02
    assert np.all(np.asarray(jt.thermodynamics.correlated_entropy_production(sol2, d02))
                  >= -1e-9)


def test_bosonic_joint_gibbs_state_is_stationary():
    """Bosons, finite modes: the Gibbs state of the full H of the model itself stays put
    (every current zero, occupations constant, coupling energy constant and negative), while
    quenching the oscillator frequency from that state sets currents flowing; its initial
    system occupation is the (μ = 0) Bose function of H evaluated on the system block."""
    import scipy.linalg as sla

    from jaxtransport.response.discretised import full_hamiltonian
    from jaxtransport.response.stationary import finite_modes

    dens = jt.Ohmic(alpha=0.2, cutoff=2.0)
    osc = lambda w: jt.Model([[w]], [jt.Reservoir(dens, 0.7, 0.0, [1.0])], statistics="boson")
    method = jt.Discretised(n_modes=64, check_recurrence=False, band_warning=0.5)
    times = jnp.linspace(0.0, 2.0, 5)
    state = jt.StationaryState(osc(1.0))
    still = jt.solve(osc(1.0), state, times, method=method)
    quench = jt.solve(osc(0.6), state, times, method=method)
    assert float(jnp.max(jnp.abs(still.particle_current))) <= 1e-10
    assert float(jnp.max(jnp.abs(still.energy_current))) <= 1e-10
    assert float(jnp.ptp(still.occupation)) <= 1e-10
    assert float(still.coupling_energy[0, 0]) < 0
    assert float(jnp.max(jnp.abs(quench.energy_current))) > 1e-3
    eps, coup, _ = (np.asarray(x) for x in finite_modes(method, osc(1.0), times))
    lam, phi = sla.eigh(np.asarray(full_hamiltonian(jnp.asarray([[1.0]]), eps, coup)))
    n_sys = float(np.sum(np.abs(phi[0]) ** 2 / np.expm1(lam / 0.7)))
    assert abs(float(still.occupation[0, 0]) - n_sys) <= 1e-10
