"""Optimal uphill preparations: the initial states that move the most heat from cold to hot.

Chains of 2 and 3 sites between a hot lead (T_hot, on the first site) and a cold lead (T_cold,
on the last site), Lorentzian leads, solved with ``jt.Pade()``. The objective is the heat moved
uphill, Q_up = ∫ r dt with r = max(0, min(−J^Q_hot, J^Q_cold)) (``jt.UphillHeat``, smoothed
for the gradients; the reported Q_up is the exact ``jt.thermodynamics.uphill_flow``), maximised
by ``jt.optimise_preparation`` over all fermionic Gaussian states, and at a fixed system energy
Tr[h C0] = E (the Gibbs state's energy at T_hot). The longest uphill window is found with
``jt.UphillDuration``. Baseline: the best of ``n_random`` random physical preparations
(Haar-random orbitals, half pure). Along every optimum the entropy production Σ(t) ≥ 0 is
checked, and where the energy comes from (system energy, coupling energy) is shown.
A single level coupled to both leads is scanned over level energy, coupling ratio and initial
occupation: its uphill rate stays at round-off (no genuine uphill flow).

Panels: (a, b) heat currents of the 2- and 3-site optima, uphill windows shaded; (c) energy
bookkeeping of the 2-site optimum; (d) entropy production along the optima; (e) Q_up:
optimised (free, fixed energy) vs best random, and the single level's largest Q_up.

    python experiments/uphill_preparations.py [--quick] [--config FILE] [--out DIR]
"""

import time

import jax
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from _experiment import Run

import jaxtransport as jt
from jaxtransport.optimise.parametrisations import random_states
from jaxtransport.plot import plot_energy_bookkeeping, plot_uphill
from jaxtransport.thermodynamics import entropy_production, uphill_flow, uphill_heat

DEFAULTS = {
    "leads": {"width": 2.0, "gamma": 0.5, "t_hot": 1.5, "t_cold": 0.5},
    "two_sites": {"levels": [1.0, 0.8], "hopping": 0.3},
    "three_sites": {"levels": [1.0, 0.9, 0.8], "hopping": 0.3},
    "times": {"stop": 10.0, "num": 201},
    "optimiser": {"steps": 400, "n_starts": 32, "smoothing": 2e-3, "seed": 0},
    "n_random": 1000,
    "single_level": {"levels": [-2.0, -1.0, 0.0, 1.0, 2.0], "coupling_ratios": [0.3, 1.0, 3.0],
                     "occupations": 11},
}


def chain(levels, hopping, lc):
    n = len(levels)
    h = np.diag(np.asarray(levels, float)) + hopping * (np.eye(n, k=1) + np.eye(n, k=-1))
    lead = jt.Lorentzian(gamma=lc["gamma"], width=lc["width"])
    v_hot, v_cold = np.eye(n)[0], np.eye(n)[-1]
    return jt.Model(h, (jt.Reservoir(lead, temperature=lc["t_hot"], coupling=v_hot),
                        jt.Reservoir(lead, temperature=lc["t_cold"], coupling=v_cold)))


def hermitian_basis(n):
    """Orthonormal basis of n×n Hermitian matrices under Re Tr[A† B]."""
    out = []
    for i in range(n):
        for j in range(i, n):
            e = np.zeros((n, n), complex)
            if i == j:
                e[i, i] = 1.0
                out.append(e)
                continue
            e[i, j] = e[j, i] = 1 / np.sqrt(2)
            out.append(e.copy())
            e[i, j], e[j, i] = -1j / np.sqrt(2), 1j / np.sqrt(2)
            out.append(e)
    return np.stack(out)


def random_baseline(resp, n, count, seed):
    """Q_up of ``count`` random states, using that every current is affine in C0: evaluate the
    empty state and an orthonormal Hermitian basis once, then superpose."""
    basis = hermitian_basis(n)
    # the basis matrices are not states: the affine map is evaluated outside the state set
    j = np.asarray(resp.evaluate(np.concatenate([np.zeros((1, n, n)), basis]),
                                 validate=False).heat_current)
    j0, jb = j[0], j[1:] - j[0]
    c = np.asarray(random_states(jax.random.PRNGKey(seed), n, count))
    coef = np.einsum("kij,sij->sk", basis.conj(), c).real
    jq = j0 + np.einsum("sk,ktm->stm", coef, jb)
    q = uphill_heat(times=np.asarray(resp.times), heat_current=jq,
                    temperature=np.asarray(resp.temperature))
    return q, c


def optimise(model, times, resp, objective, par, oc):
    tic = time.perf_counter()
    res = jt.optimise_preparation(model, times, objective, par, response=resp,
                                  steps=oc["steps"], n_starts=oc["n_starts"], key=oc["seed"],
                                  tolerance=0.0, progress=False)
    return res, time.perf_counter() - tic


def main():
    run = Run("uphill_preparations", __doc__, DEFAULTS)
    cfg, lc, oc = run.config, run.config["leads"], run.config["optimiser"]
    times = cfg["times"]["stop"] * np.linspace(0.0, 1.0, cfg["times"]["num"]) ** 1.5
    data, rows = {}, {}
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    ax_sigma = axes[1, 1]
    for k, key in enumerate(("two_sites", "three_sites")):
        sc = cfg[key]
        model = chain(sc["levels"], sc["hopping"], lc)
        n = model.n_modes
        resp = jt.response(model, times, jt.Pade())
        q_rand, _ = random_baseline(resp, n, cfg["n_random"], oc["seed"] + 1)
        res, secs = optimise(model, times, resp, jt.UphillHeat(smoothing=oc["smoothing"]),
                             jt.FermionicGaussian(n), oc)
        flow = uphill_flow(res.solution)
        sigma = np.asarray(entropy_production(res.solution))
        # fixed system energy: the Gibbs state's energy at T_hot
        e_fix = float(np.real(np.trace(np.asarray(model.hamiltonian) @ np.asarray(
            jt.thermodynamics.thermal_preparation(model.hamiltonian)(lc["t_hot"])))))
        res_e, _ = optimise(model, times, resp, jt.UphillHeat(smoothing=oc["smoothing"]),
                            jt.FermionicGaussian(n, energy=e_fix,
                                                 hamiltonian=model.hamiltonian), oc)
        flow_e = uphill_flow(res_e.solution)
        res_d, _ = optimise(model, times, resp,
                            jt.UphillDuration(smoothing=oc["smoothing"]), None, oc)
        flow_d = uphill_flow(res_d.solution)
        nu = np.linalg.eigvalsh(res.correlation)
        rows[key] = dict(q_opt=flow.heat, q_random_best=float(q_rand.max()),
                         q_random_fraction=float(np.mean(q_rand > 1e-6)),
                         q_fixed_energy=flow_e.heat, fixed_energy=e_fix,
                         longest_window=flow_d.duration,
                         window_of_q_opt=flow.duration, min_entropy_production=float(sigma.min()),
                         optimise_s=secs, occupations=nu.round(4).tolist(),
                         converged=res.converged)
        frac = 100 * np.mean(q_rand > 1e-6)
        print(f"{key}: Q_up optimised {flow.heat:.6g} (windows {flow.windows}, {secs:.1f} s) "
              f"vs best of {cfg['n_random']} random {q_rand.max():.6g} ({frac:.1f} % of them "
              f"move > 1e-6 uphill); fixed E = {e_fix:.4g}: {flow_e.heat:.6g}; longest window "
              f"{flow_d.duration:.4g}; min entropy production {sigma.min():.2e}; natural "
              f"occupations {nu.round(4)}", flush=True)
        t_hot, t_cold = lc["t_hot"], lc["t_cold"]
        plot_uphill(res.solution, ax=axes[0, k], reservoir_names=["hot", "cold"],
                    title=f"{n} sites, optimal uphill preparation: $Q_{{up}}$ = {flow.heat:.4g} "
                          f"(best random {q_rand.max():.4g})\nT_hot = {t_hot}, T_cold = {t_cold}")
        if k == 0:
            plot_energy_bookkeeping(res.solution, ax=axes[0, 2], flow=flow,
                                    reservoir_names=["hot", "cold"],
                                    title=f"2 sites: where the energy comes from (T_hot = "
                                          f"{t_hot}, T_cold = {t_cold})")
        ax_sigma.plot(times, sigma, label=f"{n} sites (min {sigma.min():.1e})")
        data[f"{key}_heat_current"] = (("time", "reservoir"),
                                       np.asarray(res.solution.heat_current))
        data[f"{key}_uphill_rate"] = ("time", flow.rate)
        data[f"{key}_entropy_production"] = ("time", sigma)
        data[f"{key}_optimal_state_real"] = ((f"{key}_mode", f"{key}_mode_"),
                                             res.correlation.real)
        data[f"{key}_optimal_state_imag"] = ((f"{key}_mode", f"{key}_mode_"),
                                             res.correlation.imag)
        data[f"{key}_random_uphill_heat"] = ("random", q_rand)
    ax_sigma.axhline(0.0, color="k", lw=0.6)
    ax_sigma.set_xlabel("time $t$  [$\\hbar$/energy]")
    ax_sigma.set_ylabel("entropy production $\\Sigma(t)$  [$k_B$]")
    ax_sigma.set_title("second law along the optimal uphill transients", fontsize=9)
    ax_sigma.legend(fontsize=8)
    q_single = single_level_scan(cfg, lc, times)
    data["single_level_max_uphill_heat"] = ((), q_single)
    print(f"single level (both leads on one level): max Q_up over the scan {q_single:.2e}")
    ax = axes[1, 0]
    labels, vals = [], []
    for key, r in rows.items():
        n = 2 if key == "two_sites" else 3
        labels += [f"{n} sites\noptimised", f"{n} sites\nfixed E", f"{n} sites\nbest random"]
        vals += [r["q_opt"], r["q_fixed_energy"], r["q_random_best"]]
    labels.append("1 level\n(scan max)")
    vals.append(q_single)
    ax.bar(range(len(vals)), vals, color=["tab:red", "tab:orange", "0.6"] * 2 + ["k"])
    ax.set_xticks(range(len(vals)), labels, fontsize=7)
    ax.set_ylabel("heat moved uphill $Q_{up}$  [energy]")
    ax.set_title("uphill heat: optimised vs best random preparation", fontsize=9)
    axes[1, 2].axis("off")
    axes[1, 2].text(0.0, 1.0, "\n".join(
        f"{k}: Q_up opt {r['q_opt']:.5f}, fixed E={r['fixed_energy']:.3f}: "
        f"{r['q_fixed_energy']:.5f},\n   best of {cfg['n_random']} random "
        f"{r['q_random_best']:.5f}, "
        f"longest window {r['longest_window']:.3f},\n   min Σ {r['min_entropy_production']:.1e}, "
        f"natural occupations {r['occupations']}" for k, r in rows.items())
        + f"\nsingle level: max Q_up {q_single:.1e} (round-off)", va="top", fontsize=8,
        family="monospace")
    fig.tight_layout()
    ds = xr.Dataset(data, coords={"time": times, "reservoir": ["hot", "cold"]})
    for key, r in rows.items():
        ds.attrs.update({f"{key}_{a}": str(b) for a, b in r.items()})
    run.save(fig, ds)


def single_level_scan(cfg, lc, times):
    """Largest Q_up of a single level (ε, Γ_cold/Γ_hot, initial occupation n0) scan."""
    sc = cfg["single_level"]
    n0 = np.linspace(0.0, 1.0, sc["occupations"])[:, None, None]
    best = 0.0
    for eps in sc["levels"]:
        for ratio in sc["coupling_ratios"]:
            lead = jt.Lorentzian(gamma=lc["gamma"], width=lc["width"])
            model = jt.Model([[eps]], (
                jt.Reservoir(lead, temperature=lc["t_hot"], coupling=[1.0]),
                jt.Reservoir(lead, temperature=lc["t_cold"], coupling=[np.sqrt(ratio)])))
            try:
                resp = jt.response(model, times, jt.Pade())
            except ValueError:  # Padé tolerance not reachable: the exact Continuum instead
                resp = jt.response(model, times, jt.Continuum())
            best = max(best, float(np.max(uphill_heat(resp.evaluate(n0)))))
    return best


if __name__ == "__main__":
    main()
