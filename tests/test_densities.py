"""The spectral-density family (Ohmic, Drude, Semicircle, FlatBand, Tabulated) for fermions:
closed forms vs quadrature, the kernel fit, Continuum vs Discretised, and Semicircle vs an
explicit tight-binding chain (exact finite-system evolution before its reflection time)."""

import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import j1

import jaxtransport as jt
from jaxtransport.spectral_density import AbstractSpectralDensity


def test_kernels_and_self_energies_match_closed_forms():
    tau = np.linspace(0, 20, 41)
    for dens in (jt.Ohmic(0.1, 2.0), jt.Ohmic(0.1, 2.0, exponent=0.5)):
        k_num, ke_num = AbstractSpectralDensity.kernels(dens, tau)  # quadrature
        k, ke = dens.kernels(tau)  # closed form
        assert np.max(np.abs(k_num - k)) < 1e-12 and np.max(np.abs(ke_num - ke)) < 1e-11
    sc = jt.Semicircle(0.7, 2.0, 0.3)
    exact = 0.7 * np.exp(-0.3j * tau[1:]) * j1(2.0 * tau[1:]) / (2 * tau[1:])
    assert np.max(np.abs(sc.kernel(tau[1:]) - exact)) < 1e-12
    om = jnp.asarray([-3.0, -1.0, 0.0, 0.5, 1.9, 2.5])
    kk = AbstractSpectralDensity.self_energy(sc, om)  # numerical Kramers–Kronig
    assert np.max(np.abs(np.asarray(kk) - np.asarray(sc.self_energy(om)))) < 1e-9
    fb = jt.FlatBand(0.3, -3.0, 3.0, 1.0)
    assert abs(AbstractSpectralDensity.total_weight(fb) - fb.total_weight()) < 1e-12


@pytest.mark.parametrize("dens", [jt.Ohmic(0.1, 2.0), jt.Semicircle(0.7, 2.0, 0.3),
                                  jt.FlatBand(0.3, -3.0, 3.0, 1.0)])
def test_kernel_fit_accuracy(dens):
    fit = jt.fit_kernel(dens, 20.0, 1e-10)
    tau = np.linspace(0, 20, 1001)
    k, ke = dens.kernels(tau)
    l1 = lambda f: float(np.sum(np.abs(f)) * (tau[1] - tau[0]))
    assert l1(fit(tau) - k) < 1e-9 * l1(k)
    assert l1(fit(tau, energy=True) - ke) < 1e-9 * l1(ke)


def _level(dens, eps=0.4):
    hot = jt.Reservoir(dens, temperature=1.0, chemical_potential=0.2, coupling=[1.0])
    cold = jt.Reservoir(dens, temperature=0.3, coupling=[0.8])
    return jt.Model([[eps]], (hot, cold))


_GRID = np.linspace(-7.0, 7.0, 281)  # samples vanish at the ends (e^{-26})


@pytest.mark.slow
@pytest.mark.parametrize("dens", [jt.Semicircle(0.8, 2.0), jt.FlatBand(0.5, -3.0, 3.0, 0.8),
                                  jt.Drude(0.4, 1.0, 6.0),
                                  jt.Tabulated(_GRID, 0.6 * np.exp(-0.5 * (_GRID - 0.3) ** 2))],
                         ids=["semicircle", "flatband", "drude", "tabulated"])
def test_fermion_general_density_continuum_matches_discretised(dens):
    model = _level(dens)
    times = np.linspace(0, 6, 13)
    c0 = jnp.array([[0.9]])
    cont = jt.solve(model, c0, times, method=jt.Continuum(tolerance=1e-7))
    band = 100.0 if isinstance(dens, jt.Drude) else None  # e^(−ω/Λ) tail: weight < 1e-8 beyond
    disc = jt.solve(model, c0, times, method=jt.Discretised(n_modes=1024, band=band))
    for k in ("occupation", "particle_current", "coupling_energy"):
        assert np.max(np.abs(np.asarray(getattr(cont, k)) - np.asarray(getattr(disc, k)))) < 1e-6
    for k in ("energy_current", "heat_current"):
        assert np.max(np.abs(np.asarray(getattr(cont, k)) - np.asarray(getattr(disc, k)))) < 1e-5


@pytest.mark.slow
def test_semicircle_matches_explicit_tight_binding_chain():
    """A level coupled (τ) to the end of a chain (hopping J): Γ = Semicircle(4τ²/D, D = 2J)."""
    hop, tc, eps, temp, mu, n_chain = 1.0, 0.5, 0.3, 0.5, 0.1, 240
    times = np.linspace(0, 12, 25)  # reflection after ≈ 2 n_chain / (2 J) = 240
    hc = -hop * (np.eye(n_chain, k=1) + np.eye(n_chain, k=-1))
    lam, vec = np.linalg.eigh(hc)
    fchain = (vec * (0.5 * (1 - np.tanh(0.5 * (lam - mu) / temp)))) @ vec.T
    h = np.zeros((n_chain + 1, n_chain + 1))
    h[0, 0] = eps
    h[0, 1] = h[1, 0] = -tc
    h[1:, 1:] = hc
    c_tot = np.zeros_like(h)
    c_tot[0, 0] = 1.0
    c_tot[1:, 1:] = fchain
    e, u = np.linalg.eigh(h)
    occ, cur = [], []
    for t in times:
        ut = (u * np.exp(-1j * e * t)) @ u.T
        c = ut @ c_tot @ ut.conj().T
        dc = -1j * (h @ c - c @ h)
        occ.append(c[0, 0].real)
        cur.append(-np.trace(dc[1:, 1:]).real)  # out of the chain
    d = 2 * hop
    model = jt.Model([[eps]], (jt.Reservoir(jt.Semicircle(4 * tc**2 / d, d), temperature=temp,
                                            chemical_potential=mu, coupling=[1.0]),))
    sol = jt.solve(model, jnp.array([[1.0]]), times, method=jt.Continuum(tolerance=1e-8))
    assert np.max(np.abs(np.asarray(sol.occupation[:, 0]) - occ)) < 1e-6
    assert np.max(np.abs(np.asarray(sol.particle_current[:, 0]) - cur)) < 1e-6


def test_tabulated_with_end_jump_is_refused_by_continuum_with_the_reason():
    grid = np.linspace(-20.0, 20.0, 401)
    tab = jt.Tabulated(grid, np.asarray(jt.CutoffLorentzian(0.6, 1.0, 4.0)(grid)))  # cut at ±20
    with pytest.raises(ValueError, match="do not vanish at the grid ends"):
        jt.fit_kernel(tab, 20.0, 1e-8)


@pytest.mark.slow
def test_tabulated_reproduces_cutoff_lorentzian():
    """Samples of a (cutoff) Lorentzian, spline-interpolated: same physics to the stated
    interpolation error (both with finite-mode baths on the same time window)."""
    cl = jt.CutoffLorentzian(0.5, 1.0, 4.0)
    grid = np.linspace(-100, 100, 2001)
    tab = jt.Tabulated(grid, np.asarray(cl(grid)))
    err = tab.interpolation_error()
    assert 1e-9 < err < 1e-4
    times = np.linspace(0, 5, 11)
    out = []
    for dens in (cl, tab):
        model = _level(dens)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(jt.solve(model, jnp.array([[0.9]]), times,
                                method=jt.Discretised(n_modes=2048, band=100.0)))
    for k in ("occupation", "particle_current"):
        diff = np.max(np.abs(np.asarray(getattr(out[0], k)) - np.asarray(getattr(out[1], k))))
        assert diff < 10 * err * math.sqrt(2), (k, diff, err)
