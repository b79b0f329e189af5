"""Markovian (GKSL) baseline: many-body Lindblad in Fock space, positivity of the rates, the
sequential limit of Landauer, convergence to the exact steady state as γ → 0, and the
transient the Markovian treatment misses; bosons (sequential Landauer with Bose functions, the
Kramers–Kronig Lamb shift of a non-Lorentzian density). jaxtransport.markov."""

import numpy as np
import pytest
import scipy.linalg as la
from reference import _fermion_annihilators, build_model
from scipy import integrate
from systems import (
    BAND,
    coherent_c0_2,
    oscillator,
    shared_reservoir,
    single_level,
    three_site_chain,
    two_oscillators,
    two_site,
)

import jaxtransport as jt
from jaxtransport import markov as mk
from jaxtransport import thermodynamics as th

SYSTEMS = [single_level, two_site, three_site_chain, shared_reservoir]


def _many_body_lindblad(gen, n):
    """Fock-space Lindbladian (row-major vec) from the Kossakowski matrices: loss jumps
    sqrt(r) Σ_i conj(u_i) a_i, gain jumps sqrt(r) Σ_i u_i a_i† (eigenvectors u)."""
    a = [x.toarray() for x in _fermion_annihilators(n)]
    ad = [x.conj().T for x in a]
    hh = np.asarray(gen.hamiltonian)
    ham = sum(hh[i, j] * ad[i] @ a[j] for i in range(n) for j in range(n))
    jumps = []
    for al in range(gen.rates.shape[0]):
        pairs = ((gen.rates[al] - gen.gains[al], a, True), (gen.gains[al], ad, False))
        for mat, ops, conj in pairs:
            r, u = la.eigh(np.asarray(mat))
            for k in range(n):
                if r[k] > 1e-15:
                    c = np.conj(u[:, k]) if conj else u[:, k]
                    jumps.append(np.sqrt(r[k]) * sum(c[i] * ops[i] for i in range(n)))
    d = 2**n
    eye = np.eye(d)
    sup = -1j * (np.kron(ham, eye) - np.kron(eye, ham.T))
    for j in jumps:
        jdj = j.conj().T @ j
        sup += np.kron(j, j.conj()) - 0.5 * np.kron(jdj, eye) - 0.5 * np.kron(eye, jdj.T)
    return sup, a, ad


@pytest.mark.parametrize("kind", ["global", "local"])
def test_single_particle_equation_equals_many_body_lindblad(kind):
    model = two_site()
    gen = mk.markov_generator(model, kind=kind, lamb_shift=True)
    ts = np.linspace(0.0, 10.0, 6)
    sol = mk.markov_solve(gen, coherent_c0_2(), ts)
    sup, a, ad = _many_body_lindblad(gen, 2)
    # trace preservation of the generator itself: Tr[L(ρ)] = 0 for every ρ
    tr_row = np.eye(4).reshape(-1)
    assert np.max(np.abs(tr_row @ sup)) < 1e-14
    rho0 = build_model(np.zeros((2, 2)), [], coherent_c0_2())["rho0"].toarray()
    for i, t in enumerate(ts):
        rho = (la.expm(sup * t) @ rho0.reshape(-1)).reshape(4, 4)
        assert la.eigvalsh(0.5 * (rho + rho.conj().T)).min() > -1e-12  # positivity
        c = np.array([[np.trace(rho @ ad[j] @ a[k]) for j in range(2)] for k in range(2)])
        np.testing.assert_allclose(c, sol.correlation[i], atol=1e-12)


@pytest.mark.parametrize("kind", ["global", "local"])
@pytest.mark.parametrize("system", SYSTEMS)
def test_rates_non_negative(system, kind):
    gen = mk.markov_generator(system(), kind=kind, lamb_shift=True)
    loss, gain = gen.jump_rates()
    assert float(np.min(loss)) >= -1e-14 and float(np.min(gain)) >= -1e-14
    assert float(np.max(loss)) > 1e-3


def _sequential(model):
    """The sequential Landauer limit (docs/theory.md), written out:
    J^Q_α = Σ_m Σ_β (ω_m − μ_α) Γ_α,m Γ_β,m/Σ_γ Γ_γ,m [f_α(ω_m) − f_β(ω_m)],
    Γ_α,m = <φ_m|Γ_α(ω_m)|φ_m> (plain NumPy)."""
    h = np.asarray(model.hamiltonian)
    w, phi = np.linalg.eigh(h)
    res = model.reservoirs
    g = np.array([[np.real(phi[:, m].conj() @ np.asarray(r.spectral_matrix(w[m])) @ phi[:, m])
                   for m in range(len(w))] for r in res])
    temp = np.asarray(model.temperatures)
    mu = np.asarray(model.chemical_potentials)
    f = 1 / (np.exp((w[None, :] - mu[:, None]) / temp[:, None]) + 1)
    jq = np.zeros(len(res))
    for al in range(len(res)):
        for be in range(len(res)):
            jq[al] += np.sum((w - mu[al]) * g[al] * g[be] / g.sum(0) * (f[al] - f[be]))
    return jq


@pytest.mark.parametrize("system", SYSTEMS)
def test_global_steady_state_is_sequential_landauer(system):
    model = system()
    gen = mk.markov_generator(model, kind="global")
    _, _, jq = mk.markov_steady_state(gen)
    ref = _sequential(model)
    np.testing.assert_allclose(jq, ref, atol=1e-8 * max(1.0, np.abs(ref).max()), rtol=0)
    np.testing.assert_allclose(mk.sequential_landauer(model)[2], ref, atol=1e-12)
    # the transient relaxes to it
    late = mk.markov_solve(gen, np.zeros((model.n_modes,) * 2), np.array([0.0, 400.0]))
    np.testing.assert_allclose(late.heat_current[-1], jq, atol=1e-10)
    assert np.abs(ref).max() > 1e-4


def _exact_single_level_heat(gamma, eps=0.5, width=2.0, t_hot=1.5, t_cold=0.5):
    """Landauer–Caroli heat current out of the hot lead for a single level (NumPy + quad)."""
    def t_of(w):
        sig = 2 * 0.5 * gamma * width / (w + 1j * width)
        gl = gamma * width**2 / (w**2 + width**2)
        return gl * gl / abs(w - eps - sig) ** 2

    def integrand(w):
        fh, fc = 1 / (np.exp(w / t_hot) + 1), 1 / (np.exp(w / t_cold) + 1)
        return w * t_of(w) * (fh - fc) / (2 * np.pi)

    val, _ = integrate.quad(integrand, -60, 60, points=[eps], limit=2000, epsabs=1e-14,
                            epsrel=1e-12)
    return val, t_of


def test_markov_converges_to_exact_steady_state_as_coupling_vanishes():
    gammas = np.array([0.04, 0.02, 0.01])
    err = {}
    for ls in (False, True):
        rel = []
        for g in gammas:
            model = single_level(gamma=g)
            exact, t_of = _exact_single_level_heat(g)
            jq = float(mk.markov_steady_state(mk.markov_generator(model, lamb_shift=ls))[2][0])
            rel.append(abs(jq - exact) / abs(exact))
        err[ls] = np.array(rel)
    # the NumPy transmission is the library's (independent check of the reference itself)
    np.testing.assert_allclose(t_of(0.3), float(jt.transmission(single_level(gamma=0.01),
                                                                0.3)[0, 1]), rtol=1e-12)
    # measured: relative error 5.2e-2, 2.7e-2, 1.4e-2 (γ = 0.04, 0.02, 0.01); the Lamb shift
    # moves only the coherences, not a single level's steady current (same numbers)
    for ls in (False, True):
        assert err[ls][-1] < 2e-2
        # relative error ∝ γ: halving γ halves it
        np.testing.assert_allclose(err[ls][:-1] / err[ls][1:], 2.0, rtol=0.1)


def test_markov_misses_the_transient_reversal():
    """Empty level, T_hot > T_cold: the exact heat current out of the hot lead is negative at
    early times (the coupling switch-on); the Markovian one is positive from t = 0."""
    model = single_level()
    ts = 6.0 * np.linspace(0, 1, 61) ** 2
    exact = jt.response(model, ts, method=jt.Continuum(tolerance=1e-6)).evaluate(np.zeros((1, 1)))
    markov = mk.markov_solve(mk.markov_generator(model), np.zeros((1, 1)), ts)
    assert th.negative_windows(ts, np.asarray(exact.heat_current[:, 0]), 1e-12)
    assert th.negative_windows(ts, np.asarray(markov.heat_current[:, 0]), 1e-12) == []


def test_rejects_bad_inputs():
    model = two_site()
    with pytest.raises(ValueError, match="kind must be one of"):
        mk.markov_generator(model, kind="redfield")
    with pytest.raises(ValueError, match="shape"):
        mk.markov_generator(model, temperature=[1.0])
    with pytest.raises(ValueError, match="initial correlation"):
        mk.markov_solve(mk.markov_generator(model), np.eye(3), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="degeneracy_tolerance"):
        mk.markov_generator(model, degeneracy_tolerance=-1.0)
    with pytest.raises(ValueError, match="non-degenerate"):
        mk.sequential_landauer(jt.Model(np.eye(2), model.reservoirs))


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
