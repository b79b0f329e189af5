"""``jaxtransport optimise CONFIG.toml``: outputs match the library; bad configs are named."""

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import jaxtransport as jt
from jaxtransport.cli import main
from jaxtransport.optimise.config import build, load, validate

CONFIG = """
[model]
hamiltonian = [[0.3, 0.2], [0.2, -0.3]]

[[reservoirs]]
name = "hot"
temperature = 1.5
coupling = [1.0, 0.0]
spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0 }

[[reservoirs]]
name = "cold"
temperature = 0.5
coupling = [0.0, 1.0]
spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0, center = 0.5 }

[times]
stop = 3.0
num = 16

[method]
tolerance = 1e-5

[objective]
kind = "heat_current_at"
time = 0.6
hot = 0

[optimiser]
name = "adam"
steps = 300
n_starts = 4
"""


def test_cli_optimise_writes_results_matching_the_library(tmp_path, capsys):
    cfg = tmp_path / "opt.toml"
    cfg.write_text(CONFIG)
    assert main(["optimise", str(cfg), "--no-progress"]) == 0
    out = tmp_path / "opt_optimise"
    text = capsys.readouterr().out
    assert "analytic optimum" in text
    summary = json.loads((out / "summary.json").read_text())
    # independent: the analytic optimum of this linear objective from the library
    model, times, method, objective, *_ = build(validate(load(cfg)))
    lin = jt.optimal_linear_preparation(model, times, objective, method=method)
    assert summary["value"] == pytest.approx(float(lin.value), rel=1e-6)
    assert summary["certificate"]["relative_error"] <= 1e-6
    ev = np.asarray(summary["occupation_spectrum"])
    assert ev.min() >= -1e-12 and ev.max() <= 1 + 1e-12
    assert summary["reference_value"] > summary["value"]
    ds = xr.open_dataset(out / "optimise_results.nc", engine="h5netcdf")
    c = np.asarray(summary["correlation_real"]) + 1j * np.asarray(summary["correlation_imag"])
    ref = jt.solve(model, c, times, method=method)
    np.testing.assert_allclose(ds["best_heat_current"].values, ref.heat_current, atol=1e-8)
    assert ds["objective"].dims == ("opt_step", "opt_start")
    assert (out / "optimise_currents.png").stat().st_size > 10_000
    # the resolved config round-trips and reproduces the same objects
    again = load(out / "config.resolved.toml")
    assert again["objective"] == validate(load(cfg))["objective"]


def _write(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "edit, message",
    [
        (("[optimiser]", "[optimiser]\nlearnin_rate = 0.1"), r"unknown key\(s\) 'learnin_rate' in \[optimiser\]"),  # noqa: E501
        (("[times]", "[times]\nsteps = 3"), r"unknown key\(s\) 'steps' in \[times\]"),
        (("name = \"hot\"", "name = \"hot\"\ncolour = 1"), r"unknown key\(s\) 'colour' in \[reservoirs\[0\]\]"),  # noqa: E501
        (("coupling = [1.0, 0.0]", "coupling = [1.0, 0.0, 0.0]"),
         r"reservoirs\[0\].coupling must have shape \(2,\)"),
        (("hamiltonian = [[0.3, 0.2], [0.2, -0.3]]", "hamiltonian = [0.3, 0.2]"),
         "square n x n"),
        (("kind = \"heat_current_at\"", "kind = \"heat_current_at\"\nwindow = [0, 1]"),
         r"unknown key\(s\) 'window' in \[objective \(heat_current_at\)\]"),
        (("kind = \"heat_current_at\"", "kind = \"largest_reversal\""), "objective.kind must be one of"),  # noqa: E501
        (("temperature = 1.5", "temperature = -1.5"), r"reservoirs\[0\].temperature must be a finite number > 0"),  # noqa: E501
        (("name = \"adam\"", "name = \"sgd\""), "optimiser.name must be"),
    ],
)
def test_bad_config_is_rejected_by_name(tmp_path, edit, message):
    p = _write(tmp_path, CONFIG.replace(*edit, 1))
    with pytest.raises(ValueError, match=message):
        load(p)


@pytest.mark.parametrize(
    "table, message",
    [
        ("[model_parameters]\ntemperature = [[-1.0, 2.0], \"fixed\"]",
         r"model_parameters.temperature\[0\] bounds must be > 0"),
        ("[model_parameters]\ntemperature = [[1.6, 2.0], \"fixed\"]",
         r"the model's value 1.5 must lie strictly inside the bounds \(1.6, 2\)"),
        ("[model_parameters]\ntemperature = [[2.0, 1.0], \"fixed\"]", "lo < hi"),
        ("[model_parameters]\ntemperature = [[1.0, 2.0]]", "one entry per reservoir \\(2\\)"),
    ],
)
def test_unphysical_bounds_rejected(tmp_path, table, message):
    p = _write(tmp_path, CONFIG + table + "\n")
    model, times, method, objective, par, kwargs, _ = build(load(p))
    with pytest.raises(ValueError, match=message):
        jt.optimise_preparation(model, times, objective, par, method=method, **kwargs)


def test_cli_reports_config_errors_cleanly(tmp_path):
    p = _write(tmp_path, CONFIG.replace("[optimiser]", "[optimiser]\nbogus = 1"))
    r = subprocess.run([sys.executable, "-m", "jaxtransport", "optimise", str(p)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown key(s) 'bogus' in [optimiser]" in r.stderr
    assert "Traceback" not in r.stderr
