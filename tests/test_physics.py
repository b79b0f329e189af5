"""Analytic limits, conservation laws and Landauer for the Continuum method."""

import numpy as np
import pytest
from scipy import integrate
from systems import coherent_c0_2, single_level, three_site_chain, two_site

import jaxtransport as jt

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
