"""The driven Padé method (``jt.Pade`` on a model with a ``jt.Drive``, response/driven_pade.py)
against independent values: the undriven closed-form ``jt.Pade`` for constant drives and
constant coupling modulation, the gauge equivalence of a uniform system drive and a bias on
every reservoir, finite differences (first law, gradients), the driven continuum (an
independent method: frequency quadrature) and QuTiP HEOM with a time-dependent Hamiltonian
(slow)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import central_differences

import jaxtransport as jt

LOR = jt.Lorentzian(1.0, 2.0)
DELTA = 2e-3  # clusters t ± δ, t ± 2δ for five-point finite differences
TIMES = np.concatenate([[0.0], (np.array([0.7, 1.6, 2.9])[:, None]
                                + DELTA * np.arange(-2, 3)).ravel()])
# fixed pole count and step: every default-suite model below shares one compiled program
# per drive structure (the values of the drive, h and couplings are traced)
METHOD = jt.Pade(n_pade=16, drive_step=0.025, tolerance=1e-4)
KEYS = ("correlation", "particle_current", "heat_current", "coupling_energy",
        "coupling_energy_derivative", "system_energy_derivative")


def _leads(coupling=1.0, bias_mu=0.0):
    return [jt.Reservoir(LOR, 1.0, bias_mu, coupling=[coupling], name="hot"),
            jt.Reservoir(LOR, 0.2, 0.0, coupling=[coupling], name="cold")]


def _diff(a, b, keys=KEYS):
    return max(float(np.max(np.abs(np.asarray(getattr(a, k)) - np.asarray(getattr(b, k)))))
               for k in keys)


def _drive(f, s, delta):
    """H_S = h + f(t), s_α = s(t) and Δ_α = delta(t) on both leads: one pytree structure for
    every default-suite model (jt.Sine values only), so one compiled program serves them."""
    return jt.Drive([(np.eye(1), f)], coupling={"hot": s, "cold": s},
                    bias={"hot": delta, "cold": delta})


def _const(c):
    return jt.Sine(0.0, 1.0, 0.0, offset=c)


@pytest.fixture(scope="module")
def solutions(monkeypatch_module):
    """Three driven models of one drive structure, and how often stage 1 was traced."""
    from jaxtransport.response import driven_pade

    traces = []
    original = driven_pade.bath_part

    def counted(*args, **kwargs):
        traces.append(1)
        return original(*args, **kwargs)

    monkeypatch_module.setattr(driven_pade, "bath_part", counted)
    state = jt.GaussianState([[1.0]])
    f, minus_f = jt.Sine(0.4, 1.5, 0.3), jt.Sine(-0.4, 1.5, 0.3)
    out = {}
    for name, drive in (("constant", _drive(_const(0.3), _const(0.5), _const(0.0))),
                        ("system", _drive(f, _const(1.0), _const(0.0))),
                        ("bias", _drive(_const(0.0), _const(1.0), minus_f))):
        resp = jt.response(jt.Model([[0.5]], _leads(), drive=drive), TIMES, METHOD)
        out[name] = resp.evaluate(state)
        assert resp.method == "pade"
    return out, f, len(traces)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_constant_drive_and_coupling_modulation_equal_the_undriven_pade(solutions):
    """H_S = h + c (constant) with s_α = 0.5 on both leads equals the undriven closed form on
    h + c with the couplings halved (same Padé poles; the time steps are exact for a
    constant generator: measured 7e-15). New drive values do not retrace stage 1."""
    sols, _, n_traces = solutions
    sd = sols["constant"]
    s0 = jt.solve(jt.Model([[0.8]], _leads(0.5)), jt.GaussianState([[1.0]]), TIMES,
                  method=jt.Pade(n_pade=METHOD.n_pade))
    assert isinstance(sd, jt.DrivenSolution)
    assert _diff(sd, s0) <= 1e-12
    np.testing.assert_allclose(sd.system_energy, s0.system_energy, atol=1e-12)
    np.testing.assert_allclose(sd.power, 0.0, atol=1e-15)
    # the estimate (the Padé truncation of N = 16 dominates) bounds the stepping difference
    assert _diff(sd, s0) <= float(sd.error_estimate) <= 1e-4
    assert n_traces == 1


def test_constant_drive_on_the_default_route_equals_the_undriven_default():
    """The acceptance check on the automatic route: jt.solve without a method on two sites
    with a constant hopping drive (the driven jt.Pade, N and the step chosen automatically)
    equals jt.solve on the undriven model with h + cV (the closed-form jt.Pade) to 1e-12:
    the same poles, and time steps exact for a constant generator."""
    h, v = np.array([[0.5, 0.3], [0.3, -0.2]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    leads = [jt.Reservoir(LOR, 1.0, 0.1, coupling=[1.0, 0.0], name="hot"),
             jt.Reservoir(LOR, 0.2, 0.0, coupling=[0.0, 1.0], name="cold")]
    times, state = np.linspace(0.0, 4.0, 21), jt.GaussianState(np.diag([1.0, 0.0]))
    sd = jt.solve(jt.Model(h, leads, drive=jt.Drive([(v, jt.Constant(0.3))])), state, times)
    s0 = jt.solve(jt.Model(h + 0.3 * v, leads), state, times)
    assert sd.method == s0.method == "pade" and isinstance(sd, jt.DrivenSolution)
    assert _diff(sd, s0) <= 1e-12
    np.testing.assert_allclose(sd.system_energy, s0.system_energy, atol=1e-12)


def test_uniform_drive_is_a_bias_gauge_and_first_law(solutions):
    """H_S = h + f(t)·1 equals the bias Δ_α = −f(t) on every reservoir (gauge e^{−iF N}): same
    C(t), particle currents, coupling energies, heat currents; the energy current out of α
    differs by −f J^N_α. Two code paths (system drive vs coupling phases). First law: the
    residual of both, and finite differences of the energy against P + Σ J^E."""
    sols, f, _ = solutions
    system, bias = sols["system"], sols["bias"]
    # measured 2.5e-9: the two paths' time-stepping errors (step 0.025) differ
    assert _diff(system, bias, ("correlation", "particle_current", "coupling_energy",
                                "heat_current")) <= 1e-8
    ft = np.asarray(f.on_grid(TIMES))[:, None]
    np.testing.assert_allclose(bias.energy_current,
                               system.energy_current - ft * system.particle_current, atol=1e-8)
    for sol in (system, bias):
        assert np.max(np.abs(sol.first_law_residual)) <= 1e-8
    # d/dt(<H_S> + Σ<H_I>) by five-point finite differences vs P + Σ J^E
    energy = np.asarray(system.system_energy + system.coupling_energy.sum(-1))[1:]
    energy = energy.reshape(-1, 5)
    lhs = (energy[:, 0] - 8 * energy[:, 1] + 8 * energy[:, 3] - energy[:, 4]) / (12 * DELTA)
    rhs = np.asarray(system.power + system.energy_current.sum(-1))[1:].reshape(-1, 5)[:, 2]
    assert np.max(np.abs(lhs - rhs)) <= 1e-8
    np.testing.assert_allclose(system.power, 0.6 * np.cos(1.5 * TIMES + 0.3)
                               * np.asarray(system.occupation[:, 0]), atol=1e-14)


@pytest.mark.slow
def test_gradients_wrt_drive_parameters_and_no_retrace():
    """(Slow: ~30 s of compilation, the reverse mode of the propagation; the default suite
    checks the same drive values without retracing through test_gauge's Sine structures.)
    jax.grad of the heat out of the cold lead at t = 3 with respect to jt.Sine's amplitude,
    frequency and phase and the coupling modulation's depth, against central finite
    differences (rtol 1e-6); new parameter values do not retrace."""
    state = jt.GaussianState([[1.0]])
    traces = []

    def model(p):
        return jt.Model([[0.5]], _leads(), drive=jt.Drive(
            [(np.eye(1), jt.Sine(p[0], p[1], p[2]))],
            coupling={"hot": jt.Sine(p[3], 1.0, 0.0, offset=1.0)}))

    @jax.jit
    def heat(p):
        traces.append(1)
        return METHOD.response(model(p), TIMES).evaluate(state).heat_current[-1, 1]

    p0 = jnp.array([0.3, 2.0, 0.4, 0.2])
    grad = np.asarray(jax.grad(heat)(p0))
    eps = 1e-5
    fd = central_differences(heat, p0, eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-12)
    assert len(traces) == 1


def test_auto_choice_and_fallback():
    """method=None picks the driven Padé for a fermionic pole-sum model, jt.Continuum for
    bosons; under tracing the driven Padé needs a fixed pole count and time step."""
    from jaxtransport.solve import choose_method

    drive = jt.Drive([(np.eye(1), jt.Sine(0.3, 2.0))])
    model = jt.Model([[0.5]], _leads(), drive=drive)
    assert isinstance(choose_method(model), jt.Pade)
    bos = jt.Model([[1.0]], [jt.Reservoir(jt.Ohmic(0.05, 3.0), 1.0, coupling=[1.0])],
                   statistics="boson", drive=drive)
    assert isinstance(choose_method(bos), jt.Continuum)
    with pytest.raises(ValueError, match="drive_step"):
        jax.jit(lambda a: jt.Pade(n_pade=8).response(jt.Model(
            [[0.5]], _leads(), drive=jt.Drive([(np.eye(1), jt.Sine(a, 2.0))])), TIMES)
            .times)(0.3)


# ----------------------------------------------------------------------------------------
# slow: against the driven continuum and QuTiP HEOM
# ----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("case", ["level", "two_site_modulated_biased"])
def test_against_the_driven_continuum(case):
    """Driven single level, and two sites with a modulated hopping, a modulated coupling to the
    hot lead and an AC bias on the cold one, vs jt.Continuum (frequency quadrature of the
    time-ordered closure; independent of the Padé expansion and of the Lyapunov stepping).
    Smooth drives: the continuum's tail model is accurate for them (for a kink, e.g. a
    jt.Ramp, its estimate grows; the Padé steps are exact across kinks at output times)."""
    times = np.linspace(0.0, 6.0, 31)
    if case == "level":
        h, c0 = np.array([[0.5]]), np.array([[1.0]])
        leads = _leads()
        drive = jt.Drive([(np.eye(1), jt.Sine(0.3, 2.0))])
    else:
        h, c0 = np.array([[0.4, 0.3], [0.3, -0.2]]), np.diag([1.0, 0.0])
        leads = [jt.Reservoir(LOR, 1.0, 0.2, coupling=[1.0, 0.0], name="hot"),
                 jt.Reservoir(jt.Lorentzian(0.7, 3.0), 0.3, -0.1, coupling=[0.0, 1.0],
                              name="cold")]
        drive = jt.Drive([(np.array([[0.0, 1.0], [1.0, 0.0]]), jt.Sine(0.2, 1.3, 0.2))],
                         coupling={"hot": jt.Sine(0.3, 0.7, 0.0, offset=1.0)},
                         bias={"cold": jt.Sine(0.3, 0.9)})
    model = jt.Model(h, leads, drive=drive)
    pade = jt.solve(model, c0, times, method=jt.Pade(tolerance=1e-8))
    cont = jt.solve(model, c0, times, method=jt.Continuum(tolerance=1e-9))
    assert pade.method == "pade" and float(pade.error_estimate) <= 1e-8
    own = float(cont.error_estimate)  # the continuum's own estimate (measured ≤ 1e-9 here)
    assert _diff(pade, cont, ("correlation", "particle_current")) <= max(1e-7, own)
    assert _diff(pade, cont, ("heat_current", "energy_current", "coupling_energy")) <= max(
        1e-6, own)
    assert np.max(np.abs(pade.first_law_residual)) <= 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("name", ["driven_level", "driven_hopping"])
def test_against_heom_with_a_time_dependent_hamiltonian(name):
    """The QobjEvo HEOM reference of tests/reference_heom_driven.py (Padé 12 and 16 agree to
    the compared level), at the HEOM's convergence."""
    pytest.importorskip("qutip")
    from reference_heom_driven import TIMES as T_REF
    from reference_heom_driven import cases, heom_driven, jaxtransport_driven

    h, terms, leads, occ = cases()[name]
    qterms = [(v, f) for v, f, _ in terms]
    coarse = heom_driven(h, qterms, leads, occ, T_REF, 12)
    ref = heom_driven(h, qterms, leads, occ, T_REF, 16)
    sol = jaxtransport_driven(h, terms, leads, occ, T_REF, method=jt.Pade(tolerance=1e-8))
    for key, tol in (("occupation", 1e-6), ("particle_current", 1e-6),
                     ("heat_current", 1e-5)):
        change = float(np.max(np.abs(ref[key] - coarse[key])))
        err = float(np.max(np.abs(np.asarray(getattr(sol, key)) - ref[key])))
        assert err <= tol + 2 * change, (key, err, change)
