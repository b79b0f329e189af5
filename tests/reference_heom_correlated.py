"""QuTiP-HEOM reference for correlated initial states (jt.StationaryState).

The hierarchy of the premodel is brought to its stationary state (``HEOMSolver.steady_state``:
the system state *and* every auxiliary density operator, i.e. the system–reservoir
correlations), then propagated with the post-quench system Hamiltonian (same baths, same ADO
labels). Fermions, Lorentzian leads expanded in Padé poles, hierarchy depth 2 (exact for a
quadratic model); the Padé order is raised until the observables stop changing.

Observables from the first-tier ADOs ρ_k of lead α (exponent ν_k, "+" modes with Q, "−"
modes with Q†), x_k = Tr[op_k ρ_k], S_± = Σ_{k∈±} x_k, E_± = Σ_{k∈±} ν_k x_k:
    J^N_α = Re[i (S_+ − S_−)],  <H_I^α> = Re[S_+ + S_−],  J^E_α = −Re[E_+ + E_−]
(out of α; the current and energy-current signs checked against Landauer–Büttiker in the
stationary state, the coupling energy against the equilibrium formula
<H_I> = −(2/π) ∫dω f(ω) Im[Σ^R(ω) G^R(ω)] in tests/test_stationary_state_heom.py).

Run ``python tests/reference_heom_correlated.py`` for the three cases of the tests with the
jaxtransport values side by side.
"""

from __future__ import annotations

import time

import numpy as np
from qutip import destroy, qeye, tensor
from qutip.core.environment import LorentzianEnvironment
from qutip.solver.heom import FermionicBath, HEOMSolver

OPTIONS = {"method": "bdf", "atol": 1e-12, "rtol": 1e-10, "nsteps": 10**6,
           "store_ados": True, "progress_bar": False}


def annihilators(n_sites):
    """Jordan–Wigner fermion operators d_i on n_sites two-level factors (|1> = occupied)."""
    d, eye = destroy(2), qeye(2)
    parity = eye - 2 * d.dag() * d
    return [tensor(*([parity] * i + [d] + [eye] * (n_sites - i - 1))) for i in range(n_sites)]


def _baths(leads, ops, n_pade):
    out = []
    for a, lead in enumerate(leads):
        env = LorentzianEnvironment(lead["temperature"], lead["chemical_potential"],
                                    lead["gamma"], lead["width"],
                                    omega0=lead.get("center", 0.0))
        q = sum(c * ops[i] for i, c in enumerate(lead["coupling"]) if c != 0)
        out.append(FermionicBath.from_environment(env.approx_by_pade(n_pade, tag=a), q))
    return out


def _hamiltonian(h, ops):
    return sum(h[i][j] * ops[i].dag() * ops[j] for i in range(len(ops)) for j in range(len(ops))
               if h[i][j] != 0) + 0 * ops[0].dag() * ops[0]


def _observables(ado_states, ops, n_leads):
    nt = len(ado_states)
    occ = np.zeros((nt, len(ops)))
    jn, je, hi = (np.zeros((nt, n_leads)) for _ in range(3))
    for t, ado in enumerate(ado_states):
        occ[t] = [(o.dag() * o * ado.rho).tr().real for o in ops]
        for a in range(n_leads):
            s = {True: 0.0, False: 0.0}
            e = {True: 0.0, False: 0.0}
            for label in ado.filter(level=1, tags=[a]):
                exp = ado.exps(label)[0]
                plus = exp.type == exp.types["+"]
                x = ((exp.Q if plus else exp.Q.dag()) * ado.extract(label)).tr()
                s[plus] += x
                e[plus] += exp.vk * x
            jn[t, a] = (1j * (s[True] - s[False])).real
            hi[t, a] = (s[True] + s[False]).real
            je[t, a] = -(e[True] + e[False]).real
    return {"occupation": occ, "particle_current": jn, "energy_current": je,
            "coupling_energy": hi}


def heom_quench(h0, h1, leads, times, n_pade):
    """Stationary hierarchy of (h0, leads), then evolution with h1. ``leads``: dicts with
    gamma, width, temperature, chemical_potential, coupling (a real vector over sites)."""
    ops = annihilators(len(h0))
    baths = _baths(leads, ops, n_pade)
    t0 = time.perf_counter()
    _, ados = HEOMSolver(_hamiltonian(h0, ops), baths, 2, options=OPTIONS).steady_state()
    res = HEOMSolver(_hamiltonian(h1, ops), baths, 2, options=OPTIONS).run(
        ados, np.asarray(times, float))
    out = _observables(res.ado_states, ops, len(leads))
    mu = np.array([lead["chemical_potential"] for lead in leads])
    out["heat_current"] = out["energy_current"] - mu * out["particle_current"]
    out["seconds"] = time.perf_counter() - t0
    out["n_pade"] = n_pade
    return out


KEYS = ("occupation", "particle_current", "heat_current", "coupling_energy")


def converged_heom_quench(h0, h1, leads, times, tol=(3e-7, 3e-7, 3e-6, 3e-6), start=8, step=4,
                          stop=40):
    """Raise the Padé order by ``step`` until every observable class changes by less than its
    ``tol`` (KEYS order); returns the last result with its ``change`` per class."""
    prev = heom_quench(h0, h1, leads, times, start)
    for n_pade in range(start + step, stop + 1, step):
        res = heom_quench(h0, h1, leads, times, n_pade)
        change = [float(np.max(np.abs(res[k] - prev[k]))) for k in KEYS]
        res["change"] = dict(zip(KEYS, change, strict=True))
        if all(c < t for c, t in zip(change, tol, strict=True)):
            return res
        prev = res
    raise RuntimeError(f"HEOM not converged at n_pade={stop}: {res['change']}")


def lead(temperature, chemical_potential, coupling, gamma=1.0, width=2.0):
    return dict(temperature=temperature, chemical_potential=chemical_potential,
                coupling=coupling, gamma=gamma, width=width)


# the three cases of the acceptance tests: (h0, h1, leads)
CASES = {
    "level_quench": ([[0.8]], [[-0.3]], [lead(1.0, 0.2, [1.0]), lead(0.5, -0.1, [1.0])]),
    "connect_sides": ([[0.3, 0.0], [0.0, -0.2]], [[0.3, 0.5], [0.5, -0.2]],
                      [lead(1.0, 0.2, [1.0, 0.0]), lead(0.5, -0.1, [0.0, 1.0])]),
    "joint_equilibrium": ([[0.5]], [[-0.5]], [lead(0.5, 0.0, [1.0]), lead(0.5, 0.0, [1.0])]),
}
TIMES = np.linspace(0.0, 4.0, 9)


def jaxtransport_quench(h0, h1, leads, times):
    import jax.numpy as jnp

    import jaxtransport as jt

    def model(h):
        return jt.Model(jnp.asarray(h, float), [
            jt.Reservoir(jt.Lorentzian(ld["gamma"], ld["width"]), ld["temperature"],
                         ld["chemical_potential"], jnp.asarray(ld["coupling"], float))
            for ld in leads])

    return jt.solve(model(h1), jt.StationaryState(model(h0)), jnp.asarray(times),
                    method=jt.Continuum())


if __name__ == "__main__":
    for name, (h0, h1, leads) in CASES.items():
        ref = converged_heom_quench(h0, h1, leads, TIMES)
        sol = jaxtransport_quench(h0, h1, leads, TIMES)
        errs = {k: float(np.max(np.abs(np.asarray(getattr(sol, k)) - ref[k]))) for k in KEYS}
        print(name, "n_pade", ref["n_pade"], f"{ref['seconds']:.1f}s", "change", ref["change"])
        print("   |jaxtransport - HEOM|:", errs)
