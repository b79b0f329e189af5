"""Full counting statistics benchmark: cumulants 1–4 of the hot-reservoir heat, 2-site model.

Model: two sites h = [[0.3, 0.2], [0.2, -0.3]], hot lead on site 0 and cold lead on site 1
(Lorentzian gamma = 0.5, W = 2), discretised with ``jt.Discretised(n_modes, band)`` (the same
finite baths for the FCS and for the engine's currents), 200 times on [0, 20].
Measured (warm, ``block_until_ready``; compile time reported separately):

- ``statistics.cumulants(order=4)`` for one configuration (C0, T, μ): time per configuration;
- the same batched over B random configurations (one call): configurations/s;
- the baselines "currents alone": (a) the engine's stage 2 ``Response.evaluate`` on the same
  finite baths (currents, energies, C(t); stage 1 timed separately) and (b) the first
  cumulant only (``order=1``, the same determinant machinery); ratios are in the same run.
- agreement: dκ1/dt from the FCS vs the engine's heat current.

``--quick``: 40 modes per lead, 50 times, batch 4 (< 1 min on CPU).
"""

import argparse
import sys
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench, env_info, max_abs_diff, report, timed  # noqa: E402

import jaxtransport as jt  # noqa: E402
from jaxtransport import statistics as st  # noqa: E402

H = [[0.3, 0.2], [0.2, -0.3]]


def make_model():
    hot = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=1.5, coupling=[1.0, 0.0])
    cold = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=0.5, coupling=[0.0, 1.0])
    return jt.Model(H, (hot, cold))


def random_configs(key, batch):
    k = jax.random.split(key, 5)
    z = jax.random.normal(k[0], (batch, 2, 2)) + 1j * jax.random.normal(k[1], (batch, 2, 2))
    q, _ = jnp.linalg.qr(z)
    nu = jax.random.uniform(k[2], (batch, 2))
    c0 = (q * nu[..., None, :]) @ q.conj().swapaxes(-1, -2)
    temp = jnp.stack([jax.random.uniform(k[3], (batch,), minval=1.0, maxval=2.0),
                      jax.random.uniform(k[4], (batch,), minval=0.3, maxval=0.6)], axis=-1)
    return c0, temp, jnp.zeros((batch, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_modes, band, nt, batch = (40, 4.0, 50, 4) if args.quick else (100, 8.0, 200, 8)
    times = np.linspace(0.0, 20.0, nt)
    model = make_model()
    disc = jt.Discretised(n_modes=n_modes, band=band, band_warning=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a deliberately finite band: same baths both sides
        fm = st.FiniteModes.from_model(model, disc)
        resp, t_stage1_first = timed(jt.response, model, times, disc)
        t_stage1 = bench(jt.response, model, times, disc, warmup=0, repeat=2)["min_s"]
    out = {"benchmark": "fcs", "quick": args.quick, "env": env_info(), "n_times": nt,
           "n_modes_per_lead": n_modes, "band": band, "single_particle_dimension": fm.size}

    c0, temp, mu = random_configs(jax.random.PRNGKey(0), batch)
    one = (c0[0], temp[0], mu[0])

    def fcs(order, c, t, m):
        return st.cumulants(fm, times, c, t, m, order=order, reservoir=0)

    k4, t_compile = timed(fcs, 4, *one)
    single4 = bench(fcs, 4, *one, warmup=0, repeat=3)
    single1 = bench(fcs, 1, *one, warmup=1, repeat=3)
    batched4_first = timed(fcs, 4, c0, temp, mu)[1]
    batched4 = bench(fcs, 4, c0, temp, mu, warmup=0, repeat=2)
    evaluate = jax.jit(lambda r, c, t, m: r.evaluate(c, t, m))
    ev_single = bench(evaluate, resp, *one, warmup=1, repeat=5)
    ev_batch = bench(evaluate, resp, c0, temp, mu, warmup=1, repeat=5)

    rate = st.cumulants(fm, times, c0[0], temp[0], mu[0], order=1, time_derivative=True)
    sol = evaluate(resp, *one)
    out["accuracy"] = {"dkappa1_dt_vs_engine_heat_current":
                       max_abs_diff(rate[:, 0], sol.heat_current[:, 0])}
    out["cumulants_at_last_time"] = np.asarray(k4[-1]).tolist()
    out["fcs_order4"] = {"compile_plus_first_s": t_compile, "per_config_s": single4["min_s"],
                         "batch": batch, "batch_first_s": batched4_first,
                         "batch_s": batched4["min_s"],
                         "batched_configs_per_s": batch / batched4["min_s"]}
    out["baselines"] = {"fcs_order1_per_config_s": single1["min_s"],
                        "engine_stage1_first_s": t_stage1_first, "engine_stage1_warm_s": t_stage1,
                        "engine_evaluate_per_config_s": ev_single["min_s"],
                        "engine_evaluate_batch_s": ev_batch["min_s"]}
    out["ratios"] = {
        "order4_over_order1": single4["min_s"] / single1["min_s"],
        "order4_over_engine_evaluate": single4["min_s"] / ev_single["min_s"],
        "order4_over_engine_stage1_plus_evaluate": single4["min_s"]
        / (t_stage1 + ev_single["min_s"]),
        "batched_speedup_per_config": single4["min_s"] / (batched4["min_s"] / batch),
    }
    report("bench_fcs_quick" if args.quick else "bench_fcs", out)


if __name__ == "__main__":
    main()
