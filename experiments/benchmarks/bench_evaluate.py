"""Stage-2 throughput benchmark: batched ``Response.evaluate`` versus a per-configuration loop.

Model: two sites h = [[0.3, 0.2], [0.2, -0.3]], hot lead on site 0 and cold lead on site 1
(Lorentzian gamma = 0.5, W = 2), 400 times on [0, 20]; one stage-1 ``jt.response`` with
Continuum(tolerance=1e-6, temperature_range=(0.2, 2), chemical_potential_range=(0, 0)).
Configurations (fixed PRNG key): T_hot ~ U[0.5, 2], T_cold ~ U[0.2, 0.5], mu = 0 and random
valid fermionic C0 = U diag(nu) U^dag (U Haar-random unitary, nu ~ U[0, 1]).

Compared: a jitted batched ``resp.evaluate`` (warm, block_until_ready) for several batch
sizes -> configurations/s, against a loop of ``jt.solve`` with a fresh model per configuration
(stage 1 included, compilation excluded; also with the quadrature plan resolved once and
reused). The batched results are checked against the loop. FLOPs of evaluate are counted
from the kernel shapes (complex MAC = 8 flops, real MAC = 2) and compared with this machine's
warm jnp matmul rate (2048^2 float64 and complex128).
Goals: batched evaluate >= 1000x the loop's configurations/s and >= 50% of the matmul rate.
``--quick``: 100 times, batches (64, 256), 1024^2 matmuls, < 1 min on CPU.
"""

import argparse
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench, env_info, max_abs_diff, report, timed  # noqa: E402

import jaxtransport as jt  # noqa: E402

H = [[0.3, 0.2], [0.2, -0.3]]
METHOD = jt.Continuum(tolerance=1e-6, temperature_range=(0.2, 2.0),
                      chemical_potential_range=(0.0, 0.0))


def make_model(t_hot=1.0, t_cold=0.3):
    hot = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=t_hot, coupling=[1.0, 0.0])
    cold = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=t_cold, coupling=[0.0, 1.0])
    return jt.Model(H, (hot, cold))


def random_configs(key, batch):
    """(C0 (B,2,2), temperature (B,2), chemical potential (B,2))."""
    k = jax.random.split(key, 5)
    z = jax.random.normal(k[0], (batch, 2, 2)) + 1j * jax.random.normal(k[1], (batch, 2, 2))
    q, r = jnp.linalg.qr(z)
    q = q * (jnp.diagonal(r, axis1=-2, axis2=-1) / jnp.abs(jnp.diagonal(r, axis1=-2, axis2=-1)))[
        ..., None, :]  # Haar measure
    nu = jax.random.uniform(k[2], (batch, 2))
    c0 = (q * nu[..., None, :]) @ q.conj().swapaxes(-1, -2)
    temp = jnp.stack([jax.random.uniform(k[3], (batch,), minval=0.5, maxval=2.0),
                      jax.random.uniform(k[4], (batch,), minval=0.2, maxval=0.5)], axis=-1)
    return c0, temp, jnp.zeros((batch, 2))


@jax.jit
def evaluate_batch(resp, c0, temperature, mu):
    return resp.evaluate(c0, temperature, mu)


def evaluate_flops(resp, batch):
    """FLOPs of one batched evaluate from the contraction shapes (elementwise ops ignored).

    Bath terms: real occupation weights x complex kernels = 2 real MACs (4 flops) per kernel
    element, done as real GEMMs; state terms: complex MACs (8 flops)."""
    bath = (resp.correlation_kernel.size + resp.current_kernel.size
            + resp.current_kernel_dt.size) * batch
    nt, n = resp.propagator.shape[:2]
    cmac = batch * (4 * nt * n**3  # G C0 G^dag and dG C0 G^dag
                    + resp.current_state.size + resp.current_state_dt.size)
    rmac = resp.scalar_kernel_dt.size * batch
    return 4 * bath + 8 * cmac + 2 * rmac


def matmul_rates(n):
    """Warm jnp matmul FLOP/s (float64: 2 n^3, complex128: 8 n^3 flops)."""
    key = jax.random.PRNGKey(1)
    a = jax.random.normal(key, (n, n))
    mm = jax.jit(jnp.matmul)
    rates = {}
    for name, x, flops in (("float64", a, 2 * n**3), ("complex128", a + 1j * a.T, 8 * n**3)):
        rates[name] = flops / bench(mm, x, x, repeat=5)["min_s"]
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 times, small batches")
    args = ap.parse_args()
    nt, batches, n_mm, n_loop = (100, (64, 256), 1024, 2) if args.quick else \
        (400, (256, 1024, 4096), 2048, 3)
    times = np.linspace(0.0, 20.0, nt)
    out = {"benchmark": "evaluate", "quick": args.quick, "env": env_info(), "n_times": nt,
           "method": {"tolerance": METHOD.tolerance, "temperature_range": METHOD.temperature_range,
                      "chemical_potential_range": METHOD.chemical_potential_range}}

    resp, t_first = timed(jt.response, make_model(), times, METHOD)
    t_warm = bench(jt.response, make_model(), times, METHOD, warmup=0, repeat=2)["min_s"]
    out["stage1"] = {"compile_plus_first_s": t_first, "warm_s": t_warm,
                     "error_estimate": float(resp.error_estimate),
                     "correlation_kernel_shape": resp.correlation_kernel.shape,
                     "current_kernel_shape": resp.current_kernel.shape,
                     "kernel_bytes": sum(x.nbytes for x in jax.tree_util.tree_leaves(resp))}

    rates = matmul_rates(n_mm)
    out["machine"] = {"matmul_n": n_mm, "flop_rate_float64": rates["float64"],
                      "flop_rate_complex128": rates["complex128"]}

    key = jax.random.PRNGKey(0)
    out["batched"] = []
    for b in batches:
        c0, temp, mu = random_configs(jax.random.fold_in(key, b), b)
        t = bench(evaluate_batch, resp, c0, temp, mu, warmup=1, repeat=3)
        flops = evaluate_flops(resp, b)
        out["batched"].append({"batch": b, **t, "configs_per_s": b / t["min_s"],
                               "gflop": flops / 1e9, "flop_rate": flops / t["min_s"],
                               "fraction_of_complex128_matmul": flops / t["min_s"] / rates[
                                   "complex128"],
                               "fraction_of_float64_matmul": flops / t["min_s"] / rates["float64"]})

    # per-configuration loop: fresh model + jt.solve (stage 1 + 2); compile excluded
    c0, temp, mu = random_configs(key, n_loop + 1)
    batch_sol = evaluate_batch(resp, c0, temp, mu)
    resolved = METHOD.resolve(make_model(), times)
    loop = {}
    for name, method in (("plain", METHOD), ("plan_reused", resolved)):
        ts, errs = [], []
        for i in range(n_loop + 1):
            model = make_model(*np.asarray(temp[i]))
            sol, dt = timed(jt.solve, model, jt.GaussianState(np.asarray(c0[i])), times, method)
            if i > 0:  # i = 0 is the warm-up (compilation)
                ts.append(dt)
            errs.append(max(max_abs_diff(sol.occupation, batch_sol.occupation[i]),
                            max_abs_diff(sol.particle_current, batch_sol.particle_current[i])))
        loop[name] = {"per_config_s": statistics.mean(ts), "times_s": ts,
                      "max_diff_to_batched": max(errs)}
    out["loop"] = loop

    best = max(out["batched"], key=lambda r: r["configs_per_s"])
    out["ratios"] = {f"batched_over_loop_{k}": best["configs_per_s"] * v["per_config_s"]
                     for k, v in loop.items()}
    out["goals"] = {"batched_1000x_loop": out["ratios"]["batched_over_loop_plain"] >= 1000,
                    # the bath contractions are real GEMMs (see evaluate_flops)
                    "half_of_float64_matmul_rate": best["fraction_of_float64_matmul"] >= 0.5}
    report("bench_evaluate_quick" if args.quick else "bench_evaluate", out)


if __name__ == "__main__":
    main()
