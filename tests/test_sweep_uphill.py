"""Sweeps: the uphill observables follow each configuration's temperature order, the summary
refuses configurations where the 'hot' reservoir is not the hottest, and the initial states
are stored as matrices."""

import numpy as np
import pytest

import jaxtransport as jt
from jaxtransport import demo
from jaxtransport.sweep import Sweep, run_sweep

TIMES = np.linspace(0.0, 4.0, 41)
METHOD = jt.Continuum(tolerance=1e-6)


def test_uphill_observables_follow_each_configurations_temperatures(tmp_path):
    model = demo.two_site_model()
    num = 6
    temp = np.array([[1.5, 0.5], [0.5, 1.5], [1.0, 1.0], [2.0, 0.3], [0.3, 2.0], [1.2, 0.6]])
    c0 = np.stack([demo.uphill_preparation(), demo.uphill_preparation(), np.eye(2) * 0.5,
                   demo.uphill_preparation(), demo.uphill_preparation().conj(),
                   np.diag([1.0, 0.0])])
    spec = Sweep.samples(model, TIMES, temperature=temp, initial_states=c0, method=METHOD,
                         observables=("uphill_heat", "uphill_duration", "heat_current",
                                      "min_heat_current"))
    res = run_sweep(spec, tmp_path / "s.zarr", chunk_size=4, progress=False)
    ds = res.open().load()
    jq = ds["heat_current"].values  # (sample, time, reservoir)
    assert jq.shape == (num, TIMES.size, 2)
    for i in range(num):
        hot, cold = (0, 1) if temp[i, 0] > temp[i, 1] else (1, 0)
        r = np.maximum(0.0, np.minimum(-jq[i, :, hot], jq[i, :, cold]))
        if temp[i, 0] == temp[i, 1]:
            r[:] = 0.0
        assert ds["uphill_heat"].values[i] == pytest.approx(np.trapezoid(r, TIMES), abs=1e-14)
        flow = jt.uphill_flow(times=TIMES, heat_current=jq[i], temperature=temp[i])
        # linear interpolation of the signed margin vs the exact interpolant: O(dt) at edges
        assert ds["uphill_duration"].values[i] == pytest.approx(flow.duration, abs=0.02)
    q = ds["uphill_heat"].values
    assert q[0] > 0.01 and q[2] == 0.0
    assert res.best["uphill_heat"] == pytest.approx(q.max())
    # the inputs are stored: initial states as matrices, per-sample temperatures
    stored = ds["initial_correlation_real"].values + 1j * ds["initial_correlation_imag"].values
    np.testing.assert_array_equal(stored, c0)
    np.testing.assert_array_equal(ds["temperature"].values, temp)


def test_summary_leaves_out_configurations_where_hot_is_not_the_hottest(tmp_path, capsys):
    model = demo.two_site_model()
    spec = Sweep.grid(model, TIMES, temperature={0: [0.3, 1.5]},
                      initial_states=np.stack([np.eye(2), demo.uphill_preparation()]),
                      method=METHOD)
    res = run_sweep(spec, tmp_path / "g.zarr", progress=True)
    printed = capsys.readouterr()
    assert "stage 1 (kernels)" in printed.out + printed.err and "compilation" in printed.out
    ds = res.open().load()
    assert res.best["temperature_0"] == 1.5 and res.best["excluded"] == 2
    assert res.best["min_heat_current"] == pytest.approx(
        float(ds["min_heat_current"].values[1].min()))
    stored = ds["initial_correlation_imag"].values
    np.testing.assert_array_equal(stored[1], demo.uphill_preparation().imag)
    # Reservoir(..., name=...) labels the reservoir coordinate of the store
    assert list(ds["reservoir"].values) == ["hot", "cold"] == model.reservoir_names


def test_reservoir_names_are_checked():
    lead = jt.Lorentzian(0.5, 2.0)
    with pytest.raises(ValueError, match="non-empty string"):
        jt.Reservoir(lead, coupling=[1.0], name="")
    twice = jt.Model([[0.0]], (jt.Reservoir(lead, coupling=[1.0], name="a"),
                               jt.Reservoir(lead, coupling=[1.0], name="a")))
    with pytest.raises(ValueError, match="distinct"):
        twice.reservoir_names
    assert jt.Model([[0.0]], (jt.Reservoir(lead, coupling=[1.0]),)).reservoir_names == ["r0"]
