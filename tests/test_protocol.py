"""The one response protocol (``jt.AbstractResponse``): every method's stage-1 result
implements the same four stage-2 terms, ``evaluate`` is written once, results share the
fields of ``jt.AbstractSolution``; eager (``jax.disable_jit``) == jit for every method; and
the pairing (BdG) path checked against an independent number-conserving calculation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_tree_allclose

import jaxtransport as jt
from jaxtransport.response.base import AbstractResponse
from jaxtransport.solution import AbstractSolution

TIMES = np.linspace(0.0, 4.0, 9)
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
        "continuum": jt.response(model, TIMES, method=cont),
        "discretised": jt.response(model, TIMES, method=jt.Discretised(40, 8.0, band_warning=1.0)),
        "currents": jt.response(model, TIMES, method=cont, observables="currents"),
        "pade": jt.response(model, TIMES, method=jt.Pade(n_pade=12)),
        "general": jt.response(bdg, TIMES, method=jt.Discretised(3, 3.0,
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
            assert getattr(sol, field).shape[-2:] in {(len(TIMES), 2), (2,)} or \
                getattr(sol, field).shape == (2,), (name, field)


@pytest.mark.parametrize("name", ["continuum", "discretised", "currents", "pade", "general"])
def test_eager_equals_jit(responses, name):
    """Stage 2 run op by op (``jax.disable_jit``; for Padé: its NumPy route) against the
    compiled program, at (T, μ) other than the model's: ≤ 1e-12 in every output."""
    resp = responses[name]
    state = _state(resp)
    temp, mu = jnp.array([1.1, 0.6]), jnp.array([0.05, -0.1])
    with jax.disable_jit():
        eager = resp.evaluate(state, temp, mu)
    jitted = jax.jit(lambda s, t, u: resp.evaluate(s, t, u))(state, temp, mu)
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
