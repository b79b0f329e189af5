"""The driven continuum (issue 20): jt.Continuum on a model with a jt.Drive against
independent values — the undriven method on h + cV for a constant drive, finite differences
for the first law and for the conservation of particles, and the gauge of a uniform drive."""

import numpy as np
import pytest

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
    sd = jt.solve(driven, state, times)
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
    return model, times, delta, jt.solve(model, jt.GaussianState([[1.0]]), times)


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
