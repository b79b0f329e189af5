"""Sweep benchmark: cartesian and random sweeps through ``jt.run_sweep`` vs a ``jt.solve`` loop.

(a) Cartesian: two sites, 400 times on [0, 20], a 100 × 100 × 100 grid of (T_hot, T_cold,
    C0) keeping summaries (minimum hot-reservoir heat current, its time, reversed heat):
    configurations/s (goal >= 1e6/s on a 2-core CPU) and the ratio to a per-configuration
    ``jt.solve`` loop extrapolated from a sample (goal >= 1e4x).
(b) Random (non-cartesian) samples with full time traces: configurations/s, ratio to the
    loop (goal >= 1000x), fraction of the machine's float64 matmul rate (goal >= 50 %).
(c) ``hamiltonian`` (issue 17): two sites, 101 times on [0, 20], a 100 × 100 grid over (level
    energy of site 0, hot-lead coupling γ) through ``jt.Sweep`` with parameter axes and the
    default method (the automatic choice: ``jt.Pade`` with one pole count for the whole map,
    models built by ``jax.vmap`` over ``model_fn``, stage 1 + 2 vmapped in batches), end to
    end (spec + run + open), goal < 60 s; beside it QuTiP HEOM (12 Padé terms) for one model
    of the same map (goal: ≥ 1000× faster per model), and the sweep's values at two points
    against ``jt.Continuum(tolerance=1e-10)``.
(c') ``hamiltonian_continuum``: the Continuum per model: configurations/s for n = 2, 10 and 50
    sites; n = 10 also and n = 50 only with ``currents_only=True`` (stage 1 =
    ``jt.CurrentResponse``: the full Response stores K·T·n² correlation kernels per
    reservoir, ~2000 nodes × 400 times × 2500 × 16 B ≈ 30 GB per reservoir at n = 50).
(d) GPU: run with ``--device gpu`` on a GPU machine (GPU/CPU throughput goal >= 20x).
(e) Memory: a grid with full heat-current traces whose output (1.3 GB) exceeds the memory
    budget (256 MB, for chunk outputs and intermediates; the stage-1 kernels the sweep holds
    come on top), in a fresh process: sampled peak RSS during the sweep minus the kernels.

``--quick``: 20^3 grid, 100 times, < 1 min on CPU. Peak RSS is recorded per part.
``--parts``: run only some of cartesian, random, hamiltonian, hamiltonian_continuum, memory
(default: all).
"""

import argparse
import dataclasses
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import env_info, report, timed  # noqa: E402
from bench_evaluate import evaluate_flops, matmul_rates  # noqa: E402

import jaxtransport as jt  # noqa: E402
from jaxtransport.sweep import Sweep, random_states, run_sweep  # noqa: E402

SUMMARIES = ("min_heat_current", "min_heat_current_time", "reversed_heat")
# all kernels are used by these (occupation: correlation kernels; symmetric heat: the
# time-derivative kernels), so evaluate_flops counts the work actually done
TRACES = ("heat_current", "particle_current", "coupling_energy", "symmetric_heat_current",
          "occupation")
METHOD = jt.Continuum(tolerance=1e-6)


def two_site(t_hot=1.5, t_cold=0.5):
    h = np.array([[0.3, 0.2], [0.2, -0.3]])
    lead = jt.Lorentzian(0.5, 2.0)
    return jt.Model(h, (jt.Reservoir(lead, temperature=t_hot, coupling=[1.0, 0.0]),
                        jt.Reservoir(lead, temperature=t_cold, coupling=[0.0, 1.0])))


def chain(n, eps=0.0):
    h = np.diag(np.full(n, eps)) - 0.5 * (np.eye(n, k=1) + np.eye(n, k=-1))
    lead = jt.Lorentzian(0.5, 2.0)
    return jt.Model(h, (jt.Reservoir(lead, temperature=1.5, coupling=np.eye(n)[0]),
                        jt.Reservoir(lead, temperature=0.5, coupling=np.eye(n)[-1])))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def loop_per_config(times, c0, temps, n):
    """Mean seconds of jt.solve (fresh model: stage 1 + 2) per configuration, warm."""
    ts = []
    for i in range(n + 1):
        model = two_site(*temps[i])
        _, dt = timed(lambda: jt.solve(model, jt.GaussianState(c0[i]), times, METHOD)
                      .heat_current)
        if i:
            ts.append(dt)
    return statistics.mean(ts)


def run(spec, tmp, name, **kw):
    path = Path(tmp) / f"{name}.zarr"
    t0 = time.perf_counter()
    res = run_sweep(spec, path, progress=False, export_netcdf=False, **kw)
    total = time.perf_counter() - t0
    return res, total


def memory_part(quick):
    """(e) run in a fresh process: a grid with full heat-current traces whose output exceeds
    the memory budget; peak RSS above the level after stage 1 must stay within the budget."""
    import json
    import subprocess

    code = f"""
import json, resource, sys, tempfile, dataclasses
import numpy as np
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from bench_sweep import two_site, METHOD
import jaxtransport as jt
from jaxtransport.sweep import Sweep, run_sweep, random_states
quick = {quick!r}
ng, nc, nt, budget = (30, 10, 100, 32e6) if quick else (100, 20, 400, 256e6)
times = np.linspace(0.0, 20.0, nt)
model = two_site()
spec = Sweep.grid(model, times, temperature={{0: np.linspace(0.5, 3, ng), 1: np.linspace(0.2, 1, ng)}},
                  initial_states=random_states(2, nc, np.random.default_rng(0)),
                  observables=("heat_current",),
                  method=dataclasses.replace(METHOD, temperature_range=(0.2, 3.0)))
import os, threading, time
page = os.sysconf("SC_PAGE_SIZE")
def rss():  # current resident set size (bytes), sampled from /proc
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page
import jax
from jaxtransport.sweep import grid_parts
r = jt.response(model, times, spec.method_for(model))  # stage 1 + compile the kernels once
kernel_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves((r, grid_parts(spec, r))))
del r
base = rss()
peak = [base]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.005)
th = threading.Thread(target=sample); th.start()
d = tempfile.mkdtemp()
res = run_sweep(spec, d + "/m.zarr", memory_budget=budget, progress=False, export_netcdf=False)
stop.set(); th.join()
out_bytes = spec.size * nt * 2 * 8
print(json.dumps(dict(configurations=spec.size, output_bytes=out_bytes, memory_budget=budget,
                      chunks=res.n_chunks, rss_before_sweep=base, peak_rss_during_sweep=peak[0],
                      peak_increase=peak[0] - base, stage1_kernel_bytes=kernel_bytes,
                      chunk_memory=peak[0] - base - kernel_bytes, seconds=res.seconds,
                      within_budget=peak[0] - base - kernel_bytes <= budget)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parts = ["cartesian", "random", "hamiltonian", "hamiltonian_continuum", "memory"]
    ap.add_argument("--parts", nargs="*", default=parts, choices=parts)
    args = ap.parse_args()
    if args.device == "gpu" and jax.default_backend() != "gpu":
        sys.exit("--device gpu: no GPU backend available here")
    ngrid, nt, nrand, sizes, npar = (20, 100, 512, (2,), 2) if args.quick else \
        (100, 400, 8192, (2, 10, 50), 2)
    times = np.linspace(0.0, 20.0, nt)
    rng = np.random.default_rng(0)
    out = {"benchmark": "sweep", "quick": args.quick, "env": env_info(), "n_times": nt,
           "gpu": "not lent to this task; run --device gpu on a GPU machine"
           if jax.default_backend() == "cpu" else "this run"}
    tmp = tempfile.mkdtemp(prefix="bench_sweep_")
    try:
        model = two_site()
        t_range = {0: (0.5, 3.0), 1: (0.2, 1.0)}

        def grid(ng, states):
            return Sweep.grid(model, times, temperature={a: np.linspace(*r, ng)
                                                         for a, r in t_range.items()},
                              initial_states=states, observables=SUMMARIES,
                              method=dataclasses.replace(METHOD, temperature_range=(0.2, 3.0)))

        def rand(num, seed):
            return Sweep.random(model, times, num, seed=seed, observables=TRACES,
                                method=dataclasses.replace(METHOD, temperature_range=(0.2, 3.0)),
                                temperature_range=[t_range[0], t_range[1]])

        c0 = random_states(2, ngrid, rng)
        if "cartesian" in args.parts:
            cartesian(out, grid(ngrid, c0), tmp, times, c0)
        if "random" in args.parts:
            random_part(out, rand, model, tmp, times, nrand, args.quick)
        if "hamiltonian" in args.parts:
            out["hamiltonian_map"] = hamiltonian_map(tmp, 20 if args.quick else 100)
        # (c') Hamiltonian-parameter sweep with the Continuum: stage 1 per value
        if "hamiltonian_continuum" in args.parts:
            out["hamiltonian_sweep"] = []
            for n in sizes:
                for cur in ((False, True) if n == 10 else (n >= 50,)):
                    spec = Sweep.grid(chain(n), times,
                                      parameters={"eps": np.linspace(-0.5, 0.5, npar)},
                                      model_fn=lambda eps, n=n: chain(n, eps),
                                      temperature={0: np.linspace(1.0, 2.0, 10)},
                                      observables=SUMMARIES, method=METHOD, currents_only=cur)
                    res, total = run(spec, tmp, f"ham{n}{cur}", chunk_size=10)
                    out["hamiltonian_sweep"].append({
                        "n_sites": n, "currents_only": cur, "configurations": spec.size,
                        "total_s": total, "stage1_s": res.stage1_seconds,
                        "configs_per_s": spec.size / total,
                        "stage1_per_value_s": res.stage1_seconds / npar,
                        "peak_rss_mb": peak_rss_mb()})
        if "memory" in args.parts:
            out["memory"] = memory_part(args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report("bench_sweep_quick" if args.quick else "bench_sweep", out)


def map_model(eps, gamma):
    """Two sites; ``eps``: level energy of site 0, ``gamma``: hot-lead coupling (jnp, so that
    the sweep builds the models under jax.vmap)."""
    import jax.numpy as jnp

    h = jnp.array([[1.0, 0.0], [0.0, 0.0]]) * eps + jnp.array([[0.0, 0.2], [0.2, -0.3]])
    return jt.Model(h, (jt.Reservoir(jt.Lorentzian(gamma, 2.0), temperature=1.5,
                                     coupling=[1.0, 0.0]),
                        jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=0.5,
                                     coupling=[0.0, 1.0])))


def hamiltonian_map(tmp, ng, nt=101, heom_pade=12):
    """(c): the 100 x 100 (level energy, hot-lead coupling) map, default method, end to end;
    HEOM for one model of it."""
    import os

    times = np.linspace(0.0, 20.0, nt)
    eps, gam = np.linspace(-1.0, 1.0, ng), np.linspace(0.1, 1.0, ng)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    spec = Sweep.grid(map_model(0.3, 0.5), times, parameters={"eps": eps, "gamma": gam},
                      model_fn=map_model, observables=SUMMARIES)
    res = run_sweep(spec, Path(tmp) / "map.zarr", progress=False)
    ds = res.open()
    mins = ds["min_heat_current"].values
    total = time.perf_counter() - t0
    out = {"grid": [ng, ng], "n_times": nt, "configurations": spec.size,
           "method": repr(spec.pade), "end_to_end_s": total, "run_sweep_s": res.seconds,
           "per_model_s": total / spec.size, "load_average_before": list(load0),
           "load_average_after": list(os.getloadavg()), "peak_rss_mb": peak_rss_mb(),
           "all_status_ok": bool(np.all(ds["status"].values == 0))}
    checks = []
    for i, j in ((0, 0), (ng - 1, ng // 2)):
        ref = jt.solve(map_model(eps[i], gam[j]), np.zeros((2, 2)), times,
                       method=jt.Continuum(tolerance=1e-10))
        checks.append(abs(float(mins[i, j, 0]) - float(np.min(ref.heat_current[:, 0]))))
    out["min_heat_current_err_vs_continuum"] = max(checks)
    try:
        from heom_baseline import heom_two_sites
    except ImportError as exc:
        out["heom"] = {"skipped": f"qutip not importable: {exc}"}
        return out
    i, j = ng // 2, ng // 2
    leads = [dict(gamma=float(gam[j]), width=2.0, temperature=1.5, chemical_potential=0.0),
             dict(gamma=0.5, width=2.0, temperature=0.5, chemical_potential=0.0)]
    h = np.array([[eps[i], 0.2], [0.2, -0.3]])
    r = heom_two_sites(h, leads, (0, 0), times, heom_pade)
    ours = jt.solve(map_model(eps[i], gam[j]), np.zeros((2, 2)), times, tolerance=1e-9)
    heom_s = r["setup_time_s"] + r["solve_time_s"]
    out["heom"] = {"n_pade": heom_pade, "n_ados": r["n_ados"], "one_model_s": heom_s,
                   "occupation_diff_to_pade": float(np.max(np.abs(
                       np.asarray(ours.occupation) - r["occupation"])))}
    out["ratio_heom_one_model_over_sweep_per_model"] = heom_s / out["per_model_s"]
    out["goals"] = {"end_to_end_under_60s": total < 60.0,
                    "per_model_1000x_faster_than_heom": heom_s / out["per_model_s"] >= 1000}
    return out


def cartesian(out, spec, tmp, times, c0):
    """(a) cartesian grid, summaries; a first run of the same shapes compiles."""
    run(spec, tmp, "grid_warm", memory_budget=1e9)
    res, total = run(spec, tmp, "grid", memory_budget=1e9)
    per_loop = loop_per_config(times, c0, [(1.5, 0.5), (2.0, 0.4), (1.0, 0.6)], 2)
    cps = res.evaluation_configurations_per_second
    out["loop_per_config_s"] = per_loop
    out["cartesian"] = {
        "grid": list(spec.shape), "configurations": spec.size, "chunks": res.n_chunks,
        "total_s": total, "stage1_and_parts_s": res.stage1_seconds,
        "configs_per_s_end_to_end": spec.size / total, "configs_per_s_evaluation": cps,
        "loop_per_config_s": per_loop, "ratio_to_loop_end_to_end": spec.size / total
        * per_loop, "peak_rss_mb": peak_rss_mb(), "best": res.best,
        "goals": {"configs_per_s>=1e6": cps >= 1e6,
                  "ratio_to_loop>=1e4": spec.size / total * per_loop >= 1e4}}


def random_part(out, rand, model, tmp, times, nrand, quick):
    """(b) random samples, full traces (a first run of the same chunk shape compiles)."""
    per_loop = out.get("loop_per_config_s") or loop_per_config(
        times, random_states(2, 3, np.random.default_rng(0)),
        [(1.5, 0.5), (2.0, 0.4), (1.0, 0.6)], 2)
    run(rand(1024, 2), tmp, "rand_warm", chunk_size=1024)
    res, total = run(rand(nrand, 1), tmp, "random", chunk_size=1024)
    resp = jt.response(model, times, rand(1, 0).method_for(model))
    rates = matmul_rates(1024 if quick else 2048)
    dt = total - res.stage1_seconds
    flops = evaluate_flops(resp, nrand)
    cps = nrand / dt
    out["random"] = {
        "configurations": nrand, "total_s": total, "stage1_s": res.stage1_seconds,
        "configs_per_s_evaluation": cps, "ratio_to_loop": cps * per_loop,
        "gflop": flops / 1e9, "fraction_of_float64_matmul": flops / dt / rates["float64"],
        "matmul_flop_rate_float64": rates["float64"], "peak_rss_mb": peak_rss_mb(),
        "goals": {"ratio_to_loop>=1000": cps * per_loop >= 1000,
                  "fraction>=0.5": flops / dt / rates["float64"] >= 0.5}}


if __name__ == "__main__":
    main()
