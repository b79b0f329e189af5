"""The command line (``jaxtransport demo | optimise | sweep``, ``python -m jaxtransport``) and
its helpers. The sweep subcommand's round trips live with the sweeps (tests/test_sweep.py),
its configuration errors with the bad inputs (tests/test_validation.py).

- ``jaxtransport demo``: the printed uphill window and heat equal a direct ``jt.solve`` of the
  same model and state (default method, not the demo's jt.Pade), and the saved NetCDF carries
  units, long names, Hamiltonians, couplings, temperatures, initial states and one error
  estimate per model.
- ``jaxtransport optimise CONFIG.toml``: outputs match the library; bad configs are named.
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import jaxtransport as jt
from jaxtransport import demo
from jaxtransport.cli import main
from jaxtransport.optimise.config import build, load, validate
from jaxtransport.plot import reversal_windows


def test_reversal_windows_interpolates_crossings():
    t = np.linspace(0, 4 * np.pi, 4001)
    w = reversal_windows(t, np.sin(t))
    assert len(w) == 2
    np.testing.assert_allclose(w[0], (np.pi, 2 * np.pi), atol=1e-6)
    np.testing.assert_allclose(w[1], (3 * np.pi, 4 * np.pi), atol=1e-6)
    assert reversal_windows(t, np.cos(t) + 2.0) == []


# ---- jaxtransport optimise CONFIG.toml ----
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


# ---- jaxtransport demo ----
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["demo", "--out", str(out), "--t-max", "6", "--n-times", "121"]) == 0
    return out, buf.getvalue()


def test_printed_window_and_heat_equal_a_direct_solve(run):
    out, text = run
    assert "stage 1" in text and "compile" in text and "total" in text  # progress + timing
    m = re.search(r"first uphill window \[([\d.]+), ([\d.]+)\]: heat moved uphill in it "
                  r"([\d.]+)", text)
    assert m, text
    a, b, q = (float(x) for x in m.groups())
    assert b - a > 0.5 and q > 0.01  # a genuine, non-empty cold-to-hot window
    times = 6.0 * np.linspace(0.0, 1.0, 121) ** 1.5
    ref = jt.solve(demo.two_site_model(), demo.uphill_preparation(), times)
    jq = np.asarray(ref.heat_current)
    flow = jt.thermodynamics.uphill_flow(ref)
    (a0, b0), q0 = flow.windows[0], flow.window_heat[0]
    assert (a, b, q) == pytest.approx((a0, b0, q0), abs=2e-6)
    # inside the window heat leaves the cold lead and enters the hot one
    inside = (times > a0) & (times < b0)
    assert np.all(jq[inside, 0] < 0) and np.all(jq[inside, 1] > 0)
    # the single level: J^Q_hot < 0 is printed, but no uphill window
    assert "no genuine uphill window" in text.split("[two_site]")[0]


def test_netcdf_is_self_describing(run):
    out, _ = run
    assert (out / "demo_uphill.png").stat().st_size > 20_000
    ds = xr.open_dataset(out / "demo_results.nc", engine="h5netcdf")
    for var in ds.data_vars:
        assert ds[var].attrs.get("units") is not None and ds[var].attrs.get("long_name"), var
    for name, model, c0, _ in demo.examples():
        np.testing.assert_array_equal(ds[f"{name}_hamiltonian_real"].values,
                                      np.asarray(model.hamiltonian).real)
        np.testing.assert_array_equal(ds[f"{name}_initial_correlation_imag"].values,
                                      np.asarray(c0).imag)
        np.testing.assert_array_equal(ds[f"{name}_temperature"].values, [1.5, 0.5])
        assert ds[f"{name}_coupling_real"].shape == (2, model.n_modes)
        assert ds[f"{name}_error_estimate"].ndim == 0
        assert 0 < float(ds[f"{name}_error_estimate"]) < 1e-6
    assert list(ds["reservoir"].values) == ["hot", "cold"]
