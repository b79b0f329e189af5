"""jt.Drive and its amplitudes: values and derivatives against closed forms, validation."""

import jax
import numpy as np
import pytest

import jaxtransport as jt


def _leads():
    lor = jt.Lorentzian(1.0, 2.0)
    return [jt.Reservoir(lor, 1.0, coupling=[1.0, 0.0], name="hot"),
            jt.Reservoir(lor, 0.2, coupling=[0.0, 1.0], name="cold")]


H = np.array([[0.5, 0.2], [0.2, -0.3]])


@pytest.mark.parametrize("amp, f, df", [
    (jt.Sine(0.3, 2.0, 0.4, 0.1), lambda t: 0.1 + 0.3 * np.sin(2 * t + 0.4),
     lambda t: 0.6 * np.cos(2 * t + 0.4)),
    (jt.Pulse(1.5, 2.0, 0.5), lambda t: 1.5 * np.exp(-2 * (t - 2) ** 2),
     lambda t: -6 * (t - 2) * np.exp(-2 * (t - 2) ** 2)),
    (jt.Ramp(0.0, 2.0, 4.0, start=1.0, shape="linear"),
     lambda t: 2 * np.clip((t - 1) / 4, 0, 1), lambda t: np.where((t > 1) & (t < 5), 0.5, 0.0)),
    (jt.Ramp(1.0, 0.0, 2.0), lambda t: 1 - 0.5 * (1 - np.cos(np.pi * np.clip(t / 2, 0, 1))),
     lambda t: np.where(t < 2, -0.25 * np.pi * np.sin(np.pi * t / 2), 0.0)),
    (jt.PiecewiseLinear([0.0, 1.0, 3.0], [0.0, 2.0, 1.0]),
     lambda t: np.interp(t, [0, 1, 3], [0, 2, 1]),
     lambda t: np.where(t < 1, 2.0, np.where(t < 3, -0.5, 0.0))),
    (jt.Constant(0.7), lambda t: 0.7 + 0 * t, lambda t: 0 * t),
])
def test_amplitude_values_and_derivatives(amp, f, df):
    times = np.array([0.0, 0.3, 1.7, 2.2, 4.1, 6.0])
    np.testing.assert_allclose(amp.on_grid(times), f(times), atol=1e-14)
    np.testing.assert_allclose([amp.derivative(t) for t in times], df(times), atol=1e-12)


def test_drive_hamiltonian_power_and_gradient():
    v = np.array([[1.0, 0.0], [0.0, -1.0]])
    w = np.array([[0.0, 1.0], [1.0, 0.0]])
    model = jt.Model(H, _leads(), drive=jt.Drive(
        [(v, jt.Sine(0.3, 2.0)), (w, lambda t: 0.1 * t ** 2)],
        coupling={"cold": jt.Ramp(0.0, 1.0, 2.0)}, bias={0: jt.Pulse(0.2, 1.0, 0.3)}))
    d, t = model.drive, 0.8
    np.testing.assert_allclose(d.hamiltonian(H, t), H + 0.3 * np.sin(2 * t) * v + 0.1 * t**2 * w)
    np.testing.assert_allclose(d.hamiltonian_rate(t, H), 0.6 * np.cos(2 * t) * v + 0.2 * t * w)
    np.testing.assert_allclose(d.coupling_scale(t), [1.0, 0.5 * (1 - np.cos(np.pi * t / 2))])
    np.testing.assert_allclose(d.potential(t), [0.2 * np.exp(-0.5 * (0.2 / 0.3) ** 2), 0.0])
    # jax.grad reaches the amplitude's parameters (against d/dA of A sin(Ωt) = sin(Ωt))
    grad = jax.grad(lambda a: jt.Drive([(v, jt.Sine(a, 2.0))]).hamiltonian(H, t)[0, 0])(0.3)
    np.testing.assert_allclose(grad, np.sin(2 * t), rtol=1e-14)
    # a drive is a pytree: its parameter values are leaves of the model (no retrace)
    traces = []

    @jax.jit
    def scale(m):
        traces.append(1)
        return m.drive.hamiltonian(m.hamiltonian, t)

    for amp in (0.3, 0.5):
        m = jt.Model(H, _leads(), drive=jt.Drive([(v, jt.Sine(amp, 2.0))]))
        np.testing.assert_allclose(scale(m), H + amp * np.sin(2 * t) * v)
    assert len(traces) == 1


@pytest.mark.parametrize("build, match", [
    (lambda: jt.Drive([(np.eye(3), 1.0)]), "Hamiltonian is 2×2"),
    (lambda: jt.Drive([(np.array([[0, 1], [0, 0]]), 1.0)]), "Hermitian"),
    (lambda: jt.Drive([np.eye(2)]), "pair"),
    (lambda: jt.Drive(coupling={"warm": 1.0}), "unknown reservoir 'warm'"),
    (lambda: jt.Drive(bias={5: 1.0}), "out of range"),
    (lambda: jt.Drive(), "at least one"),
    (lambda: jt.Drive([(np.eye(2), "fast")]), "amplitude must be"),
    (lambda: jt.Ramp(0, 1, -1.0), "duration must be > 0"),
    (lambda: jt.Pulse(1, 0, 0.0), "width must be > 0"),
    (lambda: jt.PiecewiseLinear([0, 2, 1], [0, 1, 2]), "strictly increasing"),
    (lambda: jt.Sine([1.0, 2.0], 1.0), "real scalar"),
])
def test_drive_validation(build, match):
    with pytest.raises(ValueError, match=match):
        jt.Model(H, _leads(), drive=build())


def test_undriven_methods_refuse_a_drive():
    """jt.Pade solves driven models (response/driven_pade.py), but has no currents-only mode
    for them."""
    model = jt.Model(H, _leads(), drive=jt.Drive([(np.eye(2), jt.Sine(0.1, 1.0))]))
    with pytest.raises(ValueError, match="does not support time-dependent driving"):
        jt.Pade().current_response(model, np.linspace(0, 1, 5))
    # a driven model has no stationary state: refused, not the static h's steady state
    with pytest.raises(ValueError, match="no stationary state"):
        jt.steady_state(model)


def test_breakpoints_of_amplitudes_and_drive():
    """Kinks declared by the amplitudes (against the closed forms' definitions) and
    collected by the drive over terms, coupling modulations and biases; traced values do not
    retrace."""
    ramp = jt.Ramp(0.0, 2.0, 4.0, start=1.0, shape="linear")
    np.testing.assert_array_equal(ramp.breakpoints(), [1.0, 5.0])
    np.testing.assert_array_equal(jt.Ramp(1.0, 0.0, 2.0).breakpoints(), [0.0, 2.0])
    np.testing.assert_array_equal(jt.PiecewiseLinear([0.0, 1.0, 3.0], [0, 2, 1]).breakpoints(),
                                  [0.0, 1.0, 3.0])
    for smooth in (jt.Sine(0.3, 2.0), jt.Pulse(1.0, 2.0, 0.5), jt.Constant(0.2)):
        assert smooth.breakpoints().shape == (0,)
    kinked = jt.Function(lambda t: jax.numpy.abs(t - 1.5), breakpoints=[1.5])
    np.testing.assert_array_equal(kinked.breakpoints(), [1.5])
    # a kink really is where it is declared: the one-sided derivatives differ there
    for amp in (ramp, kinked):
        for b in np.asarray(amp.breakpoints()):
            left, right = amp.derivative(b - 1e-9), amp.derivative(b + 1e-9)
            assert abs(float(left - right)) > 0.1
    model = jt.Model(H, _leads(), drive=jt.Drive(
        [(np.eye(2), ramp), (H, jt.Sine(0.1, 1.0)), (np.eye(2), lambda t: t)],
        coupling={"cold": jt.Ramp(0.0, 1.0, 2.0)}, bias={"hot": kinked}))
    np.testing.assert_array_equal(np.sort(model.drive.breakpoints()), [0.0, 1.0, 1.5, 2.0, 5.0])
    traces = []

    @jax.jit
    def breaks(start):
        traces.append(1)
        return jt.Drive([(np.eye(2), jt.Ramp(0.0, 1.0, 2.0, start=start))]).breakpoints()

    for start in (0.5, 1.5):
        np.testing.assert_allclose(breaks(start), [start, start + 2.0])
    assert len(traces) == 1
    with pytest.raises(ValueError, match="breakpoints must be a 1-d"):
        jt.Function(lambda t: t, breakpoints=[[1.0]])
