"""The uphill (cold-to-hot) measure: windows and integrals against a brute-force definition on
sampled traces; objective gradients against central finite differences."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxtransport as jt
from jaxtransport import demo


def _brute_rate(j, temp):
    """r(t) from the definition by enumerating every split of the reservoirs into a colder and
    a hotter group (all of the first strictly colder than all of the second)."""
    m = len(temp)
    best = np.full(j.shape[0], -np.inf)
    for size in range(1, m):
        for cold in itertools.combinations(range(m), size):
            hot = [k for k in range(m) if k not in cold]
            if max(temp[list(cold)]) >= min(temp[hot]):
                continue
            out_cold = j[:, list(cold)].sum(axis=1)
            into_hot = -j[:, hot].sum(axis=1)
            best = np.maximum(best, np.minimum(out_cold, into_hot))
    return np.maximum(best, 0.0)


def _trace(rng, times, m):
    """Smooth random currents (T, M): sums of sinusoids with random phases."""
    t = times[:, None]
    j = np.zeros((times.size, m))
    for k in range(1, 4):
        j += rng.normal(size=m) * np.sin(k * 0.7 * t + rng.uniform(0, 6, size=m)) / k
    return j + 0.2 * rng.normal(size=m)


@pytest.mark.parametrize("temp", [[1.5, 0.5], [0.3, 2.0], [1.0, 0.4, 2.0], [1.0, 1.0, 0.5],
                                  [2.0, 1.0, 0.5, 0.7]])
def test_windows_and_integral_match_brute_force(temp):
    temp = np.asarray(temp)
    times = np.linspace(0.0, 6.0, 25)
    rng = np.random.default_rng(len(temp) * 7 + int(10 * temp[0]))
    fine = np.linspace(0.0, 6.0, 24 * 4000 + 1)  # contains the coarse grid
    for _ in range(4):
        j = _trace(rng, times, len(temp))
        flow = jt.uphill_flow(times=times, heat_current=j, temperature=temp)
        jf = np.stack([np.interp(fine, times, j[:, k]) for k in range(len(temp))], axis=1)
        rf = _brute_rate(jf, temp)
        # integral of the interpolant: fine trapezoid (error ~ dt_fine² at the kinks)
        q_brute = np.sum(0.5 * np.diff(fine) * (rf[1:] + rf[:-1]))
        assert flow.heat == pytest.approx(q_brute, abs=1e-8, rel=1e-7)
        # rate on the grid
        np.testing.assert_allclose(flow.rate, _brute_rate(j, temp), atol=1e-14)
        # windows: runs of r > 0 on the fine grid, edges within one fine step
        pos = rf > 0
        edges = np.flatnonzero(np.diff(pos.astype(int)))
        starts = [fine[0]] if pos[0] else []
        ends = []
        for e in edges:
            (starts if not pos[e] else ends).append(fine[e + (0 if pos[e] else 1)])
        if pos[-1]:
            ends.append(fine[-1])
        assert len(flow.windows) == len(starts) == len(ends)
        dt = fine[1] - fine[0]
        for (a, b), a0, b0 in zip(flow.windows, starts, ends, strict=True):
            assert abs(a - a0) <= 1.01 * dt and abs(b - b0) <= 1.01 * dt
        assert sum(flow.window_heat) == pytest.approx(flow.heat, rel=1e-9)  # r < tolerance
        # the objective's plain trapezoid rule agrees to O(dt²) on a fine grid
        tf = np.linspace(0.0, 6.0, 601)
        jf = np.stack([np.interp(tf, fine, jf[:, k]) for k in range(len(temp))], axis=1)
        obj = -float(jt.UphillHeat()(_FakeSolution(tf, jf, temp)))
        exact = jt.uphill_flow(times=tf, heat_current=jf, temperature=temp).heat
        assert obj == pytest.approx(exact, abs=1e-3 * max(exact, 1e-3))


class _FakeSolution:
    def __init__(self, times, j, temp):
        self.times, self.heat_current, self.temperature = jnp.asarray(times), jnp.asarray(j), \
            jnp.asarray(temp)


def test_equal_temperatures_have_no_uphill_flow_and_batch_heat():
    times = np.linspace(0, 1, 11)
    j = np.stack([-np.ones(11), np.ones(11)], axis=1)  # into 0, out of 1
    assert jt.uphill_flow(times=times, heat_current=j, temperature=[1.0, 1.0]).heat == 0.0
    # out of 1 (cold) into 0 (hot): r = 1 throughout; reversed temperatures: nothing
    assert jt.uphill_flow(times=times, heat_current=j, temperature=[2.0, 1.0]).heat == \
        pytest.approx(1.0, rel=1e-14)
    q = jt.uphill_heat(times=times, heat_current=np.stack([j, j]),
                       temperature=[[2.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(q, [1.0, 0.0], atol=1e-14)
    # discharge into both reservoirs is not uphill
    both = np.stack([-np.ones(11), -np.ones(11)], axis=1)
    assert jt.uphill_flow(times=times, heat_current=both, temperature=[2.0, 1.0]).windows == []


@pytest.fixture(scope="module")
def response():
    return jt.response(demo.two_site_model(), np.linspace(0.0, 4.0, 41), jt.Pade())


C0 = demo.uphill_preparation()


@pytest.mark.parametrize("objective", [jt.UphillHeat(smoothing=0.01), jt.UphillHeat(),
                                       jt.UphillDuration(smoothing=0.01),
                                       jt.UphillHeat(window=(1.0, 3.0), smoothing=0.005)])
def test_objective_gradient_matches_central_differences(response, objective):
    objective.check(response.times, 2)
    f = lambda c: objective(response.evaluate(c))
    c_mid = 0.98 * C0 + 0.01 * np.eye(2)  # eigenvalues 0.01, 0.99: C0 ± h d stays physical
    rng = np.random.default_rng(3)
    for _ in range(2):
        d = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
        d = 0.5 * (d + d.conj().T)
        _, jvp = jax.jvp(f, (jnp.asarray(c_mid),), (jnp.asarray(d),))
        h = 1e-5
        fd = (f(c_mid + h * d) - f(c_mid - h * d)) / (2 * h)
        assert float(jvp) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)
    assert float(f(c_mid)) < 0  # this preparation does move heat uphill on [0, 4]


def test_smooth_rate_bounds_hard_rate(response):
    sol = response.evaluate(C0)
    hard = jt.uphill_rate(sol.heat_current, sol.temperature)
    for tau in (1e-2, 1e-3):
        soft = jt.uphill_rate(sol.heat_current, sol.temperature, smoothing=tau)
        # soft min within τ ln 2, soft max over M splits within τ ln M, softplus within τ ln 2
        np.testing.assert_array_less(np.abs(np.asarray(soft) - np.asarray(hard)),
                                     tau * 2 * np.log(2) + 1e-15)


def test_demo_preparation_beats_200_random_ones_and_obeys_the_second_law(response):
    """Cheap version of the slow test below: the demo's (rounded optimal) preparation."""
    from jaxtransport.optimise.parametrisations import random_states

    sol = response.evaluate(C0)
    q = jt.uphill_flow(sol).heat
    q_rand = jt.uphill_heat(response.evaluate(random_states(jax.random.PRNGKey(5), 2, 200)))
    assert q >= q_rand.max() > 0
    times = 4.0 * np.linspace(0.0, 1.0, 81) ** 1.5  # graded: J ~ t ln t at t = 0
    sigma = np.asarray(jt.entropy_production(jt.solve(demo.two_site_model(), C0, times,
                                                      jt.Pade())))
    assert sigma.min() >= -1e-10 and sigma[-1] > 0.1


@pytest.mark.slow
def test_optimised_uphill_heat_beats_1000_random_preparations_and_obeys_the_second_law():
    """Two-site hot–cold model (the demo's): jt.UphillHeat optimised over all fermionic
    Gaussian states ≥ the best of 1000 random physical preparations; Σ(t) ≥ −1e-10 along the
    optimum (the grid is graded towards t = 0 where J ~ t ln t)."""
    from jaxtransport.optimise.parametrisations import random_states

    model = demo.two_site_model()
    times = 5.0 * np.linspace(0.0, 1.0, 61) ** 1.5
    resp = jt.response(model, times, jt.Pade())
    res = jt.optimise_preparation(model, times, jt.UphillHeat(smoothing=2e-3), response=resp,
                                  steps=150, n_starts=16, tolerance=0.0, progress=False)
    q_opt = jt.uphill_flow(res.solution).heat
    c = random_states(jax.random.PRNGKey(7), 2, 1000)
    q_rand = jt.uphill_heat(resp.evaluate(c))
    print(f"Q_up optimised {q_opt:.6g}, best of 1000 random {q_rand.max():.6g}")
    assert q_opt >= q_rand.max() > 0
    sigma = np.asarray(jt.entropy_production(res.solution))
    assert sigma.min() >= -1e-10 and sigma[-1] > 0.1
    # the optimum is (numerically) pure: one electron in a coherent superposition
    nu = np.linalg.eigvalsh(res.correlation)
    assert nu[0] < 0.05 and abs(np.asarray(res.correlation)[0, 1]) > 0.3
