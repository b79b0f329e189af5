"""The driven continuum (issue 20): jt.Continuum on a model with a jt.Drive against
independent values — the undriven method on h + cV for a constant drive, finite differences
for the first law and for the conservation of particles, and the gauge of a uniform drive."""

import numpy as np
import pytest
from helpers import central_differences

import jaxtransport as jt

LOR = jt.Lorentzian(1.0, 2.0)


def _leads(n=1):
    c_hot = [1.0] + [0.0] * (n - 1)
    c_cold = [0.0] * (n - 1) + [1.0]
    return [jt.Reservoir(LOR, 1.0, coupling=c_hot, name="hot"),
            jt.Reservoir(LOR, 0.2, coupling=c_cold, name="cold")]


FIELDS = ("correlation", "particle_current", "energy_current", "heat_current",
          "coupling_energy", "coupling_energy_derivative", "heat_current_derivative",
          "system_energy_derivative", "particle_number_derivative")
H2 = np.array([[0.5, 0.3], [0.3, -0.2]])
V2 = np.array([[0.0, 1.0], [1.0, 0.0]])  # modulated hopping


def _max_diff(a, b, fields=FIELDS):
    return max(float(np.max(np.abs(np.asarray(getattr(a, k)) - np.asarray(getattr(b, k)))))
               for k in fields)


@pytest.mark.parametrize("amp, h_ref", [
    (jt.Constant(0.3), H2 + 0.3 * V2),     # constant drive: the undriven model on h + cV
    (jt.Sine(0.0, 2.0, 0.4), H2),          # zero amplitude: the undriven model on h
])
def test_constant_and_zero_drive_equal_the_undriven_model(amp, h_ref):
    times = np.linspace(0.0, 4.0, 21)
    state = jt.GaussianState(np.diag([1.0, 0.0]))
    driven = jt.Model(H2, _leads(2), drive=jt.Drive([(V2, amp)]))
    sd = jt.solve(driven, state, times, method=jt.Continuum())
    s0 = jt.solve(jt.Model(h_ref, _leads(2)), state, times, method=jt.Continuum())
    assert isinstance(sd, jt.DrivenSolution) and sd.method == "continuum"
    assert _max_diff(sd, s0) <= 1e-12
    np.testing.assert_allclose(sd.system_energy, s0.system_energy, atol=1e-12)
    assert float(sd.error_estimate) <= 1e-8


@pytest.fixture(scope="module")
def sine_level():
    """A driven level ε(t) = 0.5 + 0.3 sin(2t), filled at t = 0; the grid has clusters
    t ± δ, t ± 2δ for five-point finite differences."""
    model = jt.Model([[0.5]], _leads(), drive=jt.Drive([(np.eye(1), jt.Sine(0.3, 2.0))]))
    centres = np.array([0.7, 1.6, 2.9, 4.3])
    delta = 2e-3
    times = np.sort((centres[:, None] + delta * np.arange(-2, 3)).ravel())
    return model, times, delta, jt.solve(model, jt.GaussianState([[1.0]]), times,
                                         method=jt.Continuum())


def _five_point(y, delta):
    y = np.asarray(y).reshape(-1, 5, *np.shape(y)[1:])
    return (y[:, 0] - 8 * y[:, 1] + 8 * y[:, 3] - y[:, 4]) / (12 * delta)


def _centres(y):
    return np.asarray(y).reshape(-1, 5, *np.shape(y)[1:])[:, 2]


def test_first_law_with_finite_differences(sine_level):
    """d/dt(<H_S> + Σ<H_I>) = P + Σ J^E, the derivative by finite differences of the energies
    (independent of the kernels' time derivatives), residual ≤ 1e-8."""
    _, _, delta, sol = sine_level
    energy = sol.system_energy + sol.coupling_energy.sum(-1)
    lhs = _five_point(energy, delta)
    rhs = _centres(sol.power + sol.energy_current.sum(-1))
    assert np.max(np.abs(lhs - rhs)) <= 1e-8
    assert np.max(np.abs(sol.first_law_residual)) <= 1e-8
    # the drive does work: P = ε'(t) <n>, and the instantaneous energy is ε(t) <n>
    t = np.asarray(sol.times)
    np.testing.assert_allclose(sol.power, 0.6 * np.cos(2 * t) * sol.occupation[:, 0],
                               atol=1e-14)
    np.testing.assert_allclose(sol.system_energy,
                               (0.5 + 0.3 * np.sin(2 * t)) * sol.occupation[:, 0], atol=1e-14)


def test_particle_conservation_with_finite_differences(sine_level):
    """d<N_S>/dt = Σ_α J^N_α (currents out of the reservoirs), by finite differences."""
    _, _, delta, sol = sine_level
    lhs = _five_point(sol.occupation.sum(-1), delta)
    assert np.max(np.abs(lhs - _centres(sol.particle_current.sum(-1)))) <= 1e-8
    np.testing.assert_allclose(sol.particle_number_derivative,
                               sol.particle_current.sum(-1), atol=1e-9)


def test_constant_coupling_modulation_equals_scaled_couplings():
    """s_α(t) = 0.5 on both reservoirs equals coupling vectors scaled by 0.5 (undriven)."""
    times = np.linspace(0.0, 4.0, 21)
    state = jt.GaussianState([[1.0]])
    driven = jt.Model([[0.5]], _leads(), drive=jt.Drive(
        coupling={"hot": jt.Constant(0.5), "cold": jt.Constant(0.5)}))
    half = [jt.Reservoir(LOR, r.temperature, coupling=[0.5], name=r.name) for r in _leads()]
    sd = jt.solve(driven, state, times, method=jt.Continuum())
    s0 = jt.solve(jt.Model([[0.5]], half), state, times, method=jt.Continuum())
    assert _max_diff(sd, s0, FIELDS[:-2]) <= 1e-10  # measured 7e-12 (different node plans)
    np.testing.assert_allclose(sd.coupling_power, 0.0, atol=1e-15)


@pytest.mark.slow
def test_uniform_system_drive_is_a_bias_gauge():
    """H_S = h + f(t)·1 equals the bias Δ_α = −f(t) on every reservoir (gauge e^{−iF N}):
    same C(t), particle currents, coupling energies and heat currents; the energy current
    out of α differs by −f J^N_α (H_α(t) includes Δ_α)."""
    times = np.linspace(0.0, 4.0, 21)
    state = jt.GaussianState([[1.0]])
    f = jt.Sine(0.4, 1.5, 0.3)
    system = jt.solve(jt.Model([[0.5]], _leads(), drive=jt.Drive([(np.eye(1), f)])),
                      state, times, method=jt.Continuum())
    minus_f = jt.Sine(-0.4, 1.5, 0.3)
    bias = jt.solve(jt.Model([[0.5]], _leads(), drive=jt.Drive(
        bias={"hot": minus_f, "cold": minus_f})), state, times, method=jt.Continuum())
    # measured: 6e-10 (C, J^N, <H_I>), 1.6e-8 (heat, energy; bias error estimate 1.9e-8)
    assert _max_diff(system, bias, ("correlation", "particle_current", "coupling_energy")) < 3e-9
    assert _max_diff(system, bias, ("heat_current",)) < 5e-8
    ft = np.asarray(f.on_grid(times))[:, None]
    np.testing.assert_allclose(bias.energy_current,
                               system.energy_current - ft * system.particle_current, atol=5e-8)
    np.testing.assert_allclose(bias.system_energy + ft[:, 0] * bias.occupation[:, 0],
                               system.system_energy, atol=3e-9)
    assert np.max(np.abs(bias.first_law_residual)) < 1e-7


@pytest.mark.slow
def test_coupling_switch_on_first_law():
    """A smooth switch-on s(t): the first law with the coupling power (ṡ/s)<H_I>, by finite
    differences of the energies."""
    model = jt.Model([[0.5]], _leads(), drive=jt.Drive(coupling={"hot": jt.Ramp(0.0, 1.0, 3.0)}))
    centres, delta = np.array([0.8, 1.9, 2.6]), 2e-3
    times = np.sort((centres[:, None] + delta * np.arange(-2, 3)).ravel())
    sol = jt.solve(model, jt.GaussianState([[1.0]]), times, method=jt.Continuum())
    lhs = _five_point(sol.system_energy + sol.coupling_energy.sum(-1), delta)
    rhs = _centres(sol.power + sol.coupling_power.sum(-1) + sol.energy_current.sum(-1))
    assert np.max(np.abs(lhs - rhs)) <= 1e-8
    assert np.all(np.asarray(sol.coupling_power)[:, 1] == 0.0)
    assert np.max(np.abs(sol.coupling_power[:, 0])) > 1e-3  # the modulation does work


@pytest.mark.slow
def test_gradients_of_heat_wrt_drive_parameters_and_no_recompilation():
    """jax.grad of the integrated heat out of the cold lead with respect to jt.Sine's
    amplitude, frequency and phase and jt.PiecewiseLinear's values, against central finite
    differences (rtol 1e-6); new parameter values do not retrace."""
    import jax
    import jax.numpy as jnp

    times = np.linspace(0.0, 3.0, 16)
    state = jt.GaussianState([[1.0]])

    def model(p):
        return jt.Model([[0.5]], _leads(), drive=jt.Drive([
            (np.eye(1), jt.Sine(p[0], p[1], p[2])),
            (np.eye(1), jt.PiecewiseLinear([0.0, 1.5, 3.0], p[3:]))]))

    p0 = jnp.array([0.3, 2.0, 0.4, 0.0, 0.2, -0.1])
    method = jt.Continuum().resolve(model(p0), times)
    traces = []

    @jax.jit
    def heat(p):
        traces.append(1)
        return method.response(model(p), times).evaluate(state).integrated_heat[-1, 1]

    grad = np.asarray(jax.grad(heat)(p0))
    eps = 1e-5
    fd = central_differences(heat, p0, eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-12)
    assert len(traces) == 1


def test_bosons_with_a_fitted_density_constant_drive():
    """Bosons (an oscillator between Ohmic reservoirs: a non-pole density, memory kernel
    fitted by poles): a constant drive equals the undriven model on ω0 + c."""
    dens = jt.Ohmic(0.05, 3.0)

    def model(w0, drive=None):
        return jt.Model([[w0]], (jt.Reservoir(dens, temperature=1.5, coupling=[1.0]),
                                 jt.Reservoir(dens, temperature=0.5, coupling=[1.0])),
                        statistics="boson", drive=drive)

    times = np.linspace(0.0, 4.0, 11)
    state = jt.GaussianState([[0.5]], statistics="boson")
    sd = jt.solve(model(1.0, jt.Drive([(np.eye(1), jt.Constant(0.2))])), state, times,
                  method=jt.Continuum())
    s0 = jt.solve(model(1.2), state, times, method=jt.Continuum())
    assert sd.statistics == "boson"
    assert _max_diff(sd, s0) <= 1e-12
