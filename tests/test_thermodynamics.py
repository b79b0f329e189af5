"""Entropy, entropy production, first law, conductances G1–G5, Landauer linear response.

Independent values: brute-force Fock-space density matrices (entropy), the second law and
energy conservation (physics laws), finite differences of stage 2 and of ``jt.steady_state``
(conductances), analytic zero crossings (negative windows).
"""

import numpy as np
import pytest
import scipy.linalg as la
import systems as S
from reference import build_model

import jaxtransport as jt
from jaxtransport import thermodynamics as th

# graded towards t = 0, where J^Q ~ t ln t and Σ ~ t²: the quadrature error of Q stays below Σ
GRADED = 6.0 * np.linspace(0.0, 1.0, 61) ** 3
LONG = np.linspace(0.0, 60.0, 61)
TOL = jt.Continuum(tolerance=1e-6)


def random_c0(n, k, seed=0):
    """k random physical fermionic C0 (random orbitals, occupations in [0, 1], some pure)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        q, _ = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
        nu = rng.uniform(0, 1, n)
        pure = rng.uniform(size=n) < 0.3
        nu[pure] = rng.integers(0, 2, size=int(pure.sum()))
        out.append((q * nu) @ q.conj().T)
    return np.array(out)


@pytest.fixture(scope="module")
def level():
    m = S.single_level()
    return m, jt.response(m, GRADED, method=TOL)


# --- entropy ------------------------------------------------------------------------------
def test_fermion_entropy_equals_fock_space_entropy():
    c0 = S.coherent_c0_2()
    rho = build_model(np.zeros((2, 2)), [], c0)["rho0"].toarray()
    p = la.eigvalsh(rho)
    p = p[p > 1e-15]
    s_ref = -np.sum(p * np.log(p))
    assert abs(float(th.gaussian_entropy(c0)) - s_ref) < 1e-12
    # pure states have zero entropy
    assert abs(float(th.gaussian_entropy(np.diag([1.0, 0.0])))) < 1e-15


def test_boson_entropy_equals_truncated_fock_entropy():
    # one thermal mode, occupation ν: p_n = ν^n/(1+ν)^{n+1}; truncation at n = 400 leaves
    # weight (ν/(1+ν))^401 ~ 1e-37
    nu = 1.7
    n = np.arange(401)
    p = nu**n / (1 + nu) ** (n + 1)
    s_ref = -np.sum(p * np.log(p))
    # two modes in a rotated basis: the entropy is that of the eigenvalues
    u = la.expm(1j * np.array([[0.2, 0.5 - 0.1j], [0.5 + 0.1j, -0.3]]))
    c = (u * np.array([nu, 0.0])) @ u.conj().T
    assert abs(float(th.gaussian_entropy(c, "boson")) - s_ref) < 1e-12


# --- second law -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["single_level", "two_site", "three_site_chain", "shared_reservoir", "strong_coupling"]
)
def test_entropy_production_non_negative(name):
    model = getattr(S, name)()
    resp = jt.response(model, GRADED, method=TOL)
    c0 = random_c0(model.n_modes, 50, seed=1)
    sig = np.asarray(th.entropy_production(resp.evaluate(c0)))  # (50, T)
    assert sig.shape == (50, GRADED.size)
    assert np.all(sig[:, 0] == 0.0)  # Σ(0) = 0
    assert sig.min() >= -1e-10
    assert sig[:, -1].min() > 1e-3  # the bound is not trivially met


# --- first law ------------------------------------------------------------------------------
def test_energy_balance_closes(level):
    _, resp = level
    sol = resp.evaluate(np.array([[1.0]]))
    eb = th.energy_balance(sol)
    # energy conservation: residual = quadrature error of the integrated currents
    assert np.max(np.abs(eb.residual)) < 1e-6
    assert np.max(np.abs(eb.coupling_energy)) > 1e-2
    # Σ_α Q_α = −Σ_α Δ<H_α> − chemical work (here μ = 0)
    np.testing.assert_allclose(
        eb.heat.sum(-1), -eb.reservoir_energy_change.sum(-1) - eb.chemical_work, atol=1e-14
    )


# --- conductances ---------------------------------------------------------------------------
def test_g3_fixed_state_independent_of_c0_and_preparation_dependent(level):
    model, resp = level
    a = th.conductance_g3(resp, np.array([[0.0]]))
    b = th.conductance_g3(resp, np.array([[1.0]]))
    assert np.max(np.abs(a - b)) <= 1e-10
    prep = th.thermal_preparation(model.hamiltonian)
    c = th.conductance_g3(resp, preparation=prep)
    assert np.max(np.abs(a - c)) > 1e-3  # prepared at T_hot: depends on the preparation
    # independent value: central finite differences of stage 2
    h = 1e-4

    def j(th_, c0):
        return resp.evaluate(c0, np.array([th_, 0.5]), np.zeros(2)).heat_current[:, 0]

    fd = (j(1.5 + h, np.array([[0.3]])) - j(1.5 - h, np.array([[0.3]]))) / (2 * h)
    np.testing.assert_allclose(a, fd, atol=1e-8)
    fdp = (j(1.5 + h, prep(1.5 + h)) - j(1.5 - h, prep(1.5 - h))) / (2 * h)
    np.testing.assert_allclose(c, fdp, atol=1e-8)


def test_g1_g2_g5_g4_definitions(level):
    model, resp = level
    c0 = np.array([[0.8]])
    sol = resp.evaluate(c0)
    g = th.conductances(resp, c0)
    dt = 1.0
    np.testing.assert_allclose(g.g1, sol.heat_current[:, 0] / dt, rtol=1e-14)
    np.testing.assert_allclose(
        g.g2, (sol.heat_current[:, 0] - sol.heat_current[:, 1]) / (2 * dt), rtol=1e-14
    )
    q = sol.integrated_heat[1:, 0]
    np.testing.assert_allclose(g.g5[1:], q / (GRADED[1:] * dt), rtol=1e-12)
    # G4 does not depend on C0 and equals the explicit subtraction
    g4b = th.conductance_g4(resp, state=np.array([[0.1]]))
    np.testing.assert_allclose(g.g4, g4b, atol=1e-12)
    ref = resp.evaluate(c0, np.array([0.5, 0.5]), np.zeros(2)).heat_current[:, 0]
    np.testing.assert_allclose(g.g4, (sol.heat_current[:, 0] - ref) / dt, atol=1e-12)
    # G1 does depend on C0
    assert np.max(np.abs(g.g1 - th.conductances(resp, np.array([[0.0]])).g1)) > 1e-3


def test_linear_response_conductance_equals_landauer_derivative():
    model = S.single_level(t_hot=1.0, t_cold=1.0)
    kappa = float(th.linear_response_conductance(model, 1.0))
    h = 1e-3
    jp = jt.steady_state(model, np.array([1.0 + h, 1.0]), np.zeros(2)).heat_current[0]
    jm = jt.steady_state(model, np.array([1.0 - h, 1.0]), np.zeros(2)).heat_current[0]
    assert kappa > 1e-2
    assert abs(kappa - float(jp - jm) / (2 * h)) < 1e-7


def test_linear_response_is_long_time_limit_of_g4():
    model = S.single_level(t_hot=1.0, t_cold=1.0)
    resp = jt.response(model, LONG, method=TOL)
    kappa = float(th.linear_response_conductance(model, 1.0))
    g4 = [
        float(th.conductance_g4(resp, np.array([1.0 + d, 1.0]), np.zeros(2))[-1])
        for d in (0.02, 0.01, 0.005)
    ]
    assert abs(g4[2] - kappa) < 5e-3 * kappa  # G4 = κ + O(ΔT): already close at ΔT = 0.005
    # Richardson extrapolation ΔT → 0 (removes the O(ΔT) and O(ΔT²) terms)
    extrap = (8 * g4[2] - 6 * g4[1] + g4[0]) / 3
    assert abs(extrap - kappa) < 1e-6
    g3 = th.conductance_g3(resp, np.zeros((1, 1)), np.array([1.0, 1.0]), np.zeros(2))
    assert abs(float(g3[-1]) - kappa) < 1e-6


# --- negative windows and the paper's claim ------------------------------------------------
def test_negative_windows_of_a_sine():
    t = np.linspace(0, 4 * np.pi, 2001)
    w = th.negative_windows(t, np.sin(t))
    assert len(w) == 2
    np.testing.assert_allclose(w, [(np.pi, 2 * np.pi), (3 * np.pi, 4 * np.pi)], atol=1e-6)
    assert th.negative_windows(t, np.sin(t) + 2) == []
    assert th.negative_windows(t, -np.ones_like(t)) == [(0.0, float(t[-1]))]


def test_preparation_dependent_negative_g1_with_second_law(level):
    """Single level (ε = 0.5 above μ = 0) between Lorentzian leads, T_hot = 1.5, T_cold = 0.5:
    heat first flows INTO the hot lead (negative G1). Filling the level (excited
    preparation) prolongs the reversal several-fold compared with the empty level."""
    _, resp = level
    wins = {}
    for n0 in (0.0, 1.0):
        sol = resp.evaluate(np.array([[n0]]))
        g1 = np.asarray(th.conductance_g1(sol))
        wins[n0] = th.negative_windows(GRADED, g1, tolerance=1e-12)
        assert float(th.entropy_production(sol).min()) >= -1e-10  # second law throughout
        assert g1[-1] > 0  # heat flows hot → cold at late times
    assert len(wins[0.0]) == 1 and len(wins[1.0]) == 1
    end0, end1 = wins[0.0][0][1], wins[1.0][0][1]
    assert 0.5 < end0 < 1.5
    assert end1 > 2.5 * end0


# --- validation -----------------------------------------------------------------------------
def test_rejects_bad_inputs(level):
    model, resp = level
    sol = resp.evaluate(np.array([[0.5]]))
    with pytest.raises(ValueError, match="different reservoirs"):
        th.conductance_g1(sol, hot=0, cold=0)
    with pytest.raises(ValueError, match="reservoir index"):
        th.conductance_g2(sol, hot=0, cold=5)
    with pytest.raises(ValueError, match="T_hot != T_cold"):
        th.conductance_g4(resp, np.array([1.0, 1.0]), np.zeros(2))
    with pytest.raises(ValueError, match="exactly one of"):
        th.conductance_g3(resp)
    with pytest.raises(ValueError, match="square"):
        th.gaussian_entropy(np.ones(3))
    with pytest.raises(ValueError, match="statistics"):
        th.gaussian_entropy(np.eye(2), "anyon")
    with pytest.raises(ValueError, match="equal length"):
        th.negative_windows(np.arange(3.0), np.arange(4.0))
    with pytest.raises(ValueError, match="temperature must be"):
        th.linear_response_conductance(model, -1.0)
    late = jt.response(model, np.linspace(1.0, 2.0, 3), method=TOL)
    with pytest.raises(ValueError, match="start at t = 0"):
        th.entropy_production(late.evaluate(np.array([[0.5]])))
