"""Scaling with system size: stage 1 + one evaluation for a chain of n sites, both methods.

Model: uniform chain h = −0.5 (nearest neighbours), hot lead (T = 1.5) on site 1 and cold
lead (T = 0.5) on site n, both ``CutoffLorentzian(gamma=0.5, width=2, cutoff=8)``; 1000
times on [0, 20]; initial state: the chain half filled (alternating occupations).
Methods, both with ``observables="currents"`` (``jt.CurrentResponse``; the full Response
stores O(T n²) propagators and O(M K T n²) correlation kernels, 40 GB at n = 500):

* Continuum(tolerance=1e-6, nodes_per_panel=12): planning (kernel-pole eigenvalues), the
  adaptive error estimate (two builds) and the eigendecomposition of the closure generator;
* Discretised(n_modes=800, band=250, grid_scale=4) (1600 bath modes, D = n + 1600).

Each (method, n) runs in a fresh subprocess, so the time includes tracing and compilation
(what a user waits for on a new system size) and the peak resident memory (ru_maxrss) is that
run's own. Reported: wall and CPU seconds, peak RSS, the stored kernel size, and the largest
Continuum–Discretised difference in the heat currents (same n). The scaling exponent is the
least-squares slope of log(time) vs log(n) over n ≥ 100 (below that the fixed
per-node cost, K nodes × T times, dominates). Goal: n = 500 in under 60 s on the
2-core CPU. ``--quick``: n = (10, 30), 100 times (< 1 min).

    python experiments/benchmarks/bench_scale.py [--quick] [--sizes 10 50 100 200 500]
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import env_info, report  # noqa: E402

HERE = Path(__file__).resolve()


def one_run(method_name, n, n_times):
    """Run inside the subprocess: returns a dict of measurements."""
    import warnings

    import jax

    import jaxtransport as jt

    h = -0.5 * (np.eye(n, k=1) + np.eye(n, k=-1))
    lead = jt.CutoffLorentzian(gamma=0.5, width=2.0, cutoff=8.0)
    model = jt.Model(h, (jt.Reservoir(lead, temperature=1.5, coupling=np.eye(n)[0]),
                         jt.Reservoir(lead, temperature=0.5, coupling=np.eye(n)[-1])))
    times = np.linspace(0.0, 20.0, n_times)
    if method_name == "continuum":
        method = jt.Continuum(tolerance=1e-6, nodes_per_panel=12)
    else:
        method = jt.Discretised(n_modes=800, band=250.0, grid_scale=4.0)
    c0 = np.diag((np.arange(n) % 2).astype(float))
    t0, c_0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resp = jt.response(model, times, method, observables="currents")
    sol = jax.block_until_ready(resp.evaluate(c0))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c_0
    t1 = time.perf_counter()
    jax.block_until_ready(resp.evaluate(c0 * 0.5))
    nbytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(resp) if hasattr(x, "nbytes"))
    return {
        "method": method_name, "n": n, "n_times": n_times, "wall_s": wall, "cpu_s": cpu,
        "evaluate_warm_s": time.perf_counter() - t1,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "kernel_mb": nbytes / 2**20, "frequency_nodes": int(resp.nodes.shape[-1]),
        "error_estimate": float(resp.error_estimate),
        "heat_current": np.asarray(sol.heat_current).tolist(),
    }


def slope(ns, ts):
    ns, ts = np.asarray(ns, float), np.asarray(ts, float)
    keep = ns >= 100
    if keep.sum() < 2:
        return None
    return float(np.polyfit(np.log(ns[keep]), np.log(ts[keep]), 1)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", type=int, nargs="*")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import jax

        jax.config.update("jax_enable_x64", True)
        out = one_run(args.child[0], int(args.child[1]), int(args.child[2]))
        print("RESULT " + json.dumps(out))
        return
    sizes = args.sizes or ([10, 30] if args.quick else [10, 20, 50, 100, 200, 500])
    n_times = 100 if args.quick else 1000
    rows = []
    for n in sizes:
        for name in ("continuum", "discretised"):
            proc = subprocess.run([sys.executable, str(HERE), "--child", name, str(n),
                                   str(n_times)], capture_output=True, text=True)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                raise RuntimeError(f"{name} n={n} failed:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(line[0][7:]))
            r = rows[-1]
            print(f"{name:12s} n={n:4d}  {r['wall_s']:7.1f} s wall  {r['cpu_s']:7.1f} s cpu  "
                  f"{r['peak_rss_mb']:7.0f} MB peak  {r['kernel_mb']:7.1f} MB kernels",
                  file=sys.stderr)
    result = {"env": env_info(), "n_times": n_times, "sizes": sizes, "runs": []}
    for n in sizes:
        c, d = (next(r for r in rows if r["n"] == n and r["method"] == m)
                for m in ("continuum", "discretised"))
        diff = float(np.max(np.abs(np.asarray(c["heat_current"]) - d["heat_current"])))
        for r in (c, d):
            r = dict(r)
            r.pop("heat_current")
            r["heat_current_continuum_vs_discretised"] = diff
            result["runs"].append(r)
    for m in ("continuum", "discretised"):
        runs = [r for r in result["runs"] if r["method"] == m]
        result[f"{m}_time_exponent"] = slope([r["n"] for r in runs], [r["wall_s"] for r in runs])
        result[f"{m}_cpu_time_exponent"] = slope([r["n"] for r in runs],
                                                 [r["cpu_s"] for r in runs])
        result[f"{m}_memory_exponent"] = slope([r["n"] for r in runs],
                                               [r["peak_rss_mb"] for r in runs])
        big = max(runs, key=lambda r: r["n"])
        result[f"{m}_largest_n_wall_s"] = big["wall_s"]
    result["goal"] = "n = 500 in under 60 s (each method) on the 2-core CPU"
    report("bench_scale_quick" if args.quick else "bench_scale", result)


if __name__ == "__main__":
    main()
