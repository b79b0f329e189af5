"""Parametrisations and objectives of the optimisation layer.

References: spectra (validity of states), constraints computed directly, central finite
differences of every objective w.r.t. the unconstrained parameters (rtol 1e-6, the issue's
acceptance), objective values recomputed with NumPy from the Solution arrays.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from systems import two_site

import jaxtransport as jt
from jaxtransport.optimise import BosonicGaussian, random_states
from jaxtransport.optimise.parametrisations import _fermi_matrix

TIMES = np.linspace(0.0, 4.0, 21)
FD_RTOL = 1e-6  # issue acceptance: gradients == central finite differences
H2 = np.asarray(two_site().hamiltonian)
H3 = np.array([[0.2, -0.5, 0.0], [-0.5, 0.0, -0.5], [0.0, -0.5, -0.2]])


@pytest.fixture(scope="module")
def resp():
    return jt.response(two_site(), TIMES, method=jt.Continuum(tolerance=1e-6))


def _directional_fd_check(fun, params, n_dirs=3, h=1e-6, seed=0):
    """grad · v == (f(p + h v) − f(p − h v)) / 2h for random unit directions v."""
    flat, unravel = ravel_pytree(params)
    f = jax.jit(lambda x: fun(unravel(x)))
    g = jax.jit(jax.grad(lambda x: fun(unravel(x))))(flat)
    assert np.all(np.isfinite(g))
    rng = np.random.default_rng(seed)
    for _ in range(n_dirs):
        v = rng.normal(size=flat.shape)
        v /= np.linalg.norm(v)
        fd = (f(flat + h * v) - f(flat - h * v)) / (2 * h)
        np.testing.assert_allclose(float(g @ v), float(fd), rtol=FD_RTOL, atol=1e-11)


PARAMETRISATIONS = {
    "gaussian": jt.FermionicGaussian(3),
    "fixed_n": jt.FermionicGaussian(3, particle_number=1.3),
    "fixed_energy": jt.FermionicGaussian(3, energy=-0.4, hamiltonian=H3),
    "slater": jt.SlaterDeterminant(3, 2),
    "thermal": jt.ThermalState(H3, temperature=(0.1, 3.0), chemical_potential=(-0.5, 0.5)),
}


@pytest.mark.parametrize("name", list(PARAMETRISATIONS))
def test_fermionic_states_valid_and_constraints_exact(name):
    par = PARAMETRISATIONS[name]
    keys = jax.random.split(jax.random.PRNGKey(0), 64)
    cs = np.asarray(jax.vmap(lambda k: par.correlation(par.init(k)))(keys))
    # also far out in parameter space (saturated occupations)
    big = jax.vmap(lambda k: par.correlation(jax.tree_util.tree_map(
        lambda a: 8.0 * a, par.init(k))))(keys[:8])
    for c in np.concatenate([cs, np.asarray(big)]):
        np.testing.assert_allclose(c, c.conj().T, atol=1e-13)
        ev = np.linalg.eigvalsh(c)
        assert ev.min() >= -1e-12 and ev.max() <= 1 + 1e-12, ev
    if name == "fixed_n":
        np.testing.assert_allclose(np.trace(cs, axis1=1, axis2=2).real, 1.3, atol=1e-12)
    if name == "fixed_energy":
        np.testing.assert_allclose(np.einsum("ij,bji->b", H3, cs).real, -0.4, atol=1e-10)
    if name == "slater":
        for c in cs[:8]:
            np.testing.assert_allclose(c @ c, c, atol=1e-12)  # pure: a projector
            assert np.trace(c).real == pytest.approx(2.0, abs=1e-12)
    if name == "thermal":
        p = par.init(jax.random.PRNGKey(3))
        t, mu = float(par.temperature(p)), float(par.mu(p))
        e, u = np.linalg.eigh(H3)
        ref = (u / (np.exp((e - mu) / t) + 1)) @ u.conj().T
        np.testing.assert_allclose(par.correlation(p), ref, atol=1e-13)


@pytest.mark.parametrize("name", list(PARAMETRISATIONS))
def test_parametrisation_gradients_match_finite_differences(name):
    par = PARAMETRISATIONS[name]
    m = jnp.asarray(np.array([[0.3, 0.1 - 0.2j, 0.0], [0.1 + 0.2j, -0.5, 0.4],
                              [0.0, 0.4, 0.2]]))
    _directional_fd_check(lambda p: jnp.trace(m @ par.correlation(p)).real
                          + jnp.sum(jnp.abs(par.correlation(p)) ** 2), par.init(
        jax.random.PRNGKey(5)))


def test_fermi_matrix_derivative_at_degenerate_spectrum():
    """Exactly degenerate X: the divided-difference derivative is finite and matches FD."""
    x0 = jnp.diag(jnp.array([0.3, 0.3, -1.0])).astype(jnp.complex128)
    dx = jnp.asarray(np.array([[0.0, 1.0, 0.5j], [1.0, 0.2, 0.0], [-0.5j, 0.0, 0.0]]))
    f = lambda s: _fermi_matrix(x0 + s * dx)
    jv = jax.jvp(f, (0.0,), (1.0,))[1]
    fd = (f(1e-6) - f(-1e-6)) / 2e-6
    assert np.all(np.isfinite(jv))
    np.testing.assert_allclose(jv, fd, atol=1e-9)


@pytest.mark.parametrize("form", ["cholesky", "occupations"])
def test_bosonic_states_positive_and_differentiable(form):
    par = BosonicGaussian(3, form=form)
    assert par.statistics == "boson"
    keys = jax.random.split(jax.random.PRNGKey(1), 32)
    for k in keys:
        c = np.asarray(par.correlation(par.init(k)))
        np.testing.assert_allclose(c, c.conj().T, atol=1e-13)
        assert np.linalg.eigvalsh(c).min() >= -1e-12
    st = par.state(par.init(keys[0]))
    assert st.statistics == "boson"
    if form == "cholesky":  # every positive-definite C0 is reachable: invert one
        target = np.array([[2.0, 0.3 + 0.1j, 0.0], [0.3 - 0.1j, 0.5, 0.1], [0.0, 0.1, 0.2]])
        low = np.linalg.cholesky(target)
        d = np.log(np.expm1(np.diag(low).real))
        x = np.tril(low.real, -1) + np.diag(d)
        y = np.tril(low.imag, -1)
        np.testing.assert_allclose(par.correlation({"cholesky": jnp.asarray(np.stack([x, y]))}),
                                   target, atol=1e-12)
    m = jnp.asarray(np.diag([1.0, -0.5, 0.3]))
    _directional_fd_check(lambda p: jnp.trace(m @ par.correlation(p)).real, par.init(keys[2]))


def test_bosonic_thermal_state_is_bose_function():
    h = np.array([[1.0, 0.2], [0.2, 1.5]])
    par = jt.ThermalState(h, temperature=(0.5, 2.0), chemical_potential=0.3, statistics="boson")
    p = {"temperature": jnp.asarray(0.4)}
    t = float(par.temperature(p))
    e, u = np.linalg.eigh(h)
    np.testing.assert_allclose(par.correlation(p), (u / np.expm1((e - 0.3) / t)) @ u.T,
                               atol=1e-12)
    with pytest.raises(ValueError, match="h - mu > 0"):
        jt.ThermalState(h, temperature=(0.5, 2.0), chemical_potential=1.2, statistics="boson")


OBJECTIVES = {
    "current_at": jt.HeatCurrentAt(TIMES[5], reservoir=0),
    "min_hard": jt.MinHeatCurrent(window=(0.4, 3.0), reservoir=0),
    "min_smooth": jt.SmoothMinHeatCurrent(window=(0.0, 4.0), smoothing=0.01),
    "integrated": jt.IntegratedHeat(window=(0.0, 2.0), reservoir=0),
    "reversed": jt.ReversedHeat(window=(0.0, 4.0), reservoir=0, smoothing=0.005),
    "duration": jt.ReversalDuration(window=(0.0, 4.0), reservoir=0, smoothing=0.01),
    "g1": jt.MinConductanceG1(window=(0.0, 4.0), smoothing=0.01),
    "symmetric": jt.MinSymmetricHeatCurrent(window=(0.0, 4.0), smoothing=0.01, reservoir=1),
    "custom": jt.optimise.Custom(lambda sol: jnp.mean(sol.particle_current[:, 0] ** 2)),
    "composite": 0.5 * jt.HeatCurrentAt(TIMES[3]) - jt.IntegratedHeat((0.0, 1.0), 1),
}


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_objective_gradients_match_finite_differences(name, resp):
    obj = OBJECTIVES[name]
    obj.check(TIMES, 2)
    par = jt.FermionicGaussian(2)
    _directional_fd_check(lambda p: obj(resp.evaluate(par.correlation(p))),
                          par.init(jax.random.PRNGKey(2)), seed=1)


def test_objective_values_match_numpy(resp):
    c = np.asarray(random_states(jax.random.PRNGKey(4), 2, 1)[0])
    sol = resp.evaluate(c)
    t = TIMES
    j = np.asarray(sol.heat_current)
    js = np.asarray(sol.symmetric_heat_current)
    q = np.asarray(sol.integrated_heat)
    w = (t >= 0.4) & (t <= 3.0)
    val = {k: float(o(sol)) for k, o in OBJECTIVES.items()}
    assert val["current_at"] == pytest.approx(j[5, 0], abs=1e-15)
    assert val["min_hard"] == pytest.approx(j[w, 0].min(), abs=1e-15)
    tau = 0.01
    soft = -tau * np.log(np.sum(np.exp(-j[:, 0] / tau)))
    assert val["min_smooth"] == pytest.approx(soft, abs=1e-13)
    assert j[:, 0].min() - tau * np.log(len(t)) <= val["min_smooth"] <= j[:, 0].min()
    assert val["integrated"] == pytest.approx(q[10, 0] - q[0, 0], abs=1e-15)
    dt = np.diff(t)
    rev = -0.005 * np.logaddexp(0, -j[:, 0] / 0.005)
    assert val["reversed"] == pytest.approx(np.sum(0.5 * dt * (rev[1:] + rev[:-1])), abs=1e-13)
    sig = 1 / (1 + np.exp(j[:, 0] / 0.01))
    assert val["duration"] == pytest.approx(-np.sum(0.5 * dt * (sig[1:] + sig[:-1])), abs=1e-13)
    g1 = j[:, 0] / (1.5 - 0.5)
    assert val["g1"] == pytest.approx(-0.01 * np.log(np.sum(np.exp(-g1 / 0.01))), abs=1e-13)
    assert val["symmetric"] == pytest.approx(
        -0.01 * np.log(np.sum(np.exp(-js[:, 1] / 0.01))), abs=1e-13)
    assert val["composite"] == pytest.approx(0.5 * j[3, 0] - (q[5, 1] - q[0, 1]), abs=1e-15)
    # the hard reversed heat and duration of a state with a reversal window
    hard = jt.ReversedHeat(window=(0.0, 4.0))(sol)
    neg = np.minimum(j[:, 0], 0)
    assert float(hard) == pytest.approx(np.sum(0.5 * dt * (neg[1:] + neg[:-1])), abs=1e-15)
    assert jt.HeatCurrentAt(1.0).is_linear and OBJECTIVES["composite"].is_linear
    assert not OBJECTIVES["min_smooth"].is_linear


def test_optimal_linear_preparation_rejects_nonlinear_objective(resp):
    with pytest.raises(ValueError, match="not affine in C0"):
        jt.optimal_linear_preparation(response=resp, objective=OBJECTIVES["min_smooth"])


def test_linear_kernel_reproduces_evaluate(resp):
    """Sign/transpose conventions: Tr[M C] + b == evaluate(C) on random (complex) states."""
    obj = jt.HeatCurrentAt(TIMES[7], reservoir=1)
    lin = jt.optimal_linear_preparation(response=resp, objective=obj)
    for c in np.asarray(random_states(jax.random.PRNGKey(9), 2, 5)):
        pred = np.trace(np.asarray(lin.kernel) @ c).real + float(lin.offset)
        assert pred == pytest.approx(float(obj(resp.evaluate(c))), abs=1e-14)
    np.testing.assert_allclose(lin.kernel, np.asarray(lin.kernel).conj().T, atol=1e-15)


def test_model_parameters_map_onto_the_model():
    """ModelParameters: the initial values reproduce the model exactly; new values land in h,
    γ, T and μ where documented (hopping phase kept, h stays Hermitian)."""
    from jaxtransport.optimise.optimiser import _apply_model

    model = two_site()  # complex hopping 0.2 - 0.1i
    mp = jt.ModelParameters(temperature=[None, (0.2, 1.0)], chemical_potential=[(-1, 1), None],
                            level_energies=[None, (-1.0, 1.0)], hoppings=[(-1.0, 1.0)],
                            coupling_strengths=[(0.1, 2.0), None])
    entries = mp.entries(model)
    assert mp.names(model) == ["temperature[1]", "chemical_potential[0]", "level_energies[1]",
                               "hoppings[0]", "coupling_strengths[0]"]
    x0 = jnp.asarray([e[4] for e in entries])
    m0, t0, mu0 = _apply_model(model, entries, x0)
    np.testing.assert_allclose(m0.hamiltonian, model.hamiltonian, atol=1e-15)
    np.testing.assert_allclose(t0, model.temperatures)
    np.testing.assert_allclose(mu0, model.chemical_potentials)
    m1, t1, mu1 = _apply_model(model, entries, jnp.asarray([0.7, 0.3, 0.25, -0.5, 1.1]))
    h = np.asarray(m1.hamiltonian)
    phase = (0.2 - 0.1j) / abs(0.2 - 0.1j)
    np.testing.assert_allclose(h, [[0.3, -0.5 * phase], [-0.5 * np.conj(phase), 0.25]],
                               atol=1e-15)
    np.testing.assert_allclose(t1, [1.5, 0.7])
    np.testing.assert_allclose(mu1, [0.3, 0.0])
    assert float(m1.reservoirs[0].terms[0][0].gamma) == pytest.approx(1.1)
    assert float(m1.reservoirs[1].terms[0][0].gamma) == pytest.approx(0.5)
