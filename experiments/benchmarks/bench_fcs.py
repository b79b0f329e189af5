"""Full counting statistics benchmark: cumulants 1–4 of the hot-reservoir heat, 2-site model.

Model: two sites h = [[0.3, 0.2], [0.2, -0.3]], hot lead (T = 1.5) on site 0 and cold lead
(T = 0.5) on site 1, both ``CutoffLorentzian(gamma=0.5, width=2, cutoff=6)`` (a plain
Lorentzian has infinite transient heat cumulants of order >= 3: its 1/ω² tails), 200 times on
[0, 20]. In one run, warm (``block_until_ready``), compile time reported separately:

- continuum route (``jt.statistics.cumulants(model, ...)``, ``jaxtransport.fcs_continuum``)
  at ``--n-pade`` (default 12) and at ``--n-pade-fast`` (default 6) Padé poles: first call
  (compilation), warm time per configuration (wall and process CPU time), batch throughput
  of B random (C0, T) configurations through the public call and through the compiled
  vmapped program directly (``fcs_continuum._program``), and the accuracy of the
  fast setting against the default one;
- finite-mode route (``statistics.FiniteModes.from_model`` + ``statistics.cumulants``) at
  bands ±B with spacing 0.3 (recurrence time 21 > 20), compared at t ≈ 2 and 4 (well
  before the recurrence): its κ2 error against the continuum
  (which agrees with the band-extrapolated finite-mode values, tests/test_fcs_continuum.py)
  and its time per configuration, measured on ``--fm-times`` of the 200 times and scaled to
  200 (the cost is per time point: one D×D determinant series each, D = 2 + 2 n_modes);
- "matched accuracy": the band at which the finite-mode κ2 error reaches the continuum's own
  error estimate, from the measured B⁻³ convergence of κ2, and its cost from the measured
  D³ scaling of the time per configuration; the speed-up is quoted against the fast
  continuum setting when that setting is more accurate in κ1–κ4 than the largest measured
  band (it is, measured), otherwise against the default one.

``--quick``: 50 times, bands (15, 30), batch 2.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench, env_info, report, timed  # noqa: E402

import jaxtransport as jt  # noqa: E402
from jaxtransport import fcs_continuum as fc  # noqa: E402
from jaxtransport import statistics as st  # noqa: E402

H = [[0.3, 0.2], [0.2, -0.3]]
SPACING = 0.3


def make_model():
    dens = jt.CutoffLorentzian(0.5, 2.0, 6.0)
    hot = jt.Reservoir(dens, temperature=1.5, coupling=[1.0, 0.0])
    cold = jt.Reservoir(dens, temperature=0.5, coupling=[0.0, 1.0])
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
    ap.add_argument("--n-pade", type=int, default=12)
    ap.add_argument("--n-pade-fast", type=int, default=6)
    ap.add_argument("--fm-times", type=int, default=2)
    args = ap.parse_args()
    nt, bands, batch = (50, (15.0, 30.0), 2) if args.quick else (200, (30.0, 60.0, 120.0), 4)
    times = np.linspace(0.0, 20.0, nt)
    model = make_model()
    out = {"benchmark": "fcs", "quick": args.quick, "env": env_info(), "n_times": nt,
           "n_pade": args.n_pade, "bands": bands, "spacing": SPACING}
    c0, temp, mu = random_configs(jax.random.PRNGKey(0), batch)
    one = (c0[0], temp[0], mu[0])

    def cont(c, t, m, n_pade=args.n_pade, **kw):
        return st.cumulants(model, times, c, t, m, order=4, n_pade=n_pade, **kw)

    def cpu(fn, *a, **kw):
        t0 = time.process_time()
        jax.block_until_ready(fn(*a, **kw))
        return time.process_time() - t0

    def continuum_row(n_pade):
        (k, err), t_first = timed(cont, *one, n_pade=n_pade, error_estimate=True)
        t_compile = timed(cont, *one, n_pade=n_pade)[1]  # compiles the plain program
        single = bench(cont, *one, n_pade=n_pade, warmup=0, repeat=3)
        single_cpu = min(cpu(cont, *one, n_pade=n_pade) for _ in range(2))
        looped = bench(cont, c0, temp, mu, n_pade=n_pade, warmup=0, repeat=2)
        r = 0.6 / fc._energy_scale(fc._Structure(model, 2))
        prog = fc._program(model, times, n_pade, "heat", (1.0, 0.0), 4, r, 8, False)[0]
        args_v = (c0.astype(complex), temp, mu)
        v_first = timed(prog, *args_v)[1]
        vm = bench(prog, *args_v, warmup=0, repeat=2)
        return np.asarray(k), np.asarray(err), {
            "n_pade": n_pade, "first_call_s (compile + error estimate)": t_first,
            "second_call_s (compile of the plain program)": t_compile,
            "per_config_s": single["min_s"], "per_config_median_s": single["median_s"],
            "per_config_cpu_s": single_cpu, "batch": batch,
            "batch_public_s": looped["min_s"],
            "configs_per_s_public": batch / looped["min_s"],
            "batch_vmapped_first_s (compile)": v_first, "batch_vmapped_s": vm["min_s"],
            "configs_per_s_vmapped": batch / vm["min_s"],
            "error_estimate": np.asarray(err).tolist(), "cumulants_at_t_last": k[-1].tolist()}

    k_c, err, row = continuum_row(args.n_pade)
    k_fast, err_fast, row_fast = continuum_row(args.n_pade_fast)
    row_fast["max_rel_diff_to_default_k1..k4"] = (
        np.abs(k_fast[1:] - k_c[1:]) / np.abs(k_c[1:])).max(axis=0).tolist()
    out["continuum"] = row
    out["continuum_fast"] = row_fast
    single = {"min_s": row["per_config_s"]}
    batched = {"min_s": row["batch_public_s"]}

    # finite modes on a subset of the times (its cost is per time point)
    # (early times: with spacing 0.3 the discretised baths are accurate far below their
    # recurrence time 21; near it they are off by ~1e-3, measured)
    targets = np.linspace(times[-1] / 10, times[-1] / 5, args.fm_times)
    sub = np.unique([int(np.argmin(np.abs(times - x))) for x in targets])
    fm_rows = []
    for band in bands:
        n_modes = int(round(2 * band / SPACING))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # band-weight warnings: the band is the variable
            fm = st.FiniteModes.from_model(model, jt.Discretised(n_modes=n_modes, band=band))

        def finite(c, t, m, fm=fm):
            return st.cumulants(fm, times[sub], c, t, m, order=4)

        k_f, t_f_first = timed(finite, *one)
        t_f = bench(finite, *one, warmup=0, repeat=1)["min_s"]
        rel = np.abs(np.asarray(k_f) - k_c[sub]) / np.abs(k_c[sub])
        fm_rows.append({"band": band, "n_modes_per_lead": n_modes, "dimension": fm.size,
                        "first_s": t_f_first, "per_config_s_measured": t_f,
                        "per_config_s_all_times": t_f * nt / len(sub),
                        "max_rel_diff_k1..k4": rel.max(axis=0).tolist()})
    out["finite_modes"] = fm_rows
    # matched accuracy: κ2 error ∝ B⁻³ (measured), cost ∝ D³
    b = np.asarray([r["band"] for r in fm_rows])
    e2 = np.asarray([r["max_rel_diff_k1..k4"][1] for r in fm_rows])
    cost = np.asarray([r["per_config_s_all_times"] for r in fm_rows])
    fm_err = np.asarray(fm_rows[-1]["max_rel_diff_k1..k4"])
    fast_err = np.asarray(row_fast["max_rel_diff_to_default_k1..k4"])
    use_fast = bool(np.all(fast_err < fm_err))
    own_err = fast_err[1] if use_fast else float(np.asarray(err)[1] / np.abs(k_c[:, 1]).max())
    target = max(float(own_err), 1e-6)
    p_err = -np.polyfit(np.log(b), np.log(e2), 1)[0]
    band_needed = b[-1] * (e2[-1] / target) ** (1 / p_err) if p_err > 1 else float("nan")
    d_needed = 2 + 2 * 2 * band_needed / SPACING
    p_cost = np.polyfit(np.log(2 + 4 * b / SPACING), np.log(cost), 1)[0]
    cost_needed = cost[-1] * (d_needed / (2 + 4 * b[-1] / SPACING)) ** p_cost
    ref_s = row_fast["per_config_s"] if use_fast else single["min_s"]
    ref_b = (row_fast if use_fast else row)["batch_public_s"]
    out["matched_accuracy"] = {
        "kappa2_relative_target": target, "kappa2_error_exponent_in_band": p_err,
        "band_needed": band_needed, "dimension_needed": d_needed,
        "cost_exponent_in_dimension": p_cost,
        "finite_modes_per_config_s_estimated": cost_needed,
        "continuum_setting_used": args.n_pade_fast if use_fast else args.n_pade,
        "continuum_fast_more_accurate_than_largest_band_k1..k4": use_fast,
        "speedup_per_config": cost_needed / ref_s,
        # the continuum is more accurate than every measured finite-mode run: these ratios
        # are lower bounds of the speed-up at matched accuracy
        "speedup_per_config_at_largest_measured_band": cost[-1] / ref_s,
        "speedup_batched_per_config_at_largest_measured_band": cost[-1] / (ref_b / batch)}
    report("bench_fcs_quick" if args.quick else "bench_fcs", out)


if __name__ == "__main__":
    main()
