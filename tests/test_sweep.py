"""Sweeps: grid/sample results vs per-configuration evaluate, sharding, crash safety, CLI."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from systems import coherent_c0_2, two_site

import jaxtransport as jt
from jaxtransport.sweep import Sweep, run_sweep

TIMES = np.linspace(0.0, 5.0, 21)
METHOD = jt.Continuum(tolerance=1e-6)
ALL = ("min_heat_current", "min_heat_current_time", "reversed_heat", "final_heat_current",
       "heat_current", "particle_current", "coupling_energy", "occupation")


@pytest.fixture(scope="module")
def grid_spec():
    c0s = np.stack([coherent_c0_2(), np.diag([1.0, 0.0]), 0.5 * np.eye(2)])
    return Sweep.grid(two_site(), TIMES, temperature={0: [1.0, 1.5, 2.0], 1: [0.3, 0.5]},
                      chemical_potential={0: [0.0, 0.2]}, initial_states=c0s,
                      observables=ALL, method=METHOD)


@pytest.fixture(scope="module")
def grid_result(grid_spec, tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "g.zarr"
    res = run_sweep(grid_spec, path, chunk_size=12, progress=False)
    return res, xr.open_zarr(path, consolidated=False).load()


def _reference(resp, c0, temp, mu):
    """Independent per-configuration values: evaluate + numpy reductions."""
    sol = resp.evaluate(c0, jnp.asarray(temp), jnp.asarray(mu))
    jq = np.asarray(sol.heat_current)[:, 0]
    neg = np.maximum(-jq, 0.0)
    return {
        "min_heat_current": jq.min(), "min_heat_current_time": TIMES[np.argmin(jq)],
        "reversed_heat": np.trapezoid(neg, TIMES), "final_heat_current": jq[-1],
        "heat_current": np.asarray(sol.heat_current),
        "particle_current": np.asarray(sol.particle_current),
        "coupling_energy": np.asarray(sol.coupling_energy),
        "occupation": np.asarray(sol.occupation),
    }


def test_grid_matches_per_configuration_evaluate(grid_spec, grid_result):
    res, ds = grid_result
    assert res.n_configurations == 36 and res.n_chunks == 3
    assert (ds.status.values == 0).all()
    resp = jt.response(grid_spec.model, TIMES, grid_spec.method_for(grid_spec.model))
    worst = 0.0
    for i, th in enumerate([1.0, 1.5, 2.0]):
        for j, tc in enumerate([0.3, 0.5]):
            for k, mu in enumerate([0.0, 0.2]):
                for s in range(3):
                    ref = _reference(resp, grid_spec.initial_states[s], [th, tc], [mu, 0.0])
                    for name, val in ref.items():
                        got = ds[name].values[i, j, k, s]
                        worst = max(worst, float(np.max(np.abs(got - val))))
    assert worst < 1e-12, worst
    # the summary: most negative hot-reservoir heat current and where
    flat = np.argmin(ds.min_heat_current.values)
    assert res.best["min_heat_current"] == pytest.approx(ds.min_heat_current.values.ravel()[flat])


def test_samples_match_loop_and_sharding(tmp_path):
    """Random samples (37: not a multiple of the 4 devices), full traces: sharded over 4 CPU
    devices == one device == per-configuration evaluate."""
    assert jax.default_backend() != "cpu" or len(jax.devices()) == 4
    spec = Sweep.random(two_site(), TIMES, 37, seed=3, observables=ALL, method=METHOD)
    one = run_sweep(spec, tmp_path / "one.zarr", chunk_size=10, devices=jax.devices()[:1],
                    progress=False).open().load()
    many = run_sweep(spec, tmp_path / "many.zarr", chunk_size=10, progress=False).open().load()
    resp = jt.response(spec.model, TIMES, spec.method_for(spec.model))
    for name in ALL:
        np.testing.assert_allclose(many[name].values, one[name].values, rtol=0, atol=1e-12)
    for i in (0, 17, 36):
        ref = _reference(resp, spec.initial_states[i], spec.temperature["all"][i],
                         spec.chemical_potential["all"][i])
        for name, val in ref.items():
            np.testing.assert_allclose(many[name].values[i], val, rtol=0, atol=1e-12)
        # and a per-configuration jt.solve (a model with these temperatures, same method)
        model = jt.Model(two_site().hamiltonian, tuple(
            jt.Reservoir(r.terms[0][0], temperature=t, coupling=r.terms[0][1])
            for r, t in zip(two_site().reservoirs, spec.temperature["all"][i], strict=True)))
        sol = jt.solve(model, spec.initial_states[i], TIMES, method=spec.method_for(model))
        np.testing.assert_allclose(many["heat_current"].values[i], sol.heat_current, rtol=0,
                                   atol=1e-12)


def test_model_parameter_axis_records_failures(tmp_path):
    def model_fn(gamma):
        return two_site(gamma=gamma)  # gamma < 0 is rejected by the model layer

    spec = Sweep.grid(two_site(), TIMES, parameters={"gamma": [0.5, -1.0, 0.3]},
                      model_fn=model_fn, temperature={1: [0.4, 0.6]},
                      observables=("min_heat_current", "heat_current"), method=METHOD)
    ds = run_sweep(spec, tmp_path / "p.zarr", chunk_size=2, progress=False).open().load()
    assert (ds.status.values[1] == 2).all() and np.isnan(ds.heat_current.values[1]).all()
    assert (ds.status.values[[0, 2]] == 0).all()
    for p, g in ((0, 0.5), (2, 0.3)):  # an independent stage 1 (its own plan): to 1e-6
        sol = jt.response(two_site(gamma=g), TIMES, METHOD).evaluate(
            np.zeros((2, 2)), jnp.array([1.5, 0.6]), jnp.array([0.0, 0.0]))
        np.testing.assert_allclose(ds.heat_current.values[p, 1, 0], sol.heat_current, atol=1e-6)


CONFIG = """
[model]
hamiltonian = [[0.3, 0.2], [0.2, -0.3]]

[[reservoirs]]
temperature = 1.5
coupling = [1.0, 0.0]
density = {{ kind = "lorentzian", gamma = 0.5, width = 2.0 }}

[[reservoirs]]
temperature = 0.5
coupling = [0.0, 1.0]
density = {{ kind = "lorentzian", gamma = 0.5, width = 2.0 }}

[times]
stop = 5.0
num = 21

[method]
tolerance = 1e-6

[sweep]
{extra}observables = ["min_heat_current", "reversed_heat", "heat_current"]
[sweep.temperature]
"1" = [0.3, 0.5]
[sweep.initial_states]
occupations = [[1.0, 0.0], [0.0, 1.0]]
[sweep.parameters]
"hamiltonian.0.0" = {{ start = 0.0, stop = 0.7, num = 8 }}

[run]
chunk_size = 4  # one parameter value (2 × 2 configurations) per chunk: 8 chunks
"""


def _cli(args, **kw):
    env = dict(os.environ, JAXTRANSPORT_SMOKE="1")
    return subprocess.Popen([sys.executable, "-m", "jaxtransport", "sweep", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, **kw)


def _store(path):
    return xr.open_zarr(path, consolidated=False).load()


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    cfg = d / "sweep.toml"
    cfg.write_text(CONFIG.format(extra=""))
    ref = d / "ref.zarr"
    proc = _cli([cfg, "--out", ref, "--no-progress"])
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert "strongest heat flow into the hot reservoir" in out
    return cfg, _store(ref)


def test_cli_round_trip(cli_config):
    cfg, ref = cli_config
    assert ref.min_heat_current.shape == (8, 2, 2) and (ref.status.values == 0).all()
    assert Path(str(cfg.parent / "ref.zarr") + ".config.toml").read_text() == cfg.read_text()
    assert ref.attrs["config_toml"] == cfg.read_text()
    nc = xr.open_dataset(cfg.parent / "ref.nc", engine="h5netcdf")
    np.testing.assert_array_equal(nc.heat_current.values, ref.heat_current.values)


def test_cli_rejects_unknown_key(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(CONFIG.format(extra="temprature = 3\n"))
    proc = _cli([cfg, "--out", tmp_path / "x.zarr"])
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 2
    assert "unknown key(s) 'temprature' in [sweep]" in out


def test_resume_after_sigkill(cli_config, tmp_path):
    """Kill a sweep mid-run (SIGKILL), resume it: the store equals an uninterrupted run."""
    cfg, ref = cli_config
    out = tmp_path / "k.zarr"
    progress = Path(str(out) + ".progress")
    proc = _cli([cfg, "--out", out, "--no-progress"])
    deadline = time.time() + 300
    while len(list(progress.glob("chunk-*.done"))) < 1 and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(progress.glob("chunk-*.done")))
    assert 1 <= done < 8, f"the kill should land mid-run ({done} of 8 chunks done)"
    again = _cli([cfg, "--out", out, "--no-progress"])  # without --resume: refused
    text, _ = again.communicate(timeout=300)
    assert again.returncode == 2 and "--resume" in text
    proc = _cli([cfg, "--out", out, "--resume", "--no-progress"])
    text, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, text
    assert f"computed {8 - done} of 8 chunks" in text
    got = _store(out)
    for name in ("min_heat_current", "reversed_heat", "heat_current", "status"):
        np.testing.assert_array_equal(got[name].values, ref[name].values)


def test_two_processes_fill_one_store(cli_config, tmp_path):
    cfg, ref = cli_config
    out = tmp_path / "two.zarr"
    procs = [_cli([cfg, "--out", out, "--process-index", i, "--process-count", 2,
                   "--no-progress"]) for i in (0, 1)]
    texts = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), texts
    assert all("computed 4 of 8 chunks" in t for t in texts), texts
    got = _store(out)
    for name in ("min_heat_current", "reversed_heat", "heat_current", "status"):
        np.testing.assert_array_equal(got[name].values, ref[name].values)


@pytest.mark.parametrize("kw,msg", [
    (dict(hot=5), "hot must be a reservoir index"),
    (dict(observables=("heat",)), "unknown observables"),
    (dict(temperature={0: [1.0, -1.0]}), "values must be > 0"),
    (dict(temperature={7: [1.0]}), "reservoir index 7 out of range"),
    (dict(initial_states=np.eye(3)), r"shape \(S, 2, 2\)"),
    (dict(initial_states=2 * np.eye(2)), "0 <= C0 <= 1"),
    (dict(parameters={"g": [1.0]}), "needs model_fn"),
])
def test_bad_sweep_specification(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Sweep.grid(two_site(), TIMES, **kw)


def test_summary_fast_path_matches_general_path(grid_spec, grid_result, tmp_path):
    """Summaries only (μ_hot fixed): the pre-reduced J^Q_hot outer sum == the full path."""
    _, ds = grid_result
    summaries = ("min_heat_current", "min_heat_current_time", "reversed_heat",
                 "final_heat_current")
    spec = Sweep.grid(grid_spec.model, TIMES, temperature=grid_spec.temperature,
                      initial_states=grid_spec.initial_states, observables=summaries,
                      method=METHOD)
    fast = run_sweep(spec, tmp_path / "f.zarr", progress=False).open().load()
    for name in summaries:  # the general run also swept μ_hot: compare its μ_hot = 0 slice
        np.testing.assert_allclose(fast[name].values, ds[name].values[:, :, 0], rtol=0,
                                   atol=1e-12)


def test_block_path_matches_gather_path(grid_spec, tmp_path):
    """Single device, summaries only: the broadcast block path (outer sum fused with the
    reductions) == the sharded per-configuration gather path, chunks of 2 leading rows."""
    spec = Sweep.grid(grid_spec.model, TIMES, temperature={0: [1.0, 1.3, 1.6, 2.0],
                                                           1: [0.3, 0.4, 0.5]},
                      chemical_potential={1: [0.0, 0.1]},
                      initial_states=grid_spec.initial_states,
                      observables=("min_heat_current", "min_heat_current_time",
                                   "reversed_heat", "final_heat_current"), method=METHOD)
    block = run_sweep(spec, tmp_path / "b.zarr", chunk_size=36, devices=jax.devices()[:1],
                      progress=False).open().load()
    gather = run_sweep(spec, tmp_path / "g.zarr", chunk_size=36, progress=False).open().load()
    for name in spec.observables:
        np.testing.assert_allclose(block[name].values, gather[name].values, rtol=0, atol=1e-12)
    assert (block.status.values == 0).all()
