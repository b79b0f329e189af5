"""TOML configuration of ``jaxtransport optimise CONFIG.toml`` (parsing and validation only).

Every table rejects unknown keys by name. Layout (all energies in the units of h, ħ = k_B = 1):

```toml
[model]
hamiltonian = [[0.3, 0.2], [0.2, -0.3]]   # real part; optional hamiltonian_imag
[[reservoirs]]                            # one table per reservoir (currents OUT OF each)
name = "hot"
temperature = 1.5
chemical_potential = 0.0
coupling = [1.0, 0.0]                     # optional coupling_imag
spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0, center = 0.0 }
[times]
start = 0.0
stop = 10.0
num = 201
[method]                                  # optional: jt.Continuum options
tolerance = 1e-6
[objective]
kind = "smooth_min_heat_current"          # see OBJECTIVE_KINDS
window = [0.0, 5.0]
reservoir = 0
smoothing = 0.01
[parametrisation]                         # optional, default kind = "gaussian"
kind = "gaussian"                         # gaussian | slater | thermal
[optimiser]                               # optional
name = "adam"                             # adam | lbfgs
steps = 300
n_starts = 8
seed = 0
[model_parameters]                        # optional; per entry [lo, hi] or "fixed"
temperature = [[1.2, 1.8], "fixed"]
[reference]                               # optional reference preparation for the plot
kind = "thermal"                          # thermal (at `temperature`) | occupations
temperature = 1.5
```
"""

from __future__ import annotations

import numpy as np

OBJECTIVE_KINDS = {
    "heat_current_at": ("time", "reservoir"),
    "min_heat_current": ("window", "reservoir", "smoothing"),
    "smooth_min_heat_current": ("window", "reservoir", "smoothing"),
    "min_symmetric_heat_current": ("window", "reservoir", "smoothing"),
    "integrated_heat": ("window", "reservoir"),
    "reversed_heat": ("window", "reservoir", "smoothing"),
    "reversal_duration": ("window", "reservoir", "smoothing"),
    "min_conductance_g1": ("window", "hot", "cold", "smoothing"),
    "uphill_heat": ("window", "smoothing"),
    "uphill_duration": ("window", "smoothing"),
}
PARAMETRISATION_KINDS = {
    "gaussian": ("particle_number", "energy"),
    "slater": ("n_particles",),
    "thermal": ("temperature", "chemical_potential"),
}
TOP = ("model", "reservoirs", "times", "method", "objective", "parametrisation", "optimiser",
       "model_parameters", "reference", "output")
KEYS = {
    "model": ("hamiltonian", "hamiltonian_imag", "statistics"),
    "reservoir": ("name", "temperature", "chemical_potential", "coupling", "coupling_imag",
                  "spectral_density"),
    "spectral_density": ("kind", "gamma", "width", "center"),
    "times": ("start", "stop", "num"),
    "method": ("tolerance", "temperature_range", "chemical_potential_range"),
    "optimiser": ("name", "learning_rate", "steps", "n_starts", "seed", "tolerance",
                  "check_every"),
    "model_parameters": ("temperature", "chemical_potential", "level_energies", "hoppings",
                         "coupling_strengths"),
    "reference": ("kind", "temperature", "chemical_potential", "occupations"),
    "output": ("dir",),
}


def _keys(table, allowed, where):
    if not isinstance(table, dict):
        raise ValueError(f"[{where}] must be a table, got {type(table).__name__}.")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown key(s) {unknown} in [{where}]; allowed keys: {sorted(allowed)}."
        )


def _need(table, key, where):
    if key not in table:
        raise ValueError(f"[{where}] needs the key {key!r}.")
    return table[key]


def _num(x, where, *, positive=False, integer=False):
    ok = isinstance(x, int | float) and not isinstance(x, bool)
    if integer:
        ok = isinstance(x, int) and not isinstance(x, bool)
    if not ok or not np.isfinite(x) or (positive and x <= 0):
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{where} must be {kind}{' > 0' if positive else ''}, got {x!r}.")
    return x


def _matrix(x, where, shape=None):
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a numeric array, got {x!r}.") from None
    if shape is not None and a.shape != shape:
        raise ValueError(f"{where} must have shape {shape}, got {a.shape}.")
    return a


def validate(cfg: dict) -> dict:
    """Check names, types and shapes; return the config with defaults filled in (resolved)."""
    _keys(cfg, TOP, "top level")
    out = {}
    m = _need(cfg, "model", "top level")
    _keys(m, KEYS["model"], "model")
    h = _matrix(_need(m, "hamiltonian", "model"), "model.hamiltonian")
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] < 1:
        raise ValueError(f"model.hamiltonian must be a square n x n matrix, got shape {h.shape}.")
    n = h.shape[0]
    out["model"] = {"hamiltonian": h.tolist(), "statistics": m.get("statistics", "fermion")}
    if "hamiltonian_imag" in m:
        out["model"]["hamiltonian_imag"] = _matrix(m["hamiltonian_imag"],
                                                   "model.hamiltonian_imag", (n, n)).tolist()
    res = _need(cfg, "reservoirs", "top level")
    if not isinstance(res, list) or not res:
        raise ValueError("[[reservoirs]] must be a non-empty array of tables.")
    out["reservoirs"] = []
    for k, r in enumerate(res):
        where = f"reservoirs[{k}]"
        _keys(r, KEYS["reservoir"], where)
        sd = _need(r, "spectral_density", where)
        _keys(sd, KEYS["spectral_density"], f"{where}.spectral_density")
        if sd.get("kind", "lorentzian") != "lorentzian":
            raise ValueError(f"{where}.spectral_density.kind must be 'lorentzian', got "
                             f"{sd.get('kind')!r}.")
        rr = {
            "name": str(r.get("name", f"r{k}")),
            "temperature": _num(_need(r, "temperature", where), f"{where}.temperature",
                                positive=True),
            "chemical_potential": _num(r.get("chemical_potential", 0.0),
                                       f"{where}.chemical_potential"),
            "coupling": _matrix(_need(r, "coupling", where), f"{where}.coupling", (n,)).tolist(),
            "spectral_density": {
                "kind": "lorentzian",
                "gamma": _num(_need(sd, "gamma", f"{where}.spectral_density"),
                              f"{where}.spectral_density.gamma", positive=True),
                "width": _num(_need(sd, "width", f"{where}.spectral_density"),
                              f"{where}.spectral_density.width", positive=True),
                "center": _num(sd.get("center", 0.0), f"{where}.spectral_density.center"),
            },
        }
        if "coupling_imag" in r:
            rr["coupling_imag"] = _matrix(r["coupling_imag"], f"{where}.coupling_imag",
                                          (n,)).tolist()
        out["reservoirs"].append(rr)
    t = _need(cfg, "times", "top level")
    _keys(t, KEYS["times"], "times")
    out["times"] = {"start": _num(t.get("start", 0.0), "times.start"),
                    "stop": _num(_need(t, "stop", "times"), "times.stop", positive=True),
                    "num": _num(_need(t, "num", "times"), "times.num", integer=True)}
    if out["times"]["num"] < 2 or out["times"]["stop"] <= out["times"]["start"]:
        raise ValueError("times needs num >= 2 and stop > start.")
    meth = cfg.get("method", {})
    _keys(meth, KEYS["method"], "method")
    out["method"] = {"tolerance": _num(meth.get("tolerance", 1e-6), "method.tolerance",
                                       positive=True)}
    for key in ("temperature_range", "chemical_potential_range"):
        if key in meth:
            out["method"][key] = _matrix(meth[key], f"method.{key}", (2,)).tolist()
    obj = _need(cfg, "objective", "top level")
    kind = _need(obj, "kind", "objective")
    if kind not in OBJECTIVE_KINDS:
        raise ValueError(f"objective.kind must be one of {sorted(OBJECTIVE_KINDS)}, got {kind!r}.")
    _keys(obj, ("kind",) + OBJECTIVE_KINDS[kind], f"objective ({kind})")
    out["objective"] = dict(obj)
    if "window" in obj:
        out["objective"]["window"] = _matrix(obj["window"], "objective.window", (2,)).tolist()
    par = cfg.get("parametrisation", {"kind": "gaussian"})
    pk = par.get("kind", "gaussian")
    if pk not in PARAMETRISATION_KINDS:
        raise ValueError(f"parametrisation.kind must be one of {sorted(PARAMETRISATION_KINDS)}, "
                         f"got {pk!r}.")
    _keys(par, ("kind",) + PARAMETRISATION_KINDS[pk], f"parametrisation ({pk})")
    out["parametrisation"] = {"kind": pk, **{k: v for k, v in par.items() if k != "kind"}}
    if pk == "slater" and "n_particles" not in par:
        raise ValueError("[parametrisation] kind = 'slater' needs the key 'n_particles'.")
    if pk == "thermal" and "temperature" not in par:
        raise ValueError("[parametrisation] kind = 'thermal' needs temperature = [lo, hi].")
    opt = cfg.get("optimiser", {})
    _keys(opt, KEYS["optimiser"], "optimiser")
    name = opt.get("name", "adam")
    if name not in ("adam", "lbfgs"):
        raise ValueError(f"optimiser.name must be 'adam' or 'lbfgs', got {name!r}.")
    out["optimiser"] = {
        "name": name,
        "steps": _num(opt.get("steps", 300), "optimiser.steps", positive=True, integer=True),
        "n_starts": _num(opt.get("n_starts", 8), "optimiser.n_starts", positive=True,
                         integer=True),
        "seed": _num(opt.get("seed", 0), "optimiser.seed", integer=True),
        "tolerance": _num(opt.get("tolerance", 1e-10), "optimiser.tolerance"),
        "check_every": _num(opt.get("check_every", 10), "optimiser.check_every", positive=True,
                            integer=True),
    }
    if "learning_rate" in opt:
        out["optimiser"]["learning_rate"] = _num(opt["learning_rate"], "optimiser.learning_rate",
                                                 positive=True)
    mp = cfg.get("model_parameters", {})
    _keys(mp, KEYS["model_parameters"], "model_parameters")
    out["model_parameters"] = {}
    for key, spec in mp.items():
        if not isinstance(spec, list):
            raise ValueError(f"model_parameters.{key} must be a list of [lo, hi] or \"fixed\".")
        for j, b in enumerate(spec):
            if not (b == "fixed" or (isinstance(b, list) and len(b) == 2)):
                raise ValueError(
                    f"model_parameters.{key}[{j}] must be [lo, hi] or \"fixed\", got {b!r}.")
        out["model_parameters"][key] = spec
    ref = cfg.get("reference", {"kind": "thermal"})
    _keys(ref, KEYS["reference"], "reference")
    rk = ref.get("kind", "thermal")
    if rk not in ("thermal", "occupations"):
        raise ValueError(f"reference.kind must be 'thermal' or 'occupations', got {rk!r}.")
    out["reference"] = {"kind": rk}
    if rk == "thermal":
        out["reference"]["temperature"] = _num(
            ref.get("temperature", out["reservoirs"][0]["temperature"]),
            "reference.temperature", positive=True)
        out["reference"]["chemical_potential"] = _num(ref.get("chemical_potential", 0.0),
                                                      "reference.chemical_potential")
    else:
        occ = _matrix(_need(ref, "occupations", "reference"), "reference.occupations", (n,))
        if occ.min() < 0 or occ.max() > 1:
            raise ValueError(f"reference.occupations must lie in [0, 1], got {occ.tolist()}.")
        out["reference"]["occupations"] = occ.tolist()
    outp = cfg.get("output", {})
    _keys(outp, KEYS["output"], "output")
    if "dir" in outp:
        out["output"] = {"dir": str(outp["dir"])}
    return out


def build(cfg: dict):
    """(model, times, method, objective, parametrisation, optimiser kwargs, reference C0)
    from a validated config."""
    import jaxtransport as jt

    from .optimiser import ModelParameters

    m = cfg["model"]
    h = np.asarray(m["hamiltonian"], float)
    if "hamiltonian_imag" in m:
        h = h + 1j * np.asarray(m["hamiltonian_imag"], float)
    reservoirs = []
    for r in cfg["reservoirs"]:
        sd = r["spectral_density"]
        v = np.asarray(r["coupling"], float)
        if "coupling_imag" in r:
            v = v + 1j * np.asarray(r["coupling_imag"], float)
        reservoirs.append(jt.Reservoir(jt.Lorentzian(sd["gamma"], sd["width"], sd["center"]),
                                       temperature=r["temperature"],
                                       chemical_potential=r["chemical_potential"], coupling=v))
    model = jt.Model(h, reservoirs, statistics=m["statistics"])
    t = cfg["times"]
    times = np.linspace(t["start"], t["stop"], t["num"])
    meth = cfg["method"]
    method = jt.Continuum(
        tolerance=meth["tolerance"],
        temperature_range=tuple(meth["temperature_range"]) if "temperature_range" in meth
        else None,
        chemical_potential_range=tuple(meth["chemical_potential_range"])
        if "chemical_potential_range" in meth else None,
    )
    o = dict(cfg["objective"])
    kind = o.pop("kind")
    if "window" in o:
        o["window"] = tuple(o["window"])
    cls = {
        "heat_current_at": jt.HeatCurrentAt,
        "min_heat_current": jt.MinHeatCurrent,
        "smooth_min_heat_current": jt.SmoothMinHeatCurrent,
        "min_symmetric_heat_current": jt.MinSymmetricHeatCurrent,
        "integrated_heat": jt.IntegratedHeat,
        "reversed_heat": jt.ReversedHeat,
        "reversal_duration": jt.ReversalDuration,
        "min_conductance_g1": jt.MinConductanceG1,
        "uphill_heat": jt.UphillHeat,
        "uphill_duration": jt.UphillDuration,
    }[kind]
    objective = cls(**o)
    p = dict(cfg["parametrisation"])
    pk = p.pop("kind")
    if pk == "gaussian":
        par = jt.FermionicGaussian(model.n_modes, hamiltonian=h if "energy" in p else None, **p)
    elif pk == "slater":
        par = jt.SlaterDeterminant(model.n_modes, p["n_particles"])
    else:
        par = jt.ThermalState(h, temperature=tuple(p["temperature"]),
                              chemical_potential=p.get("chemical_potential", 0.0))
    opt = dict(cfg["optimiser"])
    kwargs = {"optimiser": opt.pop("name"), "key": opt.pop("seed"), **opt}
    mp = {k: [None if b == "fixed" else tuple(b) for b in v]
          for k, v in cfg["model_parameters"].items()}
    if mp:
        kwargs["model_parameters"] = ModelParameters(**mp)
    ref = cfg["reference"]
    if ref["kind"] == "thermal":
        c_ref = jt.GaussianState.thermal(h, ref["temperature"], ref["chemical_potential"])
    else:
        c_ref = jt.GaussianState(np.diag(ref["occupations"]))
    return model, times, method, objective, par, kwargs, c_ref


def dumps(cfg: dict) -> str:
    """A TOML string of a resolved config (tables, arrays of tables, numbers, strings, arrays)."""

    def val(x):
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, int):
            return str(x)
        if isinstance(x, float):
            return repr(x)
        if isinstance(x, str):
            return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(x, list | tuple):
            return "[" + ", ".join(val(v) for v in x) + "]"
        if isinstance(x, dict):
            return "{ " + ", ".join(f"{k} = {val(v)}" for k, v in x.items()) + " }"
        raise TypeError(f"cannot write {type(x).__name__} to TOML")

    lines = []
    for key, table in cfg.items():
        if isinstance(table, list):
            for item in table:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {val(v)}" for k, v in item.items()]
                lines.append("")
        else:
            lines.append(f"[{key}]")
            lines += [f"{k} = {val(v)}" for k, v in table.items()]
            lines.append("")
    return "\n".join(lines)


def load(path) -> dict:
    """Read and validate a TOML config (raises ValueError naming the problem)."""
    import tomllib

    with open(path, "rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: invalid TOML: {err}") from None
    return validate(raw)


def run(path, out=None, progress=None) -> dict:
    """``jaxtransport optimise``: optimise, then write next to the resolved config
    (``config.resolved.toml``): ``optimise_results.nc`` (history, best and reference
    solutions), ``optimise_currents.png`` and ``summary.json``. Returns the summary."""
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    import jaxtransport as jt
    from jaxtransport.plot import plot_currents, reversal_windows

    path = Path(path)
    cfg = load(path)
    if out is None:
        out = Path(cfg.get("output", {}).get("dir", path.parent / f"{path.stem}_optimise"))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg.setdefault("output", {})["dir"] = str(out)
    model, times, method, objective, par, kwargs, ref_state = build(cfg)
    tmp = out / "config.resolved.toml.tmp"
    tmp.write_text(dumps(cfg))
    tmp.replace(out / "config.resolved.toml")

    res = jt.optimise_preparation(model, times, objective, par, method=method,
                                  progress=progress, **kwargs)
    ref_sol = res.response.evaluate(ref_state, res.temperature, res.chemical_potential)
    names = [r["name"] for r in cfg["reservoirs"]]
    hot = int(cfg["objective"].get("hot", cfg["objective"].get("reservoir", 0)))
    jq = np.asarray(res.solution.heat_current)
    summary = {
        "config": str(path),
        "objective": cfg["objective"],
        "value": res.value,
        "reference_value": float(objective(ref_sol)),
        "start_values": res.start_values.tolist(),
        "converged": res.converged,
        "convergence": res.convergence,
        "n_steps": res.n_steps,
        "n_traces": res.n_traces,
        "correlation_real": np.asarray(res.correlation).real.tolist(),
        "correlation_imag": np.asarray(res.correlation).imag.tolist(),
        "occupation_spectrum": np.linalg.eigvalsh(res.correlation).tolist(),
        "model_parameters": res.model_parameters,
        "reversal_windows": reversal_windows(times, jq[:, hot]),
        "certificate": res.certificate,
        "constraint_violation": res.constraint_violation,
        "convention": "objective minimised; currents OUT OF each reservoir; hbar = k_B = 1",
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    best = res.solution.to_xarray(names)
    refd = ref_sol.to_xarray(names)
    ds = xr.merge([best.rename({v: f"best_{v}" for v in best.data_vars}),
                   refd.rename({v: f"reference_{v}" for v in refd.data_vars}),
                   res.history.rename({"step": "opt_step", "start": "opt_start"})],
                  compat="override", combine_attrs="override")
    ds.attrs.update({"objective_value": res.value, "config": dumps(cfg)})
    ds.to_netcdf(out / "optimise_results.nc", engine="h5netcdf")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    plot_currents(res.solution, ax=axes[0], reservoir_names=names, hot=hot,
                  title=f"optimised preparation: objective {res.value:.6g} "
                        f"(shaded: J^Q_{names[hot]} < 0)")
    plot_currents(ref_sol, ax=axes[1], reservoir_names=names, hot=hot,
                  title=f"reference ({cfg['reference']['kind']}): objective "
                        f"{summary['reference_value']:.6g}")
    lo = min(axes[0].get_ylim()[0], axes[1].get_ylim()[0])
    hi = max(axes[0].get_ylim()[1], axes[1].get_ylim()[1])
    for ax in axes[:2]:
        ax.set_ylim(lo, hi)
    hist = res.history
    for s in hist.start.values:
        axes[2].plot(hist.step, hist.objective.sel(start=s), lw=0.7, alpha=0.6)
    axes[2].plot(hist.step, hist.best_objective, "k", lw=1.5, label="best so far")
    axes[2].set_xlabel("optimiser step")
    axes[2].set_ylabel(f"objective ({cfg['objective']['kind']}, minimised)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "optimise_currents.png", dpi=110)
    plt.close(fig)
    print(f"best objective {res.value:.10g} (reference preparation "
          f"{summary['reference_value']:.10g}); {res.n_steps} steps, converged={res.converged}")
    print(f"  {res.convergence}")
    if res.certificate is not None:
        print(f"analytic optimum {res.certificate['analytic_value']:.10g} (relative error "
              f"{res.certificate['relative_error']:.2e})")
    print(f"wrote {out / 'config.resolved.toml'}, optimise_results.nc, optimise_currents.png, "
          "summary.json")
    return summary
