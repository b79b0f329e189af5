"""Driven-transient benchmark (issue 20): a level with a modulated energy between a hot and a
cold Lorentzian lead — the default driven method (jt.Pade with a time-dependent generator),
the driven continuum, the undriven transient and QuTiP HEOM, side by side in one run.

Model (ħ = k_B = 1): ε(t) = 0.5 + 0.3 sin(2t), leads Lorentzian γ = 1, W = 2, T = 1.0 (hot) and
0.2 (cold), μ = 0, level filled at t = 0, 401 times on [0, 20]. Measured:

(a) driven default: ``jt.solve(model, state, times)`` (the automatic choice: the driven
    ``jt.Pade``, tolerance 1e-6 — ``response/driven_pade.py``): the first call (compilation +
    step choice + run) and warm calls (stage 1 + stage 2; nothing cached between calls but
    the compiled programs), and a warm call with a NEW drive amplitude (no recompilation);
(b) the driven continuum, warm (``method=jt.Continuum()``, its default tolerance 1e-8);
(c) the undriven transient (ε = 0.5, no drive): warm ``jt.solve`` (closed-form jt.Pade) and
    warm ``jt.solve(..., method=jt.Continuum())``; the driven/undriven default ratio from nine
    interleaved pairs of calls (wall clock and process CPU time, medians);
(d) QuTiP HEOM with the time-dependent Hamiltonian (QobjEvo H = [ε0 n, [n, 0.3 sin(2t)]]),
    depth 2 (exact for a quadratic model), ``--pade`` Padé terms (default 20) and, for the
    convergence, ``--pade`` + 4: HEOM counts as converged (matched accuracy) at N when N and
    N + 4 agree in the occupation and particle currents to the compared level (1e-6, the
    driven default's tolerance); the cost is that of the N run.

Printed side by side: HEOM/driven-default (goal ≥ 100×), driven-default/undriven (goal ≤ 10×:
against the undriven default and against the undriven continuum),
driven-continuum/driven-default, and the accuracies against the HEOM (N + 4).
JSON to experiments/results/bench_drive.json. ``--quick``: 101 times on [0, 5].
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench, env_info, max_abs_diff, report, timed  # noqa: E402
from heom_baseline import first_tier_currents  # noqa: E402

import jaxtransport as jt  # noqa: E402

EPS, AMP, OMEGA = 0.5, 0.3, 2.0
LEADS = [dict(gamma=1.0, width=2.0, temperature=1.0, chemical_potential=0.0),  # hot
         dict(gamma=1.0, width=2.0, temperature=0.2, chemical_potential=0.0)]  # cold


def make_model(amp=AMP, driven=True):
    res = [jt.Reservoir(jt.Lorentzian(lead["gamma"], lead["width"]),
                        temperature=lead["temperature"],
                        chemical_potential=lead["chemical_potential"], coupling=[1.0])
           for lead in LEADS]
    drive = jt.Drive([(np.eye(1), jt.Sine(amp, OMEGA))]) if driven else None
    return jt.Model([[EPS]], res, drive=drive)


STATE = jt.GaussianState([[1.0]])


def solve(model, times, method=None):
    sol = jt.solve(model, STATE, times, method=method)
    return sol.occupation[:, 0], sol.particle_current, sol.heat_current


def heom_driven(times, n_pade):
    """Occupation and particle currents (out of each lead) from QuTiP HEOM with QobjEvo."""
    from qutip import QobjEvo, basis, destroy
    from qutip.core.environment import LorentzianEnvironment
    from qutip.solver.heom import FermionicBath, HEOMSolver

    d = destroy(2)
    n_op = d.dag() * d
    t0 = time.perf_counter()
    baths = []
    for a, lead in enumerate(LEADS):
        env = LorentzianEnvironment(lead["temperature"], lead["chemical_potential"],
                                    lead["gamma"], lead["width"], omega0=0.0)
        baths.append(FermionicBath.from_environment(env.approx_by_pade(n_pade, tag=a), d))
    h = QobjEvo([EPS * n_op, [n_op, lambda t: AMP * np.sin(OMEGA * t)]])
    options = {"method": "bdf", "atol": 1e-12, "rtol": 1e-10, "nsteps": 10**6,
               "store_ados": True, "progress_bar": False}
    solver = HEOMSolver(h, baths, 2, options=options)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = solver.run(basis(2, 1).proj(), np.asarray(times, float))
    run = time.perf_counter() - t0
    occ = np.array([(n_op * ado.rho).tr().real for ado in result.ado_states])
    cur = first_tier_currents(result, len(LEADS))
    return {"occupation": occ, "particle_current": cur, "setup_s": setup, "run_s": run,
            "n_pade": n_pade}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pade", type=int, default=20)
    ap.add_argument("--no-heom", action="store_true")
    ap.add_argument("--no-continuum", action="store_true")
    args = ap.parse_args()
    times = np.linspace(0.0, 5.0, 101) if args.quick else np.linspace(0.0, 20.0, 401)
    out = {"env": env_info(), "times": [float(times[0]), float(times[-1]), len(times)]}

    model = make_model()
    (occ, cur, heat), first = timed(solve, model, times)
    warm = bench(solve, model, times, warmup=0, repeat=5)
    new_amp = bench(lambda: solve(make_model(AMP + 0.01 * np.random.rand()), times),
                    warmup=0, repeat=3)
    sol = jt.solve(model, STATE, times)
    out["driven_default"] = {
        "method": sol.method, "first_call_s": first, "warm": warm,
        "warm_new_amplitude": new_amp, "error_estimate": float(sol.error_estimate),
        "first_law_residual": float(np.max(np.abs(sol.first_law_residual)))}

    plain = make_model(driven=False)
    jax.block_until_ready(solve(plain, times))
    pade = bench(solve, plain, times, warmup=1, repeat=5)
    cont = bench(solve, plain, times, jt.Continuum(), warmup=1, repeat=3)
    out["undriven"] = {"default_solve": pade, "continuum": cont,
                       "method": jt.solve(plain, STATE, times).method}
    # driven and undriven default interleaved call by call (both see the same machine load),
    # wall clock and this process's CPU time; the ratio of the medians
    pairs = [(bench(solve, model, times, warmup=0, repeat=1),
              bench(solve, plain, times, warmup=0, repeat=1)) for _ in range(9)]
    med = lambda k, i: statistics.median(p[i][k] for p in pairs)  # noqa: E731
    out["interleaved"] = {"driven_median_s": med("median_s", 0),
                          "undriven_median_s": med("median_s", 1),
                          "driven_cpu_median_s": med("cpu_median_s", 0),
                          "undriven_cpu_median_s": med("cpu_median_s", 1), "pairs": 9}
    out["ratio_driven_over_undriven_default"] = med("median_s", 0) / med("median_s", 1)
    out["ratio_driven_over_undriven_default_cpu"] = (med("cpu_median_s", 0)
                                                     / med("cpu_median_s", 1))
    out["ratio_driven_over_undriven_continuum"] = warm["median_s"] / cont["median_s"]

    if not args.no_continuum:
        (c_occ, c_cur, c_heat), c_first = timed(solve, model, times, jt.Continuum())
        c_warm = bench(solve, model, times, jt.Continuum(), warmup=0, repeat=2)
        out["driven_continuum"] = {
            "first_call_s": c_first, "warm": c_warm,
            "difference_to_default": {"occupation": max_abs_diff(occ, c_occ),
                                      "particle_current": max_abs_diff(cur, c_cur),
                                      "heat_current": max_abs_diff(heat, c_heat)}}
        out["ratio_driven_continuum_over_default"] = c_warm["median_s"] / warm["median_s"]

    if not args.no_heom:
        heom = heom_driven(times, args.pade)
        finer = heom_driven(times, args.pade + 4)
        heom["convergence"] = {
            "occupation": max_abs_diff(finer["occupation"], heom["occupation"]),
            "particle_current": max_abs_diff(finer["particle_current"],
                                             heom["particle_current"])}
        heom_total = heom["setup_s"] + heom["run_s"]
        out["heom"] = {k: heom[k] for k in ("setup_s", "run_s", "n_pade", "convergence")} | {
            "converged_at_1e-6": max(heom["convergence"].values()) <= 1e-6,
            "n_pade_plus_4_run_s": finer["setup_s"] + finer["run_s"]}
        out["accuracy_vs_heom"] = {
            "occupation": max_abs_diff(occ, finer["occupation"]),
            "particle_current": max_abs_diff(cur, finer["particle_current"])}
        out["ratio_heom_over_driven_warm"] = heom_total / warm["median_s"]
        out["ratio_heom_over_driven_first_call"] = heom_total / first
    out["goals"] = {
        "heom_over_driven >= 100": out.get("ratio_heom_over_driven_warm", 0) >= 100,
        "driven_over_undriven_default <= 10":
            out["ratio_driven_over_undriven_default"] <= 10
            and out["ratio_driven_over_undriven_default_cpu"] <= 10,
        "driven_over_undriven_continuum <= 10":
            out["ratio_driven_over_undriven_continuum"] <= 10}
    report("bench_drive", out)


if __name__ == "__main__":
    main()
