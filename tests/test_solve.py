"""The entry points jt.solve / jt.response: the automatic method choice, its error estimate
and method name on the result, forced methods and the errors of impossible combinations.

Independent references: the Continuum method at tolerance 1e-10 (frequency quadrature, a
different algorithm from the Padé closed form), the Nambu-doubled general continuum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from systems import coherent_c0_2, single_level, two_site

import jaxtransport as jt
from jaxtransport.solve import AUTO_TOLERANCE, LARGE_SYSTEM, choose_method

TIMES = np.linspace(0.0, 20.0, 101)
KEYS = ("occupation", "particle_current", "energy_current", "heat_current", "coupling_energy")


def _max(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.fixture(scope="module")
def two_site_reference():
    return jt.solve(two_site(), coherent_c0_2(), TIMES, method=jt.Continuum(tolerance=1e-10))


def test_default_picks_pade_for_pole_leads_and_meets_its_estimate(two_site_reference):
    sol = jt.solve(two_site(), coherent_c0_2(), TIMES)
    assert sol.method == "pade"
    assert float(sol.error_estimate) <= AUTO_TOLERANCE
    for key in KEYS:  # the estimate is not optimistic against an independent method
        assert _max(getattr(sol, key), getattr(two_site_reference, key)) <= float(
            sol.error_estimate), key
    # heat currents converge much faster than the coupling energies that set N
    assert _max(sol.heat_current, two_site_reference.heat_current) < 1e-8
    tight = jt.solve(two_site(), coherent_c0_2(), TIMES, tolerance=1e-9)
    assert tight.method == "pade" and float(tight.error_estimate) <= 1e-9
    for key in KEYS:
        assert _max(getattr(tight, key), getattr(two_site_reference, key)) <= 1e-9, key


def test_default_response_evaluates_other_temperatures_within_tolerance():
    """The response's N was chosen at the model's T; at a 4x colder lead it is raised."""
    model = single_level()
    resp = jt.response(model, TIMES)
    assert resp.method == "pade"
    temp = jnp.array([1.5, 0.125])
    sol = resp.evaluate(jnp.eye(1), temp, jnp.zeros(2))
    assert float(sol.error_estimate) <= AUTO_TOLERANCE
    ref = jt.response(model, TIMES, method=jt.Continuum(
        tolerance=1e-10, temperature_range=(0.125, 1.5))).evaluate(jnp.eye(1), temp, jnp.zeros(2))
    for key in KEYS:
        assert _max(getattr(sol, key), getattr(ref, key)) <= AUTO_TOLERANCE, key


def test_default_picks_continuum_where_pade_cannot():
    # a non-pole density (semicircle band): the Continuum, with its own estimate
    hot = jt.Reservoir(jt.Semicircle(0.5, 2.0), temperature=1.0, coupling=[1.0])
    cold = jt.Reservoir(jt.Semicircle(0.5, 2.0), temperature=0.5, coupling=[1.0])
    model = jt.Model([[0.3]], (hot, cold))
    assert type(choose_method(model)) is jt.Continuum
    times = np.linspace(0.0, 5.0, 11)
    sol = jt.solve(model, np.array([[1.0]]), times)
    ref = jt.solve(model, np.array([[1.0]]), times, method=jt.Continuum())
    assert sol.method == "continuum" and float(sol.error_estimate) <= 1e-8
    assert _max(sol.heat_current, ref.heat_current) == 0.0  # the same method, same default
    # bosons and currents-only requests: the Continuum too (no solve needed to check the rule)
    boson = jt.Model([[1.0]], (jt.Reservoir(jt.Ohmic(0.1, 5.0), temperature=1.0,
                                            coupling=[1.0]),), statistics="boson")
    assert type(choose_method(boson)) is jt.Continuum
    assert type(choose_method(two_site(), observables="currents")) is jt.Continuum
    assert choose_method(two_site(), tolerance=1e-9).tolerance == 1e-9


def test_large_systems_get_currents_only():
    n = LARGE_SYSTEM + 1
    h = np.diag(np.full(n - 1, -0.5), 1)
    h = h + h.T
    left = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=1.0,
                        coupling=np.eye(n)[0])
    model = jt.Model(h, (left,))
    assert type(choose_method(model)) is jt.Continuum
    from jaxtransport.solve import _resolve_observables

    assert _resolve_observables(model, None) == "currents"
    assert _resolve_observables(two_site(), None) == "all"


def test_pairing_model_goes_through_solve():
    """A QuadraticModel (here: the two-site model in Majorana form) is solved by the general
    continuum through jt.solve, and agrees with the number-conserving Padé result."""
    general = jt.QuadraticModel.from_model(two_site())
    sol = jt.solve(general, jt.GaussianState(coherent_c0_2()), TIMES)
    ref = jt.solve(two_site(), coherent_c0_2(), TIMES, tolerance=1e-9)
    assert sol.method is not None and sol.method != "pade"
    for key in ("particle_current", "heat_current", "coupling_energy"):
        assert _max(getattr(sol, key), getattr(ref, key)) < 1e-7, key


def test_forced_methods_and_clear_errors():
    model = two_site()
    sol = jt.solve(model, coherent_c0_2(), TIMES, method=jt.Pade(n_pade=10))
    assert sol.method == "pade"
    with pytest.raises(ValueError, match="jt.Pade.*QuadraticModel.*jt.Discretised"):
        jt.response(jt.QuadraticModel.from_model(model), TIMES, method=jt.Pade())
    with pytest.raises(ValueError, match="jt.Pade.*currents-only.*jt.Continuum"):
        jt.response(model, TIMES, method=jt.Pade(), observables="currents")
    band = jt.Reservoir(jt.Semicircle(0.5, 2.0), temperature=1.0, coupling=[1.0])
    with pytest.raises(ValueError, match="jt.Pade.*Semicircle.*jt.Continuum"):
        jt.response(jt.Model([[0.3]], (band,)), TIMES, method=jt.Pade())
    with pytest.raises(ValueError, match="tolerance.*Continuum\\(tolerance"):
        jt.solve(model, coherent_c0_2(), TIMES, method=jt.Continuum(), tolerance=1e-6)
    with pytest.raises(ValueError, match="observables must be"):
        jt.response(model, TIMES, observables="occupations")


def test_new_model_values_neither_retrace_nor_loop():
    """Stage 1 of jt.Pade under jit: new level energies / couplings reuse one compiled
    program, and a batch of Hamiltonians runs as one vmapped call; both agree with a
    per-model Continuum (tolerance 1e-10)."""
    times = np.linspace(0.0, 5.0, 21)
    traces = []

    def model(eps, gamma):
        h = jnp.array([[0.3, 0.2], [0.2, -0.3]]).at[0, 0].set(eps)
        return jt.Model(h, (jt.Reservoir(jt.Lorentzian(gamma, 2.0), temperature=1.5,
                                         coupling=[1.0, 0.0]),
                            jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=0.5,
                                         coupling=[0.0, 1.0])))

    def heat(eps, gamma):
        traces.append(1)  # runs at trace time only
        return jt.solve(model(eps, gamma), coherent_c0_2(), times,
                        method=jt.Pade(n_pade=40)).heat_current

    jitted = jax.jit(heat)
    values = [(0.3, 0.5), (-0.2, 0.8), (0.7, 0.2)]
    single = [np.asarray(jitted(e, g)) for e, g in values]
    assert len(traces) == 1
    batch = np.asarray(jax.jit(jax.vmap(heat))(*map(jnp.asarray, zip(*values, strict=True))))
    for k, (e, g) in enumerate(values):
        ref = jt.solve(model(e, g), coherent_c0_2(), times,
                       method=jt.Continuum(tolerance=1e-10)).heat_current
        assert _max(single[k], ref) < 1e-9 and _max(batch[k], ref) < 1e-9
