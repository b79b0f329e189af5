"""TOML configuration of ``jaxtransport optimise CONFIG.toml`` (parsing and validation only).

The [model], [[reservoirs]], [times] and [method] sections and the reservoir selectors
``hot``/``cold`` are those of every jaxtransport TOML file (``jaxtransport.config``: one
schema for sweeps, optimisation and experiments). Every table rejects unknown keys by name
(old spellings by a message naming the new key) and every value is type-checked by key.
Layout (all energies in the units of h, ħ = k_B = 1):

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
hot = "hot"                               # the reservoir whose heat current: index or name
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

from ..config import (
    ConfigError,
    build_method,
    build_model,
    build_times,
    check_keys,
    get_float,
    get_floats,
    get_int,
    get_reservoir,
    reservoir_names,
    validate_common,
)

# objective kind -> its keys; ``hot`` (and ``cold``) select reservoirs as in [sweep] (the
# objective classes' ``reservoir=`` argument is ``hot`` here)
OBJECTIVE_KINDS = {
    "heat_current_at": ("time", "hot"),
    "min_heat_current": ("window", "hot", "smoothing"),
    "smooth_min_heat_current": ("window", "hot", "smoothing"),
    "min_symmetric_heat_current": ("window", "hot", "smoothing"),
    "integrated_heat": ("window", "hot"),
    "reversed_heat": ("window", "hot", "smoothing"),
    "reversal_duration": ("window", "hot", "smoothing"),
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
    "optimiser": ("name", "learning_rate", "steps", "n_starts", "seed", "tolerance",
                  "check_every"),
    "model_parameters": ("temperature", "chemical_potential", "level_energies", "hoppings",
                         "coupling_strengths"),
    "reference": ("kind", "temperature", "chemical_potential", "occupations"),
    "output": ("dir",),
}


def _keys(table, allowed, where):
    check_keys(table, allowed, where)


def _need(table, key, where):
    if key not in table:
        raise ConfigError(f"[{where}] needs the key {key!r}.")
    return table[key]


def _num(x, where, *, positive=False, integer=False):
    table, key = where.rsplit(".", 1)
    if integer:
        return get_int({key: x}, key, table, minimum=1 if positive else None)
    return get_float({key: x}, key, table, positive=positive)


def _matrix(x, where, shape=None):
    table, key = where.rsplit(".", 1)
    return get_floats({key: x}, key, table, shape=shape)


def validate(cfg: dict) -> dict:
    """Check names, types and shapes; return the config with defaults filled in (resolved)."""
    _keys(cfg, TOP, "top level")
    validate_common(cfg)
    out = {}
    m = cfg["model"]
    n = len(m["hamiltonian"])
    out["model"] = {"hamiltonian": _matrix(m["hamiltonian"], "model.hamiltonian").tolist(),
                    "statistics": m.get("statistics", "fermion")}
    if "hamiltonian_imag" in m:
        out["model"]["hamiltonian_imag"] = _matrix(m["hamiltonian_imag"],
                                                   "model.hamiltonian_imag", (n, n)).tolist()
    names = reservoir_names(cfg)
    out["reservoirs"] = []
    for k, r in enumerate(cfg["reservoirs"]):
        sd = dict(r["spectral_density"])
        sd.setdefault("kind", "lorentzian")
        sd.setdefault("center", 0.0)
        rr = {"name": names[k], "temperature": float(r["temperature"]),
              "chemical_potential": float(r.get("chemical_potential", 0.0)),
              "coupling": _matrix(r["coupling"], f"reservoirs[{k}].coupling", (n,)).tolist(),
              "spectral_density": {key: (float(v) if key != "kind" else v)
                                   for key, v in sd.items()}}
        if "coupling_imag" in r:
            rr["coupling_imag"] = _matrix(r["coupling_imag"], f"reservoirs[{k}].coupling_imag",
                                          (n,)).tolist()
        out["reservoirs"].append(rr)
    t = cfg["times"]
    out["times"] = {"start": float(t.get("start", 0.0)), "stop": float(t["stop"]),
                    "num": int(t["num"])}
    meth = dict(cfg.get("method", {}))
    if meth.get("kind", "continuum") != "continuum":
        raise ConfigError("[method] kind must be 'continuum' for optimise (gradients through "
                          f"the exact continuum), got {meth['kind']!r}.")
    meth.pop("kind", None)
    meth.setdefault("tolerance", 1e-6)
    out["method"] = {k: (list(map(float, v)) if isinstance(v, list) else v)
                     for k, v in meth.items()}
    obj = _need(cfg, "objective", "top level")
    kind = _need(obj, "kind", "objective")
    if kind not in OBJECTIVE_KINDS:
        raise ValueError(f"objective.kind must be one of {sorted(OBJECTIVE_KINDS)}, got {kind!r}.")
    _keys(obj, ("kind",) + OBJECTIVE_KINDS[kind], f"objective ({kind})")
    out["objective"] = dict(obj)
    for key in ("hot", "cold"):
        if key in obj:
            out["objective"][key] = get_reservoir(obj, key, "objective", names)
    for key in ("smoothing", "time"):
        if key in obj:
            out["objective"][key] = get_float(obj, key, "objective", minimum=0.0)
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

    model, times, method = build_model(cfg), build_times(cfg), build_method(cfg)
    h = np.asarray(model.hamiltonian)
    o = dict(cfg["objective"])
    kind = o.pop("kind")
    if kind != "min_conductance_g1" and "hot" in o:
        o["reservoir"] = o.pop("hot")  # the objective classes' name for it
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
    from pathlib import Path

    if not Path(path).is_file():
        raise ConfigError(f"config file {path} not found.")
    with open(path, "rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: invalid TOML: {err}") from None
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
    hot = int(cfg["objective"].get("hot", 0))
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
