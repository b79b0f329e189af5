"""Cycle-resolved thermodynamics (jt.cycle_thermodynamics): per-cycle integrals against
closed-form integrals of synthetic signals, the efficiency/COP rule, the first law per cycle
and the approach to the periodic steady state."""

import types

import numpy as np
import pytest

import jaxtransport as jt

OMEGA = 1.3
TAU = 2 * np.pi / OMEGA


def _grid(n_per_cycle, n_cycles, warp=0.0, start=0.0):
    """Cycle boundaries on the grid; inside each cycle the nodes follow s + warp·sin(2πs)/2π
    (non-uniform for warp ≠ 0)."""
    s = np.linspace(0.0, 1.0, n_per_cycle + 1)[:-1]
    u = s + warp * np.sin(2 * np.pi * s) / (2 * np.pi)
    t = (np.arange(n_cycles)[:, None] + u[None, :]).ravel() * TAU + start
    return np.append(t, start + n_cycles * TAU)


def _f(t, a, b, phi, c, lam):
    return a + b * np.sin(OMEGA * t + phi) + c * np.exp(-lam * t)


def _antiderivative(t, a, b, phi, c, lam):
    return a * t - b / OMEGA * np.cos(OMEGA * t + phi) - c / lam * np.exp(-lam * t)


PARS = (0.5, 0.3, 0.4, 0.7, 0.35)


def test_cycle_integral_matches_closed_form_and_is_fourth_order():
    errs = []
    for n in (32, 64, 128):
        t = _grid(n, 3, warp=0.6)
        got = np.asarray(jt.cycle_integral(t, _f(t, *PARS), TAU))
        b = TAU * np.arange(4)
        exact = np.diff(_antiderivative(b, *PARS))
        errs.append(np.max(np.abs(got - exact)))
    assert errs[-1] < 2e-7
    # fourth order on a non-uniform grid: halving Δt divides the error by ~16
    assert errs[0] / errs[1] > 10 and errs[1] / errs[2] > 10


def test_cycle_integral_axis_batch_and_start():
    t = _grid(40, 3, start=0.25)
    t = np.concatenate([[0.0, 0.1], t])  # grid times before the first cycle are ignored
    v = np.stack([_f(t, *PARS), 2 * _f(t, *PARS)], axis=-1)  # (T, 2)
    got = np.asarray(jt.cycle_integral(t, v, TAU, start=0.25, axis=0))  # (K, 2)
    exact = np.diff(_antiderivative(0.25 + TAU * np.arange(4), *PARS))
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got[:, 0], exact, rtol=1e-6)
    np.testing.assert_allclose(got[:, 1], 2 * exact, rtol=1e-6)


@pytest.mark.parametrize("bad, match", [
    (lambda: np.linspace(0.0, 0.9 * TAU, 50), "does not hold one whole cycle"),
    (lambda: np.geomspace(0.05, 2 * TAU, 60), "not a grid time"),
    (lambda: np.linspace(0.0, 2.5 * TAU, 60), "not a grid time"),
    (lambda: np.linspace(0.0, 2 * TAU, 7), "at least 4 grid intervals"),
])
def test_cycle_grid_errors(bad, match):
    t = bad()
    with pytest.raises(ValueError, match=match):
        jt.cycle_integral(t, np.sin(t), TAU)


def test_cycle_period_errors():
    t = _grid(20, 2)
    with pytest.raises(ValueError, match="period must be"):
        jt.cycle_integral(t, t, -1.0)


def _synthetic(t, jq, power, temp, mu=(0.0, 0.0)):
    """A stand-in solution: J^Q given, J^N = 0 (so J^E = J^Q)."""
    jq = np.asarray(jq, float)
    return types.SimpleNamespace(
        times=t, heat_current=jq, energy_current=jq, power=np.asarray(power, float),
        temperature=np.asarray(temp, float), chemical_potential=np.asarray(mu, float))


@pytest.mark.parametrize("j_hot, j_cold, p, mode, eff, cop", [
    (1.0, -0.6, -0.4, 1, 0.4, np.nan),  # engine: η = −W/Q_hot
    (-0.8, 0.3, 0.5, 2, np.nan, 0.6),  # refrigerator: COP = Q_cold/W
    (0.2, -0.7, 0.5, 0, np.nan, np.nan),  # accelerator: neither
    (-0.3, -0.2, 0.5, 0, np.nan, np.nan),  # heater: neither
])
def test_efficiency_rule(j_hot, j_cold, p, mode, eff, cop):
    t = _grid(16, 2)
    one = np.ones_like(t)
    # reservoir 1 is hot: the default picks the hottest / coldest
    sol = _synthetic(t, np.stack([j_cold * one, j_hot * one], -1), p * one, (0.5, 2.0))
    cyc = jt.cycle_thermodynamics(sol, TAU)
    assert (cyc.hot, cyc.cold) == (1, 0)
    np.testing.assert_allclose(cyc.heat, [[j_cold * TAU, j_hot * TAU]] * 2, rtol=1e-12)
    np.testing.assert_allclose(cyc.work, [p * TAU] * 2, rtol=1e-12)
    assert np.all(np.asarray(cyc.mode) == mode)
    np.testing.assert_allclose(cyc.efficiency, [eff] * 2, rtol=1e-12)
    np.testing.assert_allclose(cyc.coefficient_of_performance, [cop] * 2, rtol=1e-12)
    # reservoir entropy change −Σ Q_α/T_α per cycle
    np.testing.assert_allclose(cyc.entropy_production,
                               [-(j_cold / 0.5 + j_hot / 2.0) * TAU] * 2, rtol=1e-12)


def test_first_law_and_periodic_approach_of_synthetic_cycle():
    """<H_S>(t), <H_I^α>(t), J^E_α(t) chosen, P = d/dt(<H_S> + Σ<H_I>) − Σ J^E closed form: the
    per-cycle residual is quadrature error only; transients e^{−λt} decay cycle to cycle."""
    t = _grid(80, 6, warp=0.3)
    lam = 0.8
    es = 0.3 * np.sin(OMEGA * t) + 0.5 * np.exp(-lam * t)
    des = 0.3 * OMEGA * np.cos(OMEGA * t) - 0.5 * lam * np.exp(-lam * t)
    ei = np.stack([-0.1 * np.cos(OMEGA * t), -0.2 + 0.05 * np.sin(2 * OMEGA * t)], -1)
    dei = np.stack([0.1 * OMEGA * np.sin(OMEGA * t), 0.1 * OMEGA * np.cos(2 * OMEGA * t)], -1)
    je = np.stack([_f(t, 0.4, 0.2, 0.1, 0.3, lam), _f(t, -0.1, 0.5, 1.0, -0.2, lam)], -1)
    power = des + dei.sum(-1) - je.sum(-1)
    corr = (0.5 + 0.2 * np.exp(-lam * t))[:, None, None] * np.eye(2)
    sol = types.SimpleNamespace(times=t, heat_current=je, energy_current=je, power=power,
                                temperature=np.array([1.0, 0.5]), system_energy=es,
                                coupling_energy=ei, correlation=corr)
    cyc = jt.cycle_thermodynamics(sol, TAU)
    b = TAU * np.arange(7)
    exact_stored = np.diff(0.3 * np.sin(OMEGA * b) + 0.5 * np.exp(-lam * b)) + np.diff(
        -0.1 * np.cos(OMEGA * b) - 0.2 + 0.05 * np.sin(2 * OMEGA * b))
    np.testing.assert_allclose(cyc.stored_energy_change, exact_stored, atol=1e-13)
    assert np.max(np.abs(cyc.first_law_residual)) < 1e-6
    assert float(cyc.quadrature_error) > np.max(np.abs(cyc.first_law_residual))
    # heat change between consecutive cycles: the decaying term's, c/λ e^{−λ t_k}(1 − e^{−λτ})²
    exact_q = np.diff(_antiderivative(b, 0.4, 0.2, 0.1, 0.3, lam))
    np.testing.assert_allclose(cyc.heat_change[:, 0], np.abs(np.diff(exact_q)), rtol=1e-5,
                               atol=1e-9)
    strobo = 0.2 * np.abs(np.diff(np.exp(-lam * b)))
    np.testing.assert_allclose(cyc.stroboscopic_change, strobo, rtol=1e-12, atol=1e-15)
    k = cyc.periodic_cycle(rtol=1e-3)
    assert 1 <= k < 6
    assert np.all(np.asarray(cyc.work_change[k:]) <= 1e-3 * max(np.max(np.abs(cyc.heat[-1])),
                                                                abs(cyc.work[-1])))


def test_batched_solution_and_missing_power():
    t = _grid(20, 2)
    jq = np.stack([np.ones_like(t), -np.ones_like(t)], -1)
    sol = _synthetic(t, np.stack([jq, 2 * jq]), -0.5 * np.ones((2, t.size)), (1.0, 0.5))
    cyc = jt.cycle_thermodynamics(sol, TAU)
    assert cyc.heat.shape == (2, 2, 2) and cyc.work.shape == (2, 2)
    np.testing.assert_allclose(cyc.heat[1], 2 * np.asarray(cyc.heat[0]), rtol=1e-12)
    np.testing.assert_allclose(cyc.efficiency, 0.5 * np.array([[1, 1], [0.5, 0.5]]), rtol=1e-12)
    del sol.power
    with pytest.raises(ValueError, match="power"):
        jt.cycle_thermodynamics(sol, TAU)
    sol.power = -np.ones((2, t.size))
    with pytest.raises(ValueError, match="different reservoirs"):
        jt.cycle_thermodynamics(sol, TAU, hot=0, cold=0)


# --- the Markovian baseline under a drive ------------------------------------------------
def _lorentz(w, gamma, width, center=0.0):
    return gamma * width**2 / ((w - center) ** 2 + width**2)


def _fermi(x, temp):
    return 1.0 / (np.exp(x / temp) + 1.0)


def test_driven_markov_single_level_equals_rate_equation():
    """Level ε(t) = ε0 + A sin Ωt, cold coupling modulated s(t), bias Δ(t) on the hot lead:
    jt.markov_solve of the driven model against scipy's solve_ivp of the rate equation
    dn/dt = Σ_α s_α² Γ_α(ε − Δ_α)[f_α(ε − Δ_α) − n], J^N_α = s_α² Γ_α(f_α − n), J^E_α = ε J^N_α,
    J^Q_α = (ε − μ_α − Δ_α) J^N_α, P = ε̇ n."""
    from scipy.integrate import solve_ivp

    eps0, amp, om = 0.4, 0.6, 0.9
    res = (jt.Reservoir(jt.Lorentzian(0.3, 2.0), temperature=1.5, chemical_potential=0.1,
                        coupling=[1.0]),
           jt.Reservoir(jt.Lorentzian(0.2, 1.5, 0.3), temperature=0.4, chemical_potential=-0.2,
                        coupling=[1.0]))
    drive = jt.Drive([(np.eye(1), jt.Sine(amp, om))], coupling={1: jt.Sine(0.3, 0.5, offset=1.0)},
                     bias={0: jt.Sine(0.2, 0.7)})
    ts = np.linspace(0.0, 12.0, 61)
    sol = jt.markov_solve(jt.Model([[eps0]], res, drive=drive), 0.2 * np.eye(1), ts)

    def rates(t):
        e = eps0 + amp * np.sin(om * t)
        d = np.array([0.2 * np.sin(0.7 * t), 0.0])
        s2 = np.array([1.0, (1.0 + 0.3 * np.sin(0.5 * t)) ** 2])
        gam = s2 * np.array([_lorentz(e - d[0], 0.3, 2.0), _lorentz(e - d[1], 0.2, 1.5, 0.3)])
        f = np.array([_fermi(e - d[0] - 0.1, 1.5), _fermi(e - d[1] + 0.2, 0.4)])
        return e, gam, f, d

    ref = solve_ivp(lambda t, n: [np.sum(rates(t)[1] * (rates(t)[2] - n[0]))], (0.0, 12.0),
                    [0.2], t_eval=ts, rtol=1e-12, atol=1e-14)
    n = ref.y[0]
    e, gam, f, d = (np.array(x) for x in zip(*map(rates, ts), strict=True))
    jn = gam * (f - n[:, None])
    np.testing.assert_allclose(sol.correlation[:, 0, 0].real, n, atol=1e-9)
    np.testing.assert_allclose(sol.particle_current, jn, atol=1e-9)
    np.testing.assert_allclose(sol.energy_current, e[:, None] * jn, atol=1e-9)
    np.testing.assert_allclose(sol.heat_current, (e[:, None] - [0.1, -0.2] - d) * jn, atol=1e-9)
    np.testing.assert_allclose(sol.power, amp * om * np.cos(om * ts) * n, atol=1e-9)


@pytest.mark.parametrize("kind", ["global", "local"])
def test_driven_markov_constant_drive_equals_undriven(kind):
    """A constant drive c·V equals the undriven model with h + cV, solved exactly (matrix
    exponential), in C(t) and the currents; the power vanishes."""
    from systems import coherent_c0_2, two_site

    model = two_site()
    v = np.array([[0.0, 1.0], [1.0, 0.0]])
    driven = jt.Model(model.hamiltonian, model.reservoirs, drive=jt.Drive([(v, 0.15)]))
    plain = jt.Model(np.asarray(model.hamiltonian) + 0.15 * v, model.reservoirs)
    ts = np.linspace(0.0, 10.0, 11)
    a = jt.markov_solve(driven, coherent_c0_2(), ts, kind=kind, lamb_shift=True)
    b = jt.markov_solve(jt.markov_generator(plain, kind=kind, lamb_shift=True), coherent_c0_2(),
                        ts)
    np.testing.assert_allclose(a.correlation, b.correlation, atol=1e-9)
    for name in ("particle_current", "energy_current", "heat_current", "system_energy"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-9)
    np.testing.assert_allclose(a.power, 0.0, atol=1e-15)


def _otto_level(tau, gamma=0.4, kind="sine"):
    """A level ε(t) = 0.65 + 0.35 sin Ωt coupled to the hot lead (T = 2) while high and to the
    cold lead (T = 0.2) while low: s_hot = (1 + sin Ωt)/2, s_cold = (1 − sin Ωt)/2."""
    om = 2 * np.pi / tau
    lead = jt.Lorentzian(gamma=gamma, width=3.0)
    res = (jt.Reservoir(lead, temperature=2.0, coupling=[1.0]),
           jt.Reservoir(lead, temperature=0.2, coupling=[1.0]))
    drive = jt.Drive([(np.eye(1), jt.Sine(0.35, om))],
                     coupling={"r0": jt.Sine(0.5, om, offset=0.5),
                               "r1": jt.Sine(-0.5, om, offset=0.5)})
    return jt.Model([[0.65]], res, drive=drive)


def test_markov_otto_cycle_thermodynamics():
    """Weak-coupling Otto engine: at the periodic steady state work is extracted, the
    efficiency lies below the Otto bound 1 − ε_min/ε_max = 0.7 (< Carnot 0.9), the entropy
    production per cycle is positive and the first law closes per cycle (<H_I> = 0 here)."""
    tau = 10.0
    ts = np.linspace(0.0, 6 * tau, 6 * 64 + 1)
    sol = jt.markov_solve(_otto_level(tau), 0.5 * np.eye(1), ts)
    cyc = jt.cycle_thermodynamics(sol, tau)
    assert cyc.n_cycles == 6 and (cyc.hot, cyc.cold) == (0, 1)
    k = cyc.periodic_cycle(rtol=1e-4)
    assert 0 < k < 6
    assert np.all(np.asarray(cyc.mode[k:]) == 1)
    eta = np.asarray(cyc.efficiency[k:])
    assert np.all((eta > 0.3) & (eta < 0.7))
    assert np.all(np.asarray(cyc.entropy_production) > 0)
    assert np.max(np.abs(cyc.first_law_residual)) < 1e-6
    # approach to the periodic state: cycle-to-cycle changes shrink
    assert float(cyc.work_change[-1]) < 1e-3 * float(cyc.work_change[0])
    assert float(cyc.stroboscopic_change[-1]) < 1e-3 * float(cyc.stroboscopic_change[0])


# --- drive parameters as trainable (optimal control) -------------------------------------
def _driven_two_lead_level():
    lead = jt.Lorentzian(0.3, 2.0)
    res = (jt.Reservoir(lead, temperature=1.5, coupling=[1.0], name="hot"),
           jt.Reservoir(lead, temperature=0.5, coupling=[1.0], name="cold"))
    drive = jt.Drive([(np.eye(1), jt.Sine(0.2, 1.0)),
                      (np.eye(1), jt.PiecewiseLinear([0.0, 1.0, 2.0], [0.0, 0.1, -0.1]))],
                     coupling={"cold": jt.Ramp(0.0, 1.0, 2.0)}, bias={0: lambda t: 0.0 * t})
    return jt.Model([[0.5]], res, drive=drive)


def test_drive_parameters_select_and_apply_fields():
    from jaxtransport.optimise.drive_parameters import apply_drive

    model = _driven_two_lead_level()
    dp = jt.DriveParameters(terms={0: {"amplitude": (0.0, 1.0), "frequency": (0.5, 2.0)},
                                   1: {"values": [None, (0.0, 0.5), (-0.5, 0.5)]}},
                            coupling={"cold": {"duration": (1.0, 5.0)}})
    assert dp.names(model) == [
        "drive.terms[0].amplitude", "drive.terms[0].frequency", "drive.terms[1].values[1]",
        "drive.terms[1].values[2]", "drive.coupling[1].duration"]
    ents = dp.entries(model)
    np.testing.assert_allclose([e[4] for e in ents], [0.2, 1.0, 0.1, -0.1, 2.0])
    new = apply_drive(model, ents, np.array([0.7, 1.5, 0.3, 0.2, 4.0]))
    sine, pwl = new.drive.amplitudes
    assert float(sine.amplitude) == 0.7 and float(sine.frequency) == 1.5
    np.testing.assert_allclose(pwl.values, [0.0, 0.3, 0.2])  # element 0 stays fixed
    assert float(new.drive.coupling[1].duration) == 4.0
    np.testing.assert_allclose(sine(0.4), 0.7 * np.sin(1.5 * 0.4))
    # the unchanged model keeps its values
    assert float(model.drive.amplitudes[0].amplitude) == 0.2


@pytest.mark.parametrize("spec, match", [
    (dict(terms={1: {"knots": (0.0, 3.0)}}), "knots are not trainable"),
    (dict(terms={0: {"nonsense": (0.0, 1.0)}}), "no trainable array field"),
    (dict(terms={0: {"amplitude": (0.3, 1.0)}}), "strictly inside the bounds"),
    (dict(terms={0: {"amplitude": (1.0, 0.0)}}), "lo < hi"),
    (dict(terms={5: {"amplitude": (0.0, 1.0)}}), "out of range"),
    (dict(terms={1: {"values": [(0.0, 1.0)] * 2}}), "3 entries"),
    (dict(coupling={"hot": {"duration": (1.0, 3.0)}}), "no coupling amplitude"),
    (dict(coupling={"warm": {"duration": (1.0, 3.0)}}), "unknown reservoir"),
    (dict(bias={0: {"fn": (0.0, 1.0)}}), "no trainable array field"),
])
def test_drive_parameters_bad_input(spec, match):
    with pytest.raises(ValueError, match=match):
        jt.DriveParameters(**spec).entries(_driven_two_lead_level())


def test_drive_parameters_need_a_driven_model():
    from systems import single_level

    with pytest.raises(ValueError, match="driven model"):
        jt.DriveParameters(terms={0: {"amplitude": (0.0, 1.0)}}).entries(single_level())


@pytest.mark.slow
def test_markov_cycle_work_gradient_matches_finite_differences():
    """d(work of the last cycle)/d(drive parameters) of the weak-coupling Otto engine by
    jax.grad through the driven Markov solution and the cycle integrals, against 4-point
    central finite differences (rtol 1e-6; about 40 s: the reverse pass through diffrax)."""
    import jax

    from jaxtransport.optimise.drive_parameters import apply_drive

    tau = 10.0
    model = _otto_level(tau)
    ts = np.linspace(0.0, 3 * tau, 3 * 48 + 1)
    ents = jt.DriveParameters(terms={0: {"amplitude": (0.0, 0.6), "phase": (-1.0, 1.0)}},
                              coupling={"r1": {"offset": (0.2, 0.8)}}).entries(model)
    x0 = jax.numpy.array([e[4] for e in ents])

    def work(x):
        sol = jt.markov_solve(apply_drive(model, ents, x), 0.5 * np.eye(1), ts, rtol=1e-12,
                              atol=1e-14)
        return jt.cycle_thermodynamics(sol, tau).work[-1]

    grad = np.asarray(jax.grad(work)(x0))
    h = 1e-3
    fd = [(-work(x0.at[i].add(2 * h)) + 8 * work(x0.at[i].add(h)) - 8 * work(x0.at[i].add(-h))
           + work(x0.at[i].add(-2 * h))) / (12 * h) for i in range(3)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_cycle_objectives_on_synthetic_signals():
    """jt.CycleWork / jt.CycleHeat: mean power / heat current of one cycle, from the closed-form
    cycle integrals; bad cycles or reservoirs are refused."""
    t = _grid(64, 3)
    sol = types.SimpleNamespace(times=t, power=_f(t, *PARS),
                                heat_current=np.stack([_f(t, *PARS), -_f(t, *PARS)], -1))
    exact = np.diff(_antiderivative(TAU * np.arange(4), *PARS)) / TAU
    np.testing.assert_allclose(jt.CycleWork(TAU)(sol), exact[-1], rtol=1e-7)
    np.testing.assert_allclose(jt.CycleWork(TAU, cycle=0)(sol), exact[0], rtol=1e-5)
    np.testing.assert_allclose((-jt.CycleHeat(TAU, reservoir=1, cycle=1))(sol), exact[1],
                               rtol=1e-7)
    jt.CycleHeat(TAU, reservoir=1).check(t, 2)
    # inside jax.jit the grid is traced (an objective sees Solution.times as a tracer)
    import jax

    from jaxtransport.cycles import one_cycle_integral

    traced = jax.jit(lambda tt, v: one_cycle_integral(tt, v, TAU, -1))(t, _f(t, *PARS))
    np.testing.assert_allclose(traced, exact[-1] * TAU, rtol=1e-7)
    with pytest.raises(ValueError, match="does not exist"):
        jt.CycleWork(TAU, cycle=3).check(t, 2)
    with pytest.raises(ValueError, match="reservoir"):
        jt.CycleHeat(TAU, reservoir=2).check(t, 2)
    with pytest.raises(ValueError, match="not a grid time"):
        jt.CycleWork(1.1 * TAU).check(t, 2)


# --- optimal control with the exact driven engine -----------------------------------------
def _pumped_level(tau):
    res = (jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=1.5, coupling=[1.0]),
           jt.Reservoir(jt.Lorentzian(0.5, 2.0, 0.5), temperature=0.3, coupling=[1.0]))
    return jt.Model([[0.4]], res, drive=jt.Drive([(np.eye(1), jt.Sine(0.3, 2 * np.pi / tau))]))


@pytest.mark.slow
def test_exact_cycle_objective_gradient_wrt_drive_matches_finite_differences():
    """d(mean power over the last cycle)/d(drive amplitude, phase) through the driven continuum
    (the stage-1 method optimise_preparation uses) by jax.grad, against 4-point central finite
    differences of the jitted objective (rtol 1e-6; measured ~1e-10); new parameter values do
    not recompile. About 2 min on a loaded 2-core machine (the reverse pass compiles)."""
    import jax

    from jaxtransport.optimise.model_parameters import apply_model
    from jaxtransport.optimise.optimiser import _stage1_method

    tau = 2.0
    model = _pumped_level(tau)
    ts = np.linspace(0.0, 2 * tau, 17)
    ents = jt.DriveParameters(terms={0: {"amplitude": (0.0, 1.0),
                                         "phase": (-1.0, 1.0)}}).entries(model)
    method = _stage1_method(None, model, ents, ts)
    obj = jt.CycleWork(tau)

    def f(x):
        m = apply_model(model, ents, x)[0]
        return obj(method.response(m, ts).evaluate(0.3 * np.eye(1), validate=False))

    x0 = jax.numpy.array([e[4] for e in ents])
    grad = np.asarray(jax.grad(f)(x0))
    fj = jax.jit(f)
    h = 1e-3
    fd = [(-fj(x0.at[i].add(2 * h)) + 8 * fj(x0.at[i].add(h)) - 8 * fj(x0.at[i].add(-h))
           + fj(x0.at[i].add(-2 * h))) / (12 * h) for i in range(2)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
    assert fj._cache_size() == 1  # eight parameter values, one compilation


@pytest.mark.slow
def test_optimise_drive_improves_cycle_power_within_bounds_without_recompiling():
    """optimise_preparation(drive_parameters=) lowers the mean power put into the level over
    the last cycle, keeps the drive parameters inside their bounds and traces once.
    About 5 min on a loaded 2-core machine."""
    tau = 2.0
    model = _pumped_level(tau)
    ts = np.linspace(0.0, 2 * tau, 17)
    dp = jt.DriveParameters(terms={0: {"amplitude": (0.0, 1.0), "phase": (-1.0, 1.0)}})
    res = jt.optimise_preparation(model, ts, jt.CycleWork(tau),
                                  jt.ThermalState(np.array([[0.4]]), (0.5, 2.0)),
                                  drive_parameters=dp, steps=20, n_starts=2, check_every=10,
                                  progress=False)
    assert res.n_traces == 1
    first = float(res.history.objective.values[0, 0])  # start 0: the model's own drive
    assert res.value < first - 1e-4
    amp, phase = res.model_parameters.values()
    assert 0.0 < amp < 1.0 and -1.0 < phase < 1.0
    drive = res.model.drive.amplitudes[0]
    assert float(drive.amplitude) == pytest.approx(amp) and float(drive.phase) == pytest.approx(
        phase)
    # the reported value is the objective of the reported solution
    assert float(jt.CycleWork(tau)(res.solution)) == pytest.approx(res.value, rel=1e-8)


@pytest.mark.slow
def test_exact_driven_cycles_first_law_and_second_quadrature():
    """The driven continuum's solution of a pumped level, 2 cycles: per-cycle heat and work
    against the solution's own integrated_heat / work (a different rule: trapezoid corrected
    with the exact derivatives, error ~h⁵/720 per step) and the first law per cycle,
    W + Σ_α E_α = Δ(<H_S> + Σ<H_I>). The cubic rule's bound (11/720) h⁴ τ max|f⁗| is
    ≈ 1e-5 for the power here (h = 1/16, Ω = π, |P| ≲ 0.3); measured differences 1e-6.
    About 90 s on a loaded 2-core machine (test_markov_otto_cycle_thermodynamics is the
    default-suite check of the first law per cycle)."""
    tau = 2.0
    ts = np.linspace(0.0, 2 * tau, 65)
    sol = jt.solve(_pumped_level(tau), 0.3 * np.eye(1), ts, tolerance=1e-8)
    cyc = jt.cycle_thermodynamics(sol, tau)
    idx = jt.cycle_boundaries(ts, tau)
    q_ref = np.diff(np.asarray(sol.integrated_heat)[idx], axis=0)
    w_ref = np.diff(np.asarray(sol.work)[idx])
    # the second cycle (smooth currents): both rules agree; the first holds the switch-on
    np.testing.assert_allclose(cyc.heat[1], q_ref[1], atol=1e-6)
    np.testing.assert_allclose(cyc.work[1], w_ref[1], atol=1e-5)
    np.testing.assert_allclose(cyc.heat[0], q_ref[0], atol=1e-3)
    assert abs(float(cyc.first_law_residual[1])) < 1e-5
    assert abs(float(cyc.first_law_residual[0])) < 1e-3


def test_optimise_drive_parameters_bad_input():
    from systems import single_level

    with pytest.raises(ValueError, match="driven model"):
        jt.optimise_preparation(single_level(), np.linspace(0.0, 1.0, 5), jt.MinHeatCurrent(),
                                drive_parameters=jt.DriveParameters(
                                    terms={0: {"amplitude": (0.0, 1.0)}}))
    with pytest.raises(ValueError, match="jt.DriveParameters"):
        jt.optimise_preparation(_pumped_level(2.0), np.linspace(0.0, 1.0, 5),
                                jt.MinHeatCurrent(), drive_parameters={"amplitude": (0, 1)})
