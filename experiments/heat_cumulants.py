"""Heat cumulants vs time: transient full counting statistics and the Levitov–Lesovik limit.

Single level between a hot and a cold ``CutoffLorentzian`` lead, coupled at t = 0, for an
empty and a filled level. κ_1 … κ_4 of the heat Q_hot(t) taken out of the hot lead
(two-point measurement; exact determinant formula on leads discretised with
``jt.Discretised``), with the Levitov–Lesovik long-time rates of the continuum model (dashed:
slope c_n through the last point), and the entropy production Σ(t) = ΔS_sys − Σ_α Q_α/T_α of
the exact continuum solution (second law: Σ ≥ 0), with the filled level's reversal window
(J^Q_hot < 0) shaded.

    python experiments/heat_cumulants.py [--quick] [--config FILE] [--out DIR]
"""

import warnings

import numpy as np
import xarray as xr
from _experiment import Run, density

import jaxtransport as jt
from jaxtransport import statistics as st
from jaxtransport import thermodynamics as th
from jaxtransport.plot import plot_cumulants, reversal_windows

DEFAULTS = {
    "leads": {"spectral_density": {"kind": "cutoff_lorentzian", "gamma": 1.0, "width": 1.0,
                                  "cutoff": 4.0},
              "temperature": {"hot": 1.5, "cold": 0.5}},
    "level": 0.5,
    "order": 4,
    "cumulant_method": {"n_modes": 300, "band": 12.0},
    "times": {"stop": 30.0, "num": 61},
    "graded_times": 301,
}


def main():
    run = Run("heat_cumulants", __doc__, DEFAULTS)
    cfg, lc = run.config, run.config["leads"]
    lead = density(lc["spectral_density"])
    model = jt.Model([[cfg["level"]]], (jt.Reservoir(lead, temperature=lc["temperature"]["hot"],
                                                     coupling=[1.0]),
                                        jt.Reservoir(lead, temperature=lc["temperature"]["cold"],
                                                     coupling=[1.0])))
    order, t_max = cfg["order"], cfg["times"]["stop"]
    times = np.linspace(0.0, t_max, cfg["times"]["num"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # finite band: converge in n_modes
        modes = st.FiniteModes.from_model(model, jt.Discretised(band_warning=0.05,
                                                                **cfg["cumulant_method"]))
    preps = np.stack([np.zeros((1, 1)), np.ones((1, 1))])
    kappa = np.asarray(st.cumulants(modes, times, preps, order=order))  # (2, T, order)
    rates = np.asarray(st.cumulants(modes, times[-1:], preps, order=order,
                                    time_derivative=True))[:, 0]  # (2, order)
    ll = np.asarray(st.levitov_lesovik_rates(model, order))
    print("Levitov–Lesovik rates:", ll, "\ndκ_n/dt at t_max (n0 = 0, 1):\n", rates)

    t_graded = t_max * np.linspace(0.0, 1.0, cfg["graded_times"]) ** 2
    sols = jt.response(model, t_graded, jt.Continuum(tolerance=1e-6)).evaluate(preps)
    sigma = np.asarray(th.entropy_production(sols))
    print(f"min Σ(t) = {sigma.min():.2e}")

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, order + 1, figsize=(3.3 * (order + 1), 3.4))
    for i in range(2):
        plot_cumulants(times, kappa[i], axes=axes[:order], rates=ll if i else None,
                       label=f"$n_0$ = {i}")
    for i, name in enumerate(("$n_0$ = 0", "$n_0$ = 1")):
        axes[-1].plot(t_graded, sigma[i], label=name)
    for a, b in reversal_windows(t_graded, np.asarray(sols.heat_current)[1, :, 0]):
        axes[-1].axvspan(a, b, color="tab:red", alpha=0.12, lw=0)
    axes[-1].set_xlabel("time $t$  [$\\hbar$/energy]")
    axes[-1].set_ylabel("entropy production Σ(t)  [k$_B$]")
    axes[-1].legend(fontsize=7)
    fig.suptitle(f"Heat out of the hot lead: cumulants (finite modes, {modes.size - 1} lead "
                 f"modes) with Levitov–Lesovik slopes (dashed), and Σ(t) ≥ 0 (shaded: "
                 f"J$^Q_{{hot}}$ < 0 for $n_0$ = 1); ε = {cfg['level']:g}, γ = {lc['spectral_density']['gamma']:g},"
                 f" T$_{{hot}}$ = {lc['temperature']['hot']:g}, T$_{{cold}}$ = "
                 f"{lc['temperature']['cold']:g}", fontsize=9)
    fig.tight_layout()
    ds = xr.Dataset(
        {"cumulants": (("n0", "time", "order"), kappa),
         "cumulant_rates_at_t_max": (("n0", "order"), rates),
         "levitov_lesovik_rates": (("order",), ll),
         "entropy_production": (("n0", "time_graded"), sigma)},
        coords={"n0": [0.0, 1.0], "time": times, "order": np.arange(1, order + 1),
                "time_graded": t_graded})
    run.save(fig, ds)


if __name__ == "__main__":
    main()
