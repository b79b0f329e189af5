"""Position (x–x) reservoirs through the one entry point: a user's ``jt.Continuum`` settings
reach the bosonic x–x continuum (tolerance honoured by refinement, chemical-potential range
refused rather than dropped), and stage 2 refuses a chemical potential at an x–x reservoir."""

import equinox as eqx
import numpy as np
import pytest

import jaxtransport as jt

TIMES = np.array([0.0, 2.0, 6.0])


def _model():
    """Quantum Brownian motion: ω0 = 1, Drude λ = 0.5, γ = 2, T = 0.6, counter-term."""
    g = np.diag([1.0, 1.0])
    bath = jt.PositionReservoir(jt.DrudeLorentz(0.5, 2.0), temperature=0.6, coupling=[1.0])
    return jt.QuadraticModel(g, [bath], "boson")


STATE = jt.CovarianceState(np.diag([0.9, 0.4]), "boson", mean=[0.5, -0.2])


def _nodes(resp):
    return resp.nodes.shape[-1]


def test_tolerance_reaches_the_xx_continuum_and_is_met():
    """A loose and a strict tolerance: the strict response has more nodes and a smaller error
    estimate, both estimates meet their tolerance, and the loose result is within its
    tolerance of the strict one (an independent, converged value) in every output."""
    model = _model()
    loose = jt.response(model, TIMES, jt.Continuum(tolerance=1e-4))
    strict = jt.response(model, TIMES, jt.Continuum(tolerance=1e-10))
    assert float(loose.error_estimate) <= 1e-4
    assert float(strict.error_estimate) <= 1e-10
    assert _nodes(strict) > _nodes(loose)
    a, b = loose.evaluate(STATE), strict.evaluate(STATE)
    for field in ("covariance", "energy_current", "coupling_energy", "heat_current"):
        assert np.max(np.abs(np.asarray(getattr(a, field)) - np.asarray(getattr(b, field)))) \
            < 1e-4, field


def test_refinement_meets_a_tolerance_the_first_rule_misses():
    """With few nodes per panel the first rule misses 1e-9; the panels are halved until the
    estimate meets it (before the fix, the estimate was reported and never acted on)."""
    model = _model()
    first = jt.response(model, TIMES, jt.GeneralContinuum(tolerance=1e-9, nodes_per_panel=6,
                                                          max_refinements=0))
    with pytest.warns(RuntimeWarning, match="did not reach tolerance"):
        jt.response(model, TIMES, jt.GeneralContinuum(tolerance=1e-12, nodes_per_panel=6,
                                                      max_refinements=0))
    assert float(first.error_estimate) > 1e-9
    refined = jt.response(model, TIMES, jt.GeneralContinuum(tolerance=1e-9, nodes_per_panel=6,
                                                            max_refinements=6))
    assert float(refined.error_estimate) <= 1e-9
    assert _nodes(refined) > _nodes(first)


def test_chemical_potential_range_is_refused_not_dropped():
    with pytest.raises(ValueError, match="does not apply to position"):
        jt.response(_model(), TIMES, jt.Continuum(chemical_potential_range=(-0.5, 0.0)))


def test_stage2_refuses_a_chemical_potential_at_an_xx_reservoir():
    resp = jt.response(_model(), TIMES)
    with pytest.raises(eqx.EquinoxRuntimeError, match="x–x"):
        resp.evaluate(STATE, chemical_potential=np.array([-0.3]))
