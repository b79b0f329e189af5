"""jt.Continuum (the frequency-quadrature method, default for non-pole densities): against
jt.Discretised (an independent exact method) on five systems, both tail kinds; the optional
dC/dt kernels against finite differences and particle conservation; analytic limits,
conservation laws and Landauer (long-time limit, C0 independence, equal reservoirs, swapped
reservoirs, exact time derivatives vs finite differences, affinity in C0, the wide-band
Jauho–Wingreen–Meir solution).
"""

import dataclasses
import warnings

import numpy as np
import pytest
from scipy import integrate
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


# three sites with a bias, a shared reservoir and strong coupling take 30-80 s each on 2 cores,
# the coherent two-site state 26-30 s (-m slow); the single level stays in the default suite,
# and the continuum on the two-site model (complex hopping, coherent C0) is checked there
# against the Padé closed form (test_methods_pade.py::test_pade_matches_continuum[two_site])
_SLOW_CASES = {"two_site_coherent", "three_site_bias", "shared_reservoir", "strong_coupling"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW_CASES
                                  else n for n in CASES])
def test_continuum_matches_discretised(name):
    make_model, make_c0 = CASES[name]
    model, c0 = make_model(cutoff=4.0), make_c0()
    cont = jt.solve(model, c0, TIMES, method=jt.Continuum())
    disc = jt.solve(model, c0, TIMES, method=_discretised(1000, 4.0, 250.0))
    _compare(name, cont, disc, TOL_N, TOL_E)


@pytest.mark.parametrize("name", ["single_level",
                                  pytest.param("three_site_bias", marks=pytest.mark.slow)])
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


LONG = np.linspace(0.0, 60.0, 61)


@pytest.fixture(scope="module")
def chain_response():
    return jt.response(three_site_chain(), LONG)


def test_long_time_equals_landauer(chain_response):
    sol = chain_response.evaluate(np.diag([1.0, 0.0, 1.0]))
    ss = jt.steady_state(three_site_chain())
    assert float(ss.error_estimate) < 1e-9
    for f in ("particle_current", "energy_current", "heat_current"):
        np.testing.assert_allclose(getattr(sol, f)[-1], getattr(ss, f), atol=1e-6, rtol=0)
    assert abs(float(ss.particle_current[0])) > 1e-2  # biased: a real current flows


def test_long_time_independent_of_c0(chain_response):
    a = chain_response.evaluate(np.zeros((3, 3)))
    b = chain_response.evaluate(np.eye(3))
    np.testing.assert_allclose(a.heat_current[-1], b.heat_current[-1], atol=1e-8)
    assert np.max(np.abs(a.heat_current[5] - b.heat_current[5])) > 1e-3  # transient differs


def test_equal_reservoirs_no_steady_current():
    m = single_level(t_hot=0.7, t_cold=0.7, mu=(0.2, 0.2))
    ss = jt.steady_state(m)
    np.testing.assert_allclose(ss.particle_current, 0.0, atol=1e-14)
    np.testing.assert_allclose(ss.heat_current, 0.0, atol=1e-14)


def test_swapping_reservoirs_flips_sign():
    m = two_site()
    swapped = jt.Model(m.hamiltonian, m.reservoirs[::-1])
    a, b = jt.steady_state(m), jt.steady_state(swapped)
    # swap reservoirs *and* their couplings' roles: currents exchange places
    np.testing.assert_allclose(a.heat_current, b.heat_current[::-1], atol=1e-12)
    # swap only the thermodynamic parameters: the current reverses
    c = jt.steady_state(single_level(t_hot=0.5, t_cold=1.5))
    d = jt.steady_state(single_level(t_hot=1.5, t_cold=0.5))
    np.testing.assert_allclose(c.heat_current, -d.heat_current, atol=1e-12)
    assert abs(float(d.heat_current[0])) > 1e-3


def test_energy_and_particle_conservation():
    sol = jt.solve(two_site(), coherent_c0_2(), np.linspace(0, 20, 101))
    de = sol.energy_current.sum(-1) - sol.system_energy_derivative - sol.coupling_energy_derivative.sum(-1)
    dn = sol.particle_current.sum(-1) - sol.particle_number_derivative
    assert np.max(np.abs(de)) < 1e-8
    assert np.max(np.abs(dn)) < 1e-8


def test_derivatives_match_finite_differences():
    """The exact time derivatives agree with finite differences of the values."""
    t = np.linspace(0, 2, 201)
    sol = jt.solve(two_site(), coherent_c0_2(), t)
    dt = t[1] - t[0]
    fd = np.gradient(np.asarray(sol.coupling_energy), dt, axis=0, edge_order=2)
    # near t = 0 the Lorentzian kernel's kink makes d³<H_I>/dt³ large: FD is only O(dt²) there
    ok = slice(50, -2)
    np.testing.assert_allclose(sol.coupling_energy_derivative[ok], fd[ok], atol=1e-5)
    fd_n = np.gradient(np.asarray(sol.occupation).sum(-1), dt, edge_order=2)
    np.testing.assert_allclose(sol.particle_number_derivative[2:-2], fd_n[2:-2], atol=1e-4)
    # integrated heat: the coarse grid (Δt = 0.01) against a 10× finer one. Away from the
    # switch-on the corrected trapezoid is 4th order (increments agree to 1e-9); the first
    # interval (non-smooth J at t = 0) is only 2nd order, bounded by Δt²·|dJ/dt(0)| ≈ 1e-3·...
    fine_t = np.linspace(0, 2, 2001)
    q_fine = np.asarray(jt.solve(two_site(), coherent_c0_2(), fine_t).integrated_heat)[::10]
    q = np.asarray(sol.integrated_heat)
    np.testing.assert_allclose(q, q_fine, atol=3e-5)
    inc, inc_fine = q[100:] - q[100], q_fine[100:] - q_fine[100]
    np.testing.assert_allclose(inc, inc_fine, atol=1e-9)


def test_currents_affine_in_c0():
    resp = jt.response(two_site(), np.linspace(0, 10, 21))
    c1, c2 = coherent_c0_2(), np.diag([0.1, 0.9])
    s1, s2 = resp.evaluate(c1), resp.evaluate(c2)
    s_mid = resp.evaluate(0.3 * c1 + 0.7 * c2)
    for f in ("heat_current", "particle_current", "coupling_energy", "correlation"):
        np.testing.assert_allclose(
            getattr(s_mid, f), 0.3 * getattr(s1, f) + 0.7 * getattr(s2, f), atol=1e-12
        )


def _jwm(eps, gammas, temps, mus, n0, t):
    """Wide-band single level (Jauho–Wingreen–Meir), Γ = Σγ; occupation and currents.

    With x = ω − ε, z = ix − Γ/2: n(t) = n0 e^{−Γt} + Σ_α γ_α/2π ∫ f_α |e^{zt} − 1|²/|z|² and
    J_α = −γ_α n + γ_α/2π ∫ f_α 2Re[(e^{zt} − 1)/z]. The integrals run over the whole real
    axis (the 1/x² and oscillating 1/x tails are not negligible at the 1e-3 level): smooth
    parts with QUADPACK on (−∞, ∞), oscillating parts folded onto [0, ∞) and done with its
    Fourier-weighted rule (QAWF)."""
    g = sum(gammas)
    q = lambda f, **kw: integrate.quad(f, 0, np.inf, limit=400, **kw)[0]
    full = lambda f: integrate.quad(f, -np.inf, np.inf, limit=400)[0]
    n_t, cur = [], []
    for tt in t:
        n = n0 * np.exp(-g * tt)
        x_terms = []
        for ga, te, mu in zip(gammas, temps, mus):
            f = lambda x, te=te, mu=mu: 0.5 * (1 - np.tanh((x + eps - mu) / (2 * te)))
            d = lambda x: x * x + g * g / 4
            fe = lambda x, f=f: (f(x) + f(-x)) / d(x)  # even part, folded
            smooth = full(lambda x, f=f: f(x) / d(x))
            osc_c = q(fe, weight="cos", wvar=tt)
            # ∫ f x sin(xt)/|z|² = ∫_0^∞ x [f(x) + f(−x)] sin(xt)/|z|² (odd·odd = even)
            osc_xs = q(lambda x, f=f: x * (f(x) + f(-x)) / d(x), weight="sin", wvar=tt)
            n += ga / (2 * np.pi) * ((1 + np.exp(-g * tt)) * smooth - 2 * np.exp(-g * tt / 2) * osc_c)
            x_terms.append(ga / (2 * np.pi) * (
                g * smooth + 2 * np.exp(-g * tt / 2) * (-(g / 2) * osc_c + osc_xs)))
        n_t.append(n)
        cur.append([-ga * n + xa for ga, xa in zip(gammas, x_terms)])
    return np.array(n_t), np.array(cur)


def test_wide_band_limit_jwm():
    """Lorentzian leads with W ≫ all scales approach the wide-band analytic result, and the
    deviation shrinks ∝ 1/W."""
    t = np.array([1.0, 2.0, 4.0, 8.0])
    n_ref, j_ref = _jwm(0.3, (0.4, 0.2), (1.0, 0.5), (0.5, -0.5), 1.0, t)
    errs = []
    for w in (25.0, 100.0):
        m = single_level(eps=0.3, gamma=0.4, width=w, t_hot=1.0, t_cold=0.5, mu=(0.5, -0.5))
        m = jt.Model(m.hamiltonian, (m.reservoirs[0], jt.Reservoir(
            jt.Lorentzian(0.2, w), temperature=0.5, chemical_potential=-0.5, coupling=[1.0])))
        sol = jt.solve(m, np.array([[1.0]]), np.concatenate([[0.0], t]))
        errs.append(max(np.max(np.abs(sol.occupation[1:, 0] - n_ref)),
                        np.max(np.abs(sol.particle_current[1:] - j_ref))))
    print("JWM deviations", errs)
    assert errs[1] < 2e-3
    assert errs[1] < errs[0] / 3  # converges like 1/W (measured ratio 4.4 for 4× W)
