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
