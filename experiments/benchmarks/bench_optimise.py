"""Optimiser benchmark: steps per second and gradient cost / forward cost (issue 6).

Model: three-site chain h = [[0.2, -0.5, 0], [-0.5, 0, -0.5], [0, -0.5, -0.2]], left lead on
site 0 (T = 1.0, mu = 0.5) and right lead on site 2 (T = 1.0, mu = -0.5), Lorentzian
gamma = 0.6, W = 2 (tests/systems.py three_site_chain), 400 times on [0, 20]; stage 1 once with
Continuum(tolerance=1e-6). Objective: soft minimum (smoothing 0.01) of J^Q out of the left
lead over the whole grid; states: jt.FermionicGaussian(3) (C0 = U diag(sin^2 theta) U^dag).

Measured (warm, block_until_ready): forward = objective(resp.evaluate(C0(params))) and
gradient = value_and_grad of it w.r.t. the unconstrained parameters, for one start and for a
vmapped batch of 8 starts; ratio gradient/forward (goal <= 3). Then jt.optimise_preparation
(Adam, 8 starts): steps per second from its own per-chunk timings (compile excluded).
``--quick``: 100 times, fewer steps, < 1 min on CPU.

Model parameters (issue 17; alone with ``--only-model-parameters``): the same chain, 200 times
on [0, 20], ``jt.ModelParameters(level_energies=..., hoppings=..., coupling_strengths=...)``
trained jointly with the state (8 starts, Adam) through the default method (the automatic
choice: ``jt.Pade`` with one pole count fixed for the bounds, stage 1 re-run inside every
step): optimiser steps per second after compilation (goal >= 20), and the optimum's value
against a fresh ``jt.Continuum(tolerance=1e-10)`` solve of the returned model and state.
"""

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench, env_info, report, timed  # noqa: E402

import jaxtransport as jt  # noqa: E402

H = [[0.2, -0.5, 0.0], [-0.5, 0.0, -0.5], [0.0, -0.5, -0.2]]


def make_model():
    left = jt.Reservoir(jt.Lorentzian(0.6, 2.0), temperature=1.0, chemical_potential=0.5,
                        coupling=[1.0, 0.0, 0.0])
    right = jt.Reservoir(jt.Lorentzian(0.6, 2.0), temperature=1.0, chemical_potential=-0.5,
                         coupling=[0.0, 0.0, 1.0])
    return jt.Model(H, (left, right))


def model_parameters_section(nt=200, steps=100):
    """Joint optimisation of level energies, hoppings and couplings with the state."""
    import os

    times = np.linspace(0.0, 20.0, nt)
    model = make_model()
    objective = jt.SmoothMinHeatCurrent(smoothing=0.01, reservoir=0)
    mp = jt.ModelParameters(level_energies=[(-1.0, 1.0)] * 3,
                            hoppings=[(-1.0, 0.0), (-1.0, 0.0)],
                            coupling_strengths=[(0.2, 1.0), (0.2, 1.0)])
    load0 = os.getloadavg()
    res, t_total = timed(lambda: jt.optimise_preparation(
        model, times, objective, jt.FermionicGaussian(3), model_parameters=mp, steps=steps,
        n_starts=8, progress=False, tolerance=0.0))
    sol = jt.solve(res.model, res.state, times, method=jt.Continuum(tolerance=1e-10))
    sps = res.history.attrs["steps_per_s"]
    return {"n_times": nt, "trained": list(res.model_parameters), "n_starts": 8,
            "steps": res.n_steps, "method": type(res.response).__name__,
            "n_pade": getattr(res.response, "n_pade", None), "total_s": t_total,
            "first_chunk_s (compile + 10 steps)": res.history.attrs["first_chunk_s"],
            "steps_per_s (all 8 starts per step)": sps, "n_traces": res.n_traces,
            "best_value": res.value,
            "value_err_vs_continuum_1e-10": abs(float(objective(sol)) - res.value),
            "optimum_error_estimate": float(res.solution.error_estimate),
            "load_average_before": list(load0), "load_average_after": list(os.getloadavg()),
            "goals": {"steps_per_s>=20": sps >= 20}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 times, fewer steps")
    ap.add_argument("--only-model-parameters", action="store_true",
                    help="only the issue-17 model-parameter optimisation")
    args = ap.parse_args()
    if args.only_model_parameters:
        report("bench_optimise_model_parameters", {
            "benchmark": "optimise_model_parameters", "env": env_info(),
            "model_parameters": model_parameters_section()})
        return
    nt, steps = (100, 40) if args.quick else (400, 200)
    times = np.linspace(0.0, 20.0, nt)
    model = make_model()
    out = {"benchmark": "optimise", "quick": args.quick, "env": env_info(), "n_times": nt,
           "n_modes": 3, "n_reservoirs": 2}
    method = jt.Continuum(tolerance=1e-6)
    resp, t_stage1 = timed(jt.response, model, times, method)
    out["stage1_compile_plus_run_s"] = t_stage1
    out["kernel_shapes"] = {"current_state": resp.current_state.shape,
                            "current_kernel": resp.current_kernel.shape}

    objective = jt.SmoothMinHeatCurrent(smoothing=0.01, reservoir=0)
    par = jt.FermionicGaussian(3)

    def f(r, p):
        return objective(r.evaluate(par.correlation(p)))

    fwd = jax.jit(f)
    grad = jax.jit(jax.value_and_grad(f, argnums=1))
    fwd_b = jax.jit(jax.vmap(f, in_axes=(None, 0)))
    grad_b = jax.jit(jax.vmap(jax.value_and_grad(f, argnums=1), in_axes=(None, 0)))
    p1 = par.init(jax.random.PRNGKey(0))
    p8 = jax.vmap(par.init)(jax.random.split(jax.random.PRNGKey(0), 8))
    rows = {}
    for name, fn, p in (("forward_1", fwd, p1), ("gradient_1", grad, p1),
                        ("forward_8", fwd_b, p8), ("gradient_8", grad_b, p8)):
        _, t_first = timed(fn, resp, p)
        rows[name] = {"compile_plus_first_s": t_first, **bench(fn, resp, p, warmup=1, repeat=7)}
    out["timings"] = rows
    ratio_1 = rows["gradient_1"]["min_s"] / rows["forward_1"]["min_s"]
    ratio_8 = rows["gradient_8"]["min_s"] / rows["forward_8"]["min_s"]
    out["gradient_over_forward"] = {"single_start": ratio_1, "batch_8": ratio_8}

    res, t_total = timed(lambda: jt.optimise_preparation(
        model, times, objective, par, response=resp, optimiser="adam", steps=steps,
        n_starts=8, progress=False, tolerance=0.0))
    out["optimise"] = {
        "optimiser": "adam", "n_starts": 8, "steps": res.n_steps, "total_s": t_total,
        "first_chunk_s (compile + 10 steps)": res.history.attrs["first_chunk_s"],
        "steps_per_s (all 8 starts per step)": res.history.attrs["steps_per_s"],
        "n_traces": res.n_traces, "best_value": res.value,
        "s_per_step_over_gradient_8": 1.0 / res.history.attrs["steps_per_s"]
        / rows["gradient_8"]["min_s"],
    }
    out["goals"] = {"gradient_le_3x_forward": bool(max(ratio_1, ratio_8) <= 3.0),
                    "one_trace": res.n_traces == 1}
    out["model_parameters"] = model_parameters_section(100 if args.quick else 200,
                                                       40 if args.quick else 100)
    report("bench_optimise_quick" if args.quick else "bench_optimise", out)


if __name__ == "__main__":
    main()
