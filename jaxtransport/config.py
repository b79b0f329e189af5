"""TOML configuration files: model, times, method and sweep sections (read with tomllib).

One schema for ``jaxtransport sweep``, ``jaxtransport optimise`` and the experiments: the
sections [model], [[reservoirs]], [times] and [method] and the reservoir selectors ``hot`` /
``cold`` have the same names and meaning everywhere. Every table rejects unknown keys by name
(listing the allowed ones), old spellings by a message naming the new key (``density`` ->
``spectral_density``, ``reservoir`` -> ``hot``), and every value is type-checked by key (the
message names the key, the value and the expected type; nothing is truncated: ``hot = 0.7``
is an error, not reservoir 0). Example::

    [model]
    hamiltonian = [[0.3, 0.2], [0.2, -0.3]]   # real part; optional hamiltonian_imag
    statistics = "fermion"

    [[reservoirs]]
    name = "hot"       # optional label
    temperature = 1.5
    chemical_potential = 0.0
    coupling = [1.0, 0.0]
    spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0, center = 0.0 }
    # or { kind = "cutoff_lorentzian", gamma = ..., width = ..., cutoff = ..., center = ... }

    [times]
    stop = 20.0
    num = 401          # start = 0.0 by default

    [method]
    kind = "continuum" # tolerance = 1e-8, temperature_range, chemical_potential_range,
                       # max_refinements, strict; or kind = "discretised", n_modes, band,
                       # grid_scale, band_warning

    [sweep]
    kind = "grid"      # or "random" (num, seed, temperature_range, chemical_potential_range)
    observables = ["min_heat_current", "min_heat_current_time", "reversed_heat"]
    # also "conductance_g1", "conductance_g2", "conductance_g4", "conductance_g5" (hot vs
    # cold) and "heat_cumulants" (of the hot reservoir, orders cumulant_orders)
    hot = 0                      # reservoir index or name
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
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

# the sections shared by every TOML file of the project (sweep, optimise, experiments)
COMMON = {
    "model": {"hamiltonian", "hamiltonian_imag", "statistics"},
    "reservoirs": {"name", "temperature", "chemical_potential", "coupling", "coupling_imag",
                   "spectral_density"},
    "spectral_density:lorentzian": {"kind", "gamma", "width", "center"},
    "spectral_density:cutoff_lorentzian": {"kind", "gamma", "width", "cutoff", "center"},
    "times": {"start", "stop", "num"},
    "method:continuum": {"kind", "tolerance", "temperature_range", "chemical_potential_range",
                         "max_refinements", "strict"},
    "method:discretised": {"kind", "n_modes", "band", "grid_scale", "band_warning"},
}
_ALLOWED = {
    "": {"model", "reservoirs", "times", "method", "sweep", "run"},
    **COMMON,
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
# old spellings -> the key that replaced them (rejected with a message naming the new key)
RENAMED = {"density": "spectral_density", "reservoir": "hot"}
DENSITY_KINDS = ("lorentzian", "cutoff_lorentzian")
_MISSING = object()


class ConfigError(ValueError):
    """A configuration file is invalid (the message names the key and what is allowed)."""


def check_keys(table: dict, allowed, where: str) -> None:
    """Unknown keys of ``table`` are an error naming them and the allowed keys; a renamed key
    names its replacement."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table, got {table!r} ({type(table).__name__}).")
    allowed = set(allowed)
    for old, new in RENAMED.items():
        if old in table and old not in allowed and new in allowed:
            raise ConfigError(f"[{where}] key {old!r} was renamed: write {new} = ... (the same "
                              "names in sweep, optimise and experiment configs).")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} in [{where}]; "
                          f"allowed: {', '.join(sorted(allowed))}.")


def _check_keys(table: dict, kind: str, where: str) -> None:
    check_keys(table, _ALLOWED[kind], where)


# ---- typed values (the message names the key, the value and the expected type) ----------
def _get(table, key, where, default):
    if key in table:
        return table[key]
    if default is _MISSING:
        raise ConfigError(f"[{where}] needs the key {key!r}.")
    return default


def _bad(where, key, value, expected):
    return ConfigError(f"{where}.{key} must be {expected}, got {value!r} "
                       f"({type(value).__name__}).")


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def get_int(table, key, where, default=_MISSING, *, minimum=None):
    """An integer (never a truncated float or a bool)."""
    v = _get(table, key, where, default)
    if v is default and default is not _MISSING:
        return v
    expected = "an integer" + ("" if minimum is None else f" >= {minimum}")
    if not isinstance(v, int) or isinstance(v, bool) or (minimum is not None and v < minimum):
        raise _bad(where, key, v, expected)
    return v


def get_float(table, key, where, default=_MISSING, *, positive=False, minimum=None):
    """A finite real number (integers allowed), optionally > 0 or >= minimum."""
    v = _get(table, key, where, default)
    if v is default and default is not _MISSING:
        return v
    expected = "a finite number" + (" > 0" if positive else "") + (
        "" if minimum is None else f" >= {minimum:g}")
    if (not _is_number(v) or not math.isfinite(v) or (positive and v <= 0)
            or (minimum is not None and v < minimum)):
        raise _bad(where, key, v, expected)
    return float(v)


def get_floats(table, key, where, default=_MISSING, *, shape=None) -> np.ndarray:
    """A (nested) list of finite numbers as a float array, optionally of ``shape``."""
    v = _get(table, key, where, default)
    if v is default and default is not _MISSING:
        return v
    expected = "a list of finite numbers" + ("" if shape is None else f" of shape {shape}")

    def ok(x):
        return all(ok(y) for y in x) if isinstance(x, list) else (
            _is_number(x) and math.isfinite(x))
    if not isinstance(v, list) or not ok(v):
        raise _bad(where, key, v, expected)
    try:
        a = np.asarray(v, dtype=float)
    except ValueError:  # ragged
        raise _bad(where, key, v, expected + " (rectangular)") from None
    if shape is not None and a.shape != tuple(shape):
        raise ConfigError(f"{where}.{key} must have shape {tuple(shape)}, got {v!r} (shape "
                          f"{a.shape}).")
    return a


def get_bool(table, key, where, default=_MISSING) -> bool:
    v = _get(table, key, where, default)
    if not isinstance(v, bool):
        raise _bad(where, key, v, "true or false")
    return v


def get_choice(table, key, where, choices, default=_MISSING) -> str:
    v = _get(table, key, where, default)
    if v not in choices:
        raise _bad(where, key, v, "one of " + ", ".join(map(repr, choices)))
    return v


def get_reservoir(table, key, where, names, default=_MISSING) -> int:
    """A reservoir selector: an index in [0, M) or the ``name`` of a reservoir."""
    v = _get(table, key, where, default)
    if isinstance(v, str):
        if v not in names:
            raise _bad(where, key, v, f"a reservoir index or one of the names {names}")
        return names.index(v)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < len(names):
        raise _bad(where, key, v, f"a reservoir index in [0, {len(names)}) or one of the "
                                  f"names {names}")
    return v


def reservoir_names(cfg: dict) -> list[str]:
    return [str(r.get("name", f"r{k}")) if isinstance(r, dict) else f"r{k}"
            for k, r in enumerate(cfg.get("reservoirs", []))]


def load(path) -> tuple[dict, str]:
    """Parse and validate a TOML file; returns (config dict, its text)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found.")
    return loads(path.read_text(), str(path)), path.read_text()


def loads(text: str, where: str = "config") -> dict:
    """Parse and validate TOML text."""
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML: {err}") from None
    validate(cfg)
    return cfg


def validate_common(cfg: dict) -> None:
    """The shared sections: [model], [[reservoirs]], [times], [method] (keys and types)."""
    for need in ("model", "reservoirs", "times"):
        if need not in cfg:
            raise ConfigError(f"missing [{need}] section.")
    check_keys(cfg["model"], COMMON["model"], "model")
    h = get_floats(cfg["model"], "hamiltonian", "model")
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] < 1:
        raise ConfigError(f"model.hamiltonian must be a square n x n matrix, got shape "
                          f"{h.shape}.")
    n = h.shape[0]
    if "hamiltonian_imag" in cfg["model"]:
        get_floats(cfg["model"], "hamiltonian_imag", "model", shape=(n, n))
    get_choice(cfg["model"], "statistics", "model", ("fermion", "boson"), "fermion")
    if not isinstance(cfg["reservoirs"], list) or not cfg["reservoirs"]:
        raise ConfigError("[[reservoirs]] must be a non-empty array of tables.")
    for i, r in enumerate(cfg["reservoirs"]):
        where = f"reservoirs[{i}]"
        check_keys(r, COMMON["reservoirs"], where)
        if "name" in r and not isinstance(r["name"], str):
            raise _bad(where, "name", r["name"], "a string")
        get_float(r, "temperature", where, positive=True)
        get_float(r, "chemical_potential", where, 0.0)
        get_floats(r, "coupling", where, shape=(n,))
        if "coupling_imag" in r:
            get_floats(r, "coupling_imag", where, shape=(n,))
        dens = _get(r, "spectral_density", where, _MISSING)
        dw = f"{where}.spectral_density"
        if not isinstance(dens, dict):
            raise _bad(where, "spectral_density", dens, "a table { kind = ..., ... }")
        kind = get_choice(dens, "kind", dw, DENSITY_KINDS, "lorentzian")
        check_keys(dens, COMMON[f"spectral_density:{kind}"], dw)
        for k in ("gamma", "width") + (("cutoff",) if kind == "cutoff_lorentzian" else ()):
            get_float(dens, k, dw, positive=k != "gamma", minimum=0.0 if k == "gamma" else None)
        get_float(dens, "center", dw, 0.0)
    t = cfg["times"]
    check_keys(t, COMMON["times"], "times")
    start = get_float(t, "start", "times", 0.0, minimum=0.0)
    stop = get_float(t, "stop", "times")
    get_int(t, "num", "times", minimum=2)
    if not stop > start:
        raise ConfigError(f"times.stop must be > times.start, got stop = {stop!r}, start = "
                          f"{start!r}.")
    method = cfg.get("method", {})
    if not isinstance(method, dict):
        raise ConfigError(f"[method] must be a table, got {method!r}.")
    kind = get_choice(method, "kind", "method", ("continuum", "discretised"), "continuum")
    check_keys(method, COMMON[f"method:{kind}"], "method")
    if kind == "continuum":
        get_float(method, "tolerance", "method", 1e-8, positive=True)
        get_int(method, "max_refinements", "method", 2, minimum=0)
        get_bool(method, "strict", "method", False)
        for k in ("temperature_range", "chemical_potential_range"):
            if k in method:
                get_floats(method, k, "method", shape=(2,))
    else:
        _discretised_keys(method, "method")


def _discretised_keys(table, where):
    get_int(table, "n_modes", where, minimum=1)
    if "band" in table:
        get_float(table, "band", where, positive=True)
    if "grid_scale" in table:
        get_float(table, "grid_scale", where, positive=True)
    if "band_warning" in table:
        get_float(table, "band_warning", where, positive=True)


def validate(cfg: dict) -> None:
    """Keys and value types of a sweep config (shared sections + [sweep] and [run])."""
    _check_keys(cfg, "", "top level")
    validate_common(cfg)
    names = reservoir_names(cfg)
    if "sweep" in cfg:
        sw = cfg["sweep"]
        if not isinstance(sw, dict):
            raise ConfigError(f"[sweep] must be a table, got {sw!r}.")
        kind = get_choice(sw, "kind", "sweep", ("grid", "random"), "grid")
        _check_keys(sw, f"sweep:{kind}", "sweep")
        if "observables" in sw:
            obs = sw["observables"]
            if not isinstance(obs, list) or not all(isinstance(o, str) for o in obs):
                raise _bad("sweep", "observables", obs, "a list of observable names")
        get_reservoir(sw, "hot", "sweep", names, 0)
        if "cold" in sw:
            get_reservoir(sw, "cold", "sweep", names)
        get_int(sw, "time_stride", "sweep", 1, minimum=1)
        if "cumulant_orders" in sw:
            v = sw["cumulant_orders"]
            if not isinstance(v, list) or not all(isinstance(k, int) and not isinstance(k, bool)
                                                  and k >= 1 for k in v):
                raise _bad("sweep", "cumulant_orders", v, "a list of integers >= 1")
        get_bool(sw, "currents_only", "sweep", False)
        if kind == "random":
            get_int(sw, "num", "sweep", 1000, minimum=1)
            get_int(sw, "seed", "sweep", 0)
            for k in ("temperature_range", "chemical_potential_range"):
                if k in sw:
                    get_floats(sw, k, "sweep", shape=(len(names), 2))
        for axis in ("temperature", "chemical_potential", "parameters"):
            table = sw.get(axis, {})
            if not isinstance(table, dict):
                raise _bad("sweep", axis, table, "a table of axis values")
            for k, v in table.items():
                if axis != "parameters":
                    _axis_key(k, names, axis)
                _values(v, f"sweep.{axis}.{k}")
        if "initial_states" in sw:
            st = sw["initial_states"]
            _check_keys(st, "initial_states", "sweep.initial_states")
            if "occupations" in st:
                get_floats(st, "occupations", "sweep.initial_states")
            get_int(st, "random", "sweep.initial_states", 0, minimum=0)
            get_int(st, "seed", "sweep.initial_states", 0)
        if "cumulant_method" in sw and sw["cumulant_method"] != "continuum":
            _check_keys(sw["cumulant_method"], "cumulant_method", "sweep.cumulant_method")
            _discretised_keys(sw["cumulant_method"], "sweep.cumulant_method")
    if "run" in cfg:
        _check_keys(cfg["run"], "run", "run")
        get_int(cfg["run"], "chunk_size", "run", None, minimum=1)
        get_float(cfg["run"], "memory_budget_mb", "run", 2000.0, positive=True)


def _values(v, where):
    """Axis values: a list of numbers or a {start, stop, num} range (num >= 1 integer)."""
    if isinstance(v, dict):
        _check_keys(v, "range", where)
        start = get_float(v, "start", where)
        stop = get_float(v, "stop", where)
        return np.linspace(start, stop, get_int(v, "num", where, minimum=1))
    if _is_number(v):
        v = [v]
    key = where.rsplit(".", 1)
    return get_floats({key[-1]: v}, key[-1], key[0])


def build_density(d: dict):
    import jaxtransport as jt

    d = dict(d)
    kind = d.pop("kind", "lorentzian")
    return jt.Lorentzian(**d) if kind == "lorentzian" else jt.CutoffLorentzian(**d)


def build_model(cfg: dict):
    """A ``jt.Model`` from the [model] and [[reservoirs]] sections."""
    import jaxtransport as jt

    m = cfg["model"]
    h = np.asarray(m["hamiltonian"], dtype=complex)
    if "hamiltonian_imag" in m:
        h = h + 1j * np.asarray(m["hamiltonian_imag"], dtype=float)
    res = []
    for r in cfg["reservoirs"]:
        v = np.asarray(r["coupling"], dtype=complex)
        if "coupling_imag" in r:
            v = v + 1j * np.asarray(r["coupling_imag"], dtype=float)
        res.append(jt.Reservoir(build_density(r["spectral_density"]),
                                temperature=r["temperature"],
                                chemical_potential=r.get("chemical_potential", 0.0),
                                coupling=v, name=r.get("name")))
    return jt.Model(h, tuple(res), statistics=m.get("statistics", "fermion"))


def build_times(cfg: dict) -> np.ndarray:
    t = cfg["times"]
    return np.linspace(float(t.get("start", 0.0)), float(t["stop"]), int(t["num"]))


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


def _axis_key(k, names, axis):
    """A [sweep.temperature] / [sweep.chemical_potential] key: a reservoir index or name."""
    return get_reservoir({str(k): int(k) if str(k).isdigit() else str(k)}, str(k),
                         f"sweep.{axis}", names)


def build_sweep(cfg: dict):
    """A ``jt.sweep.Sweep`` from the whole config."""
    from .sweep import DEFAULT_OBSERVABLES, Sweep, random_states

    if "sweep" not in cfg:
        raise ConfigError("missing [sweep] section.")
    model, times, method = build_model(cfg), build_times(cfg), build_method(cfg)
    sw = cfg["sweep"]
    from .response.discretised import Discretised
    from .sweep.spec import DEFAULT_CUMULANT_ORDERS

    names = reservoir_names(cfg)
    common = dict(observables=tuple(sw.get("observables", DEFAULT_OBSERVABLES)),
                  hot=get_reservoir(sw, "hot", "sweep", names, 0),
                  time_stride=int(sw.get("time_stride", 1)), method=method,
                  cold=None if "cold" not in sw else get_reservoir(sw, "cold", "sweep", names),
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
    temps = {_axis_key(k, names, "temperature"): _values(v, f"sweep.temperature.{k}")
             for k, v in sw.get("temperature", {}).items()}
    mus = {_axis_key(k, names, "chemical_potential"): _values(v, f"sweep.chemical_potential.{k}")
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
