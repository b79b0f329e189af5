"""Shared plumbing of the experiment scripts: command line, TOML configs, output files.

Each experiment ``experiments/<name>.py`` reads ``experiments/configs/<name>.toml`` (tomllib):
the top-level tables hold the full run's parameters, an optional ``[quick]`` table overrides
some of them for ``--quick`` (a run of under a minute on CPU). Every key must also exist in
the script's ``DEFAULTS`` (unknown keys are rejected by name, so a typo cannot silently fall
back to a default). The names are those of every jaxtransport TOML file
(``jaxtransport.config``: ``spectral_density`` tables, ``temperature``, ``[method]``
``tolerance``, ``[objective]`` ``smoothing``, ``[cumulant_method]``); old spellings are
rejected by a message naming the new key. Outputs:

- full run: ``experiments/figures/<name>.png`` (committed, shown in the README) and ``.pdf``;
- ``--quick``: ``experiments/results/quick/<name>.png`` / ``.pdf`` (not committed);
- data: ``experiments/results/<name>[_quick].nc`` (NetCDF via xarray, with the resolved
  config, runtime and environment in its attributes; not committed).

Units ħ = k_B = 1; every current is **out of** its reservoir.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import tomllib
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
RESULTS = HERE / "results"
CONFIGS = HERE / "configs"

sys.path.insert(0, str(HERE / "benchmarks"))
from _common import bench, env_info  # noqa: E402, F401  (re-exported to the experiments)


# old experiment-config spellings -> their names in the shared schema
RENAMED = {"tolerance": "[method] tolerance", "t_hot": "temperature = { hot = ... }",
           "t_cold": "temperature = { cold = ... }", "discretisation": "[cumulant_method]",
           "gamma": "spectral_density = { gamma = ... }",
           "width": "spectral_density = { width = ... }",
           "cutoff": "spectral_density = { cutoff = ... }"}


def density(table: dict):
    """A spectral density from a ``spectral_density`` table (as in sweep/optimise configs)."""
    from jaxtransport.config import build_density

    return build_density(table)


def merge(defaults: dict, override: dict, where: str = "") -> dict:
    """``defaults`` updated by ``override`` (recursively); keys unknown to ``defaults`` raise
    (a renamed key by a message naming its new name)."""
    out = copy.deepcopy(defaults)
    for key, value in override.items():
        name = f"{where}.{key}" if where else key
        if key not in defaults and key in RENAMED:
            raise ValueError(f"config key {name!r} was renamed: write {RENAMED[key]} (the same "
                             "names in sweep, optimise and experiment configs).")
        if key not in defaults:
            raise ValueError(f"unknown config key {name!r}; allowed here: "
                             f"{sorted(defaults)}")
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"config key {name!r} must be a table.")
            out[key] = merge(defaults[key], value, name)
        else:
            out[key] = value
    return out


def load_config(name: str, defaults: dict, path: str | None, quick: bool) -> dict:
    """The resolved configuration: ``defaults`` ← config file ← its ``[quick]`` table."""
    path = Path(path) if path else CONFIGS / f"{name}.toml"
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    quick_table = raw.pop("quick", {})
    cfg = merge(defaults, raw)
    if quick:
        cfg = merge(cfg, quick_table, "quick")
    return cfg


def parse_args(doc: str):
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced run (< 1 min on CPU)")
    ap.add_argument("--config", help="TOML config (default: experiments/configs/<name>.toml)")
    ap.add_argument("--out", help="output directory for figure and data (default: see module)")
    return ap.parse_args()


class Run:
    """One experiment run: resolved config, timer, and where its outputs go."""

    def __init__(self, name: str, doc: str, defaults: dict):
        args = parse_args(doc)
        self.name, self.quick = name, args.quick
        self.config = load_config(name, defaults, args.config, args.quick)
        out = Path(args.out) if args.out else None
        self.figure_dir = out or (RESULTS / "quick" if self.quick else FIGURES)
        self.data_dir = out or RESULTS
        self.t0 = time.perf_counter()

    def save(self, fig, dataset) -> list[Path]:
        """Write the figure (PNG + PDF) and the dataset (NetCDF); print what was written."""
        from jaxtransport.plot import save_figure

        runtime = time.perf_counter() - self.t0
        paths = save_figure(fig, self.figure_dir / self.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        nc = self.data_dir / f"{self.name}{'_quick' if self.quick else ''}.nc"
        dataset.attrs.update({
            "experiment": self.name, "quick": int(self.quick),
            "config": json.dumps(self.config), "runtime_s": runtime,
            "environment": json.dumps(env_info()),
            "units": "hbar = k_B = 1; currents OUT OF each reservoir",
        })
        dataset.to_netcdf(nc, engine="h5netcdf")
        paths.append(nc)
        print(f"{self.name}: {runtime:.1f} s" + "".join(f"\n  wrote {p}" for p in paths))
        return paths


def axis(spec) -> np.ndarray:
    """A grid from a list of values or a table {start, stop, num, log}."""
    if isinstance(spec, dict):
        fn = np.geomspace if spec.get("log", False) else np.linspace
        return fn(spec["start"], spec["stop"], int(spec["num"]))
    return np.asarray(spec, float)
