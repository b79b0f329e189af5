"""Gradients through stage 1 in the Hamiltonian and the couplings, for every method the
automatic choice can pick (jt.Pade, jt.Continuum, the currents-only Continuum), against
central finite differences (rtol 1e-6); and jt.optimise_preparation training level energies,
hoppings and couplings through the automatically chosen jt.Pade."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from systems import three_site_chain

import jaxtransport as jt

TIMES = np.linspace(0.0, 4.0, 21)
C0 = np.diag([1.0, 0.0, 0.5])


def _chain(eps, hop, gamma):
    h = jnp.array([[0.2, -0.5, 0.0], [-0.5, 0.0, -0.5], [0.0, -0.5, -0.2]])
    h = h.at[1, 1].set(eps).at[0, 1].set(hop).at[1, 0].set(hop)
    left = jt.Reservoir(jt.Lorentzian(gamma, 2.0), temperature=1.0, chemical_potential=0.5,
                        coupling=[1.0, 0.0, 0.0])
    right = jt.Reservoir(jt.Lorentzian(0.6, 2.0), temperature=0.4, chemical_potential=-0.5,
                         coupling=[0.0, 0.0, 1.0])
    return jt.Model(h, (left, right))


METHODS = {
    "pade": (lambda: jt.Pade(n_pade=24), "all"),
    "continuum": (lambda: jt.Continuum(tolerance=1e-8).resolve(_chain(0.0, -0.5, 0.6), TIMES),
                  "all"),
    "continuum_currents": (lambda: jt.Continuum(tolerance=1e-8).resolve(
        _chain(0.0, -0.5, 0.6), TIMES), "currents"),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_stage1_gradients_match_finite_differences(name):
    make, observables = METHODS[name]
    method = make()

    def heat(x):
        model = _chain(*x)
        resp = jt.response(model, TIMES, method, observables=observables)
        sol = resp.evaluate(C0)
        return sol.heat_current[10, 0] + 0.3 * sol.coupling_energy[15, 1]

    x0 = jnp.array([0.1, -0.5, 0.6])
    grad = np.asarray(jax.grad(heat)(x0))
    step = 1e-5
    for k in range(3):
        e = np.zeros(3)
        e[k] = step
        fd = (float(heat(x0 + e)) - float(heat(x0 - e))) / (2 * step)
        np.testing.assert_allclose(grad[k], fd, rtol=1e-6, atol=1e-10, err_msg=f"{name} {k}")


def test_optimiser_trains_model_parameters_through_pade():
    """Level energies, hoppings and couplings trained with the default method (jt.Pade, one
    pole count for the bounds): the reported value equals a fresh Continuum solve of the
    returned model and state, and the objective improved."""
    model = three_site_chain()
    times = np.linspace(0.0, 4.0, 21)
    objective = jt.SmoothMinHeatCurrent(window=(0.0, 4.0), smoothing=0.01)
    mp = jt.ModelParameters(level_energies=[(-1.0, 1.0), None, None], hoppings=[(-1.0, 0.0), None],
                            coupling_strengths=[(0.2, 1.0), None])
    res = jt.optimise_preparation(model, times, objective, model_parameters=mp, steps=20,
                                  n_starts=2, progress=False)
    assert isinstance(res.response, jt.PadeResponse)
    sol = jt.solve(res.model, res.state, times, method=jt.Continuum(tolerance=1e-10))
    np.testing.assert_allclose(float(objective(sol)), res.value, atol=1e-6)
    hist = res.history.best_objective.values
    assert hist[-1] < hist[0]
