"""Drives with kinks (issue 20): amplitudes whose derivative jumps (a linear jt.Ramp, a
jt.PiecewiseLinear) against independent values — the driven finite-mode method against a
brute-force integration of the full correlation matrix (scipy DOP853, rtol 1e-12) with its
fourth order restored by the breakpoint-aligned substeps; the continuum's closed-form tail
model against the amplitude propagated by the time steps; the continuum against the gauge
identity (a uniform shift of system and reservoirs is no drive) and the long-time state
against the undriven steady state of the final Hamiltonian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import central_differences
from test_drive_finite_modes import _brute_force

import jaxtransport as jt
from jaxtransport.response import driven
from jaxtransport.response.closure import pole_data
from jaxtransport.response.continuum_kernels import observables_of_amplitudes

H = np.array([[0.5, 0.2], [0.2, -0.3]])
V = np.array([[1.0, 0.0], [0.0, -1.0]])
C0 = np.array([[0.8, 0.1 + 0.05j], [0.1 - 0.05j, 0.3]])
LOR = jt.Lorentzian(1.0, 2.0)


def _leads(n=1, density=LOR, coupling=(1.0, 1.0)):
    e = np.eye(n)
    return [jt.Reservoir(density, 1.0, 0.2, coupling[0] * e[0], name="hot"),
            jt.Reservoir(density, 0.3, 0.0, coupling[1] * e[-1], name="cold")]


def _discretised_case():
    pwl = jt.PiecewiseLinear([0.37, 1.13, 2.71], [0.0, 0.6, -0.2])
    ramp = jt.Ramp(0.3, 1.0, 1.7, start=0.55, shape="linear")
    model = jt.Model(H, _leads(2, jt.Lorentzian(1.0, 1.0), (0.6, 0.5)),
                     drive=jt.Drive([(V, pwl)], coupling={"cold": ramp}))
    times = np.linspace(0.0, 3.0, 7)

    def method(step):
        return jt.Discretised(3, 2.0, check_recurrence=False, band_warning=1.0,
                              drive_step=step)

    ref = _brute_force(
        method(0.01), model, times, C0, np.array([1.0, 0.3]), np.array([0.2, 0.0]),
        lambda t: H + np.interp(t, [0.37, 1.13, 2.71], [0.0, 0.6, -0.2]) * V,
        lambda t: np.array([1.0, 0.3 + 0.7 * np.clip((t - 0.55) / 1.7, 0, 1)]),
        lambda t: np.zeros(2), "fermion")
    return model, times, method, ref


def test_discretised_kinks_against_brute_force():
    """Knots and ramp ends off the substep grid (the Magnus substeps are split at them): the
    driven finite modes agree with the brute-force correlation matrix ≤ 1e-9 at step 0.02
    (measured 1.5e-10 in C, 1.2e-11 in J^N; before the split 1.6e-6 and 1.5e-7)."""
    model, times, method, ref = _discretised_case()
    sol = jt.solve(model, C0, times, method=method(0.02))
    np.testing.assert_allclose(sol.correlation, ref["corr"], atol=1e-9)
    np.testing.assert_allclose(sol.particle_current, ref["jn"], atol=1e-10)
    np.testing.assert_allclose(sol.coupling_energy, ref["hi"], atol=1e-9)


@pytest.mark.slow
def test_discretised_kinks_fourth_order():
    """With the split substeps the Magnus error falls as the fourth power of the step (ratio
    ~16 per halving; measured 2.5e-6 → 2.1e-7, 12; without the split the errors were 100×
    larger and irregular: 2.5e-4 → 4.7e-6, and still 1.6e-6 at step 0.02)."""
    model, times, method, ref = _discretised_case()
    errs = [np.max(np.abs(np.asarray(jt.solve(model, C0, times, method(s)).correlation)
                          - ref["corr"])) for s in (0.25, 0.125)]
    assert 10 < errs[0] / errs[1] < 24, errs


def test_tail_model_with_jumps_matches_the_propagated_amplitude():
    """The continuum's tail model (the adiabatic solution with its jumps at the kinks,
    response/driven.py) against the amplitude Ψ(ω, t) of the Magnus–Filon steps at a far
    frequency, for linear ramps and a piecewise-linear drive together (kinks at the switch-on,
    at output times and a repeated one at t = 3): ≤ 1e-10 in the current and correlation
    integrands; without the jump terms the model misses ~1e-6 (an O(ω⁻²) term left by each
    kink)."""
    drive = jt.Drive([(np.eye(1), jt.Ramp(0.0, 0.6, 2.0, start=1.0, shape="linear")),
                      (np.eye(1), jt.PiecewiseLinear([0.5, 1.3, 2.2, 3.0],
                                                     [0.0, 0.5, -0.3, 0.2])),
                      (np.eye(1), jt.Ramp(0.0, 0.2, 0.7, shape="linear"))])  # kink at 0
    model = jt.Model([[0.5]], _leads(), drive=drive)
    pl, drive = pole_data(model, None), model.drive
    times = jnp.asarray([0.0, 0.4, 1.5, 2.6, 3.0, 3.7])  # 0 and 3.0 are breakpoints
    omega = -30.0
    kap = pl.kappa[:, None]

    @jax.jit
    def mismatches(pl, drive):
        breaks = drive.breakpoints()
        grid = driven.aligned_grid(
            tuple(jnp.asarray(x) for x in driven.step_grid(times, 0.05)), times, breaks)
        us = driven.propagator(pl, drive, *grid, jnp.clip(breaks, 0.0, times[-1]))
        steps = jax.vmap(lambda t0, h: driven.step_data(pl, drive, t0, h))(*grid[:2])
        psi = driven.node_amplitudes(steps, omega, grid[1], grid[2])

        def mismatch(breaks_, us_):
            y0 = driven.initial_adiabatic(pl, drive, omega + 0j, breaks_)

            def at(t, u, p):
                up, dn = (driven.tail_integrand(pl, drive, omega + 0j, side, t, u, y0, breaks_)
                          for side in (True, False))
                c, x = observables_of_amplitudes(pl, omega, p[:1], p[1:] / kap,
                                                 p[:1].conj().T)
                return jnp.stack([jnp.max(jnp.abs(c.sum(0) - up[0] - dn[0])),
                                  jnp.max(jnp.abs(x.sum(0) - up[1] - dn[1]))])

            return jax.vmap(at)(times, us_, psi)

        return mismatch(breaks, us), mismatch(jnp.zeros(0), us[:, :1])

    with_jumps, without = (np.asarray(x) for x in mismatches(pl, drive))
    assert np.max(with_jumps) <= 1e-10, with_jumps  # measured 1.7e-11 (the steps' error)
    assert np.min(without[1:, 1]) > 1e-7, without  # every time after the kink at 0


@pytest.mark.slow
def test_continuum_kinks_against_the_gauge_identity():
    """H_S(t) = h + f(t)·1 with the bias Δ_α = f(t) on every reservoir is the gauge
    e^{−iF(t) N_total} of the undriven model: same C(t), particle and heat currents and
    coupling energies (the energy current out of α gains f J^N_α). A linear ramp f at the
    default tolerance: measured 2.0e-9 / 3.4e-9 / 9.5e-9 in occupations / particle / heat
    currents, error estimate 6.1e-9 (a smooth jt.Sine in the same check: 8e-10 / 9e-10 /
    2.7e-8; the ramp before the breakpoints: heat 1.2e-6, a piecewise-linear f: 2.6e-6 in
    occupations)."""
    amp = jt.Ramp(0.0, 0.6, 2.0, start=1.0, shape="linear")
    times = np.linspace(0.0, 6.0, 31)
    state = jt.GaussianState([[1.0]])
    drive = jt.Drive([(np.eye(1), amp)], bias={"hot": amp, "cold": amp})
    sd = jt.solve(jt.Model([[0.5]], _leads(), drive=drive), state, times,
                  method=jt.Continuum())
    s0 = jt.solve(jt.Model([[0.5]], _leads()), state, times, method=jt.Continuum(tolerance=1e-11))
    diff = {k: float(np.max(np.abs(np.asarray(getattr(sd, k)) - np.asarray(getattr(s0, k)))))
            for k in ("occupation", "particle_current", "heat_current", "coupling_energy")}
    assert diff["occupation"] <= 1e-8 and diff["particle_current"] <= 1e-8, diff
    assert diff["heat_current"] <= 3e-8, diff
    # the estimate bounds the errors of what it estimates (C, J^N, <H_I>); the heat current
    # J^E − (μ + Δ) J^N of a biased reservoir combines them (measured 9.5e-9 at 6.1e-9)
    bounded = ("occupation", "particle_current", "coupling_energy")
    assert max(diff[k] for k in bounded) <= float(sd.error_estimate) <= 3e-8, (diff, sd)
    ft = np.asarray(amp.on_grid(times))[:, None]
    np.testing.assert_allclose(sd.energy_current, s0.energy_current + ft * sd.particle_current,
                               atol=3e-8)


@pytest.mark.slow
def test_piecewise_linear_drive_relaxes_to_the_final_steady_state(monkeypatch):
    """A piecewise-linear level energy, constant after its last knot: long after it, the
    currents equal the undriven steady state of the final Hamiltonian (Landauer, an
    independent method) ≤ 1e-9 (the undriven transient left at t = 18 is ~2e-11); no
    ToleranceWarning at the default tolerance; a repeated request is not planned again."""
    import warnings

    pwl = jt.PiecewiseLinear([0.5, 1.3, 2.2, 3.0], [0.0, 0.5, -0.3, 0.2])
    leads = [jt.Reservoir(LOR, 1.0, 0.3, [1.0], name="hot"),
             jt.Reservoir(LOR, 0.6, 0.0, [1.0], name="cold")]
    model = jt.Model([[0.5]], leads, drive=jt.Drive([(np.eye(1), pwl)]))
    times = np.concatenate([np.linspace(0.0, 4.0, 9), [18.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", jt.ToleranceWarning)
        sol = jt.solve(model, jt.GaussianState([[1.0]]), times, method=jt.Continuum())
    ss = jt.steady_state(jt.Model([[0.7]], leads))
    for k in ("particle_current", "energy_current", "heat_current"):
        np.testing.assert_allclose(getattr(sol, k)[-1], getattr(ss, k), atol=1e-9, err_msg=k)
    assert float(sol.error_estimate) <= 1e-8
    # the same request again reuses the chosen time step and quadrature plan (no re-planning)
    from jaxtransport.response import continuum

    def refuse(*args, **kwargs):
        raise AssertionError("planned again")

    monkeypatch.setattr(continuum, "choose_step", refuse)
    monkeypatch.setattr(continuum.Continuum, "resolve_response", refuse)
    again = jt.solve(model, jt.GaussianState([[1.0]]), times, method=jt.Continuum())
    np.testing.assert_array_equal(again.particle_current, sol.particle_current)


@pytest.mark.slow
def test_gradient_with_respect_to_breakpoints_and_no_recompilation():
    """jax.grad of a current with respect to a linear ramp's start, duration and final value
    (traced breakpoints: the aligned steps move with them) against central finite differences
    (rtol 1e-6); new values do not retrace."""
    times = np.linspace(0.0, 3.0, 16)
    state = jt.GaussianState([[1.0]])

    def model(p):
        ramp = jt.Ramp(0.0, p[2], p[1], start=p[0], shape="linear")
        return jt.Model([[0.5]], _leads(), drive=jt.Drive([(np.eye(1), ramp)]))

    p0 = jnp.array([0.65, 1.3, 0.6])  # kinks at 0.65 and 1.95, off the time grid
    method = jt.Continuum().resolve(model(p0), times)
    traces = []

    @jax.jit
    def current(p):
        traces.append(1)
        sol = method.response(model(p), times).evaluate(state)
        return sol.particle_current[-1, 1] + sol.heat_current[-4, 0]

    grad = np.asarray(jax.grad(current)(p0))
    eps = 1e-5
    fd = central_differences(current, p0, eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-12)
    assert len(traces) == 1
