"""Currents-only stage 1 (``observables="currents"``) against the full Response, the other
method, and the transform matrix. The currents-only Continuum is an independent formulation
(eigendecomposition of the closure generator, closed-form node kernels, z from an algebraic
identity) of the same integrals the full Continuum computes by exact matrix-exponential time
stepping; the currents-only Discretised evolves a few probe rows instead of all system rows."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from systems import lead, three_site_chain

import jaxtransport as jt

FIELDS = ("particle_current", "energy_current", "heat_current", "coupling_energy",
          "coupling_energy_derivative", "heat_current_derivative")
TIMES = np.linspace(0.0, 8.0, 25)


def _c0(n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    c = a @ a.conj().T
    return c / (1.1 * np.linalg.eigvalsh(c).max())


def _multi_term():
    """Three sites; the cold reservoir has two terms (a CutoffLorentzian on two sites and a
    Lorentzian on the middle one): pole vectors differ from term vectors."""
    h = np.diag([0.3, -0.2, 0.5]) + 0.4 * (np.eye(3, k=1) + np.eye(3, k=-1))
    hot = jt.Reservoir(jt.Lorentzian(0.8, 2.0), temperature=1.5, chemical_potential=0.2,
                       coupling=[1.0, 0.0, 0.0])
    cold = jt.Reservoir(terms=[(lead(0.5, 1.0, cutoff=4.0), np.array([0.0, 0.3, 1.0j])),
                               (jt.Lorentzian(0.2, 1.0, 1.0), np.array([0.0, 1.0, 0.0]))],
                        temperature=0.5)
    return jt.Model(h, (hot, cold))


def _max_diff(a, b):
    return {k: float(jnp.max(jnp.abs(getattr(a, k) - getattr(b, k)))) for k in FIELDS}


@pytest.mark.parametrize("build", [_multi_term, three_site_chain])
def test_continuum_currents_equal_full_response(build):
    # same quadrature plan, independent formulation: agreement to rounding (measured ≤ 3e-13
    # in currents, 1e-11 in dJ/dt of magnitude ~16 at t = 0)
    model = build()
    method = jt.Continuum(tolerance=1e-8)
    full = jt.response(model, TIMES, method)
    cur = jt.response(model, TIMES, method, observables="currents")
    assert isinstance(cur, jt.CurrentResponse)
    c0 = _c0(model.n_modes)
    sf, sc = full.evaluate(c0), cur.evaluate(c0)
    d = _max_diff(sf, sc)
    assert max(v for k, v in d.items() if k != "heat_current_derivative") < 1e-10, d
    for k in ("integrated_heat", "symmetric_heat_current"):
        assert float(jnp.max(jnp.abs(getattr(sf, k) - getattr(sc, k)))) < 1e-10
    ds = sc.to_xarray(reservoir_names=["hot", "cold"])
    np.testing.assert_array_equal(ds.heat_current.sel(reservoir="hot"), sc.heat_current[:, 0])
    assert d["heat_current_derivative"] < 1e-9, d
    assert float(cur.error_estimate) == pytest.approx(float(full.error_estimate), rel=1e-6)


def test_continuum_currents_bosons_with_fitted_kernel():
    # Ohmic bath: non-pole density, fitted kernel poles + exact g at the nodes, no rays
    bath = jt.Reservoir(jt.Ohmic(0.1, 3.0), temperature=0.8, coupling=[1.0])
    cold = jt.Reservoir(jt.Ohmic(0.05, 3.0), temperature=0.2, coupling=[1.0])
    model = jt.Model([[1.0]], (bath, cold), statistics="boson")
    times = np.linspace(0.0, 6.0, 25)
    method = jt.Continuum(tolerance=1e-7)
    c0 = np.array([[0.7]])
    state = jt.GaussianState(correlation=c0, statistics="boson")
    full = jt.response(model, times, method).evaluate(state)
    cur = jt.response(model, times, method, observables="currents").evaluate(state)
    d = _max_diff(full, cur)
    assert max(d.values()) < 1e-10, d


def test_discretised_currents_equal_full_response():
    model = _multi_term()
    method = jt.Discretised(n_modes=240, band=400.0, grid_scale=3.0)
    times = np.linspace(0.0, 4.0, 21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # band-truncation warning: same for both
        full = jt.response(model, times, method)
        cur = jt.response(model, times, method, observables="currents")
    c0 = _c0(3, 1)
    d = _max_diff(full.evaluate(c0), cur.evaluate(c0))
    assert max(d.values()) < 1e-12, d


def test_currents_continuum_vs_discretised_on_a_longer_chain():
    # the two currents-only methods against each other on a 12-site chain (CutoffLorentzian
    # leads, whose 1/ω⁴ tails the finite band captures; measured ≤ 2e-7)
    n = 12
    h = -0.5 * (np.eye(n, k=1) + np.eye(n, k=-1))
    e0, e1 = np.eye(n)[0], np.eye(n)[-1]
    hot = jt.Reservoir(lead(0.6, 2.0, cutoff=4.0), temperature=1.2, coupling=e0)
    cold = jt.Reservoir(lead(0.6, 2.0, cutoff=4.0), temperature=0.4, coupling=e1)
    model = jt.Model(h, (hot, cold))
    times = np.linspace(0.0, 8.0, 33)
    c0 = np.diag(np.arange(n) % 2).astype(float)
    cont = jt.solve(model, c0, times, jt.Continuum(tolerance=1e-8), observables="currents")
    disc = jt.solve(model, c0, times, jt.Discretised(n_modes=800, band=250.0, grid_scale=4.0),
                    observables="currents")
    d = _max_diff(cont, disc)
    assert d["particle_current"] < 1e-6 and d["coupling_energy"] < 1e-6, d
    assert d["energy_current"] < 1e-5 and d["heat_current"] < 1e-5, d


def test_currents_transforms():
    model = three_site_chain()
    resp = jt.response(model, TIMES, jt.Continuum(tolerance=1e-6), observables="currents")
    temps = jnp.array([[1.0, 1.0], [1.2, 0.9], [0.9, 1.1]])
    c0s = jnp.stack([_c0(3, s) for s in range(3)])
    batched = jax.vmap(lambda c, t: resp.evaluate(c, t).heat_current)(c0s, temps)
    loop = jnp.stack([resp.evaluate(c, t).heat_current for c, t in zip(c0s, temps, strict=True)])
    assert float(jnp.max(jnp.abs(batched - loop))) < 1e-13

    def j_hot(t_hot):
        return resp.evaluate(c0s[0], jnp.stack([t_hot, 1.0])).heat_current[20, 0]

    eps = 1e-5
    fd = (j_hot(1.0 + eps) - j_hot(1.0 - eps)) / (2 * eps)
    assert float(jax.grad(j_hot)(1.0)) == pytest.approx(float(fd), rel=1e-6)
    assert resp.evaluate(c0s[0]).heat_current.dtype == jnp.float64


def test_currents_input_errors():
    model = three_site_chain()
    with pytest.raises(ValueError, match="observables must be 'all' or 'currents'"):
        jt.response(model, TIMES, observables="occupations")
    resp = jt.response(model, TIMES, jt.Continuum(tolerance=1e-6), observables="currents")
    with pytest.raises(ValueError, match=r"initial correlation must be \(\.\.\., 3, 3\)"):
        resp.evaluate(np.eye(2))


def test_currents_refuse_an_exceptional_point_at_tight_tolerance():
    # single level at the Lorentzian's centre with γ|v|² = W/2: the 2×2 closure generator is
    # defective (one eigenvector), so its eigendecomposition cannot reach 1e-10
    hot = jt.Reservoir(jt.Lorentzian(1.0, 2.0), temperature=1.0, coupling=[1.0])
    model = jt.Model([[0.0]], (hot,))
    with pytest.raises(ValueError, match="exceptional point"):
        jt.response(model, np.linspace(0, 5, 11), jt.Continuum(tolerance=1e-10),
                    observables="currents")
