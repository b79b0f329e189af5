"""``jaxtransport demo``: the printed uphill window and heat equal a direct ``jt.solve`` of the
same model and state (default method, not the demo's jt.Pade), and the saved NetCDF carries
units, long names, Hamiltonians, couplings, temperatures, initial states and one error
estimate per model."""

import re

import numpy as np
import pytest
import xarray as xr

import jaxtransport as jt
from jaxtransport import demo
from jaxtransport.cli import main


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
