"""The ``jaxtransport demo`` command and its helpers."""

import numpy as np
import xarray as xr

import jaxtransport as jt
from jaxtransport.cli import _demo_systems, main
from jaxtransport.plot import reversal_windows


def test_reversal_windows_interpolates_crossings():
    t = np.linspace(0, 4 * np.pi, 4001)
    w = reversal_windows(t, np.sin(t))
    assert len(w) == 2
    np.testing.assert_allclose(w[0], (np.pi, 2 * np.pi), atol=1e-6)
    np.testing.assert_allclose(w[1], (3 * np.pi, 4 * np.pi), atol=1e-6)
    assert reversal_windows(t, np.cos(t) + 2.0) == []


def test_demo_writes_results_matching_the_library(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--t-max", "4", "--n-times", "41"]) == 0
    text = capsys.readouterr().out
    assert "J^Q_hot" in text and "steady state (Landauer)" in text
    assert (tmp_path / "demo_currents.png").stat().st_size > 10_000
    ds = xr.open_dataset(tmp_path / "demo_results.nc", engine="h5netcdf")
    name, model, state, _ = _demo_systems()[0]
    times = np.linspace(0, 4, 41)
    ref = jt.solve(model, state, times)
    np.testing.assert_allclose(ds[f"{name}_heat_current"].values, ref.heat_current, atol=1e-12)
    # the printed reversal windows are those of the saved hot-reservoir heat current
    windows = reversal_windows(times, ds[f"{name}_heat_current"].values[:, 0])
    assert windows and windows[0][0] < 0.5  # switch-on reversal at early times (physics.md §6)
    assert f"[{windows[0][0]:.2f}, {windows[0][1]:.2f}]" in text
