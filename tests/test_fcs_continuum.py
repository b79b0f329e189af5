"""Counting statistics of continuous pole-sum reservoirs (no discretisation) against
independent values: the engine's integrated heat current (jt.Pade), the finite-mode
determinant formula (statistics.FiniteModes, converged / extrapolated in the band),
Levitov–Lesovik rates with the Caroli transmission, and exact identities."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from systems import coherent_c0_2, lead, two_site

import jaxtransport as jt
from jaxtransport import fcs_continuum as fc
from jaxtransport import statistics as st


def _integrated_heat(model, t1, c0, n_pade):
    """∫_0^t1 J^Q_α dt of the engine (jt.Pade), Gauss–Legendre (the current is analytic)."""
    x, w = np.polynomial.legendre.leggauss(60)
    nodes = 0.5 * t1 * (x + 1)
    sol = jt.response(model, nodes, method=jt.Pade(n_pade=n_pade)).evaluate(c0)
    return 0.5 * t1 * np.sum(w[:, None] * np.asarray(sol.heat_current), axis=0)


def _one_level(t_hot=1.5, t_cold=0.5):
    hot = jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), temperature=t_hot, coupling=[1.0])
    cold = jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), temperature=t_cold, coupling=[1.0])
    return jt.Model([[0.2]], (hot, cold))


def _levitov_lesovik_heat_rate(model, s, counted):
    """Long-time rate of ln E[e^{s Q}] of the heat Q out of lead ``counted`` (μ = 0) from the
    Caroli transmission at finite s: ∫ dω/2π ln{1 + 𝒯[f_c(1 − f_o)(e^{sω} − 1)
    + f_o(1 − f_c)(e^{−sω} − 1)]}, composite Gauss–Legendre on [−80, 80]."""
    x, w = np.polynomial.legendre.leggauss(40)
    edges = np.linspace(-80.0, 80.0, 321)
    om = np.concatenate([(a + b) / 2 + (b - a) / 2 * x for a, b in zip(edges[:-1], edges[1:])])
    wt = np.concatenate([(b - a) / 2 * w for a, b in zip(edges[:-1], edges[1:])])
    tr = np.asarray(jax.vmap(lambda o: jt.transmission(model, o))(jnp.asarray(om)))[:, 0, 1]
    f = [1.0 / (np.exp(om / t) + 1.0) for t in np.asarray(model.temperatures)]
    fc_, fo = f[counted], f[1 - counted]
    arg = fc_ * (1 - fo) * np.expm1(s * om) + fo * (1 - fc_) * np.expm1(-s * om)
    return float(np.sum(wt * np.log1p(tr.real * arg)) / (2 * np.pi))


def _heat_rate(model, s, counted, ts, n_pade):
    """Slope of ln E[e^{s Q}] (heat out of lead ``counted``) of the continuum closure."""
    lam = np.zeros(2, complex)
    lam[counted] = -1j * s  # Z(λ) = E[e^{iλQ}]
    z = np.asarray(fc.log_generating_function(model, ts, lam, np.array([[0.3]]),
                                              n_pade=n_pade, quantity="heat"))
    return (z[1] - z[0]) / (ts[1] - ts[0])


def test_heat_exchange_fluctuation_symmetry_small_case():
    """Default-suite heat check (one level, two CutoffLorentzian leads, 8 Padé poles): the
    long-time rate F(s) of ln E[e^{s Q_cold}] satisfies the exchange fluctuation symmetry
    F(s) = F(Δβ − s), Δβ = 1/T_cold − 1/T_hot, and equals Levitov–Lesovik (measured 3e-7 and
    3e-6 relative at 8 poles, converging with the Padé order: see the slow test below); the
    antisymmetric partner F(−s) has the opposite sign (the symmetry is not trivial)."""
    model = _one_level()
    s, dbeta = 0.4, 1 / 0.5 - 1 / 1.5
    ts = np.array([30.0, 40.0])
    f_s, f_gc, f_anti = (_heat_rate(model, x, 1, ts, 8) for x in (s, dbeta - s, -s))
    assert abs(f_s - f_gc) <= 3e-6 * abs(f_s)
    assert abs(f_s - _levitov_lesovik_heat_rate(model, s, 1)) <= 1e-5 * abs(f_s)
    assert f_anti * f_s < 0


def test_heat_first_cumulant_small_case():
    """Default-suite heat check: κ1 of the hot-lead heat (one level, 8 Padé poles) equals the
    engine's integrated heat current at the same Padé order (measured 1e-12); κ1 = κ2 = 0
    at t = 0 and κ2 > 0 after."""
    model = _one_level()
    c0 = np.array([[0.3]])
    ts = np.array([0.0, 1.5])
    k = np.asarray(fc.cumulants(model, ts, c0, order=2, n_pade=8))
    np.testing.assert_allclose(k[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(k[1, 0], _integrated_heat(model, 1.5, c0, 8)[0], atol=1e-9)
    assert k[1, 1] > 1e-2


@pytest.mark.slow  # ~130 s at load 13 on 2 cores
def test_exchange_fluctuation_symmetry_of_heat_rates():
    """Heat exchange fluctuation theorem at fixed temperatures (μ = 0): the long-time rate of
    ln E[e^{s Q_cold}] obeys F(s) = F(Δβ − s), Δβ = 1/T_cold − 1/T_hot, equivalently
    F_hot(s) = F_hot(−s − Δβ) for the hot lead. Evaluated at finite counting field with the
    continuum closure (20 Padé poles, slopes between t = 30 and 40) and compared with the
    Levitov–Lesovik formula at the same s (Caroli transmission, independent). Measured:
    symmetry 8e-8 / 5e-8 relative, Levitov–Lesovik 1e-8 … 7e-8 (t = 20–25: 2e-7)."""
    model = _one_level()
    dbeta = 1 / 0.5 - 1 / 1.5
    ts = np.array([30.0, 40.0])
    for s in (0.2, 0.4):
        f_s, f_gc, f_anti = (_heat_rate(model, x, 1, ts, 20) for x in (s, dbeta - s, -s))
        ref = _levitov_lesovik_heat_rate(model, s, 1)
        assert abs(f_s - f_gc) <= 3e-7 * abs(f_s), (s, f_s, f_gc)
        assert abs(f_s - ref) <= 3e-7 * abs(ref), (s, f_s, ref)
        assert abs(f_gc - ref) <= 3e-7 * abs(ref), (s, f_gc, ref)
        assert f_anti * f_s < 0  # the symmetry point is Δβ/2, not 0


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_first_cumulant_is_the_integrated_heat_current_and_t0_vanishes():
    """κ1(t) of the heat out of each lead equals ∫ J^Q of the engine at the same Padé order
    (measured ≤ 3e-12); every cumulant vanishes at t = 0."""
    model = two_site(cutoff=3.0)
    c0 = coherent_c0_2()
    ts = np.array([0.0, 1.0, 3.0])
    k1 = np.asarray(st.joint_cumulants(model, ts, c0, order=1, n_pade=8))  # (T, M)
    for i, t1 in enumerate(ts[1:], start=1):
        np.testing.assert_allclose(k1[i], _integrated_heat(model, t1, c0, 8), atol=1e-9)
    k = np.asarray(st.cumulants(model, ts, c0, n_pade=8))
    np.testing.assert_allclose(k[0], 0.0, atol=1e-10)
    assert np.abs(k[1:]).min() > 1e-2


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_particle_statistics_equal_finite_modes_at_finite_counting_field():
    """Particle counting is exact at finite λ: ln Z(λ) and κ1–κ4 equal the determinant
    formula on a converged discretisation (CutoffLorentzian tails; 160 modes per lead term,
    band ±32, t ≤ 3; measured differences ≤ 2e-7)."""
    model = two_site(cutoff=3.0)
    c0 = coherent_c0_2()
    ts = np.array([0.5, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = st.FiniteModes.from_model(model, jt.Discretised(n_modes=160, band=32.0))
    lam = np.array([0.7, -0.4])
    ref = np.asarray(st.log_generating_function(fm, ts, lam, c0, quantity="particles"))
    got = np.asarray(fc.log_generating_function(model, ts, lam, c0, n_pade=10))
    np.testing.assert_allclose(got, ref, atol=1e-6)
    assert np.abs(ref).min() > 1e-2
    kc = np.asarray(st.cumulants(model, ts, c0, quantity="particles", reservoir=1, n_pade=10))
    kf = np.asarray(st.cumulants(fm, ts, c0, quantity="particles", reservoir=1))
    np.testing.assert_allclose(kc, kf, atol=1e-6)


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_decoupled_reservoir_has_zero_cumulants_and_batches_like_a_loop():
    h = np.array([[0.3, 0.2], [0.2, -0.3]])
    res = [jt.Reservoir(lead(0.5, 2.0, cutoff=3.0), temperature=t, coupling=v)
           for t, v in ((1.5, [1.0, 0.0]), (0.5, [0.0, 1.0]), (1.0, [0.0, 0.0]))]
    model = jt.Model(h, tuple(res))
    ts = np.array([0.0, 2.0])
    c0 = np.stack([coherent_c0_2(), np.diag([0.2, 0.9])])
    temp = np.array([[1.5, 0.5, 1.0], [1.2, 0.4, 2.0]])
    k = np.asarray(st.cumulants(model, ts, c0, temp, reservoir=2, n_pade=6, order=2))
    np.testing.assert_allclose(k, 0.0, atol=1e-10)
    k0 = np.asarray(st.cumulants(model, ts, c0, temp, reservoir=0, n_pade=6, order=2))
    assert k0.shape == (2, 2, 2) and np.abs(k0[:, 1]).min() > 1e-2
    for b in range(2):
        one = st.cumulants(model, ts, c0[b], temp[b], reservoir=0, n_pade=6, order=2)
        np.testing.assert_allclose(k0[b], one, atol=1e-12)


@pytest.mark.slow  # ~150 s at load 16 on 2 cores (compilation of the aux model)
def test_differentiable_in_temperature():
    """d κ2 / d T_hot by autodiff equals a central difference."""
    model = two_site(cutoff=3.0)
    c0 = coherent_c0_2()
    ts = np.array([0.0, 1.5])

    def k2(th):
        temp = jnp.stack([th, jnp.asarray(0.5)])
        return fc.cumulants(model, ts, c0, temp, order=2, n_pade=6)[-1, 1]

    g = float(jax.grad(k2)(1.5))
    fd = (float(k2(1.5 + 1e-4)) - float(k2(1.5 - 1e-4))) / 2e-4
    assert abs(g - fd) < 1e-6 * max(1.0, abs(fd)) and abs(fd) > 1e-3


def test_rejects_bad_inputs():
    c0 = coherent_c0_2()
    t = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="order > 2"):
        fc.cumulants(two_site(), t, c0, order=3)  # Lorentzian tails: κ3 of heat infinite
    with pytest.raises(ValueError, match="quantity must be one of"):
        fc.cumulants(two_site(cutoff=3.0), t, c0, quantity="entropy")
    with pytest.raises(ValueError, match="pole-sum"):
        drude = jt.Reservoir(jt.CutoffDrudeLorentz(0.5, 1.0, 3.0), temperature=1.0,
                             coupling=[1.0])
        fc.cumulants(jt.Model([[0.0]], (drude,)), t, np.eye(1) * 0.5)
    with pytest.raises(ValueError, match="reservoir must be an index"):
        fc.cumulants(two_site(cutoff=3.0), t, c0, reservoir=5)
    with pytest.raises(ValueError, match="time_derivative"):
        st.cumulants(two_site(cutoff=3.0), t, c0, time_derivative=True)
    with pytest.raises(ValueError, match="complex number times a real"):
        fc.log_generating_function(two_site(cutoff=3.0), t, [0.1, 0.2j], c0)


@pytest.mark.slow  # finite modes up to 1602 single-particle states: several minutes
def test_heat_cumulants_equal_extrapolated_finite_modes():
    """κ2–κ4 of the hot-lead heat (two sites, CutoffLorentzian leads) against the finite-mode
    determinant at bands ±30, ±60, ±120 (spacing 0.3), Richardson-extrapolated in the band
    (the tails ∝ ω⁻⁴ leave band errors ∝ B⁻³, B⁻², B⁻¹ for κ2, κ3, κ4). The extrapolation's
    uncertainty is taken as its last correction; measured at t = 1 (band 120 → ∞):
    κ2 0.32299031 → 0.3229954 (this method: 0.3229948, Padé estimate 2.5e-9),
    κ3 −0.767334 → −0.76823 (−0.768077), κ4 4.834 → 5.05 (5.0253)."""
    model = two_site(cutoff=3.0)
    c0 = coherent_c0_2()
    ts = np.array([1.0, 3.0])
    kc, err = st.cumulants(model, ts, c0, n_pade=12, error_estimate=True)
    kc = np.asarray(kc)
    ks = []
    for band in (30.0, 60.0, 120.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fm = st.FiniteModes.from_model(
                model, jt.Discretised(n_modes=int(round(2 * band / 0.3)), band=band))
        ks.append(np.asarray(st.cumulants(fm, ts, c0)))
    k1, k2, k3 = ks
    ratio = (k2 - k1) / (k3 - k2)
    corr = (k3 - k2) / (ratio - 1)
    extrap = k3 + corr
    np.testing.assert_allclose(kc[:, 0], k3[:, 0], atol=1e-6)  # κ1: band error only ~1e-7
    for n in (1, 2, 3):
        diff = np.abs(kc[:, n] - extrap[:, n])
        assert np.all(diff <= np.abs(corr[:, n]) + 10 * np.asarray(err)[n]), (n, diff, corr)
    assert np.all(np.abs(kc[:, 1] - extrap[:, 1]) / kc[:, 1] < 5e-6)


@pytest.mark.slow
def test_long_time_rates_equal_levitov_lesovik_cutoff_leads():
    """Slopes of κ1–κ4 of the hot-lead heat between t = 40 and 50 equal the Levitov–Lesovik
    rates with the Caroli transmission (≤ 1e-4 relative; the transient decays like the
    slowest closure eigenvalue, e^{−0.4 t})."""
    hot = jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), temperature=1.5, coupling=[1.0])
    cold = jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), temperature=0.5, coupling=[1.0])
    model = jt.Model([[0.2]], (hot, cold))
    ts = np.array([40.0, 50.0])
    k = np.asarray(st.cumulants(model, ts, np.array([[0.3]]), n_pade=16))
    rates = (k[1] - k[0]) / (ts[1] - ts[0])
    np.testing.assert_allclose(rates, st.levitov_lesovik_rates(model, 4), rtol=1e-4)


@pytest.mark.slow
def test_exchange_fluctuation_symmetry_of_particle_rates():
    """Equal temperatures, bias μ0 − μ1 = 0.8: the long-time particle rate function
    F(λ) = lim d ln Z/dt satisfies F(λ) = F(iβ(μ0 − μ1) − λ) (exchange fluctuation theorem),
    with ln Z at complex counting fields (exact for particles)."""
    left = jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), temperature=0.7, chemical_potential=0.4,
                        coupling=[1.0])
    right = jt.Reservoir(lead(1.0, 1.0, cutoff=3.0), temperature=0.7, chemical_potential=-0.4,
                         coupling=[1.0])
    model = jt.Model([[0.1]], (left, right))
    ts = np.array([30.0, 40.0])
    a = 0.8 / 0.7

    def rate(lam):
        z = np.asarray(fc.log_generating_function(model, ts, [lam, 0.0], np.array([[0.5]]),
                                                  n_pade=12))
        return (z[1] - z[0]) / (ts[1] - ts[0])

    for lam in (0.3, 0.9 + 0.2j):
        np.testing.assert_allclose(rate(lam), rate(1j * a - lam), rtol=1e-6, atol=1e-10)
    assert abs(rate(0.9)) > 1e-3


@pytest.mark.slow  # ~3 min at load 16 (compilation)
def test_sweep_heat_cumulants_without_discretisation(tmp_path):
    """Sweep observable heat_cumulants with cumulant_method="continuum": the stored κ1, κ2
    equal per-configuration calls, and κ1 the integrated heat current of the engine."""
    from jaxtransport.sweep import Sweep, run_sweep

    model = two_site(cutoff=3.0)
    ts = np.array([0.0, 1.0, 2.0])
    c0s = np.stack([coherent_c0_2(), np.diag([1.0, 0.0])])
    spec = Sweep.grid(model, ts, temperature={0: [1.0, 1.5]}, initial_states=c0s,
                      observables=("heat_cumulants",), method=jt.Pade(n_pade=12),
                      cumulant_orders=(1, 2), cumulant_method="continuum")
    ds = run_sweep(spec, tmp_path / "k.zarr", chunk_size=2, progress=False).open().load()
    assert (ds.status.values == 0).all()
    for i, th in enumerate([1.0, 1.5]):
        for s in range(2):
            temp = np.array([th, 0.5])
            ref = np.asarray(st.cumulants(model, ts, c0s[s], temp, order=2))
            np.testing.assert_allclose(ds.heat_cumulants.values[i, s], ref, atol=1e-12)
    # two_site's own temperatures are (1.5, 0.5): index 1 of the grid
    np.testing.assert_allclose(ds.heat_cumulants.values[1, 0, 2, 0],
                               _integrated_heat(model, 2.0, c0s[0], 12)[0], atol=1e-9)


def test_sweep_rejects_unknown_cumulant_method():
    from jaxtransport.sweep import Sweep

    with pytest.raises(ValueError, match="'continuum'"):
        Sweep.grid(two_site(cutoff=3.0), np.array([0.0, 1.0]), temperature={0: [1.0]},
                   observables=("heat_cumulants",), method=jt.Pade(n_pade=8),
                   cumulant_method="contnuum")
    with pytest.raises(ValueError, match="order > 2"):
        Sweep.grid(two_site(), np.array([0.0, 1.0]), temperature={0: [1.0]},
                   observables=("heat_cumulants",), method=jt.Pade(n_pade=8),
                   cumulant_orders=(2, 3), cumulant_method="continuum")


def test_toml_cumulant_method_continuum():
    from jaxtransport import config as cfgmod

    text = """
[model]
hamiltonian = [[0.3, 0.2], [0.2, -0.3]]
[[reservoirs]]
temperature = 1.5
coupling = [1.0, 0.0]
spectral_density = { kind = "cutoff_lorentzian", gamma = 0.5, width = 2.0, cutoff = 6.0 }
[[reservoirs]]
temperature = 0.5
coupling = [0.0, 1.0]
spectral_density = { kind = "cutoff_lorentzian", gamma = 0.5, width = 2.0, cutoff = 6.0 }
[times]
stop = 2.0
num = 3
[sweep]
observables = ["heat_cumulants"]
cumulant_orders = [2, 4]
cumulant_method = "continuum"
[sweep.temperature]
"0" = [1.0, 1.5]
"""
    cfg = cfgmod.loads(text)
    cfgmod.validate(cfg)
    spec = cfgmod.build_sweep(cfg)
    assert spec.cumulant_method == "continuum"
    with pytest.raises(ValueError, match="order > 2"):
        cfgmod.build_sweep(cfgmod.loads(text.replace("cutoff_lorentzian", "lorentzian")
                                        .replace(", cutoff = 6.0", "")))
