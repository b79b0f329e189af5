"""Driven finite-mode method (``jt.Discretised`` with a ``jt.Drive``): time-ordered Magnus
evolution against an undriven model with the shifted Hamiltonian, against a brute-force
integration of the full single-particle correlation matrix dC/dt = −i[H(t), C] (scipy,
rtol 1e-12), against its own energy balance (first law), and its convergence order."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import jaxtransport as jt

H = np.array([[0.5, 0.2], [0.2, -0.3]])
V = np.array([[1.0, 0.0], [0.0, -1.0]])
W = np.array([[0.0, 1.0], [1.0, 0.0]])
C0 = np.array([[0.8, 0.1 + 0.05j], [0.1 - 0.05j, 0.3]])
FIELDS = ("correlation", "particle_current", "energy_current", "heat_current",
          "coupling_energy", "coupling_energy_derivative", "heat_current_derivative",
          "system_energy_derivative", "particle_number_derivative")


def _leads(mu=(0.2, 0.0), density=None):
    density = jt.Lorentzian(1.0, 1.0) if density is None else density
    return [jt.Reservoir(density, 1.0, mu[0], [0.6, 0.0], name="hot"),
            jt.Reservoir(density, 0.3, mu[1], [0.0, 0.5], name="cold")]


def test_constant_drive_equals_undriven_model():
    """Constant H_S terms, coupling scale and bias = the undriven model with h + cV, scaled
    coupling vectors and the reservoir spectrum (and μ) shifted by Δ."""
    times = np.linspace(0.0, 3.0, 16)
    method = jt.Discretised(24, 6.0, band_warning=1.0)
    dv, s, delta = 0.7, 0.8, 0.35
    drive = jt.Drive([(V, dv), (W, jt.Constant(-0.2))], coupling={"cold": s},
                     bias={"hot": jt.Constant(delta)})
    driven = jt.solve(jt.Model(H, _leads(), drive=drive), C0, times, method=method)
    lor = jt.Lorentzian(1.0, 1.0)
    shifted = [jt.Reservoir(jt.Lorentzian(1.0, 1.0, delta), 1.0, 0.2 + delta, [0.6, 0.0]),
               jt.Reservoir(lor, 0.3, 0.0, [0.0, 0.5 * s])]
    ref = jt.solve(jt.Model(H + dv * V - 0.2 * W, shifted), C0, times, method=method)
    for f in FIELDS:
        np.testing.assert_allclose(getattr(driven, f), getattr(ref, f), rtol=0, atol=1e-12,
                                   err_msg=f)


def _brute_force(method, model, times, c0, temps, mus, hs_of_t, scale_of_t, delta_of_t,
                 statistics):
    """C(t) of system + modes by DOP853 (rtol 1e-12) and the observables from it, with the
    modes of ``method`` and H(t) built here from the closed-form amplitudes."""
    eps, amps, vecs, term, owner, *_ = method.bath_modes(model, times)
    eps = np.asarray(eps)
    coup = np.asarray(amps)[:, None] * np.stack([np.asarray(v) for v in vecs])[term]
    n, kb = c0.shape[0], len(eps)
    x = (eps - mus[owner]) / temps[owner]
    occ = 1 / (np.exp(x) + 1) if statistics == "fermion" else 1 / (np.exp(x) - 1)
    cfull = np.zeros((n + kb, n + kb), complex)
    cfull[:n, :n] = c0
    cfull[n:, n:] = np.diag(occ)

    def hfull(t):
        s = scale_of_t(t)[owner]
        m = np.zeros((n + kb, n + kb), complex)
        m[:n, :n] = hs_of_t(t)
        m[n:, n:] = np.diag(eps + delta_of_t(t)[owner])
        m[:n, n:] = (coup * s[:, None]).T
        m[n:, :n] = (coup * s[:, None]).conj()
        return m

    def rhs(t, y):
        c = y.reshape(n + kb, n + kb)
        h = hfull(t)
        return (-1j * (h @ c - c @ h)).ravel()

    r = solve_ivp(rhs, (0, times[-1]), cfull.ravel(), t_eval=times, rtol=1e-12, atol=1e-14,
                  method="DOP853")
    cs = r.y.T.reshape(len(times), n + kb, n + kb)
    out = {k: np.zeros((len(times), 2)) for k in ("jn", "je", "hi")}
    out["esd"] = np.zeros(len(times))
    for it, t in enumerate(times):
        h, c = hfull(t), cs[it]
        dc = -1j * (h @ c - c @ h)
        e = eps + delta_of_t(t)[owner]
        for a in range(2):
            ks = n + np.nonzero(owner == a)[0]
            out["jn"][it, a] = -np.sum(dc[ks, ks]).real
            out["je"][it, a] = -np.sum(e[ks - n] * dc[ks, ks]).real
            out["hi"][it, a] = 2 * np.sum(h[:n, ks] * c[ks, :n].T).real
        # d/dt Tr[H_S(t) C_S] by a centred difference of H_S (h ~ 1e-4: error ~1e-9·|H_S''|)
        hd = (hs_of_t(t + 1e-4) - hs_of_t(t - 1e-4)) / 2e-4
        out["esd"][it] = np.trace(hd @ c[:n, :n] + h[:n, :n] @ dc[:n, :n]).real
    out["corr"] = cs[:, :n, :n]
    return out


@pytest.mark.parametrize("statistics", ["fermion", "boson"])
def test_driven_modes_against_brute_force(statistics):
    """All three kinds of drive at once (H_S terms, a coupling ramp, an AC bias), three modes
    per reservoir: every observable against the brute-force correlation matrix ≤ 1e-10."""
    boson = statistics == "boson"
    mus = np.array([-0.2, -0.1]) if boson else np.array([0.2, 0.0])
    density = jt.FlatBand(0.8, 0.0, 2.0, 0.5) if boson else None
    temps = np.array([1.0, 0.3])
    drive = jt.Drive([(V, jt.Sine(0.4, 1.3, 0.2)), (W, lambda t: 0.1 * jnp.cos(0.7 * t))],
                     coupling={"cold": jt.Ramp(0.2, 1.0, 1.5)},
                     bias={"hot": jt.Sine(0.3, 0.9, 0.5)})
    model = jt.Model(H + 1.5 * boson * np.eye(2), _leads(mus, density), statistics=statistics,
                     drive=drive)
    times = np.linspace(0.0, 4.0, 21)
    method = jt.Discretised(3, 2.0, check_recurrence=False, band_warning=1.0, drive_step=0.01)
    c0 = np.array([[0.8, 0.1], [0.1, 0.3]]) if boson else C0
    sol = jt.solve(model, c0, times, method=method)
    ramp = lambda t: 0.2 + 0.8 * 0.5 * (1 - np.cos(np.pi * np.clip(t / 1.5, 0, 1)))
    delta = lambda t: np.array([0.3 * np.sin(0.9 * t + 0.5), 0.0])
    h0 = H + 1.5 * boson * np.eye(2)
    ref = _brute_force(
        method, model, times, c0, temps, mus,
        lambda t: h0 + 0.4 * np.sin(1.3 * t + 0.2) * V + 0.1 * np.cos(0.7 * t) * W,
        lambda t: np.array([1.0, ramp(t)]), delta, statistics)
    np.testing.assert_allclose(sol.correlation, ref["corr"], atol=1e-10)
    np.testing.assert_allclose(sol.particle_current, ref["jn"], atol=1e-10)
    np.testing.assert_allclose(sol.energy_current, ref["je"], atol=1e-10)
    heat = ref["je"] - (mus + np.array([delta(t) for t in times])) * ref["jn"]
    np.testing.assert_allclose(sol.heat_current, heat, atol=1e-10)
    np.testing.assert_allclose(sol.coupling_energy, ref["hi"], atol=1e-10)
    np.testing.assert_allclose(sol.system_energy_derivative, ref["esd"], atol=1e-8)


def test_first_law_and_magnus_order():
    """Energy balance of the driven modes: d/dt(<H_S> + Σ<H_I^α>) = <∂_t H_S> + Σ (ṡ_α/s_α)
    <H_I^α> + Σ J^E_α (the bias does work on the reservoir, not through the coupling), from
    separately computed kernels; and the Magnus error falls as the fourth power of the step."""
    ramp = jt.Ramp(0.3, 1.0, 2.0)
    drive = jt.Drive([(V, jt.Sine(0.5, 1.1))], coupling={"hot": ramp},
                     bias={"cold": jt.Pulse(0.4, 1.5, 0.5)})
    model = jt.Model(H, _leads(), drive=drive)
    times = np.linspace(0.0, 3.0, 16)
    method = lambda step: jt.Discretised(16, 5.0, band_warning=1.0, check_recurrence=False,
                                         drive_step=step)
    sol = jt.solve(model, C0, times, method=method(0.025))
    tj = jnp.asarray(times)
    power = np.einsum("tij,tji->t", np.asarray(jnp.stack(
        [model.drive.hamiltonian_rate(t, H) for t in tj])), np.asarray(sol.correlation)).real
    s = np.asarray(ramp.on_grid(tj))
    ds = np.array([float(ramp.derivative(t)) for t in tj])
    lhs = np.asarray(sol.system_energy_derivative) + np.asarray(
        sol.coupling_energy_derivative).sum(-1)
    rhs = power + ds / s * np.asarray(sol.coupling_energy[:, 0]) + np.asarray(
        sol.energy_current).sum(-1)
    np.testing.assert_allclose(lhs, rhs, atol=1e-8)
    # the DrivenSolution's own bookkeeping (power, first-law residual) on these kernels
    np.testing.assert_allclose(sol.power, power, atol=1e-12)
    assert np.max(np.abs(np.asarray(sol.first_law_residual))) <= 1e-8
    errs = []
    fine = jt.solve(model, C0, times, method(0.2 / 8))
    for step in (0.2, 0.1):
        coarse = jt.solve(model, C0, times, method(step))
        errs.append(np.max(np.abs(np.asarray(coarse.heat_current - fine.heat_current))))
    assert 10 < errs[0] / errs[1] < 24, errs  # 2⁴ = 16 (the Ramp's kink at t = 2 is a grid time)
