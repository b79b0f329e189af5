"""Reversal maps: depth and duration of the transient heat reversal of a single level.

Single level ε between a hot and a cold ``CutoffLorentzian`` lead, coupled at t = 0. Reversal:
J^Q_hot(t) < 0 (heat out of the cold lead into the hot one; currents are out of each lead).
Depth = max(0, −min_t J^Q_hot) [energy/ħ], duration = time with J^Q_hot < 0 [ħ/energy] on
[0, t_max]. Maps: (a–c) level energy ε × initial occupation n0 (stage 1 per ε, all n0 in one
stage-2 batch): depth, duration, and the preparation effect duration(n0) − duration(0) whose
zero contour (black) separates preparations that prolong the reversal from those that shorten
it; (d–f) ΔT = T_hot − T_cold × coupling strength γ for n0 = 0 and 1 (stage 1 per γ, all
T_hot in one batch) and their difference.

    python experiments/reversal_maps.py [--quick] [--config FILE] [--out DIR]
"""

import numpy as np
import xarray as xr
from _experiment import Run, axis, density

import jaxtransport as jt
from jaxtransport.plot import plot_map, reversal_map

DEFAULTS = {
    "leads": {"spectral_density": {"kind": "cutoff_lorentzian", "gamma": 0.5, "width": 2.0,
                                  "cutoff": 8.0},
              "temperature": {"hot": 1.5, "cold": 0.5}},
    "level": 1.0,
    "times": {"stop": 8.0, "num": 241},
    "method": {"tolerance": 1e-6},
    "level_map": {"eps": {"start": -3.0, "stop": 3.0, "num": 25, "log": False},
                  "n0": {"start": 0.0, "stop": 1.0, "num": 21, "log": False}},
    "coupling_map": {"gamma": {"start": 0.1, "stop": 2.0, "num": 15, "log": True},
                     "delta_t": {"start": 0.1, "stop": 2.0, "num": 20, "log": False}},
}


def main():
    run = Run("reversal_maps", __doc__, DEFAULTS)
    cfg, lead_cfg = run.config, run.config["leads"]
    times = cfg["times"]["stop"] * np.linspace(0.0, 1.0, cfg["times"]["num"]) ** 2  # graded

    sd, temp = lead_cfg["spectral_density"], lead_cfg["temperature"]

    def level(eps=cfg["level"], gamma=sd["gamma"]):
        lead = density({**sd, "gamma": gamma})
        return jt.Model([[eps]], (
            jt.Reservoir(lead, temperature=temp["hot"], coupling=[1.0]),
            jt.Reservoir(lead, temperature=temp["cold"], coupling=[1.0])))

    eps, n0 = axis(cfg["level_map"]["eps"]), axis(cfg["level_map"]["n0"])
    gam, dts = axis(cfg["coupling_map"]["gamma"]), axis(cfg["coupling_map"]["delta_t"])
    t_cold = temp["cold"]
    depth_a, dur_a = reversal_map(level, eps, times, n0[:, None, None],
                                  method=jt.Continuum(**cfg["method"]))
    temps = np.stack([t_cold + dts, np.full_like(dts, t_cold)], axis=-1)
    method_b = jt.Continuum(**cfg["method"],
                            temperature_range=(0.9 * t_cold, float(t_cold + dts.max())))
    prep = np.stack([np.zeros((1, 1)), np.ones((1, 1))])[:, None]
    depth_b, dur_b = reversal_map(lambda g: level(gamma=g), gam, times, prep,
                                  temperature=temps, method=method_b)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    lab_e, lab_n = "level energy ε  [energy]", "initial occupation $n_0$"
    plot_map(eps, n0, depth_a.T, ax=axes[0, 0], xlabel=lab_e, ylabel=lab_n,
             label="depth max(0, −min J$^Q_{hot}$)  [energy/ħ]", title="(a) reversal depth")
    plot_map(eps, n0, dur_a.T, ax=axes[0, 1], xlabel=lab_e, ylabel=lab_n,
             label="duration  [ħ/energy]", title="(b) reversal duration")
    plot_map(eps, n0, (dur_a - dur_a[:, :1]).T, ax=axes[0, 2], xlabel=lab_e, ylabel=lab_n,
             diverging=True, label="duration($n_0$) − duration(0)  [ħ/energy]",
             title="(c) preparation effect (black: no effect)")
    lab_t, lab_g = "ΔT = T$_{hot}$ − T$_{cold}$", "coupling strength γ  [energy]"
    for ax, i, tag in ((axes[1, 0], 0, "(d)"), (axes[1, 1], 1, "(e)")):
        plot_map(dts, gam, dur_b[:, i], ax=ax, xlabel=lab_t, ylabel=lab_g, ylog=True,
                 label="duration  [ħ/energy]",
                 title=f"{tag} duration, ε = {cfg['level']:g}, $n_0$ = {i}")
    plot_map(dts, gam, dur_b[:, 1] - dur_b[:, 0], ax=axes[1, 2], xlabel=lab_t, ylabel=lab_g,
             ylog=True, diverging=True, label="duration(1) − duration(0)  [ħ/energy]",
             title="(f) preparation effect, filled vs empty")
    fig.suptitle(f"Transient heat reversal of a level (T$_{{hot}}$ = {temp['hot']:g}, "
                 f"T$_{{cold}}$ = {t_cold:g}, W = {sd['width']:g}, γ = "
                 f"{sd['gamma']:g} in (a–c); t ≤ {times[-1]:g}; J$^Q$ out of each lead; "
                 "reversal: J$^Q_{hot}$ < 0)", fontsize=10)
    fig.tight_layout()
    ds = xr.Dataset(
        {"depth_level_map": (("eps", "n0"), depth_a),
         "duration_level_map": (("eps", "n0"), dur_a),
         "depth_coupling_map": (("gamma", "n0_", "delta_t"), depth_b),
         "duration_coupling_map": (("gamma", "n0_", "delta_t"), dur_b)},
        coords={"eps": eps, "n0": n0, "gamma": gam, "delta_t": dts, "n0_": [0.0, 1.0]})
    run.save(fig, ds)


if __name__ == "__main__":
    main()
