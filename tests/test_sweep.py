"""jt.Sweep / jt.run_sweep / jt.SweepResult: grid/sample results vs per-configuration
evaluate, sharding, crash safety, CLI round trips, parameter axes, conductances and cumulants,
and the uphill observables (they follow each configuration's temperature order; the summary
refuses configurations where the 'hot' reservoir is not the hottest; initial states are stored
as matrices). Damaged stores: tests/test_storage.py.
"""

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from systems import coherent_c0_2, two_site

import jaxtransport as jt
from jaxtransport import cli, demo
from jaxtransport import config as cfgmod
from jaxtransport import statistics as st
from jaxtransport import thermodynamics as thermo
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
spectral_density = {{ kind = "lorentzian", gamma = 0.5, width = 2.0 }}

[[reservoirs]]
temperature = 0.5
coupling = [0.0, 1.0]
spectral_density = {{ kind = "lorentzian", gamma = 0.5, width = 2.0 }}

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


def _cli_in_process(args, capsys):
    """``jaxtransport sweep ARGS`` in this process (cli.main, the code path of the
    subprocess after interpreter start-up): (exit code, stdout + stderr). One device, as in
    a fresh CLI process (this test process has four)."""
    capsys.readouterr()
    code = cli.main(["sweep", *map(str, args), "--devices", "1"])
    printed = capsys.readouterr()
    return code, printed.out + printed.err


def test_cli_rejects_unknown_key(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(CONFIG.format(extra="temprature = 3\n"))
    code, out = _cli_in_process([cfg, "--out", tmp_path / "x.zarr"], capsys)
    assert code == 2
    assert "unknown key(s) 'temprature' in [sweep]" in out


def test_resume_after_sigkill(cli_config, tmp_path, capsys):
    """Kill a sweep process mid-run (SIGKILL), resume it: the store equals an uninterrupted
    run. The refusal without --resume and the resume run through cli.main in this process
    (one compilation fewer than a third CLI process; the killed run is a real process)."""
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
    code, text = _cli_in_process([cfg, "--out", out, "--no-progress"], capsys)
    assert code == 2 and "--resume" in text  # without --resume: refused
    code, text = _cli_in_process([cfg, "--out", out, "--resume", "--no-progress"], capsys)
    assert code == 0, text
    assert f"computed {8 - done} of 8 chunks" in text
    got = _store(out)
    for name in ("min_heat_current", "reversed_heat", "heat_current", "status"):
        np.testing.assert_array_equal(got[name].values, ref[name].values)


@pytest.mark.slow  # two CLI processes compiling in parallel (~1-2 min); resume: default suite
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


# ---------------------------------------------------------------------------------------------
# conductance and heat-cumulant observables
# ---------------------------------------------------------------------------------------------
CONDUCTANCE_OBS = ("conductance_g1", "conductance_g2", "conductance_g4", "conductance_g5")
# finite reservoirs for the heat statistics: 40 modes per lead on ±20 (D = 82, recurrence 6.3)
CUMULANT_METHOD = jt.Discretised(40, 20.0, band_warning=0.2)
ORDERS = (1, 2, 4)


def _per_configuration(resp, modes, c0, temp, mu, orders=ORDERS):
    """Independent values: the thermodynamics and statistics functions, one configuration."""
    temp, mu = jnp.asarray(temp), jnp.asarray(mu)
    sol = resp.evaluate(c0, temp, mu)
    kappa = np.asarray(st.cumulants(modes, TIMES, c0, temp, mu, reservoir=0,
                                    order=max(orders)))
    return {"conductance_g1": thermo.conductance_g1(sol),
            "conductance_g2": thermo.conductance_g2(sol),
            "conductance_g4": thermo.conductance_g4(resp, temp, mu),
            "conductance_g5": thermo.conductance_g5(sol),
            "heat_cumulants": kappa[:, np.asarray(orders) - 1]}


def _check_against(ds_vals, ref, worst):
    """Conductances and κ1–κ3 to 1e-12; κ4 to 1e-10 relative: the fourth-order series is
    weighted by (ε_k − μ)⁴ ≤ 1.6e5, and ``statistics.cumulants`` itself returns κ4 differing
    by 2.2e-10 (1.6e-11 relative) when the same configuration is evaluated in a batch."""
    for name, val in ref.items():
        got = ds_vals[name]
        if name == "heat_cumulants":
            for j, order in enumerate(ORDERS):
                err = float(np.max(np.abs(got[..., j] - val[..., j])))
                scale = 1.0 if order < 4 else 1e2 * float(np.max(np.abs(val[..., j])))
                worst[f"kappa{order}"] = max(worst.get(f"kappa{order}", 0.0), err)
                assert err <= 1e-12 * scale, (name, order, err)
        else:
            err = float(np.max(np.abs(got - np.asarray(val))))
            worst[name] = max(worst.get(name, 0.0), err)
            assert err <= 1e-12, (name, err)


@pytest.fixture(scope="module")
def finite_modes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ±20 band misses 6% of the Lorentzian weight
        return st.FiniteModes.from_model(two_site(), CUMULANT_METHOD)


def test_grid_conductances_and_cumulants_match_per_configuration(finite_modes, tmp_path):
    """A cartesian grid (T_hot × T_cold × μ_hot × C0, 16 configurations, chunks of 2 rows)
    keeping G1, G2, G4, G5 and κ_{1,2,4} of the hot reservoir's heat == the functions of
    thermodynamics and statistics per configuration. Measured: conductances ≤ 2.2e-16,
    κ1–κ2 0, κ4 2.2e-10 (1.6e-11 relative)."""
    c0s = np.stack([coherent_c0_2(), np.diag([1.0, 0.0])])
    spec = Sweep.grid(two_site(), TIMES, temperature={0: [1.0, 1.5], 1: [0.3, 0.5]},
                      chemical_potential={0: [0.0, 0.2]}, initial_states=c0s,
                      observables=("min_heat_current",) + CONDUCTANCE_OBS + ("heat_cumulants",),
                      method=METHOD, cumulant_orders=ORDERS, cumulant_method=CUMULANT_METHOD)
    assert spec.cold == 1
    ds = run_sweep(spec, tmp_path / "gc.zarr", chunk_size=4, progress=False).open().load()
    assert (ds.status.values == 0).all()
    assert ds.heat_cumulants.dims[-2:] == ("time", "cumulant_order")
    assert ds.cumulant_order.values.tolist() == list(ORDERS)
    assert ds.conductance_g4.dims[-1] == "time" and ds.attrs["cold_reservoir"] == 1
    resp = jt.response(spec.model, TIMES, spec.method_for(spec.model))
    worst = {}
    for i, t_hot in enumerate([1.0, 1.5]):
        for j, tc in enumerate([0.3, 0.5]):
            for k, mu in enumerate([0.0, 0.2]):
                for s in range(2):
                    ref = _per_configuration(resp, finite_modes, c0s[s], [t_hot, tc], [mu, 0.0])
                    _check_against({n: ds[n].values[i, j, k, s] for n in ref}, ref, worst)
    # G4 does not depend on the initial state (the C0 part cancels exactly)
    np.testing.assert_allclose(ds.conductance_g4.values[..., 0, :],
                               ds.conductance_g4.values[..., 1, :], atol=1e-12, rtol=0)


def test_samples_conductances_and_cumulants_sharded(finite_modes, tmp_path):
    """10 random samples (not a multiple of the 4 CPU devices), chunks of 6: sharded over 4
    devices == one device == per-configuration calls (κ4 as above; time_stride 2). Measured:
    conductances ≤ 1.6e-15, κ1–κ2 0, κ4 1.3e-10."""
    assert jax.default_backend() != "cpu" or len(jax.devices()) == 4
    obs = CONDUCTANCE_OBS + ("heat_cumulants",)
    spec = Sweep.random(two_site(), TIMES, 10, seed=5, observables=obs, method=METHOD,
                        cumulant_orders=ORDERS, cumulant_method=CUMULANT_METHOD,
                        time_stride=2)
    one = run_sweep(spec, tmp_path / "one.zarr", chunk_size=6, devices=jax.devices()[:1],
                    progress=False).open().load()
    many = run_sweep(spec, tmp_path / "many.zarr", chunk_size=6, progress=False).open().load()
    assert (many.status.values == 0).all() and many.heat_cumulants.shape == (10, 11, 3)
    resp = jt.response(spec.model, TIMES, spec.method_for(spec.model))
    worst = {}
    _check_against({n: many[n].values for n in obs},
                   {n: one[n].values for n in obs}, worst)
    for i in range(10):
        ref = _per_configuration(resp, finite_modes, spec.initial_states[i],
                                 spec.temperature["all"][i], spec.chemical_potential["all"][i])
        ref = {k: np.asarray(v)[::2] for k, v in ref.items()}
        _check_against({n: many[n].values[i] for n in obs}, ref, worst)


CUMULANT_CONFIG = """
[model]
hamiltonian = [[0.3, 0.2], [0.2, -0.3]]

[[reservoirs]]
temperature = 1.5
coupling = [1.0, 0.0]
spectral_density = {{ kind = "lorentzian", gamma = 0.5, width = 2.0 }}

[[reservoirs]]
temperature = 0.5
coupling = [0.0, 1.0]
spectral_density = {{ kind = "lorentzian", gamma = 0.5, width = 2.0 }}

[times]
stop = 5.0
num = 21

[method]  # finite reservoirs: the engine and the heat statistics share these modes
kind = "discretised"
n_modes = 40
band = 20.0
band_warning = 0.2

[sweep]
observables = ["conductance_g1", "conductance_g4", "heat_cumulants"]
cold = 1
cumulant_orders = [2, 3]
{extra}[sweep.temperature]
"1" = [0.3, 0.5]
[sweep.initial_states]
occupations = [[1.0, 0.0], [0.0, 1.0]]

[run]
chunk_size = 2
"""


def test_cli_round_trip_conductances_and_cumulants(tmp_path, capsys):
    """`jaxtransport sweep` with the new observables (cli.main in this process: the real
    CLI process round trip is test_cli_round_trip's; Discretised [method], whose modes the
    heat statistics use by default) == the library's functions per configuration on the spec
    the same config builds; an unknown key in [sweep.cumulant_method] is rejected by name."""
    cfg = tmp_path / "k.toml"
    cfg.write_text(CUMULANT_CONFIG.format(extra=""))
    code, out = _cli_in_process([cfg, "--out", tmp_path / "k.zarr", "--no-progress"], capsys)
    assert code == 0, out
    ds = _store(tmp_path / "k.zarr")
    assert ds.heat_cumulants.shape == (2, 2, 21, 2) and (ds.status.values == 0).all()
    nc = xr.open_dataset(tmp_path / "k.nc", engine="h5netcdf")
    np.testing.assert_array_equal(nc.heat_cumulants.values, ds.heat_cumulants.values)
    spec = cfgmod.build_sweep(cfgmod.load(cfg)[0])
    resp = jt.response(spec.model, spec.times, spec.method_for(spec.model))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        modes = st.FiniteModes.from_model(spec.model, spec.cumulant_method)
    for j, tc in enumerate([0.3, 0.5]):
        for s, occ in enumerate(([1.0, 0.0], [0.0, 1.0])):
            c0, temp, mu = np.diag(occ), jnp.array([1.5, tc]), jnp.zeros(2)
            sol = resp.evaluate(c0, temp, mu)
            np.testing.assert_allclose(ds.conductance_g1.values[j, s], thermo.conductance_g1(sol),
                                       atol=1e-12, rtol=0)
            np.testing.assert_allclose(ds.conductance_g4.values[j, s],
                                       thermo.conductance_g4(resp, temp, mu), atol=1e-12, rtol=0)
            kappa = st.cumulants(modes, spec.times, c0, temp, mu, order=3)
            np.testing.assert_allclose(ds.heat_cumulants.values[j, s], kappa[:, 1:],
                                       atol=1e-12, rtol=0)
    bad = tmp_path / "bad.toml"
    bad.write_text(CUMULANT_CONFIG.format(extra="[sweep.cumulant_method]\nn_mode = 3\n"))
    code, text = _cli_in_process([bad, "--out", tmp_path / "x.zarr"], capsys)
    assert code == 2
    assert "unknown key(s) 'n_mode' in [sweep.cumulant_method]" in text


@pytest.mark.parametrize("kw,msg", [
    (dict(observables=("conductance_g1",), cold=0), "cold must differ from hot"),
    (dict(observables=("conductance_g1",), cold=4), "cold must be a reservoir index"),
    (dict(observables=("conductance_g2",), temperature={0: [0.5, 1.0]}),
     r"T_hot − T_cold, which is 0 where both equal \[0.5\]"),
    (dict(observables=("heat_cumulants",)), "heat_cumulants are computed on finite"),
    (dict(observables=("heat_cumulants",),
          cumulant_method=jt.Discretised(10, 20.0, band_warning=0.2)), "recur at"),
    (dict(observables=("heat_cumulants",), cumulant_orders=(2, 2)), "distinct integers"),
    (dict(observables=("heat_cumulants",), cumulant_orders=(0, 2)), "distinct integers"),
    (dict(observables=("heat_cumulants",), cumulant_orders=(2.5,)), "distinct integers"),
])
def test_bad_conductance_and_cumulant_specification(kw, msg):
    with warnings.catch_warnings(), pytest.raises(ValueError, match=msg):
        warnings.simplefilter("ignore")  # band-weight warnings of the deliberately small bands
        Sweep.grid(two_site(), TIMES, **kw)


def test_bad_conductance_specification_samples_and_times():
    three = jt.Model(np.diag([0.1, 0.2]), tuple(
        jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=t, coupling=[1.0, 0.0])
        for t in (1.0, 0.5, 0.7)))
    with pytest.raises(ValueError, match="need cold="):
        Sweep.grid(three, TIMES, observables=("conductance_g1",))
    with pytest.raises(ValueError, match=r"0 in sample\(s\) \[1\]"):
        Sweep.samples(two_site(), TIMES, temperature=[[1.0, 0.5], [0.7, 0.7]],
                      initial_states=np.zeros((2, 2, 2)), observables=("conductance_g4",))
    with pytest.raises(ValueError, match="needs times starting at 0"):
        Sweep.grid(two_site(), TIMES[1:], observables=("conductance_g5",))


def test_currents_only_sweep_matches_full_sweep(grid_result, tmp_path):
    """currents_only=True (stage 1 = jt.CurrentResponse, an independent formulation of the
    same integrals) stores the same values as the full-Response sweep, through both the
    summary fast path and the general path, sharded over the 4 CPU devices; 'occupation'
    (needs C(t)) is refused by name."""
    _, ds = grid_result
    c0s = np.stack([coherent_c0_2(), np.diag([1.0, 0.0]), 0.5 * np.eye(2)])
    names = [o for o in ALL if o != "occupation"]
    kw = dict(temperature={0: [1.0, 1.5, 2.0], 1: [0.3, 0.5]}, chemical_potential={0: [0.0, 0.2]},
              initial_states=c0s, method=METHOD, currents_only=True)
    for obs in (names, ("min_heat_current", "reversed_heat")):
        spec = Sweep.grid(two_site(), TIMES, observables=obs, **kw)
        cur = run_sweep(spec, tmp_path / f"c{len(obs)}.zarr", chunk_size=12,
                        progress=False).open().load()
        for name in obs:
            np.testing.assert_allclose(cur[name].values, ds[name].values, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="currents_only=True keeps no correlation"):
        Sweep.grid(two_site(), TIMES, observables=("occupation",), **kw)


def _map_model(eps, gamma, numpy=False):
    """Two sites; eps: level energy of site 0; gamma: hot-lead coupling (jnp or NumPy)."""
    xp = np if numpy else jnp
    h = xp.array([[1.0, 0.0], [0.0, 0.0]]) * eps + xp.array([[0.0, 0.2], [0.2, -0.3]])
    return jt.Model(h, (jt.Reservoir(jt.Lorentzian(gamma, 2.0), temperature=1.5,
                                     coupling=[1.0, 0.0]),
                        jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=0.5,
                                     coupling=[0.0, 1.0])))


@pytest.mark.parametrize("numpy_fn", [False, True])
def test_parameter_axes_run_as_vmapped_pade_batches(tmp_path, numpy_fn):
    """Default method + parameter axes: jt.Pade with one pole count, the models built by
    jax.vmap(model_fn) (or one by one for a NumPy model_fn, then stacked), stage 1 + 2
    vmapped; against an independent per-model Continuum at tolerance 1e-10. An invalid
    point (negative coupling) is recorded as failed, never computed silently."""
    fn = lambda eps, gamma: _map_model(eps, gamma, numpy_fn)  # noqa: E731
    c0s = np.stack([np.zeros((2, 2)), coherent_c0_2()])
    spec = Sweep.grid(fn(0.3, 0.5), TIMES, parameters={"eps": [-0.5, 1.0],
                                                       "gamma": [0.3, -0.2, 0.8]},
                      model_fn=fn, temperature={1: [0.4, 0.6]}, initial_states=c0s,
                      observables=("min_heat_current", "heat_current", "occupation"))
    assert isinstance(spec.pade, jt.Pade) and spec.pade.n_pade is not None
    res = run_sweep(spec, tmp_path / "p.zarr", progress=False)
    ds = res.open().load()
    assert (ds.status.values[:, 1] == 2).all() and np.isnan(ds.heat_current.values[:, 1]).all()
    assert (ds.status.values[:, [0, 2]] == 0).all()
    for i, e in enumerate((-0.5, 1.0)):
        for j, g in ((0, 0.3), (2, 0.8)):
            ref = jt.response(fn(e, g), TIMES, jt.Continuum(
                tolerance=1e-10, temperature_range=(0.4, 1.5))).evaluate(
                c0s[1], jnp.array([1.5, 0.6]), jnp.zeros(2))
            got = ds.isel(parameter_eps=i, parameter_gamma=j, temperature_1=1, initial_state=1)
            np.testing.assert_allclose(got.heat_current.values, ref.heat_current, atol=1e-8)
            np.testing.assert_allclose(got.occupation.values, ref.occupation, atol=1e-8)
            assert float(got.min_heat_current) == pytest.approx(
                float(np.min(ref.heat_current[:, 0])), abs=1e-8)


def test_explicit_pade_runs_sample_sweeps(tmp_path):
    rng = np.random.default_rng(3)
    temp = np.stack([rng.uniform(1.0, 2.0, 4), rng.uniform(0.3, 0.6, 4)], axis=1)
    c0s = np.stack([coherent_c0_2(), np.diag([1.0, 0.0]), 0.5 * np.eye(2), np.zeros((2, 2))])
    spec = Sweep.samples(two_site(), TIMES, temperature=temp, initial_states=c0s,
                         observables=("heat_current",), method=jt.Pade(n_pade=30))
    ds = run_sweep(spec, tmp_path / "s.zarr", progress=False).open().load()
    ref = jt.response(two_site(), TIMES, jt.Continuum(
        tolerance=1e-10, temperature_range=(0.3, 2.0))).evaluate(c0s, jnp.asarray(temp),
                                                                 jnp.zeros((4, 2)))
    np.testing.assert_allclose(ds.heat_current.values, ref.heat_current, atol=1e-8)
    with pytest.raises(ValueError, match="jt.Pade.*currents_only.*jt.Continuum"):
        Sweep.samples(two_site(), TIMES, temperature=temp, initial_states=c0s,
                      method=jt.Pade(), currents_only=True)


# ---- uphill observables in sweeps (jt.uphill_flow per configuration) ----
UPHILL_TIMES = np.linspace(0.0, 4.0, 41)


def test_uphill_observables_follow_each_configurations_temperatures(tmp_path):
    model = demo.two_site_model()
    num = 6
    temp = np.array([[1.5, 0.5], [0.5, 1.5], [1.0, 1.0], [2.0, 0.3], [0.3, 2.0], [1.2, 0.6]])
    c0 = np.stack([demo.uphill_preparation(), demo.uphill_preparation(), np.eye(2) * 0.5,
                   demo.uphill_preparation(), demo.uphill_preparation().conj(),
                   np.diag([1.0, 0.0])])
    spec = Sweep.samples(model, UPHILL_TIMES, temperature=temp, initial_states=c0, method=METHOD,
                         observables=("uphill_heat", "uphill_duration", "heat_current",
                                      "min_heat_current"))
    res = run_sweep(spec, tmp_path / "s.zarr", chunk_size=4, progress=False)
    ds = res.open().load()
    jq = ds["heat_current"].values  # (sample, time, reservoir)
    assert jq.shape == (num, UPHILL_TIMES.size, 2)
    for i in range(num):
        hot, cold = (0, 1) if temp[i, 0] > temp[i, 1] else (1, 0)
        r = np.maximum(0.0, np.minimum(-jq[i, :, hot], jq[i, :, cold]))
        if temp[i, 0] == temp[i, 1]:
            r[:] = 0.0
        assert ds["uphill_heat"].values[i] == pytest.approx(np.trapezoid(r, UPHILL_TIMES),
                                                            abs=1e-14)
        flow = jt.uphill_flow(times=UPHILL_TIMES, heat_current=jq[i], temperature=temp[i])
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
    spec = Sweep.grid(model, UPHILL_TIMES, temperature={0: [0.3, 1.5]},
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
