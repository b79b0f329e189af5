"""Bad input: one test per rejected input; the message says what is wrong."""

import numpy as np
import pytest
from systems import single_level

import jaxtransport as jt

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
