"""The entry points jt.solve / jt.response and the one response protocol they return.

- The automatic method choice, its error estimate and method name on the result, forced
  methods and the errors of impossible combinations; a QuadraticModel (pairing) through the
  same entry point.
- ``jt.AbstractResponse``: every method's stage-1 result implements the same four stage-2
  terms, ``evaluate`` is written once, results share the fields of ``jt.AbstractSolution``;
  eager (``jax.disable_jit``) == jit for every method; the pairing (BdG) path against an
  independent number-conserving calculation (its particle–hole twin).

Independent references: the Continuum method at tolerance 1e-10 (frequency quadrature, a
different algorithm from the Padé closed form), the Nambu-doubled general continuum, the Padé
closed form of the particle–hole transformed twin.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_tree_allclose
from systems import coherent_c0_2, single_level, two_site

import jaxtransport as jt
from jaxtransport.response.base import AbstractResponse
from jaxtransport.solution import AbstractSolution
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


# slow (~25 s: the Nambu-doubled general continuum on 101 times); the default suite keeps
# test_pairing_model_matches_particle_hole_twin below: jt.solve on a QuadraticModel with real
# pairing against the Padé closed form of its number-conserving twin (≤ 1e-6)
@pytest.mark.slow
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


PROTOCOL_TIMES = np.linspace(0.0, 4.0, 9)


SHARED = ("particle_current", "energy_current", "heat_current", "heat_current_derivative",
          "coupling_energy", "coupling_energy_derivative", "symmetric_heat_current",
          "integrated_heat", "temperature", "chemical_potential")


def _single_level():
    hot = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=1.5, coupling=[1.0])
    cold = jt.Reservoir(jt.Lorentzian(0.5, 2.0, 0.3), temperature=0.5,
                        chemical_potential=0.2, coupling=[1.0])
    return jt.Model([[0.4]], (hot, cold))


# ---- a pairing model and its particle–hole transformed number-conserving twin -----------
# H = ε1 n1 + ε2 n2 + (Δ a1† a2† + h.c.), a lead (Lorentzian, centre c, μ) on each site.
# With b1 = a1, b2 = a2† and the site-2 lead's modes d_k = c_k†: H = const + ε1 n1 − ε2 m2
# + (Δ b1† b2 + h.c.) — number-conserving — and the site-2 lead has Γ'(ω) = Γ(−ω) (centre −c),
# μ' = −μ, the same T. Then ⟨n2⟩ = 1 − ⟨m2⟩, and for lead 2: J^N = −J^N', J^E = J^E',
# J^Q = J^Q', ⟨H_I⟩ = ⟨H_I⟩' (the operators are identical).
EPS1, EPS2, DELTA = 0.3, -0.2, 0.4 + 0.1j


LEAD1 = dict(gamma=0.6, width=2.0, center=0.0, temperature=1.2, mu=0.1)


LEAD2 = dict(gamma=0.5, width=1.5, center=0.3, temperature=0.4, mu=0.2)


def _res(lead, vec, flip=False):
    s = -1.0 if flip else 1.0
    return jt.Reservoir(jt.Lorentzian(lead["gamma"], lead["width"], s * lead["center"]),
                        temperature=lead["temperature"], chemical_potential=s * lead["mu"],
                        coupling=vec)


def _pairing_pair():
    pairing = np.array([[0.0, DELTA], [-DELTA, 0.0]])
    bdg = jt.QuadraticModel.fermionic(np.diag([EPS1, EPS2]),
                                      (_res(LEAD1, [1.0, 0.0]), _res(LEAD2, [0.0, 1.0])),
                                      pairing=pairing)
    h = np.array([[EPS1, DELTA], [np.conj(DELTA), -EPS2]])
    twin = jt.Model(h, (_res(LEAD1, [1.0, 0.0]), _res(LEAD2, [0.0, 1.0], flip=True)))
    return bdg, twin


def _nambu_of_twin(c):
    """Nambu correlation of ψ = (a1, a2, a1†, a2†) for the twin's C'_ij = ⟨b_j† b_i⟩:
    ψ = P (b1, b2, b1†, b2†) with a2 = b2†."""
    n = 2
    cnb = np.block([[c, np.zeros((n, n))], [np.zeros((n, n)), np.eye(n) - c.T]])
    perm = [0, 3, 2, 1]
    return cnb[np.ix_(perm, perm)]


C_TWIN = np.array([[0.7, 0.2 - 0.25j], [0.2 + 0.25j, 0.35]])


@pytest.fixture(scope="module")
def responses():
    """One stage-1 result of every method on small systems."""
    model = _single_level()
    bdg, _ = _pairing_pair()
    cont = jt.Continuum(temperature_range=(0.3, 2.0), chemical_potential_range=(-0.3, 0.5))
    return {
        "continuum": jt.response(model, PROTOCOL_TIMES, method=cont),
        "discretised": jt.response(model, PROTOCOL_TIMES,
                                   method=jt.Discretised(40, 8.0, band_warning=1.0)),
        "currents": jt.response(model, PROTOCOL_TIMES, method=cont, observables="currents"),
        "pade": jt.response(model, PROTOCOL_TIMES, method=jt.Pade(n_pade=12)),
        "general": jt.response(bdg, PROTOCOL_TIMES, method=jt.Discretised(3, 3.0,
                                                                 check_recurrence=False,
                                                                 band_warning=1.0)),
    }


def _state(resp):
    if isinstance(resp, jt.GeneralResponse):
        return jt.CovarianceState.from_nambu(_nambu_of_twin(C_TWIN), "fermion").covariance
    return jnp.array([[0.6]])


def test_every_method_implements_the_one_protocol(responses):
    for name, resp in responses.items():
        assert isinstance(resp, AbstractResponse), name
        # evaluate is written once, in the protocol; methods implement the terms only
        assert type(resp).evaluate is AbstractResponse.evaluate, name
        sol = resp.evaluate(_state(resp))
        assert isinstance(sol, AbstractSolution), name
        for field in SHARED:
            assert getattr(sol, field).shape[-2:] in {(len(PROTOCOL_TIMES), 2), (2,)} or \
                getattr(sol, field).shape == (2,), (name, field)


@pytest.mark.parametrize("name", ["continuum", "discretised", "currents", "pade", "general"])
def test_eager_equals_jit(responses, name):
    """Stage 2 run op by op (``jax.disable_jit``; for Padé: its NumPy route) against the
    compiled program, at (T, μ) other than the model's: ≤ 1e-12 in every output. The program
    is compiled at XLA's default optimisation level, the one users run (the suite compiles
    at level 0, conftest.py; there the order of some sums differs, and Padé's dJ^Q/dt at
    t = 0, a sum of terms ~10³ larger than its value −4.05, moves by 1.5e-12)."""
    resp = responses[name]
    state = _state(resp)
    temp, mu = jnp.array([1.1, 0.6]), jnp.array([0.05, -0.1])
    with jax.disable_jit():
        eager = resp.evaluate(state, temp, mu)
    compiled = jax.jit(lambda s, t, u: resp.evaluate(s, t, u)).lower(state, temp, mu).compile(
        compiler_options={"xla_backend_optimization_level": 3})
    jitted = compiled(state, temp, mu)
    fields = [f for f in SHARED if not (name == "general" and f == "particle_current")]
    pick = lambda sol: {f: getattr(sol, f) for f in fields}  # noqa: E731
    assert_tree_allclose(pick(eager), pick(jitted), atol=1e-12)


def test_pairing_model_matches_particle_hole_twin():
    """The BdG continuum (``jt.solve`` on a ``QuadraticModel`` with pairing, default method)
    against the Padé closed form of its number-conserving particle–hole transformed twin (see
    above): two independent methods; ≤ 1e-6 in occupations and every current of both leads
    (each method's tolerance is 1e-8)."""
    bdg, twin = _pairing_pair()
    times = np.linspace(0.0, 6.0, 7)
    state = jt.CovarianceState.from_nambu(_nambu_of_twin(C_TWIN), "fermion")
    assert np.max(np.abs(np.asarray(state.to_nambu())[:2, 2:])) > 0.2  # anomalous ⟨a a⟩
    sol = jt.solve(bdg, state, times)
    assert sol.method == "continuum"
    ref = jt.solve(twin, jt.GaussianState(C_TWIN), times, method=jt.Pade(tolerance=1e-8))
    occ, occ_ref = np.asarray(sol.occupation), np.asarray(ref.occupation)
    assert np.max(np.abs(occ[:, 0] - occ_ref[:, 0])) < 1e-6
    assert np.max(np.abs(occ[:, 1] - (1.0 - occ_ref[:, 1]))) < 1e-6
    sign = np.array([1.0, -1.0])  # lead 2's particle current flips under c -> d†
    checks = dict(particle_current=sign, energy_current=1.0, heat_current=1.0,
                  coupling_energy=1.0)
    for field, s in checks.items():
        got, want = np.asarray(getattr(sol, field)), s * np.asarray(getattr(ref, field))
        assert np.max(np.abs(got - want)) < 1e-6, field


def test_pairing_steady_state_matches_particle_hole_twin():
    """jt.steady_state of the pairing model (Nambu-doubled Landauer–Büttiker: Andreev
    processes, so Σ J^N ≠ 0) against the number-conserving Landauer formula of its
    particle–hole twin: lead 2's particle current flips sign, energy and heat currents are
    equal (≤ 1e-10; measured ~1e-16); energy is conserved. The same BdG steady state against
    the long-time BdG continuum: test_methods_quadratic.py (slow)."""
    bdg, twin = _pairing_pair()
    ss, ref = jt.steady_state(bdg), jt.steady_state(twin)
    assert float(ss.error_estimate) < 1e-10 and float(ref.error_estimate) < 1e-10
    jn, je = np.asarray(ss.particle_current), np.asarray(ss.energy_current)
    assert abs(je[0] + je[1]) < 1e-10 and abs(jn[0] + jn[1]) > 1e-3
    sign = np.array([1.0, -1.0])
    for field, s in dict(particle_current=sign, energy_current=1.0, heat_current=1.0).items():
        assert _max(getattr(ss, field), s * np.asarray(getattr(ref, field))) < 1e-10, field
