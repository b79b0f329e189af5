"""Optimal-preparation gains: how much the best initial state deepens the heat reversal.

Chains of 2 and 3 sites (hot lead on the first site, cold lead on the last, ``CutoffLorentzian``
leads). Objective: the (soft) minimum over the window of J^Q_hot (out of the hot lead;
negative = heat into it), minimised by ``jt.optimise_preparation`` over all fermionic
Gaussian states (multi-start Adam, stage 1 once). References: empty system, Gibbs state of h
at T_hot, best of the 2^n site-occupation (Fock) states. Also: the best reversal at fixed
energy Tr[h C0] = E (two sites) vs the free optimum.
Panels: (a) min_t J^Q_hot per preparation and system; (b) J^Q_hot(t) of the three-site
optimum vs the references; (c) fixed-energy optimum vs E.

    python experiments/optimal_preparations.py [--quick] [--config FILE] [--out DIR]
"""

import itertools

import numpy as np
import xarray as xr
from _experiment import Run, density

import jaxtransport as jt

DEFAULTS = {
    "leads": {"spectral_density": {"kind": "cutoff_lorentzian", "gamma": 0.5, "width": 2.0,
                                  "cutoff": 8.0},
              "temperature": {"hot": 1.5, "cold": 0.5}},
    "two_sites": {"levels": [0.3, -0.3], "hopping": 0.2},
    "three_sites": {"levels": [0.5, 0.0, -0.5], "hopping": 0.3},
    "times": {"stop": 6.0, "num": 121},
    "method": {"tolerance": 1e-6},
    "optimiser": {"steps": 400, "n_starts": 8, "seed": 0},
    "objective": {"smoothing": 2e-3},
    "fixed_energy": {"num": 9},
}


def main():
    run = Run("optimal_preparations", __doc__, DEFAULTS)
    cfg, lc, oc = run.config, run.config["leads"], run.config["optimiser"]
    times = cfg["times"]["stop"] * np.linspace(0.0, 1.0, cfg["times"]["num"]) ** 2
    lead = density(lc["spectral_density"])

    def chain(levels, hopping):
        n = len(levels)
        h = np.diag(np.asarray(levels, float)) + hopping * (np.eye(n, k=1) + np.eye(n, k=-1))
        return jt.Model(h, (jt.Reservoir(lead, temperature=lc["temperature"]["hot"], coupling=np.eye(n)[0]),
                            jt.Reservoir(lead, temperature=lc["temperature"]["cold"],
                                         coupling=np.eye(n)[-1])))

    objective = jt.SmoothMinHeatCurrent(window=(0.0, float(times[-1])),
                                        smoothing=cfg["objective"]["smoothing"], reservoir=0)

    def optimise(model, resp, param):
        return jt.optimise_preparation(model, times, objective, param, response=resp,
                                       steps=oc["steps"], n_starts=oc["n_starts"],
                                       key=oc["seed"], progress=False)

    preps = ["empty", "thermal at T_hot", "best Fock state", "optimised"]
    values, traces, systems = {}, {}, {}
    for name in ("two_sites", "three_sites"):
        model = chain(**cfg[name])
        n = model.n_modes
        resp = jt.response(model, times, jt.Continuum(**cfg["method"]))
        fock = np.array([np.diag(o) for o in itertools.product([0.0, 1.0], repeat=n)])
        j_fock = np.asarray(resp.evaluate(fock).heat_current)[..., 0]
        best = optimise(model, resp, jt.FermionicGaussian(n))
        c0s = [np.zeros((n, n)), jt.GaussianState.thermal(model.hamiltonian,
                                                          lc["temperature"]["hot"]).correlation,
               fock[np.argmin(j_fock.min(axis=-1))], best.correlation]
        j = np.stack([np.asarray(resp.evaluate(c).heat_current)[:, 0] for c in c0s])
        values[name], traces[name], systems[name] = j.min(axis=-1), j, (model, resp, best)
        print(f"{name}: min J^Q_hot " + ", ".join(
            f"{p} {v:.5f}" for p, v in zip(preps, values[name], strict=True)))

    model, resp, best = systems["two_sites"]
    h = np.asarray(model.hamiltonian)
    ev = np.linalg.eigvalsh(h)
    energies = np.linspace(ev[ev < 0].sum(), ev[ev > 0].sum(),
                           cfg["fixed_energy"]["num"] + 2)[1:-1]
    fixed = np.array([float(np.min(optimise(
        model, resp, jt.FermionicGaussian(2, energy=float(e), hamiltonian=h)
    ).solution.heat_current[:, 0])) for e in energies])
    free_e = float(np.trace(h @ np.asarray(best.correlation)).real)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    width = 0.2
    for k, p in enumerate(preps):
        axes[0].bar(np.arange(2) + (k - 1.5) * width,
                    [values["two_sites"][k], values["three_sites"][k]], width, label=p)
    axes[0].set_xticks([0, 1], ["two sites", "three sites"])
    axes[0].axhline(0.0, color="k", lw=0.6)
    axes[0].set_ylabel("min$_t$ J$^Q_{hot}$  [energy/ħ]  (< 0: heat into hot)")
    axes[0].set_title("(a) strongest reversal per preparation", fontsize=9)
    axes[0].set_ylim(1.45 * min(v.min() for v in values.values()), 0.0)
    axes[0].legend(fontsize=7, ncol=2, loc="lower center")
    for k, p in enumerate(preps):
        axes[1].plot(times, traces["three_sites"][k], label=p)
    axes[1].axhline(0.0, color="k", lw=0.6)
    axes[1].set_xlabel("time t  [ħ/energy]")
    axes[1].set_ylabel("J$^Q_{hot}$(t)  [energy/ħ]")
    axes[1].set_title("(b) three sites: heat current out of the hot lead", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[2].plot(energies, fixed, "o-", label="optimised at fixed Tr[h C$_0$] = E")
    axes[2].plot([free_e], [values["two_sites"][-1]], "r*", ms=12, label="free optimum")
    axes[2].axhline(0.0, color="k", lw=0.6)
    axes[2].set_xlabel("energy of the preparation E  [energy]")
    axes[2].set_ylabel("min$_t$ J$^Q_{hot}$  [energy/ħ]")
    axes[2].set_title("(c) two sites: reversal vs energy budget", fontsize=9)
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Optimal preparations (T$_{{hot}}$ = {lc['temperature']['hot']:g}, T$_{{cold}}$ = "
                 f"{lc['temperature']['cold']:g}, γ = {lc['spectral_density']['gamma']:g}, W = "
                 f"{lc['spectral_density']['width']:g}; Adam, "
                 f"{oc['n_starts']} starts × {oc['steps']} steps)", fontsize=10)
    fig.tight_layout()
    ds = xr.Dataset(
        {"min_heat_current": (("system", "preparation"),
                              np.stack([values["two_sites"], values["three_sites"]])),
         "heat_current_three_sites": (("preparation", "time"), traces["three_sites"]),
         "fixed_energy_min_heat_current": (("energy",), fixed),
         "free_optimum_energy": ((), free_e)},
        coords={"system": ["two_sites", "three_sites"], "preparation": preps, "time": times,
                "energy": energies})
    run.save(fig, ds)


if __name__ == "__main__":
    main()
