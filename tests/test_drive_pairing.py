"""Time-dependent drives on general quadratic models (``jt.QuadraticModel(..., drive=...)``:
pairing, squeezing, position coupling), solved by the driven finite modes
(``response/driven_general.py``).

Independent references: the undriven model with h + cV (a constant drive), a direct
integration of the covariance equation dX/dt = K(t) X + X K(t)^T of system + bath modes
(scipy DOP853, rtol 1e-12; the drive amplitudes in closed NumPy form and every observable
from X(t) by its definition), finite differences of the energies (first law) and of the
solution in a drive parameter (jax.grad), and the number-conserving driven finite modes
(``response/driven_discretised.py``, a different code path) for a driven ``jt.Model``
converted with ``QuadraticModel.from_model``.
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import central_differences
from scipy.integrate import solve_ivp

import jaxtransport as jt
from jaxtransport.nambu import quadrature_hamiltonian, symplectic_form
from jaxtransport.response.general_discretised import mode_layout

pytestmark = pytest.mark.filterwarnings("ignore:Discretised band")  # small baths are the model

H2 = np.array([[0.4, 0.3], [0.3, -0.2]])
D2 = np.array([[0.0, 0.35], [-0.35, 0.0]])
J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def _fermion_leads():
    left = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=1.2, chemical_potential=0.3,
                        coupling=[1.0, 0.2])
    right = jt.Reservoir(jt.Lorentzian(0.4, 2.0, 0.5), temperature=0.4,
                         chemical_potential=-0.2, coupling=[0.0, 1.0])
    return left, right


def _boson_baths(scale=1.0):
    hot = jt.PositionReservoir(jt.DrudeLorentz(0.3, 2.0), temperature=1.0,
                               coupling=[scale, 0.0])
    cold = jt.Reservoir(jt.Ohmic(0.2, 3.0), temperature=0.3, chemical_potential=-0.2,
                        coupling=[0.3, scale])
    return hot, cold


def _oscillators():
    g = np.zeros((4, 4))
    g[:2, :2] = [[1.0, -0.3], [-0.3, 1.5]]
    g[2:, 2:] = np.eye(2)
    return g


# drive terms in quadrature form: a hopping + pairing (fermions) / squeezing (bosons) term
VF = np.asarray(quadrature_hamiltonian(np.diag([1.0, -1.0]), np.array([[0, 0.4], [-0.4, 0]]),
                                       "fermion")[0])
VB = np.asarray(quadrature_hamiltonian(np.array([[0.0, 0.2], [0.2, 0.0]]),
                                       np.array([[0.1, 0.05], [0.05, 0.1]]), "boson")[0])
SMALL = dict(check_recurrence=False, band_warning=1.0)


def _fermion_model(drive=None, pairing=D2):
    return jt.QuadraticModel.fermionic(H2, _fermion_leads(), pairing=pairing, drive=drive)


def _boson_model(drive=None, g=None, scale=1.0):
    return jt.QuadraticModel(_oscillators() if g is None else g, _boson_baths(scale), "boson",
                             drive=drive)


def _max(a, b):
    a, b = np.asarray(a), np.asarray(b)
    ok = np.isfinite(b)
    assert np.array_equal(ok, np.isfinite(a))
    return float(np.max(np.abs(a[ok] - b[ok])))


FIELDS = ("covariance", "particle_current", "energy_current", "heat_current",
          "coupling_energy", "coupling_energy_derivative", "system_energy",
          "system_energy_derivative", "heat_current_derivative")


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------
def test_drive_validation_on_quadratic_models():
    with pytest.raises(ValueError, match="real antisymmetric 2n×2n quadrature matrix"):
        _fermion_model(jt.Drive([(np.eye(4), 1.0)]))
    with pytest.raises(ValueError, match="real symmetric 2n×2n quadrature matrix"):
        _boson_model(jt.Drive([(VF, 1.0)]))
    with pytest.raises(ValueError, match="real antisymmetric"):
        _fermion_model(jt.Drive([(1j * np.diag([1.0, 2.0, -1.0, -2.0]), 1.0)]))
    with pytest.raises(ValueError, match="Hamiltonian is 4×4"):
        _fermion_model(jt.Drive([(np.eye(2), 1.0)]))
    with pytest.raises(ValueError, match="jt.PositionReservoir .x–x coupling"):
        _boson_model(jt.Drive(bias={0: jt.Sine(0.1, 1.0)}))
    with pytest.raises(ValueError, match="must be a jt.Drive"):
        _fermion_model(drive=[(VF, 1.0)])
    # a real antisymmetric term is a fermionic quadrature matrix, not a jt.Model term
    with pytest.raises(ValueError, match="Hermitian"):
        jt.Model(H2, _fermion_leads(), drive=jt.Drive([(J2, 1.0)]))
    # the bosonic continuum has no driven stage 1: one error naming jt.Discretised
    for method in (None, jt.Continuum()):
        with pytest.raises(ValueError, match=r"method=jt.Discretised\("):
            jt.solve(_boson_model(jt.Drive([(VB, 0.1)])), 0.5 * np.eye(4), [0.0, 1.0],
                     method)
    with pytest.raises(ValueError, match="no stationary state"):
        jt.steady_state(_fermion_model(jt.Drive([(VF, 0.1)])))
    driven = jt.Model(H2, _fermion_leads(), drive=jt.Drive([(np.eye(2), 0.3)]))
    with pytest.raises(ValueError, match="traceless"):
        jt.QuadraticModel.from_model(driven)
    # allowed: a bias on an exchange reservoir, coupling modulation of an x–x reservoir
    m = _boson_model(jt.Drive([(VB, 0.1)], coupling={0: 0.5}, bias={1: jt.Sine(0.1, 1.0)}))
    assert m.drive.bias[0] is None and m.drive.coupling[1] is None


# ---------------------------------------------------------------------------------------
# (a) a constant drive equals the undriven model with G + cV (and scaled couplings)
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("statistics", ["fermion", "boson"])
def test_constant_drive_equals_static_model(statistics):
    c, s = 0.37, 0.8
    times = np.linspace(0.0, 2.0, 6)
    method = jt.Discretised(6, 5.0, drive_step=0.1, **SMALL)
    drive = jt.Drive([(VF if statistics == "fermion" else VB, c)], coupling={0: s})
    if statistics == "fermion":
        left, right = _fermion_leads()
        scaled = jt.Reservoir(left.terms[0][0], temperature=1.2, chemical_potential=0.3,
                              coupling=s * np.asarray(left.terms[0][1]))
        base = _fermion_model()
        static = jt.QuadraticModel(base.hamiltonian + c * VF, (scaled, right), "fermion",
                                   energy_offset=base.energy_offset)
        state = jt.GaussianState(np.diag([0.7, 0.2]))
    else:
        base = _boson_model()
        hot, cold = _boson_baths()
        hot = jt.PositionReservoir(hot.spectral_density, temperature=1.0, coupling=[s, 0.0])
        static = jt.QuadraticModel(_oscillators() + c * VB, (hot, cold), "boson")
        state = jt.GaussianState(np.diag([0.4, 0.1]), "boson")
    driven = jt.QuadraticModel(base.hamiltonian, base.reservoirs, statistics,
                               energy_offset=base.energy_offset, drive=drive)
    ref = jt.solve(static, state, times, method)
    sol = jt.solve(driven, state, times, method)
    assert isinstance(sol, jt.DrivenGeneralSolution)
    for name in FIELDS:
        assert _max(getattr(sol, name), getattr(ref, name)) < 1e-12, name
    assert float(np.max(np.abs(sol.power))) == 0.0
    assert float(np.max(np.abs(sol.coupling_power))) == 0.0
    assert float(np.max(np.abs(sol.first_law_residual))) < 1e-12


# ---------------------------------------------------------------------------------------
# (b) brute force: the covariance equation of system + modes integrated by DOP853
# ---------------------------------------------------------------------------------------
def _sine(a, w, ph=0.0, off=0.0):
    return (lambda t: off + a * np.sin(w * t + ph), lambda t: a * w * np.cos(w * t + ph))


def _smooth_ramp(a, b, tau):
    def f(t):
        x = min(max(t / tau, 0.0), 1.0)
        return a + (b - a) * 0.5 * (1 - np.cos(np.pi * x))

    def df(t):
        return (b - a) * 0.5 * np.pi / tau * np.sin(np.pi * t / tau) if 0 < t < tau else 0.0

    return f, df


def _brute_force(model, method, times, x_s0, terms, coupling, bias, kinks=()):
    """Observables from X(t) of dX/dt = K X + X K^T (system + the method's bath modes);
    ``terms`` [(V, f, df)], ``coupling`` / ``bias`` {reservoir: (f, df)} in NumPy, ``kinks``
    the times where an amplitude is not smooth."""
    boson = model.statistics == "boson"
    lay = mode_layout(model, method, times)
    own, nodes = lay.owner, np.asarray(lay.nodes)
    blocks, dg = np.asarray(lay.blocks), np.asarray(lay.counter_terms)
    n2, kb, m = model.hamiltonian.shape[0], len(nodes), model.n_reservoirs
    d = n2 + 2 * kb
    g0 = np.asarray(model.hamiltonian)
    one = lambda mp, r, t, k: mp[r][k](t) if r in mp else (1.0, 0.0)[k] if mp is coupling \
        else 0.0

    # per reservoir: coupling blocks, mode energies, the bias pattern, the counter-term
    cpl, en, pat, ctr = (np.zeros((m, d, d)) for _ in range(4))
    for q in range(kb):
        i, r = n2 + 2 * q, own[q]
        b = np.eye(2) if boson else J2
        en[r, i:i + 2, i:i + 2], pat[r, i:i + 2, i:i + 2] = nodes[q] * b, b
        cpl[r, :n2, i:i + 2] = blocks[q]
        cpl[r, i:i + 2, :n2] = blocks[q].T if boson else -blocks[q].T
    ctr[:, :n2, :n2] = dg

    def parts(t):
        """G(t), dG_S/dt, dG/dt of each coupling (with its counter-term), s(t), Δ(t)."""
        s = np.array([one(coupling, r, t, 0) for r in range(m)])
        ds = np.array([one(coupling, r, t, 1) for r in range(m)])
        pot = np.array([one(bias, r, t, 0) for r in range(m)])
        gs = g0 + sum(f(t) * v for v, f, _ in terms)
        dgs = sum(df(t) * v for v, _, df in terms)
        g = np.einsum("r,rij->ij", s, cpl) + en.sum(0) + np.einsum("r,rij->ij", pot, pat)
        g = g + np.einsum("r,rij->ij", s**2, ctr)
        g[:n2, :n2] += gs
        dgc = ds[:, None, None] * cpl + (2 * s * ds)[:, None, None] * ctr
        return g, dgs, dgc, s, pot

    if boson:
        om = np.zeros((d, d))
        om[:n2, :n2] = symplectic_form(n2 // 2)
        for q in range(kb):
            om[n2 + 2 * q: n2 + 2 * q + 2, n2 + 2 * q: n2 + 2 * q + 2] = J2
    kmat = (lambda g: om @ g) if boson else (lambda g: g)

    def rhs(t, y):
        k = kmat(parts(t)[0])
        x = y.reshape(d, d)
        return (k @ x + x @ k.T).ravel()

    x0 = np.zeros((d, d))
    x0[:n2, :n2] = x_s0
    for q in range(kb):
        r = model.reservoirs[own[q]]
        f = float(jt.occupation(nodes[q], r.temperature, r.chemical_potential,
                                model.statistics))
        x0[n2 + 2 * q: n2 + 2 * q + 2, n2 + 2 * q: n2 + 2 * q + 2] = (
            (f + 0.5) * np.eye(2) if boson else (f - 0.5) * J2)
    # integrated piecewise between the kinks of the amplitudes (``kinks``), where the
    # right-hand side is smooth (an adaptive step across a kink loses its order)
    ys, y, lo = [], x0.ravel(), 0.0
    for hi in [*sorted(k for k in kinks if 0 < k < times[-1]), times[-1]]:
        sel = times[(times >= lo) & ((times < hi) | (hi == times[-1]))]
        ode = solve_ivp(rhs, (lo, hi), y, "DOP853", t_eval=sel, rtol=1e-12, atol=1e-13,
                        dense_output=True)
        ys.append(ode.y)
        y, lo = ode.sol(hi), hi
    ys = np.concatenate(ys, axis=1)
    out = {k: [] for k in ("covariance", "particle_current", "energy_current", "heat_current",
                           "coupling_energy", "system_energy", "power", "coupling_power")}
    for j, t in enumerate(times):
        x = ys[:, j].reshape(d, d)
        g, dgs, dgc, s, pot = parts(t)
        k = kmat(g)
        xd = k @ x + x @ k.T
        jn, je, hi = np.zeros(m), np.zeros(m), np.zeros(m)
        for r in range(m):
            qs = np.nonzero(own == r)[0]
            iq, ip = n2 + 2 * qs, n2 + 2 * qs + 1
            dn = 0.5 * (xd[iq, iq] + xd[ip, ip]) if boson else xd[iq, ip]  # d<n_q>/dt
            jn[r], je[r] = -np.sum(dn), -np.sum((nodes[qs] + pot[r]) * dn)
            cols = np.concatenate([iq, ip])
            hi[r] = (np.sum(g[:n2, cols] * x[:n2, cols])
                     + 0.5 * s[r] ** 2 * np.sum(dg[r] * x[:n2, :n2]))
        mu = np.asarray(model.chemical_potentials) + pot
        xx = np.array([isinstance(r, jt.PositionReservoir) for r in model.reservoirs])
        out["covariance"].append(x[:n2, :n2])
        out["particle_current"].append(np.where(xx, np.nan, jn))
        out["energy_current"].append(je)
        out["heat_current"].append(je - np.where(xx, 0.0, mu * jn))
        out["coupling_energy"].append(hi)
        out["system_energy"].append(0.5 * np.sum((g[:n2, :n2] - np.einsum(
            "r,rij->ij", s**2, dg)) * x[:n2, :n2]) + float(model.energy_offset))
        out["power"].append(0.5 * np.sum(dgs * x[:n2, :n2]))
        out["coupling_power"].append(0.5 * np.einsum("rij,ij->r", dgc, x))
    return {k: np.asarray(v) for k, v in out.items()}


def _drives(statistics):
    """Every drive kind: two Hamiltonian terms, a coupling ramp (reservoir 0) and a bias
    (fermions: on reservoir 1, sinusoidal; bosons: on the exchange bath 1, a ramp) with
    their NumPy closed forms."""
    v2 = (np.asarray(quadrature_hamiltonian(np.array([[0.0, 0.5], [0.5, 0.0]]), None,
                                            statistics)[0]))
    v1 = VF if statistics == "fermion" else VB
    f1, f2 = _sine(0.4, 1.3, 0.2), _sine(0.3, 2.1, 0.0, 0.1)
    ramp = _smooth_ramp(0.2, 1.0, 1.5)
    drive_b = _sine(0.5, 2.0) if statistics == "fermion" else _smooth_ramp(0.0, 0.4, 1.0)
    amp_b = (jt.Sine(0.5, 2.0) if statistics == "fermion" else jt.Ramp(0.0, 0.4, 1.0))
    drive = jt.Drive([(v1, jt.Sine(0.4, 1.3, 0.2)), (v2, jt.Sine(0.3, 2.1, 0.0, 0.1))],
                     coupling={0: jt.Ramp(0.2, 1.0, 1.5)}, bias={1: amp_b})
    terms = [(v1, *f1), (v2, *f2)]
    kinks = (1.5,) if statistics == "fermion" else (1.0, 1.5)  # the ramps' ends
    return drive, terms, {0: ramp}, {1: drive_b}, kinks


# one time grid, drive structure and method per statistics for (b) and (e): the compiled
# stage 1 is shared (default suite: both brute-force cases and the fermionic first law,
# about 14 s of CPU, mostly compilation). Magnus steps of h = 0.005 (fermions) and 0.0025
# (bosons, faster bath modes): error O(h⁴), 16× per halving (bosons at h = 0.005: 4.8e-11);
# measured 3.5e-12 and 3.7e-12 in the energy currents, the largest differences.
H = 0.005
TIMES = np.arange(0.0, 1.5 + H / 2, H)


def _driven_case(statistics):
    drive, terms, coupling, bias, kinks = _drives(statistics)
    if statistics == "fermion":
        model = _fermion_model(drive)
        method = jt.Discretised(5, 4.0, drive_step=H, **SMALL)
        state = jt.CovarianceState.from_gaussian_state(
            jt.GaussianState(np.array([[0.7, 0.1j], [-0.1j, 0.2]])))
    else:
        model = _boson_model(drive)
        method = jt.Discretised(5, 6.0, drive_step=H / 2, **SMALL)
        state = jt.CovarianceState.from_gaussian_state(
            jt.GaussianState(np.diag([0.4, 0.1]), "boson"))
    return model, method, state, (terms, coupling, bias, kinks)


@pytest.mark.parametrize("statistics", ["fermion", "boson"])
def test_driven_finite_modes_match_brute_force_covariance_equation(statistics):
    """Two Hamiltonian terms, a coupling ramp and a bias (fermions: pairing system between
    Lorentzian leads; bosons: squeezed oscillators between an x–x Drude bath and an exchange
    Ohmic bath): every observable ≤ 1e-10 from the DOP853 covariance equation."""
    model, method, state, closed = _driven_case(statistics)
    sol = jt.solve(model, state, TIMES, method)
    ref = _brute_force(model, method, TIMES, np.asarray(state.covariance), *closed)
    for name, val in ref.items():
        assert _max(getattr(sol, name), val) < 1e-10, name
    assert float(np.max(np.abs(sol.first_law_residual))) < 1e-10


# ---------------------------------------------------------------------------------------
# (e) the first law: power + coupling power + energy currents vs d/dt of the energies
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("statistics", [
    "fermion", pytest.param("boson", marks=pytest.mark.slow)])
def test_first_law_against_finite_differences_of_the_energies(statistics):
    model, method, state, _ = _driven_case(statistics)
    sol = jt.solve(model, state, TIMES, method)
    e = np.asarray(sol.system_energy) + np.asarray(sol.coupling_energy).sum(-1)
    c = np.array([-1, 9, -45, 0, 45, -9, 1]) / (60 * H)  # sixth-order central differences
    de = np.convolve(e, c[::-1], mode="valid")
    rhs = (np.asarray(sol.power) + np.asarray(sol.coupling_power).sum(-1)
           + np.asarray(sol.energy_current).sum(-1))[3:-3]
    skip = 4  # the coupling switches on at t = 0 (not smooth there)
    assert float(np.max(np.abs(de[skip:] - rhs[skip:]))) < 1e-8
    assert float(np.max(np.abs(sol.first_law_residual))) < 1e-8
    # the work is the integral of the power (vs the trapezoid rule: error ~ h² P'')
    p = np.asarray(sol.power)
    trap = np.concatenate([[0.0], np.cumsum(0.5 * H * (p[1:] + p[:-1]))])
    assert float(np.max(np.abs(np.asarray(sol.work) - trap))) < 1e-5


# ---------------------------------------------------------------------------------------
# (f) jax.grad with respect to a drive parameter vs central finite differences
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_grad_wrt_drive_parameters_and_no_recompilation(caplog):
    """jax.grad of a heat current plus the work with respect to jt.Sine's amplitude and
    frequency and a coupling ramp's start value vs central finite differences (rtol 1e-6);
    new parameter values reuse the compiled stage 1 and stage 2 (no "Compiling" log of
    either)."""
    times = np.linspace(0.0, 1.5, 4)
    method = jt.Discretised(4, 4.0, drive_step=0.05, **SMALL)
    state = jt.GaussianState(np.diag([0.7, 0.2]))

    def objective(p):
        drive = jt.Drive([(VF, jt.Sine(p[0], p[1]))], coupling={0: jt.Ramp(p[2], 1.0, 1.0)})
        sol = jt.solve(_fermion_model(drive), state, times, method)
        return sol.heat_current[-1, 1] + 0.3 * sol.work[-1]

    def compiled(p):  # the stage-1 / stage-2 programs compiled by objective(p)
        caplog.clear()
        with caplog.at_level(logging.WARNING), jax.log_compiles():
            objective(p)
        return [m for m in (r.getMessage() for r in caplog.records) if "Compiling" in m
                and ("_driven_arrays" in m or "stage2" in m)]

    p0 = jnp.array([0.4, 1.3, 0.3])
    assert len(compiled(p0)) == 2
    assert compiled(p0 + 0.05) == []
    grad = np.asarray(jax.grad(objective)(p0))
    eps = 1e-4
    fd = central_differences(objective, p0, eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


# ---------------------------------------------------------------------------------------
# a driven number-conserving model: the general driven modes vs driven_discretised
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_from_model_matches_number_conserving_driven_modes():
    """A traceless drive term, a coupling ramp and a bias on jt.Model, solved by the
    number-conserving driven finite modes and, converted with QuadraticModel.from_model,
    by the general ones (same bath modes): 1e-10 (both Magnus, same steps)."""
    drive = jt.Drive([(np.array([[0.5, 0.2], [0.2, -0.5]]), jt.Sine(0.4, 1.3))],
                     coupling={0: jt.Ramp(0.2, 1.0, 1.0)}, bias={1: jt.Sine(0.3, 2.0)})
    model = jt.Model(H2, _fermion_leads(), drive=drive)
    times = np.linspace(0.0, 2.0, 5)
    method = jt.Discretised(5, 4.0, drive_step=0.02, **SMALL)
    c0 = np.diag([0.7, 0.2])
    ref = jt.solve(model, c0, times, method)
    sol = jt.solve(jt.QuadraticModel.from_model(model), c0, times, method)
    for name in ("particle_current", "energy_current", "heat_current", "coupling_energy",
                 "system_energy", "power", "coupling_power", "first_law_residual"):
        assert _max(getattr(sol, name), getattr(ref, name)) < 1e-10, name
    assert _max(sol.occupation, np.diagonal(ref.correlation, axis1=-2, axis2=-1).real) < 1e-10


# ---------------------------------------------------------------------------------------
# (c) the driven continuum (Nambu doubling) vs the driven finite modes
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_driven_pairing_continuum_matches_finite_modes():
    """A paired two-site system between CutoffLorentzian leads (1/ω⁴ tails, which a finite
    band captures), a modulated hopping + pairing term, a modulated coupling and an AC bias,
    t ∈ [0, 6]: the continuum (driven closure of the doubled model; the bias as a coupling
    phase) vs 100 modes per lead on ±60 (the bias as a shift of the mode energies). Measured
    1.4e-7 / 3.3e-6 / 3.7e-5 / 4.1e-6 in occupation / particle / heat currents / coupling
    energies (5.8e-8 system energy, 1.2e-7 power, 4.8e-7 coupling power); with 50 modes on
    ±30 5.9e-6 / 1.7e-5 / 2.4e-4 / 3.3e-5, so the difference is the finite bath's (the
    continuum's error estimate is 7e-10)."""
    from systems import lead

    res = [jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), 1.0, 0.3, [1.0, 0.3]),
           jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), 0.4, -0.2, [0.2, 1.0])]
    drive = jt.Drive([(VF, jt.Sine(0.4, 1.1))], coupling={0: jt.Sine(0.3, 0.9, 0.0, 0.7)},
                     bias={1: jt.Sine(0.5, 1.4, 0.3)})
    model = jt.QuadraticModel.fermionic(H2, res, pairing=D2, drive=drive)
    times = np.linspace(0.0, 6.0, 13)
    c0 = jt.GaussianState(np.diag([1.0, 0.0]))
    cont = jt.solve(model, c0, times)
    assert isinstance(cont, jt.DrivenGeneralSolution) and cont.method == "continuum"
    fin = jt.solve(model, c0, times, jt.Discretised(100, 60.0, grid_scale=1.5, drive_step=0.02))
    tol = {"occupation": 1e-6, "particle_current": 1e-5, "heat_current": 1e-4,
           "coupling_energy": 1e-5, "system_energy": 1e-5, "power": 1e-5,
           "coupling_power": 1e-5}
    errs = {k: _max(getattr(fin, k), getattr(cont, k)) for k in tol}
    assert all(errs[k] <= tol[k] for k in tol), errs
    for sol in (cont, fin):
        assert float(np.max(np.abs(sol.first_law_residual))) < 1e-8


@pytest.mark.slow
def test_driven_continuum_of_converted_model_matches_number_conserving_continuum():
    """A driven jt.Model and its QuadraticModel.from_model: the Nambu-doubled driven closure
    (particle and hole copies, the hole's bias −Δ) vs the number-conserving one (≤ 1e-6, the
    continua's error estimates; measured 3e-8 / 7e-7 / 2e-8 in particle / heat currents /
    coupling energies, 4e-10 in the power)."""
    drive = jt.Drive([(np.array([[0.5, 0.2], [0.2, -0.5]]), jt.Sine(0.4, 1.3))],
                     coupling={0: jt.Sine(0.2, 1.0, 0.0, 0.8)}, bias={1: jt.Sine(0.3, 2.0)})
    model = jt.Model(H2, _fermion_leads(), drive=drive)
    times = np.linspace(0.0, 3.0, 7)
    c0 = np.diag([0.7, 0.2])
    ref = jt.solve(model, c0, times, jt.Continuum())  # the number-conserving continuum
    sol = jt.solve(jt.QuadraticModel.from_model(model), c0, times)
    for name in ("particle_current", "energy_current", "heat_current", "coupling_energy",
                 "system_energy", "power", "coupling_power", "work"):
        assert _max(getattr(sol, name), getattr(ref, name)) < 2e-6, name
    assert _max(sol.occupation, np.diagonal(ref.correlation, axis1=-2, axis2=-1).real) < 1e-7
    assert float(np.max(np.abs(sol.first_law_residual))) < 1e-8


# ---------------------------------------------------------------------------------------
# (d) QuTiP HEOM with the time-dependent pairing Hamiltonian in Fock space
# ---------------------------------------------------------------------------------------
def _heom_pairing(h, delta, dterm, f, leads, occupations, times, n_pade):
    """HEOM (depth 2, exact for a quadratic model) of H_S(t) = Σ h a†a + ½Σ(Δ a†a† + h.c.)
    + f(t) ½Σ(D a†a† + h.c.) as a QobjEvo, Lorentzian leads in ``n_pade`` Padé poles, from the
    Fock state ``occupations`` (helpers of tests/reference_heom_correlated.py)."""
    from qutip import QobjEvo, basis, tensor
    from qutip.solver.heom import HEOMSolver
    from reference_heom_correlated import OPTIONS, _baths, _hamiltonian, _observables, annihilators

    ops = annihilators(len(h))

    def pairing(d):
        p = sum(d[i][j] * ops[i].dag() * ops[j].dag() for i in range(len(ops))
                for j in range(len(ops)) if d[i][j] != 0)
        return 0.5 * (p + p.dag())

    h_t = QobjEvo([_hamiltonian(h, ops) + pairing(delta), [pairing(dterm), f]])
    rho0 = tensor(*[basis(2, int(n)) for n in occupations]).proj()
    res = HEOMSolver(h_t, _baths(leads, ops, n_pade), 2, options=OPTIONS).run(
        rho0, np.asarray(times, float))
    out = _observables(res.ado_states, ops, len(leads))
    mu = np.array([ld["chemical_potential"] for ld in leads])
    out["heat_current"] = out["energy_current"] - mu * out["particle_current"]
    return out


@pytest.mark.slow
def test_driven_pairing_matches_heom():
    """Two sites with pairing Δ(t) = 0.3 + 0.2 sin(1.1 t) between Lorentzian leads, t ∈ [0, 4]:
    the driven continuum vs QuTiP HEOM, converged in Padé poles (16 → 20 changes the
    occupations / particle / heat currents by 1e-8 / 2e-8 / 1.3e-8 and the coupling energies,
    the slowest, by 1.7e-6). Measured at 20 poles: 1.8e-8 / 2.0e-8 / 1.3e-8 / 1.2e-6 (the
    HEOM's own Padé error in the coupling energy)."""
    pytest.importorskip("qutip")
    from reference_heom_correlated import lead

    leads = [lead(1.0, 0.3, [1.0, 0.0]), lead(0.4, -0.2, [0.0, 1.0])]
    h = [[0.3, 0.4], [0.4, -0.2]]
    dmat = [[0.0, 1.0], [-1.0, 0.0]]
    times = np.linspace(0.0, 4.0, 9)
    prev, heom = (_heom_pairing(h, 0.3 * np.asarray(dmat), dmat,
                                lambda t: 0.2 * np.sin(1.1 * t), leads, [1, 0], times, n)
                  for n in (16, 20))
    converged = {"occupation": 1e-7, "particle_current": 1e-7, "heat_current": 1e-7,
                 "coupling_energy": 5e-6}
    change = {k: _max(heom[k], prev[k]) for k in converged}
    assert all(change[k] < converged[k] for k in converged), change
    res = [jt.Reservoir(jt.Lorentzian(ld["gamma"], ld["width"]), ld["temperature"],
                        ld["chemical_potential"], ld["coupling"]) for ld in leads]
    vd = np.asarray(quadrature_hamiltonian(np.zeros((2, 2)), np.asarray(dmat), "fermion")[0])
    model = jt.QuadraticModel.fermionic(np.asarray(h), res, pairing=0.3 * np.asarray(dmat),
                                        drive=jt.Drive([(vd, jt.Sine(0.2, 1.1))]))
    sol = jt.solve(model, jt.GaussianState(np.diag([1.0, 0.0])), times)
    tol = {"occupation": 1e-6, "particle_current": 1e-6, "heat_current": 1e-5,
           "coupling_energy": 1e-5}
    errs = {k: _max(getattr(sol, k), heom[k]) for k in tol}
    assert all(errs[k] <= tol[k] for k in tol), errs
