"""TOML configuration files: model, times, method and sweep sections (read with tomllib).

Every table rejects unknown keys by name (listing the allowed ones). Example::

    [model]
    hamiltonian = [[0.3, 0.2], [0.2, -0.3]]   # real part; optional hamiltonian_imag
    statistics = "fermion"

    [[reservoirs]]
    temperature = 1.5
    chemical_potential = 0.0
    coupling = [1.0, 0.0]
    density = { kind = "lorentzian", gamma = 0.5, width = 2.0, center = 0.0 }
    # or { kind = "cutoff_lorentzian", gamma = ..., width = ..., cutoff = ..., center = ... }

    [times]
    stop = 20.0
    num = 401          # start = 0.0 by default

    [method]
    kind = "continuum" # tolerance = 1e-8; or kind = "discretised", n_modes, band, grid_scale,
                       # band_warning

    [sweep]
    kind = "grid"      # or "random" (num, seed, temperature_range, chemical_potential_range)
    observables = ["min_heat_current", "min_heat_current_time", "reversed_heat"]
    # also "conductance_g1", "conductance_g2", "conductance_g4", "conductance_g5" (hot vs
    # cold) and "heat_cumulants" (of the hot reservoir, orders cumulant_orders)
    hot = 0
    cold = 1                     # conductances: the reservoir compared with hot
    cumulant_orders = [2, 3, 4]
    currents_only = false        # true: currents-only stage 1 (large systems; no occupation)
    [sweep.cumulant_method]      # finite reservoirs for heat_cumulants (default: [method] if
    n_modes = 100                # it is discretised); also band, grid_scale, band_warning
                                 # (or cumulant_method = "continuum" under [sweep]: the
                                 # pole-sum leads themselves, jaxtransport.fcs_continuum)
    [sweep.temperature]          # reservoir index -> list of values or {start, stop, num}
    "0" = { start = 0.5, stop = 2.0, num = 16 }
    [sweep.initial_states]       # occupation vectors and/or random states
    occupations = [[1.0, 0.0], [0.0, 1.0]]
    [sweep.parameters]           # model-parameter axes (stage 1 per value)
    "hamiltonian.0.0" = [0.0, 0.5]

    [run]
    chunk_size = 1000            # or memory_budget_mb = 2000
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

_ALLOWED = {
    "": {"model", "reservoirs", "times", "method", "sweep", "run"},
    "model": {"hamiltonian", "hamiltonian_imag", "statistics"},
    "reservoirs": {"temperature", "chemical_potential", "coupling", "coupling_imag", "density"},
    "density:lorentzian": {"kind", "gamma", "width", "center"},
    "density:cutoff_lorentzian": {"kind", "gamma", "width", "cutoff", "center"},
    "times": {"start", "stop", "num"},
    "method:continuum": {"kind", "tolerance", "temperature_range", "chemical_potential_range"},
    "method:discretised": {"kind", "n_modes", "band", "grid_scale", "band_warning"},
    "sweep:grid": {"kind", "observables", "hot", "time_stride", "temperature",
                   "chemical_potential", "initial_states", "parameters", "cold",
                   "cumulant_orders", "cumulant_method", "currents_only"},
    "sweep:random": {"kind", "observables", "hot", "time_stride", "num", "seed",
                     "temperature_range", "chemical_potential_range", "cold",
                     "cumulant_orders", "cumulant_method", "currents_only"},
    "cumulant_method": {"n_modes", "band", "grid_scale", "band_warning"},
    "initial_states": {"occupations", "random", "seed"},
    "run": {"chunk_size", "memory_budget_mb"},
    "range": {"start", "stop", "num"},
}


class ConfigError(ValueError):
    """A configuration file is invalid (the message names the key and what is allowed)."""


def _check_keys(table: dict, kind: str, where: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table, got {type(table).__name__}.")
    unknown = sorted(set(table) - _ALLOWED[kind])
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} in [{where}]; "
                          f"allowed: {', '.join(sorted(_ALLOWED[kind]))}.")


def load(path) -> tuple[dict, str]:
    """Parse and validate a TOML file; returns (config dict, its text)."""
    text = Path(path).read_text()
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    validate(cfg)
    return cfg, text


def validate(cfg: dict) -> None:
    _check_keys(cfg, "", "top level")
    for need in ("model", "reservoirs", "times"):
        if need not in cfg:
            raise ConfigError(f"missing [{need}] section.")
    _check_keys(cfg["model"], "model", "model")
    if not isinstance(cfg["reservoirs"], list) or not cfg["reservoirs"]:
        raise ConfigError("[[reservoirs]] must be a non-empty array of tables.")
    for i, r in enumerate(cfg["reservoirs"]):
        _check_keys(r, "reservoirs", f"reservoirs[{i}]")
        dens = r.get("density")
        if not isinstance(dens, dict) or dens.get("kind") not in ("lorentzian",
                                                                  "cutoff_lorentzian"):
            raise ConfigError(f"reservoirs[{i}].density must be a table with kind = "
                              "'lorentzian' or 'cutoff_lorentzian'.")
        _check_keys(dens, f"density:{dens['kind']}", f"reservoirs[{i}].density")
    _check_keys(cfg["times"], "times", "times")
    method = cfg.get("method", {"kind": "continuum"})
    if method.get("kind", "continuum") not in ("continuum", "discretised"):
        raise ConfigError("[method] kind must be 'continuum' or 'discretised', got "
                          f"{method.get('kind')!r}.")
    _check_keys(method, f"method:{method.get('kind', 'continuum')}", "method")
    if "sweep" in cfg:
        sw = cfg["sweep"]
        kind = sw.get("kind", "grid")
        if kind not in ("grid", "random"):
            raise ConfigError(f"[sweep] kind must be 'grid' or 'random', got {kind!r}.")
        _check_keys(sw, f"sweep:{kind}", "sweep")
        if "initial_states" in sw:
            _check_keys(sw["initial_states"], "initial_states", "sweep.initial_states")
        if "cumulant_method" in sw and sw["cumulant_method"] != "continuum":
            _check_keys(sw["cumulant_method"], "cumulant_method", "sweep.cumulant_method")
    if "run" in cfg:
        _check_keys(cfg["run"], "run", "run")


def _values(v, where):
    if isinstance(v, dict):
        _check_keys(v, "range", where)
        try:
            return np.linspace(float(v["start"]), float(v["stop"]), int(v["num"]))
        except KeyError as err:
            raise ConfigError(f"[{where}] range needs start, stop and num (missing "
                              f"{err}).") from None
    return np.atleast_1d(np.asarray(v, dtype=float))


def build_model(cfg: dict):
    """A ``jt.Model`` from the [model] and [[reservoirs]] sections."""
    import jaxtransport as jt

    m = cfg["model"]
    h = np.asarray(m["hamiltonian"], dtype=complex)
    if "hamiltonian_imag" in m:
        h = h + 1j * np.asarray(m["hamiltonian_imag"], dtype=float)
    res = []
    for r in cfg["reservoirs"]:
        d = dict(r["density"])
        kind = d.pop("kind")
        dens = jt.Lorentzian(**d) if kind == "lorentzian" else jt.CutoffLorentzian(**d)
        v = np.asarray(r["coupling"], dtype=complex)
        if "coupling_imag" in r:
            v = v + 1j * np.asarray(r["coupling_imag"], dtype=float)
        res.append(jt.Reservoir(dens, temperature=r["temperature"],
                                chemical_potential=r.get("chemical_potential", 0.0),
                                coupling=v))
    return jt.Model(h, tuple(res), statistics=m.get("statistics", "fermion"))


def build_times(cfg: dict) -> np.ndarray:
    t = cfg["times"]
    try:
        return np.linspace(float(t.get("start", 0.0)), float(t["stop"]), int(t["num"]))
    except KeyError as err:
        raise ConfigError(f"[times] needs stop and num (missing {err}).") from None


def build_method(cfg: dict):
    import jaxtransport as jt

    m = dict(cfg.get("method", {}))
    kind = m.pop("kind", "continuum")
    if kind == "continuum":
        for k in ("temperature_range", "chemical_potential_range"):
            if k in m:
                m[k] = tuple(float(x) for x in m[k])
        return jt.Continuum(**m)
    return jt.Discretised(**m)


def set_path(cfg: dict, path: str, value: float) -> dict:
    """A copy of ``cfg`` with the dotted ``path`` (e.g. 'hamiltonian.0.1',
    'reservoirs.0.density.gamma') set to ``value`` (h_ij also sets h_ji: Hermitian)."""
    out = copy.deepcopy(cfg)
    keys = path.split(".")
    root = out["model"] if keys[0] in ("hamiltonian", "hamiltonian_imag") else out
    node: Any = root
    try:
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            if last not in node:
                raise KeyError(last)
            node[last] = value
    except (KeyError, IndexError, ValueError, TypeError):
        raise ConfigError(f"sweep parameter {path!r} does not name a number in the config "
                          "(e.g. 'hamiltonian.0.1', 'reservoirs.0.density.gamma', "
                          "'reservoirs.1.temperature').") from None
    if keys[0] in ("hamiltonian", "hamiltonian_imag") and len(keys) == 3 and keys[1] != keys[2]:
        sign = -1.0 if keys[0] == "hamiltonian_imag" else 1.0
        root[keys[0]][int(keys[2])][int(keys[1])] = sign * value
    return out


def _flag(value, name):
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}.")
    return value


def build_sweep(cfg: dict):
    """A ``jt.sweep.Sweep`` from the whole config."""
    from .sweep import DEFAULT_OBSERVABLES, Sweep, random_states

    if "sweep" not in cfg:
        raise ConfigError("missing [sweep] section.")
    model, times, method = build_model(cfg), build_times(cfg), build_method(cfg)
    sw = cfg["sweep"]
    from .response.discretised import Discretised
    from .sweep.spec import DEFAULT_CUMULANT_ORDERS

    common = dict(observables=tuple(sw.get("observables", DEFAULT_OBSERVABLES)),
                  hot=int(sw.get("hot", 0)), time_stride=int(sw.get("time_stride", 1)),
                  method=method, cold=None if "cold" not in sw else int(sw["cold"]),
                  cumulant_orders=tuple(sw.get("cumulant_orders", DEFAULT_CUMULANT_ORDERS)),
                  cumulant_method=("continuum" if sw.get("cumulant_method") == "continuum"
                                   else Discretised(**sw["cumulant_method"])
                                   if "cumulant_method" in sw else None),
                  currents_only=_flag(sw.get("currents_only", False), "sweep.currents_only"))
    if sw.get("kind", "grid") == "random":
        return Sweep.random(model, times, int(sw.get("num", 1000)), seed=int(sw.get("seed", 0)),
                            temperature_range=sw.get("temperature_range"),
                            chemical_potential_range=sw.get("chemical_potential_range"),
                            **common)
    temps = {int(k): _values(v, f"sweep.temperature.{k}")
             for k, v in sw.get("temperature", {}).items()}
    mus = {int(k): _values(v, f"sweep.chemical_potential.{k}")
           for k, v in sw.get("chemical_potential", {}).items()}
    states = None
    st = sw.get("initial_states")
    if st:
        n = model.n_modes
        mats = [np.diag(np.asarray(o, dtype=float)) for o in st.get("occupations", [])]
        if any(m.shape != (n, n) for m in mats):
            raise ConfigError(f"sweep.initial_states.occupations entries need {n} values.")
        if st.get("random"):
            mats += list(random_states(n, int(st["random"]),
                                       np.random.default_rng(int(st.get("seed", 0)))))
        states = np.asarray(mats, dtype=complex)
    params = {str(k): _values(v, f"sweep.parameters.{k}")
              for k, v in sw.get("parameters", {}).items()}
    for k in params:  # fail early on a bad path
        set_path(cfg, k, float(params[k][0]))

    def model_fn(**values):
        c = cfg
        for k, v in values.items():
            c = set_path(c, k, v)
        return build_model(c)

    return Sweep.grid(model, times, temperature=temps, chemical_potential=mus,
                      initial_states=states, parameters=params,
                      model_fn=model_fn if params else None, **common)
