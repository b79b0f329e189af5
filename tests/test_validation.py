"""Bad input across the public API (constructors, ``evaluate``, ``jt.solve``, sweeps, the
optimiser's and the CLI's configuration files): one case per rejected input; each asserts the
exception type and a fragment of the message saying what was wrong and what is allowed,
eagerly and (where values can be traced) under ``jax.jit``. Nothing may pass silently.
"""

import subprocess
import sys
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from systems import single_level

import jaxtransport as jt
from jaxtransport import config as cfgmod
from jaxtransport.cli import main
from jaxtransport.optimise import config as optcfg
from jaxtransport.sweep import Sweep, run_sweep

L = jt.Lorentzian(0.5, 2.0)


def res(**kw):
    args = dict(spectral_density=L, temperature=1.0, coupling=[1.0])
    args.update(kw)
    return jt.Reservoir(**args)


def test_non_hermitian_hamiltonian():
    with pytest.raises(ValueError, match="Hermitian"):
        jt.Model([[0.0, 1.0], [0.0, 0.0]], (res(coupling=[1.0, 0.0]),))


def test_non_square_hamiltonian():
    with pytest.raises(ValueError, match="square"):
        jt.Model(np.zeros((2, 3)), (res(coupling=[1.0, 0.0]),))


def test_coupling_length_mismatch():
    with pytest.raises(ValueError, match="length 1.*2 modes"):
        jt.Model(np.eye(2), (res(coupling=[1.0]),))


def test_c0_not_hermitian():
    with pytest.raises(ValueError, match="Hermitian"):
        jt.GaussianState([[0.5, 0.1], [0.3, 0.5]])


def test_c0_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        jt.GaussianState([[1.2]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        jt.GaussianState([[-0.1]])


def test_c0_size_mismatch():
    resp = jt.response(single_level(), np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 1, 1\)"):
        resp.evaluate(np.eye(2) * 0.5)


@pytest.mark.parametrize("temp", [0.0, -1.0, float("nan")])
def test_bad_temperature(temp):
    with pytest.raises(ValueError, match="temperature"):
        res(temperature=temp)


@pytest.mark.parametrize("kw", [dict(gamma=-0.1, width=1.0), dict(gamma=0.5, width=0.0),
                                dict(gamma=float("inf"), width=1.0),
                                dict(gamma=0.5, width=1.0, center=float("nan"))])
def test_bad_spectral_parameters(kw):
    with pytest.raises(ValueError, match="Lorentzian"):
        jt.Lorentzian(**kw)


@pytest.mark.parametrize("times,msg", [([-1.0, 0.0, 1.0], ">= 0"), ([0.0, 2.0, 1.0], "increasing"),
                                       ([0.0, float("nan")], "finite"), ([[0.0, 1.0]], "1-D")])
def test_bad_times(times, msg):
    with pytest.raises(ValueError, match=msg):
        jt.response(single_level(), np.asarray(times))


def test_discretisation_cannot_resolve_times():
    with pytest.raises(ValueError, match="recurs"):
        jt.response(single_level(), np.linspace(0, 50, 11), method=jt.Discretised(100, 50.0))


def test_discretisation_band_too_narrow():
    with pytest.raises(ValueError, match="spectral weight"):
        jt.response(single_level(), np.linspace(0, 1, 3), method=jt.Discretised(100, 3.0))
    with pytest.warns(UserWarning, match="spectral weight"):
        jt.response(single_level(), np.linspace(0, 1, 3), method=jt.Discretised(400, 200.0))


def test_temperature_outside_response_range_raises_under_jit():
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    # the Continuum's stored window (the automatic choice may return a PadeResponse, which
    # has no window: its error estimate is computed at the evaluated T)
    resp = jt.response(single_level(), np.linspace(0, 1, 3), method=jt.Continuum())
    f = jax.jit(lambda t: resp.evaluate(np.eye(1), temperature=t).heat_current)
    f(jnp.array([1.5, 0.5]))  # inside the range: fine
    with pytest.raises((eqx.EquinoxRuntimeError, RuntimeError, ValueError), match="range"):
        f(jnp.array([20.0, 0.5])).block_until_ready()


def test_wrong_reservoir_count_in_evaluate():
    resp = jt.response(single_level(), np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="one value per"):
        resp.evaluate(np.eye(1), temperature=np.array([1.0, 1.0, 1.0]))


def test_bad_method_parameters():
    with pytest.raises(ValueError, match="n_modes"):
        jt.Discretised(1, 10.0)
    with pytest.raises(ValueError, match="band"):
        jt.Discretised(100, -1.0)
    with pytest.raises(ValueError, match="temperature_range"):
        jt.Continuum(temperature_range=(0.0, 1.0))


def test_statistics_name():
    with pytest.raises(ValueError, match="statistics"):
        jt.Model([[0.0]], (res(),), statistics="anyon")


@pytest.mark.parametrize(
    "kw,msg",
    [(dict(gamma=-1.0, width=1.0, cutoff=4.0), "gamma must be >= 0"),
     (dict(gamma=1.0, width=1.0, cutoff=1.2), "cutoff must be >= 1.5 × width"),
     (dict(gamma=1.0, width=1.0, cutoff=np.inf), "cutoff must be finite")],
)
def test_bad_cutoff_lorentzian(kw, msg):
    with pytest.raises(ValueError, match=msg):
        jt.CutoffLorentzian(**kw)


def test_cutoff_lorentzian_pole_terms_sum_to_density():
    """The partial-fraction poles the Continuum closes on equal the product formula."""
    dens = jt.CutoffLorentzian(0.7, 1.3, 5.0, center=0.4)
    om = np.linspace(-60.0, 60.0, 1001)
    direct = 0.7 * 1.3**2 * 5.0**2 / (((om - 0.4) ** 2 + 1.3**2) * ((om - 0.4) ** 2 + 25.0))
    poles = sum(np.asarray(t(om)) for t in dens.lorentzian_terms())
    np.testing.assert_allclose(np.asarray(dens(om)), direct, rtol=1e-14)
    np.testing.assert_allclose(poles, direct, rtol=1e-12, atol=1e-16)


# ---- evaluate, sweeps, optimiser and CLI configurations (formerly test_bad_inputs.py) ----
TIMES = np.linspace(0.0, 5.0, 11)


# a runtime error inside jax.jit: JAX wraps the error_if message; eqx.filter_jit: Equinox's
JIT_ERRORS = (jax.errors.JaxRuntimeError, eqx.EquinoxRuntimeError)


SHORT = np.linspace(0.0, 1.0, 3)


@pytest.fixture(scope="module")
def resp():
    with warnings.catch_warnings():  # a reachable tolerance is met silently
        warnings.simplefilter("error", jt.ToleranceWarning)
        return jt.response(single_level(), TIMES, jt.Continuum(tolerance=1e-6))


C_OK = np.array([[1.0]])


T_OK = np.array([1.5, 0.5])


MU_OK = np.array([0.0, 0.0])


# (id, C0, T, μ, exception eager, exception under jit, message fragment)
EVALUATE_CASES = [
    ("T_cold below planned range", C_OK, [1.5, 0.02], MU_OK, ValueError, JIT_ERRORS,
     "below the range"),
    ("T_hot below planned range", C_OK, [0.01, 0.5], MU_OK, ValueError, JIT_ERRORS,
     "below the range"),
    ("T zero", C_OK, [1.5, 0.0], MU_OK, ValueError, JIT_ERRORS, "must be finite and > 0"),
    ("T negative", C_OK, [-1.0, 0.5], MU_OK, ValueError, JIT_ERRORS, "must be finite and > 0"),
    ("T NaN", C_OK, [np.nan, 0.5], MU_OK, ValueError, JIT_ERRORS, "must be finite and > 0"),
    ("T inf", C_OK, [np.inf, 0.5], MU_OK, ValueError, JIT_ERRORS, "must be finite and > 0"),
    ("T above window", C_OK, [100.0, 0.5], MU_OK, ValueError, JIT_ERRORS,
     "stored frequency window"),
    ("mu NaN", C_OK, T_OK, [np.nan, 0.0], ValueError, JIT_ERRORS,
     "chemical_potential must be finite"),
    ("mu inf", C_OK, T_OK, [0.0, -np.inf], ValueError, JIT_ERRORS,
     "chemical_potential must be finite"),
    ("mu outside window", C_OK, T_OK, [40.0, 0.0], ValueError, JIT_ERRORS,
     "stored frequency window"),
    ("C0 eigenvalue 2", [[2.0]], T_OK, MU_OK, ValueError, JIT_ERRORS,
     "eigenvalues must lie in [0, 1]"),
    ("C0 eigenvalue -1", [[-1.0]], T_OK, MU_OK, ValueError, JIT_ERRORS,
     "eigenvalues must lie in [0, 1]"),
    ("C0 NaN", [[np.nan]], T_OK, MU_OK, ValueError, JIT_ERRORS, "C0 must be finite"),
    ("C0 inf", [[np.inf]], T_OK, MU_OK, ValueError, JIT_ERRORS, "C0 must be finite"),
    ("C0 complex diagonal (non-Hermitian)", [[0.5 + 0.3j]], T_OK, MU_OK, ValueError,
     JIT_ERRORS, "Hermitian"),
    ("C0 wrong shape", np.eye(2), T_OK, MU_OK, ValueError, ValueError, "(..., 1, 1)"),
    ("T one value too many", C_OK, [1.5, 0.5, 1.0], MU_OK, ValueError, ValueError,
     "one value per reservoir"),
    ("mu scalar", C_OK, T_OK, 0.0, ValueError, ValueError, "one value per reservoir"),
    ("T complex", C_OK, [1.5 + 0.1j, 0.5], MU_OK, ValueError, ValueError, "must be real"),
    ("mu complex", C_OK, T_OK, [0.0, 0.1j], ValueError, ValueError, "must be real"),
]


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("case", EVALUATE_CASES, ids=[c[0] for c in EVALUATE_CASES])
def test_evaluate_rejects(resp, case, mode):
    _, c0, temp, mu, exc_eager, exc_jit, fragment = case
    args = (jnp.asarray(c0), jnp.asarray(temp), jnp.asarray(mu))
    if mode == "eager":
        with pytest.raises(exc_eager) as info:
            resp.evaluate(*args)
    else:
        with pytest.raises(exc_jit) as info:
            jax.block_until_ready(jax.jit(lambda c, t, m: resp.evaluate(c, t, m).heat_current)(
                *args))
    assert fragment in str(info.value)


def test_eager_messages_name_value_range_and_remedy(resp):
    with pytest.raises(ValueError) as info:
        resp.evaluate(C_OK, jnp.asarray([1.5, 0.02]))
    msg = str(info.value)
    lo, hi = resp.planned_range[0]
    assert "temperature[1] = 0.02" in msg  # the value and which reservoir
    assert f"T in [{lo:.6g}, {hi:.6g}]" in msg  # the range
    assert "jt.Continuum(temperature_range=" in msg  # how to widen it
    assert "temperature_range=(0.02, 1.5)" in msg  # ... with the values needed here


def test_low_temperature_raises_under_vmap_and_grad(resp):
    temps = jnp.asarray([[1.5, 0.5], [1.5, 0.02]])
    with pytest.raises(JIT_ERRORS) as info:
        jax.block_until_ready(jax.vmap(lambda t: resp.evaluate(C_OK, t).heat_current)(temps))
    assert "below the range" in str(info.value)
    with pytest.raises(JIT_ERRORS) as info:
        jax.grad(lambda t: resp.evaluate(C_OK, t).heat_current.sum())(jnp.asarray([1.5, 0.02]))
    assert "below the range" in str(info.value)
    # inside the range nothing is raised, and vmap equals the per-configuration loop
    ok = jnp.asarray([[1.5, 0.5], [1.2, 0.3]])
    batched = jax.vmap(lambda t: resp.evaluate(C_OK, t).heat_current)(ok)
    for k in range(2):
        np.testing.assert_allclose(batched[k], resp.evaluate(C_OK, ok[k]).heat_current,
                                   rtol=0, atol=1e-13)


@pytest.mark.slow  # two stage-1 builds resolving T = 0.02 (~20 s quiet; the default suite
# keeps the refusal below the range, test_evaluate_rejects / _vmap_and_grad)
def test_widened_range_gives_the_fresh_solve_within_its_estimate():
    """The remedy the message names works: a Response planned down to T_cold = 0.02 returns
    the currents of a fresh solve at that temperature (whose own estimate is independent),
    within the error estimate it reports (which covers the planned range)."""
    times = np.linspace(0.0, 4.0, 5)
    wide = jt.response(single_level(t_hot=0.5), times,
                       jt.Continuum(tolerance=1e-5, temperature_range=(0.02, 0.5)))
    sol = wide.evaluate(C_OK, jnp.asarray([0.5, 0.02]))
    fresh = jt.solve(single_level(t_hot=0.5, t_cold=0.02), C_OK, times,
                     jt.Continuum(tolerance=1e-5))
    err = np.max(np.abs(np.asarray(sol.heat_current) - np.asarray(fresh.heat_current)))
    assert err <= float(sol.error_estimate) + float(fresh.error_estimate)
    assert float(sol.error_estimate) <= 1e-5


def test_readable_errors_puts_the_library_text_first(resp):
    with pytest.raises(ValueError) as info, jt.readable_errors():
        jax.jit(lambda t: resp.evaluate(C_OK, t).heat_current)(jnp.asarray([1.5, 0.02]))
    assert str(info.value).startswith("temperature below the range the Response was refined")


def test_validate_false_skips_only_the_state_check(resp):
    """The documented hot-loop switch: an unchecked C0 is contracted as given (affine in C0:
    C0 = 2 gives 2 × (C0 = 1) − (C0 = 0)); T and μ are still checked."""
    two = resp.evaluate(jnp.asarray([[2.0]]), validate=False).heat_current
    one = resp.evaluate(C_OK).heat_current
    zero = resp.evaluate(jnp.zeros((1, 1))).heat_current
    np.testing.assert_allclose(two, 2 * one - zero, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="below the range"):
        resp.evaluate(C_OK, jnp.asarray([1.5, 0.02]), validate=False)


def test_currents_only_response_checks_too():
    r = jt.response(single_level(), SHORT, jt.Continuum(tolerance=1e-6), observables="currents")
    with pytest.raises(ValueError, match="below the range"):
        r.evaluate(C_OK, jnp.asarray([1.5, 0.02]))
    with pytest.raises(ValueError, match=r"eigenvalues must lie in \[0, 1\]"):
        r.evaluate(jnp.asarray([[2.0]]))


def test_state_of_wrong_statistics(resp):
    with pytest.raises(ValueError, match="statistics='fermion'"):
        resp.evaluate(jt.GaussianState([[1.0]], statistics="boson"))


# ---- constructors ---------------------------------------------------------------------------
def _lead(**kw):
    return jt.Reservoir(jt.Lorentzian(0.5, 2.0), coupling=[1.0], **kw)


CONSTRUCTOR_CASES = [
    ("Reservoir complex T", lambda: _lead(temperature=1.0 + 0.5j), ValueError, "must be real"),
    ("Reservoir complex mu", lambda: _lead(chemical_potential=0.2j), ValueError, "must be real"),
    ("Reservoir NaN T", lambda: _lead(temperature=np.nan), ValueError, "finite"),
    ("Reservoir zero T", lambda: _lead(temperature=0.0), ValueError, "> 0"),
    ("Reservoir NaN mu", lambda: _lead(chemical_potential=np.nan), ValueError, "finite"),
    ("Lorentzian complex gamma", lambda: jt.Lorentzian(0.5 + 0.1j, 2.0), ValueError,
     "Lorentzian gamma must be real"),
    ("Lorentzian complex width", lambda: jt.Lorentzian(0.5, 2.0j), ValueError,
     "Lorentzian width must be real"),
    ("Lorentzian complex center", lambda: jt.Lorentzian(0.5, 2.0, 1j), ValueError,
     "Lorentzian center must be real"),
    ("Lorentzian zero width", lambda: jt.Lorentzian(0.5, 0.0), ValueError, "> 0"),
    ("Lorentzian NaN gamma", lambda: jt.Lorentzian(np.nan, 2.0), ValueError, "finite"),
    ("CutoffLorentzian complex cutoff", lambda: jt.CutoffLorentzian(0.5, 2.0, 8.0 + 1j),
     ValueError, "cutoff must be real"),
    ("Ohmic complex alpha", lambda: jt.Ohmic(0.1j, 2.0), ValueError, "alpha must be real"),
    ("Semicircle complex bandwidth", lambda: jt.Semicircle(0.5, 2.0 + 1j), ValueError,
     "half_bandwidth must be real"),
    ("Model non-Hermitian h", lambda: jt.Model([[0.0, 1.0], [0.0, 0.0]], _lead2()),
     ValueError, "Hermitian"),
    ("Model NaN h", lambda: jt.Model([[np.nan]], _lead()), ValueError, "finite"),
    ("Model coupling length", lambda: jt.Model(np.eye(3), _lead2()), ValueError,
     "they must match"),
    ("GaussianState eigenvalue 2", lambda: jt.GaussianState([[2.0]]), ValueError,
     "eigenvalues must lie in [0, 1]"),
    ("GaussianState non-Hermitian", lambda: jt.GaussianState([[0.5, 0.1], [0.0, 0.5]]),
     ValueError, "Hermitian"),
    ("GaussianState boson negative", lambda: jt.GaussianState([[-0.5]], statistics="boson"),
     ValueError, "[0, inf)"),
    ("GaussianState NaN", lambda: jt.GaussianState([[np.nan]]), ValueError, "finite"),
    ("Continuum tolerance 0", lambda: jt.Continuum(tolerance=0.0), ValueError, "> 0"),
    ("Continuum max_refinements -1", lambda: jt.Continuum(max_refinements=-1), ValueError,
     "max_refinements must be an integer >= 0"),
    ("Continuum reversed temperature_range", lambda: jt.Continuum(temperature_range=(2.0, 1.0)),
     ValueError, "0 < T_min <= T_max"),
    ("times decreasing", lambda: jt.response(single_level(), [0.0, 2.0, 1.0]), ValueError,
     "strictly increasing"),
    ("times negative", lambda: jt.response(single_level(), [-1.0, 0.0]), ValueError, ">= 0"),
    ("times NaN", lambda: jt.response(single_level(), [0.0, np.nan]), ValueError, "finite"),
    ("observables unknown", lambda: jt.response(single_level(), TIMES, observables="heat"),
     ValueError, "observables must be 'all' or 'currents'"),
]


def _lead2():
    return jt.Reservoir(jt.Lorentzian(0.5, 2.0), coupling=[1.0, 0.0])


@pytest.mark.parametrize("case", CONSTRUCTOR_CASES, ids=[c[0] for c in CONSTRUCTOR_CASES])
def test_constructor_rejects(case):
    _, build, exc, fragment = case
    with pytest.raises(exc) as info:
        build()
    assert fragment in str(info.value)


def test_missed_tolerance_warns_or_raises_with_the_estimate():
    method = jt.Continuum(tolerance=1e-15, max_refinements=0)
    with pytest.warns(jt.ToleranceWarning, match=r"could not reach tolerance 1e-15: the error "
                                                 r"estimate is \d"):
        r = jt.response(single_level(), SHORT, method)
    assert float(r.error_estimate) > 1e-15  # the reported estimate is the reached one
    with pytest.raises(ValueError, match=r"could not reach tolerance 1e-15.*strict=True"):
        jt.response(single_level(), SHORT, jt.Continuum(tolerance=1e-15, max_refinements=0,
                                                         strict=True))


def test_x64_disabled_is_an_error(resp):
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(RuntimeError, match="float64 mode is off"):
            jt.response(single_level(), TIMES)
        with pytest.raises(RuntimeError, match="float64 mode is off"):
            resp.evaluate(C_OK)
        with pytest.raises(RuntimeError, match="jax_enable_x64"):
            jt.Lorentzian(0.5, 2.0)
    finally:
        jax.config.update("jax_enable_x64", True)


# ---- sweeps: points outside the planned range get their own status -------------------------
def test_sweep_marks_points_below_the_planned_range(tmp_path):
    method = jt.Continuum(tolerance=1e-6, temperature_range=(0.4, 1.875))
    grid = Sweep.grid(single_level(), TIMES, temperature={1: [0.5, 0.02]}, method=method)
    ds = run_sweep(grid, tmp_path / "g.zarr", progress=False).open().load()
    np.testing.assert_array_equal(ds.status.values.ravel(), [0, 3])
    samples = Sweep.samples(single_level(), TIMES, temperature=[[1.5, 0.5], [1.5, 0.02]],
                            initial_states=[C_OK, C_OK], method=method)
    ds = run_sweep(samples, tmp_path / "s.zarr", progress=False).open().load()
    np.testing.assert_array_equal(ds.status.values, [0, 3])
    assert "3 temperature or chemical potential outside the range" in ds.attrs["status_codes"]


def test_run_sweep_rejects_chunk_size_zero(tmp_path):
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        run_sweep(Sweep.grid(single_level(), TIMES), tmp_path / "z.zarr", chunk_size=0)


# ---- configuration files: types checked by key, nothing truncated, old names rejected -------
SWEEP_TOML = """
[model]
hamiltonian = [[0.5]]
[[reservoirs]]
name = "hot"
temperature = 1.5
coupling = [1.0]
spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0 }
[[reservoirs]]
name = "cold"
temperature = 0.5
coupling = [1.0]
spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0 }
[times]
stop = 2.0
num = 5
[method]
kind = "continuum"
tolerance = 1e-6
[sweep]
hot = 0
[sweep.temperature]
"0" = [1.0, 1.5]
[run]
chunk_size = 1
"""


CONFIG_CASES = [
    ("hot float", ("hot = 0", "hot = 0.7"), "sweep.hot must be a reservoir index in [0, 2)"),
    ("hot out of range", ("hot = 0", "hot = 2"), "sweep.hot must be a reservoir index"),
    ("hot unknown name", ("hot = 0", 'hot = "warm"'), "one of the names ['hot', 'cold']"),
    ("num float", ("num = 5", "num = 5.7"), "times.num must be an integer >= 2, got 5.7"),
    ("num too small", ("num = 5", "num = 1"), "times.num must be an integer >= 2"),
    ("stop string", ("stop = 2.0", 'stop = "2"'), "times.stop must be a finite number, got '2'"),
    ("temperature string", ("temperature = 1.5", 'temperature = "hot"'),
     "reservoirs[0].temperature must be a finite number > 0, got 'hot'"),
    ("temperature negative", ("temperature = 1.5", "temperature = -1.5"),
     "reservoirs[0].temperature must be a finite number > 0"),
    ("coupling wrong length", ("coupling = [1.0]", "coupling = [1.0, 0.0]"),
     "reservoirs[0].coupling must have shape (1,)"),
    ("coupling strings", ("coupling = [1.0]", 'coupling = ["a"]'),
     "reservoirs[0].coupling must be a list of finite numbers"),
    ("old key density", ("spectral_density = {", "density = {"),
     "key 'density' was renamed: write spectral_density"),
    ("density kind", ('kind = "lorentzian"', 'kind = "gaussian"'),
     "spectral_density.kind must be one of 'lorentzian', 'cutoff_lorentzian'"),
    ("width zero", ("width = 2.0 }", "width = 0.0 }"), "spectral_density.width must be a finite "
     "number > 0"),
    ("statistics", ("hamiltonian = [[0.5]]", 'hamiltonian = [[0.5]]\nstatistics = "anyon"'),
     "model.statistics must be one of 'fermion', 'boson'"),
    ("hamiltonian not square", ("hamiltonian = [[0.5]]", "hamiltonian = [0.5]"),
     "square n x n"),
    ("method kind", ('kind = "continuum"', 'kind = "magic"'), "method.kind must be one of"),
    ("tolerance string", ("tolerance = 1e-6", 'tolerance = "1e-6"'),
     "method.tolerance must be a finite number > 0"),
    ("strict not bool", ("tolerance = 1e-6", "tolerance = 1e-6\nstrict = 1"),
     "method.strict must be true or false"),
    ("chunk_size float", ("chunk_size = 1", "chunk_size = 2.5"),
     "run.chunk_size must be an integer >= 1, got 2.5"),
    ("chunk_size zero", ("chunk_size = 1", "chunk_size = 0"), "run.chunk_size must be an "
     "integer >= 1"),
    ("axis values strings", ('"0" = [1.0, 1.5]', '"0" = ["a"]'),
     "sweep.temperature.0 must be a list of finite numbers"),
    ("axis reservoir index", ('"0" = [1.0, 1.5]', '"7" = [1.0]'),
     "sweep.temperature.7 must be a reservoir index in [0, 2)"),
    ("axis range num float", ('"0" = [1.0, 1.5]', '"0" = { start = 1.0, stop = 2.0, num = 2.5 }'),
     "sweep.temperature.0.num must be an integer >= 1"),
    ("time_stride zero", ("hot = 0", "hot = 0\ntime_stride = 0"),
     "sweep.time_stride must be an integer >= 1"),
    ("currents_only string", ("hot = 0", 'hot = 0\ncurrents_only = "yes"'),
     "sweep.currents_only must be true or false"),
    ("unknown key", ("hot = 0", "hot = 0\ntemprature = 1"), "unknown key(s) 'temprature'"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_sweep_config_rejects(case):
    _, edit, fragment = case
    assert edit[0] in SWEEP_TOML
    with pytest.raises(cfgmod.ConfigError) as info:
        cfgmod.loads(SWEEP_TOML.replace(*edit, 1))
    assert fragment in str(info.value)


def test_reservoir_names_select_reservoirs():
    cfg = cfgmod.loads(SWEEP_TOML.replace("hot = 0", 'hot = "cold"').replace(
        '"0" = [1.0, 1.5]', 'hot = [1.0, 1.5]'))
    spec = cfgmod.build_sweep(cfg)
    assert spec.hot == 1 and spec.axes[0].name == "temperature_0"


OPT_TOML = SWEEP_TOML.split("[sweep]")[0] + """
[objective]
kind = "min_heat_current"
window = [0.0, 2.0]
hot = "hot"
"""


@pytest.mark.parametrize("edit, fragment", [
    (('hot = "hot"', "reservoir = 0"), "key 'reservoir' was renamed: write hot"),
    (('hot = "hot"', "hot = 0.7"), "objective.hot must be a reservoir index"),
    (("spectral_density = {", "density = {"), "key 'density' was renamed"),
    (('kind = "continuum"\ntolerance = 1e-6', 'kind = "discretised"\nn_modes = 10'),
     "[method] kind must be 'continuum' for optimise"),
])
def test_optimise_config_shares_the_schema(tmp_path, edit, fragment):
    p = tmp_path / "o.toml"
    p.write_text(OPT_TOML.replace(*edit, 1))
    with pytest.raises(ValueError) as info:
        optcfg.load(p)
    assert fragment in str(info.value)


def test_optimise_config_resolves_names():
    p_cfg = optcfg.validate(__import__("tomllib").loads(OPT_TOML.replace('hot = "hot"',
                                                                         'hot = "cold"')))
    assert p_cfg["objective"]["hot"] == 1


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "jaxtransport", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, fragment", [
    (("sweep", "{tmp}/missing.toml", "--out", "{tmp}/x.zarr"), "config file {tmp}/missing.toml "
     "not found"),
    (("sweep", "{tmp}/s.toml", "--out", "{tmp}/x.zarr", "--chunk-size", "0"),
     "--chunk-size must be a positive integer"),
    (("sweep", "{tmp}/s.toml", "--out", "{tmp}/x.zarr", "--chunk-size", "2.5"),
     "argument --chunk-size: invalid int value: '2.5'"),
    (("sweep", "verify", "{tmp}/nothing.zarr"), "no sweep store at"),
    (("optimise", "{tmp}/missing.toml"), "not found"),
])
def test_cli_errors_exit_2(tmp_path, capsys, args, fragment):
    (tmp_path / "s.toml").write_text(SWEEP_TOML)
    with pytest.raises(SystemExit) as info:
        main([a.format(tmp=tmp_path) for a in args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert fragment.format(tmp=tmp_path) in err and "Traceback" not in err, err


def test_cli_config_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SWEEP_TOML.replace("hot = 0", "hot = 0.7"))
    r = _cli("sweep", bad, "--out", tmp_path / "y.zarr")
    assert r.returncode == 2 and "sweep.hot must be a reservoir index" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_experiment_configs_share_the_names():
    root = __import__("pathlib").Path(__file__).resolve().parents[1] / "experiments"
    sys.path.insert(0, str(root))
    try:
        common = __import__("_experiment")
    finally:
        sys.path.remove(str(root))
    defaults = {"method": {"tolerance": 1e-6}, "leads": {"temperature": {"hot": 1.5}}}
    with pytest.raises(ValueError, match=r"'tolerance' was renamed: write \[method\] tolerance"):
        common.merge(defaults, {"tolerance": 1e-7})
    with pytest.raises(ValueError, match=r"'leads.t_hot' was renamed: write temperature = "):
        common.merge(defaults, {"leads": {"t_hot": 1.5}})
    lead = common.density({"kind": "cutoff_lorentzian", "gamma": 0.5, "width": 2.0,
                           "cutoff": 8.0})
    assert isinstance(lead, jt.CutoffLorentzian)


def test_quadratic_model_response_checks_too():
    """The stage-2 checks of a general (Majorana-form) response; they live in the protocol's
    evaluate, shared by every method, so a small finite bath stands in for the continuum
    (whose stage 1 alone took ~15 s here)."""
    r = jt.general_response(jt.QuadraticModel.from_model(single_level()), SHORT,
                            jt.Discretised(4, 5.0, check_recurrence=False, band_warning=1.0))
    with pytest.raises(ValueError, match=r"eigenvalues must lie in \[0, 1\]"):
        r.evaluate(jnp.asarray([[2.0]]))
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        r.evaluate(C_OK, jnp.asarray([1.5, np.nan]))
    with pytest.raises(JIT_ERRORS) as info:
        jax.block_until_ready(jax.jit(lambda c: r.evaluate(c).heat_current)(jnp.asarray([[2.0]])))
    assert "eigenvalues must lie in [0, 1]" in str(info.value)


def _bosonic_xx_model():
    baths = [jt.PositionReservoir(jt.DrudeLorentz(0.2, 1.0), temperature=t, coupling=[1.0])
             for t in (1.0, 0.5)]
    return jt.QuadraticModel(np.eye(2), baths, "boson")


@pytest.mark.slow  # ~40 s; default: test_methods_quadratic's x–x continuum settings check
def test_bosonic_general_continuum_knows_its_range_and_tolerance():
    qm = _bosonic_xx_model()
    r = jt.general_response(qm, SHORT, jt.GeneralContinuum(tolerance=1e-6))
    state = jt.CovarianceState(0.5 * np.eye(2), "boson")
    with pytest.raises(ValueError, match=r"temperature\[1\] = 0.01 is below the range"):
        r.evaluate(state, jnp.asarray([1.0, 0.01]))
    with pytest.raises(JIT_ERRORS) as info:
        jax.block_until_ready(jax.jit(lambda t: r.evaluate(state, t).heat_current)(
            jnp.asarray([1.0, 0.01])))
    assert "below the range" in str(info.value)


# slow (three quarters of the former test's ~45 s: refinement up to the limit before it
# gives up); the default suite keeps the same warning from the same x–x continuum with no
# refinement allowed (test_methods_quadratic.py::test_continuum_settings_reach_the_xx_continuum)
@pytest.mark.slow
def test_bosonic_general_continuum_warns_when_its_tolerance_is_unreachable():
    with pytest.warns(jt.ToleranceWarning, match="GeneralContinuum could not reach tolerance"):
        jt.general_response(_bosonic_xx_model(), SHORT,
                            jt.GeneralContinuum(tolerance=1e-15, nodes_per_panel=6))
