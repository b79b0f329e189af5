"""QuTiP-HEOM reference for driven models: a time-dependent system Hamiltonian
H_S(t) = h + Σ_k f_k(t) V_k as a ``QobjEvo`` [H0, [V_k, f_k]], fermionic Lorentzian leads
expanded in Padé poles, hierarchy depth 2 (exact for a quadratic model), started from a
product of the system's Fock state and the thermal leads (the coupling switched on at t = 0).
The bath construction, the fermion operators and the observables from the first-tier ADOs
are those of ``tests/reference_heom_correlated.py`` (signs checked there against Landauer and
the equilibrium coupling energy).

Run ``python tests/reference_heom_driven.py`` for the cases of tests/test_drive_references.py
with the Padé convergence and the jaxtransport values side by side.
"""

from __future__ import annotations

import time

import numpy as np
from qutip import QobjEvo, basis, tensor
from qutip.solver.heom import HEOMSolver
from reference_heom_correlated import (
    OPTIONS,
    _baths,
    _hamiltonian,
    _observables,
    annihilators,
    lead,
)

KEYS = ("occupation", "particle_current", "heat_current", "coupling_energy")


def heom_driven(h, terms, leads, occupations, times, n_pade):
    """HEOM observables of the driven model. ``terms``: pairs (V_k, f_k) with f_k(t) a Python
    function of a float; ``occupations``: the initial Fock state (0/1 per site); ``leads``:
    dicts of ``lead(...)`` (temperature, chemical_potential, coupling over sites, γ, W)."""
    ops = annihilators(len(h))
    h_t = QobjEvo([_hamiltonian(h, ops)] + [[_hamiltonian(v, ops), f] for v, f in terms])
    baths = _baths(leads, ops, n_pade)
    rho0 = tensor(*[basis(2, int(n)) for n in occupations]).proj()
    t0 = time.perf_counter()
    res = HEOMSolver(h_t, baths, 2, options=OPTIONS).run(rho0, np.asarray(times, float))
    out = _observables(res.ado_states, ops, len(leads))
    mu = np.array([ld["chemical_potential"] for ld in leads])
    out["heat_current"] = out["energy_current"] - mu * out["particle_current"]
    out["seconds"] = time.perf_counter() - t0
    out["n_pade"] = n_pade
    return out


def pade_change(h, terms, leads, occupations, times, orders):
    """HEOM at the Padé orders ``orders`` (increasing): the last result, with ``change`` the
    max |difference| per observable class (KEYS) between the last two orders."""
    prev = heom_driven(h, terms, leads, occupations, times, orders[0])
    for n_pade in orders[1:]:
        res = heom_driven(h, terms, leads, occupations, times, n_pade)
        res["change"] = {k: float(np.max(np.abs(res[k] - prev[k]))) for k in KEYS}
        prev = res
    return prev


# driven cases: (h, drive terms as (V, f, jt amplitude), leads, initial occupations)
def cases():
    import jaxtransport as jt

    leads1 = [lead(1.0, 0.3, [1.0]), lead(0.4, -0.2, [1.0])]
    leads2 = [lead(1.0, 0.3, [1.0, 0.0]), lead(0.4, -0.2, [0.0, 1.0])]
    hop = [[0.0, 1.0], [1.0, 0.0]]
    return {
        # level energy ε(t) = 0.2 + 0.6 sin(1.1 t)
        "driven_level": ([[0.2]], [([[1.0]], lambda t: 0.6 * np.sin(1.1 * t),
                                    jt.Sine(0.6, 1.1))], leads1, [1]),
        # two sites, hopping 0.4 + 0.3 sin(0.8 t + 0.3)
        "driven_hopping": ([[0.3, 0.4], [0.4, -0.2]],
                           [(hop, lambda t: 0.3 * np.sin(0.8 * t + 0.3),
                             jt.Sine(0.3, 0.8, 0.3))], leads2, [1, 0]),
    }


TIMES = np.linspace(0.0, 12.0, 25)


def jaxtransport_driven(h, terms, leads, occupations, times, method=None):
    """The same driven model solved by jaxtransport (``method``: None = automatic)."""
    import jax.numpy as jnp

    import jaxtransport as jt

    model = jt.Model(jnp.asarray(h, float), [
        jt.Reservoir(jt.Lorentzian(ld["gamma"], ld["width"]), ld["temperature"],
                     ld["chemical_potential"], jnp.asarray(ld["coupling"], float))
        for ld in leads], drive=jt.Drive([(np.asarray(v, float), amp) for v, _, amp in terms]))
    c0 = np.diag(np.asarray(occupations, float))
    return jt.solve(model, c0, jnp.asarray(times), method=method)


if __name__ == "__main__":
    for name, (h, terms, leads, occ) in cases().items():
        qterms = [(v, f) for v, f, _ in terms]
        ref = pade_change(h, qterms, leads, occ, TIMES, [12, 16, 20])
        print(name, f"n_pade {ref['n_pade']}, {ref['seconds']:.1f}s, change", ref["change"])
        sol = jaxtransport_driven(h, terms, leads, occ, TIMES)
        errs = {k: float(np.max(np.abs(np.asarray(getattr(sol, k)) - ref[k]))) for k in KEYS}
        print("   |jaxtransport - HEOM|:", errs)
