"""General quadratic systems (issue 9): validation, conversions, brute-force Fock-space checks,
the number-conserving engine reproduced, conservation laws and the second law."""

import warnings

import numpy as np
import pytest
from general_reference import boson_xx_evolve, fermion_pairing_evolve

import jaxtransport as jt
from jaxtransport.general.discretised import bath_modes

H2 = np.array([[0.4, 0.3], [0.3, -0.2]])
D2 = np.array([[0.0, 0.35], [-0.35, 0.0]])


def _leads(cutoff=None):
    dens = (lambda g, w, c: jt.Lorentzian(g, w, c)) if cutoff is None else (
        lambda g, w, c: jt.CutoffLorentzian(g, w, cutoff * w, c))
    left = jt.Reservoir(dens(0.5, 2.0, 0.0), temperature=1.2, chemical_potential=0.3,
                        coupling=[1.0, 0.2])
    right = jt.Reservoir(dens(0.4, 2.0, 0.5), temperature=0.4, chemical_potential=-0.2,
                         coupling=[0.0, 1.0])
    return left, right


def _max(a, b, skip=0):
    return float(np.max(np.abs(np.asarray(a)[skip:] - np.asarray(b)[skip:])))


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------
def test_rejects_wrong_symmetry_and_mixed_statistics():
    lead = _leads()[0]
    with pytest.raises(ValueError, match="antisymmetric"):
        jt.QuadraticModel(np.eye(4), (lead,), "fermion")
    with pytest.raises(ValueError, match="pairing matrix must be antisymmetric"):
        jt.QuadraticModel.fermionic(H2, (lead,), pairing=np.ones((2, 2)))
    bath = jt.PositionReservoir(jt.DrudeLorentz(0.1, 1.0), temperature=1.0, coupling=[1.0, 0.0])
    with pytest.raises(ValueError, match="mixed statistics"):
        jt.QuadraticModel.fermionic(H2, (bath,))
    model = jt.QuadraticModel.fermionic(H2, (lead,))
    resp = jt.general_response(model, [0.0, 0.1],
                               jt.Discretised(4, 5.0, check_recurrence=False, band_warning=1.0))
    with pytest.raises(ValueError, match="mixed statistics"):
        resp.evaluate(jt.CovarianceState(0.5 * np.eye(4), "boson"))


def test_rejects_unbounded_bosonic_hamiltonians():
    g = np.diag([1.0, 1.0])
    weak = jt.PositionReservoir(jt.DrudeLorentz(0.2, 1.0), temperature=1.0, coupling=[1.0])
    with pytest.raises(ValueError, match="not bounded below"):
        jt.QuadraticModel(np.diag([-0.5, 1.0]), (weak,), "boson")
    # without the counter-term the bath renormalises ω0² = 1 by −2λ = −1.2 < −1: unstable
    strong = jt.PositionReservoir(jt.DrudeLorentz(0.6, 1.0), temperature=1.0, coupling=[1.0],
                                  counter_term=False)
    with pytest.raises(ValueError, match="total Hamiltonian is not bounded below"):
        jt.QuadraticModel(g, (strong,), "boson")
    ok = jt.PositionReservoir(jt.DrudeLorentz(0.6, 1.0), temperature=1.0, coupling=[1.0])
    jt.QuadraticModel(g, (ok,), "boson")  # with the counter-term: fine
    full_line = jt.Reservoir(jt.Lorentzian(0.5, 1.0, 2.0), temperature=1.0, coupling=[1.0])
    with pytest.raises(ValueError, match="vanishes for ω ≤ μ"):
        jt.QuadraticModel(g, (full_line,), "boson")


def test_rejects_unphysical_covariances():
    with pytest.raises(ValueError, match="uncertainty principle"):
        jt.CovarianceState(np.diag([0.2, 0.2]), "boson")  # ⟨x²⟩⟨p²⟩ < 1/4
    jt.CovarianceState(np.diag([0.25, 1.0]), "boson", mean=[1.0, -0.5])  # squeezed: fine
    with pytest.raises(ValueError, match="Pauli"):
        jt.CovarianceState(np.array([[0.0, 0.7], [-0.7, 0.0]]), "fermion")
    with pytest.raises(ValueError, match="antisymmetric"):
        jt.CovarianceState(np.eye(2), "fermion")
    with pytest.raises(ValueError, match="no displacement"):
        jt.CovarianceState(np.zeros((2, 2)), "fermion", mean=[0.0, 0.0])


# ---------------------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("statistics", ["fermion", "boson"])
def test_thermal_state_and_energy_match_number_conserving_forms(statistics):
    """Covariance of the Gibbs state from the quadrature form == conversion of the engine's
    thermal correlation f(h); ⟨H⟩ = Tr[hC] == ½ΣG∘X + E_0 (both ≤ 1e-12)."""
    rng = np.random.default_rng(1)
    h = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    h = h + h.conj().T + (8.0 * np.eye(3) if statistics == "boson" else 0.0)
    lead = jt.Reservoir(jt.Lorentzian(0.1, 1.0, 20.0) if statistics == "fermion"
                        else jt.CutoffLorentzian(0.1, 1.0, 2.0, 20.0), coupling=np.ones(3))
    if statistics == "boson":
        lead = jt.PositionReservoir(jt.DrudeLorentz(0.01, 1.0), coupling=np.ones(3))
    model = jt.QuadraticModel._from_bdg(h, None, (lead,), statistics)
    gs = jt.GaussianState.thermal(h, 0.7, 0.0, statistics)
    a = jt.CovarianceState.from_gaussian_state(gs)
    b = jt.CovarianceState.thermal(model.hamiltonian, 0.7, statistics)
    assert _max(a.covariance, b.covariance) < 1e-12
    assert _max(a.to_gaussian_state().correlation, gs.correlation) < 1e-12
    e_nc = float(np.trace(h @ gs.correlation).real)
    e_q = float(0.5 * np.sum(model.hamiltonian * a.covariance) + model.energy_offset)
    assert abs(e_nc - e_q) < 1e-12


def test_pairing_state_has_no_gaussian_state_form():
    g = np.array([[0.0, 0.4, 0.1, 0.0], [-0.4, 0.0, 0.0, 0.1],
                  [-0.1, 0.0, 0.0, 0.3], [0.0, -0.1, -0.3, 0.0]])
    st = jt.CovarianceState(g, "fermion")
    nambu = np.asarray(st.to_nambu())
    assert np.max(np.abs(nambu[:2, 2:])) > 1e-3
    with pytest.raises(ValueError, match="not number-conserving"):
        st.to_gaussian_state()


# ---------------------------------------------------------------------------------------
# brute force (Fock space)
# ---------------------------------------------------------------------------------------
def test_fermion_pairing_matches_fock_space():
    """2 BdG system modes + 2 leads × 2 modes (64-dim Fock space), pairing in the system and
    in the initial state: every observable ≤ 1e-10 (measured ~1e-14)."""
    times = np.linspace(0.0, 6.0, 7)
    model = jt.QuadraticModel.fermionic(H2, _leads(), pairing=D2)
    method = jt.Discretised(2, 3.0, check_recurrence=False, band_warning=1.0)
    baths = []
    for nodes, _dw, r, dens, v, _, spacing in method.grid(model):
        amp = np.sqrt(np.asarray(dens(nodes)) * spacing / (2 * np.pi))
        res = model.reservoirs[r]
        baths.append((nodes, amp[:, None] * np.asarray(v)[None, :], float(res.temperature),
                      float(res.chemical_potential)))
    h_mod = np.array([[0.5, 0.2 - 0.3j], [0.2 + 0.3j, -0.4]])
    d_mod = np.array([[0.0, 0.6 + 0.2j], [-0.6 - 0.2j, 0.0]])
    ref = fermion_pairing_evolve(H2, D2, h_mod, d_mod, baths, times)
    state = jt.CovarianceState(ref["gamma"][0], "fermion")
    assert np.max(np.abs(np.asarray(state.to_nambu())[:2, 2:])) > 0.05  # anomalous ⟨aa⟩
    sol = jt.solve_general(model, state, times, method)
    assert _max(sol.covariance, ref["gamma"]) < 1e-10
    for key in ("particle_current", "energy_current", "coupling_energy", "system_energy"):
        assert _max(getattr(sol, key), ref[key]) < 1e-10, key


@pytest.mark.slow
def test_boson_squeezed_xx_model_matches_truncated_fock_space():
    """One squeezed oscillator (G with x–p cross term), x–x coupled with counter-term to a
    bath of two modes, displaced squeezed thermal initial state. Fock cutoffs 12 and 14 per
    mode (1728 / 2744 states); the truncation error is measured as their difference
    (2.6e-3 at cutoff 12 vs 14 for times ≤ 4: the counter-rotating x–x terms populate high
    levels) and the Gaussian result must agree with the cutoff-14 result within 10× that.
    Slow (~7 min on 2 shared cores: dense 2744² many-body matrices)."""
    times = np.linspace(0.0, 4.0, 5)
    gsys = np.array([[1.1, 0.15], [0.15, 0.9]])
    res = (jt.PositionReservoir(jt.DrudeLorentz(0.15, 1.0), temperature=0.4, coupling=[1.0]),)
    model = jt.QuadraticModel(gsys, res, "boson")
    method = jt.Discretised(2, 2.5, check_recurrence=False)
    baths = [(np.asarray(nodes), np.asarray(blocks)[:, 0, 0], float(res[r].temperature))
             for r, nodes, blocks, _ in bath_modes(model, method, times)]
    mod = np.array([[2.0, 0.3], [0.3, 4.0]])
    disp = np.array([0.4, -0.2])
    refs = [boson_xx_evolve(gsys, mod, disp, baths, times, c) for c in (12, 14)]
    keys = ("covariance", "mean", "energy_current", "coupling_energy", "system_energy")
    trunc = max(_max(refs[0][k], refs[1][k]) for k in keys)
    assert trunc < 1e-2
    ref = refs[1]
    state = jt.CovarianceState(ref["covariance"][0], "boson", mean=ref["mean"][0])
    sol = jt.solve_general(model, state, times, method)
    for k in keys:
        assert _max(getattr(sol, k), ref[k]) < 10 * trunc, k


# ---------------------------------------------------------------------------------------
# the number-conserving engine, conservation laws, second law
# ---------------------------------------------------------------------------------------
C0 = np.array([[0.7, 0.3 - 0.2j], [0.3 + 0.2j, 0.4]])


@pytest.fixture(scope="module")
def engine_pair():
    """Two-site number-conserving model solved by the engine and by the general formalism on
    the same discretisation (80 modes per lead)."""
    h = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, -0.3]])
    model = jt.Model(h, _leads(cutoff=4.0))
    times = np.linspace(0.0, 8.0, 11)
    method = jt.Discretised(80, 30.0, grid_scale=4.0, band_warning=0.5)
    ref = jt.solve(model, C0, times, method=method)
    sol = jt.solve_general(jt.QuadraticModel.from_model(model), jt.GaussianState(C0), times,
                           method)
    return ref, sol


def test_number_conserving_model_reproduces_engine(engine_pair):
    """General (Majorana) discretised == engine discretised ≤ 1e-10 (measured ~2e-15)."""
    ref, sol = engine_pair
    for key in ("particle_current", "energy_current", "heat_current", "coupling_energy",
                "coupling_energy_derivative", "heat_current_derivative", "system_energy"):
        assert _max(getattr(ref, key), getattr(sol, key)) < 1e-10, key
    assert _max(sol.nambu_correlation()[..., :2, :2], ref.correlation) < 1e-10


def test_energy_conservation_and_second_law(engine_pair):
    """Σ_α J^E_α = d/dt(⟨H_S⟩ + Σ_α⟨H_I^α⟩) to 1e-10 (an exact identity of the finite
    system); Σ(t) ≥ 0 for a BdG model with pairing."""
    _, sol = engine_pair
    lhs = np.sum(np.asarray(sol.energy_current), -1)
    rhs = np.asarray(sol.system_energy_derivative) + np.sum(
        np.asarray(sol.coupling_energy_derivative), -1)
    assert np.max(np.abs(lhs - rhs)) < 1e-10
    times = np.linspace(0.0, 8.0, 33)
    model = jt.QuadraticModel.fermionic(H2, _leads(cutoff=4.0), pairing=D2)
    state = jt.CovarianceState.from_gaussian_state(jt.GaussianState(np.diag([1.0, 0.0])))
    bdg = jt.solve_general(model, state, times,
                           jt.Discretised(80, 30.0, grid_scale=4.0, band_warning=0.5))
    lhs = np.sum(np.asarray(bdg.energy_current), -1)
    rhs = np.asarray(bdg.system_energy_derivative) + np.sum(
        np.asarray(bdg.coupling_energy_derivative), -1)
    assert np.max(np.abs(lhs - rhs)) < 1e-8
    sigma = np.asarray(bdg.entropy_production)
    assert sigma[0] == 0.0 and np.min(sigma) > -1e-6 and sigma[-1] > 1e-3


@pytest.mark.slow
def test_bdg_pair_continuum_matches_discretised():
    """Fermionic pair with pairing Δ between two CutoffLorentzian leads. Measured with 600
    modes per term (band 250, sinh grid): covariance 2.1e-9, particle currents 1.6e-7,
    coupling energies 9.8e-8, system energy 7e-10, energy currents 7.9e-6 (band tails)."""
    times = np.linspace(0.0, 8.0, 9)
    model = jt.QuadraticModel.fermionic(H2, _leads(cutoff=4.0), pairing=D2)
    state = jt.CovarianceState.from_gaussian_state(jt.GaussianState(np.diag([1.0, 0.0])))
    cont = jt.solve_general(model, state, times)
    assert float(cont.error_estimate) < 1e-8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        disc = jt.solve_general(model, state, times,
                                jt.Discretised(600, 250.0, grid_scale=4.0, band_warning=0.05))
    assert _max(cont.covariance, disc.covariance) < 1e-8
    for key, tol in (("particle_current", 1e-6), ("coupling_energy", 1e-6),
                     ("system_energy", 1e-8), ("energy_current", 2e-5)):
        assert _max(getattr(cont, key), getattr(disc, key)) < tol, key


def test_brownian_oscillator_relaxes_to_exact_equilibrium():
    """Quantum Brownian motion (ω0 = 1, Drude λ = 0.5, γ = 2, T = 0.6, counter-term): the
    continuum covariance at t = 90 equals the exact equilibrium ⟨x²⟩ = ∫dω/π coth(ω/2T)
    Im χ, ⟨p²⟩ = ∫dω/π ω² coth(ω/2T) Im χ, χ = 1/(ω0² + 2λ − ω² − 2λγ/(γ − iω)), to 1e-6
    (the mean relaxes as ~e^{−0.2 t}: 5e-5 left at t = 40)."""
    from scipy.integrate import quad

    w0, lam, gam, temp = 1.0, 0.5, 2.0, 0.6
    bath = jt.PositionReservoir(jt.DrudeLorentz(lam, gam), temperature=temp, coupling=[1.0])
    model = jt.QuadraticModel(np.diag([w0**2, 1.0]), (bath,), "boson")
    state = jt.CovarianceState(np.diag([0.5, 0.5]), "boson", mean=[0.5, 0.0])
    sol = jt.solve_general(model, state, np.array([0.0, 90.0]))

    def im_chi(w):
        return (1.0 / (w0**2 + 2 * lam - w**2 - 2 * lam * gam / (gam - 1j * w))).imag

    coth = lambda w: 1.0 / np.tanh(w / (2 * temp))
    x2 = quad(lambda w: coth(w) * im_chi(w) / np.pi, 0, np.inf, epsabs=1e-12, limit=400)[0]
    p2 = quad(lambda w: w**2 * coth(w) * im_chi(w) / np.pi, 0, np.inf, epsabs=1e-12,
              limit=400)[0]
    cov = np.asarray(sol.covariance)[-1]
    assert abs(cov[0, 0] - x2) < 1e-6 and abs(cov[1, 1] - p2) < 1e-6
    assert abs(cov[0, 1]) < 1e-6 and np.max(np.abs(np.asarray(sol.mean)[-1])) < 1e-6
    assert float(sol.error_estimate) < 1e-6
