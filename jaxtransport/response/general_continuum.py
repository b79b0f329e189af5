r"""Exact continuum reservoirs for general quadratic models.

**Fermions (BdG systems, exchange-coupled leads) — Nambu doubling.** With ψ = (a, a†) the
system obeys dψ/dt = −i𝓗ψ, and each lead α (modes c_k at ω_k, coupling v) appears twice:
as a "particle" reservoir (modes c_k, energies ω_k, coupling (v, 0), density g(ω),
occupation f(ω; T_α, μ_α)) and as a "hole" reservoir (modes c_k†, energies −ω_k, coupling
(0, −v*), density g(−ω), occupation 1 − f(−ω; T_α, μ_α) = f(ω; T_α, −μ_α)). The doubled
problem is number-conserving, so the engine's exact ``Continuum`` (Lorentzian-pole closure
with the exact filled tail) solves it; the particle and hole copies give the same physical
quantities: J^E_α = ½(J^E_p + J^E_h), J^N_α = ½(J^N_p − J^N_h), ⟨H_I^α⟩ = ½(I_p + I_h),
⟨H_S⟩ = ½ Tr[𝓗 C_N] + ½ Tr h, and Γ = Re[i (T† C_N T)^T]. These affine maps are applied to
the engine's stage-1 kernels, so stage 2 stays a contraction (hole nodes are mirrored,
ω → −ω, with weight −w and their f-independent part moved to the offset).

**Bosons with x–x coupling to Drude–Lorentz baths — auxiliary variables.** The bath force
F_α = Σ_k g_k q_k(t) = ξ_α(t) − Σ_p 2λ_pγ_p y_p(t), y_p = ∫_0^t e^{−γ_p(t−s)} X_α(s) ds
(χ(τ) = 2λγe^{−γτ}), so E = (r_S, y) obeys dE/dt = 𝓛E + Σ_α β_α ξ_α(t) with constant real
𝓛 and β_α = (Ω e_α, 0), e_α = (u_α, 0). The free noise ξ_α(t) = Σ_k g_k (q_k cos ω_k t +
π_k sin ω_k t) enters through a(ω, t) = ∫_0^t e^{𝓛(t−s)} β e^{iωs} ds
= (𝓛 − iω)^{-1}(e^{𝓛t} − e^{iωt}) β (closed form). With Σ_k g_k² → ∫dω 2J(ω)/π and
⟨½{q, q}⟩ = f + ½:

* ⟨E E^T⟩ = e^{𝓛t} Σ0 e^{𝓛^T t} + Σ_α ∫dω (2J_α/π)(f_α + ½) Re[a a†];
* ⟨X_α ξ_α⟩ = ∫dω (2J_α/π)(f_α + ½) Re[e_α^T a e^{−iωt}];
* ⟨X_α ξ^E_α⟩ (ξ^E = Σ g ω π^free) = ∫dω (2J_α/π) ω (f_α + ½) Re[−i e_α^T a e^{−iωt}];
* ⟨H_I^α⟩ = ⟨X_α ξ_α⟩ − Σ_p 2λ_pγ_p ⟨X_α y_p⟩ (+ λ_r ⟨X_α²⟩ counter-term);
* J^E_α = Σ_k g_k ω_k ⟨X_α π_k⟩ = ⟨X_α ξ^E_α⟩ − Σ_p 2λ_pγ_p ⟨X_α²⟩ + Σ_p 2λ_pγ_p² ⟨X_α y_p⟩.

The f-weighted parts are stored at Gauss–Legendre nodes on (0, ω_max], ω_max = x·T_max
(f < e^{−x}); the f-independent vacuum part (½) is integrated once in stage 1: on the window,
then on [ω_max, a] and beyond a exactly by splitting the integrand into e^{−iωt}, e^{+iωt} and
non-oscillating classes (Laurent coefficients in z = e^{iωt}) and rotating each onto a
vertical ray where it decays (no poles lie right of a). The error estimate compares with a
lower-order rule on the same panels.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._quadrature import gauss_panels, ray_rule
from .._validation import check_times, tolerance_missed
from ..nambu import nambu_transform
from .continuum import Continuum
from .drude import DrudeClosure, drude_closure
from .expm import expm
from .general import GeneralResponse, nambu_fields
from .plan import default_order, edge_tolerance, window_cut


class GeneralContinuum(eqx.Module):
    """Exact continuum method for ``QuadraticModel`` (see module docstring).

    **Arguments:**

    - ``engine``: the ``jt.Continuum`` settings for fermionic models (default
      ``jt.Continuum()``; tolerance 1e-8 with its own error estimate).
    - ``tolerance``: bosons: target absolute accuracy of the covariance, energy currents and
      coupling energies (default 1e-8); it sets the window (f < tolerance·e^{−5} at ω_max),
      and the quadrature is refined (panels halved, up to ``max_refinements`` times) until
      the error estimate (difference to a lower-order rule) is below it; a warning
      (``jt.ToleranceWarning``) says when it is not reached.
    - ``temperature_range``: bosons: (T_min, T_max) for which stage 2 must be valid (default
      the model's temperatures × [0.8, 1.25]).
    - ``chemical_potential_range``: passed on to the fermionic engine; position (x–x)
      reservoirs have μ = 0, so for them only None or (0, 0) is accepted.
    - ``nodes_per_panel``, ``panel_factor``: bosonic quadrature resolution (panel width =
      factor × min(1/t_max·4, T_min, pole distances)).
    - ``strict``: bosons: raise instead of warning when the error estimate misses
      ``tolerance`` (fermions: ``engine``'s own ``strict``).

    Stage 2 refuses temperatures below the planned range (the panels resolve thermal widths
    down to width/8) and (T, μ) outside the stored window.

    ``jt.response(model, times, jt.Continuum(...))`` builds one from the ``Continuum``'s
    settings (``from_continuum``).

    Units ħ = k_B = 1: temperatures in the units of h; ``tolerance`` in the units of the
    observables it bounds.

    The currents it computes are out of each reservoir (energy per time, ħ = k_B = 1).
    """

    engine: Continuum | None = None
    tolerance: float = eqx.field(default=1e-8, static=True)
    temperature_range: tuple | None = eqx.field(default=None, static=True)
    chemical_potential_range: tuple | None = eqx.field(default=None, static=True)
    nodes_per_panel: int = eqx.field(default=12, static=True)
    panel_factor: float = eqx.field(default=1.0, static=True)
    max_refinements: int = eqx.field(default=2, static=True)
    strict: bool = eqx.field(default=False, static=True)

    @classmethod
    def from_continuum(cls, method: Continuum | None) -> GeneralContinuum:
        """The settings of a ``jt.Continuum`` (tolerance, ranges, order, refinements)."""
        if method is None:
            return cls()
        return cls(engine=method, tolerance=method.tolerance,
                   temperature_range=method.temperature_range,
                   chemical_potential_range=method.chemical_potential_range,
                   nodes_per_panel=method.nodes_per_panel or default_order(method.tolerance),
                   max_refinements=method.max_refinements, strict=method.strict)

    def response(self, model, times) -> GeneralResponse:
        times = check_times(times)
        if model.statistics == "fermion":
            engine = self.engine or Continuum(
                tolerance=self.tolerance, temperature_range=self.temperature_range,
                chemical_potential_range=self.chemical_potential_range)
            if model.drive is not None:  # the driven closure of the doubled model
                from .driven_general_continuum import driven_nambu_response

                return driven_nambu_response(model, times, engine)
            return _nambu_response(model, times, engine)
        if model.drive is not None:
            raise ValueError(
                "a driven bosonic jt.QuadraticModel (squeezing or position coupling with a "
                "jt.Drive) is solved by the time-ordered finite modes: pass method="
                "jt.Discretised(n_modes, band, drive_step=...); the bosonic general continuum "
                "(jt.Continuum / jt.GeneralContinuum, method=None) has no driven stage 1.")
        rng = self.chemical_potential_range
        if rng is not None and tuple(float(x) for x in rng) != (0.0, 0.0):
            raise ValueError(
                f"chemical_potential_range={rng} does not apply to position (x–x) reservoirs: "
                "their chemical potential is 0 (the bath number is not conserved by the "
                "coupling). Omit it (or pass (0, 0)).")
        return _drude_response(model, times, self)


# ------------------------------------------------------------------------------------------
# fermions: Nambu doubling onto the number-conserving engine
# ------------------------------------------------------------------------------------------
def _nambu_response(model, times, engine) -> GeneralResponse:
    nm = model.nambu_doubled()
    er = engine.response(nm, times) if not isinstance(engine, GeneralResponse) else engine
    n, m = model.n_modes, model.n_reservoirs
    t = jnp.asarray(nambu_transform(n))
    gam = lambda c: jnp.real(1j * jnp.swapaxes(t.conj().T @ c @ t, -1, -2))  # Γ = Λ(C_N)
    hmat = nm.hamiltonian

    def scal(x, xd, sd):
        """(…, 2, M') amplitudes & (…, 2) scalar derivatives -> (…, 2, P) [value, d/dt]."""
        p, h = slice(0, m), slice(m, 2 * m)

        def combo(a):
            return jnp.concatenate([
                -a[..., 0, p].real + a[..., 0, h].real,  # d<N>/dt
                -a[..., 1, p].real - a[..., 1, h].real,  # d<H_α>/dt
                -a[..., 0, p].imag - a[..., 0, h].imag,  # <H_I>
            ], axis=-1)

        return combo(x), combo(xd), 0.5 * sd[..., 0]

    def pack(c, x, xd, sd, energy):
        v, d, ed = scal(x, xd, sd)
        val = jnp.concatenate([v, energy[..., None]], -1)
        der = jnp.concatenate([d, ed[..., None]], -1)
        return gam(c), jnp.stack([val, der], axis=-2)

    def energy_of(c):
        return 0.5 * jnp.einsum("ij,...ji->...", hmat, c).real

    # state part: C_N(0) = ½ + i T Γ0 T†, linear piece via the Jacobian in Γ0
    def state_obs(g0):
        c0 = 1j * t @ g0 @ t.conj().T
        corr = jnp.einsum("tij,jk,tlk->til", er.propagator, c0, er.propagator.conj())
        x = jnp.einsum("txaij,ji->txa", er.current_state, c0)
        xd = jnp.einsum("txaij,ji->txa", er.current_state_dt, c0)
        gcg = jnp.einsum("tij,jk,tlk->til", er.propagator_dt, c0, er.propagator.conj())
        sd = jnp.stack([2 * jnp.einsum("ij,tji->t", hmat, gcg).real,
                        2 * jnp.einsum("tii->t", gcg).real], -1)
        return pack(corr, x, xd, sd, energy_of(corr))[1]

    n2 = 2 * n
    sk = jax.jacfwd(state_obs)(jnp.zeros((n2, n2)))  # (T, 2, P, 2n, 2n)
    c_half = jnp.einsum("tij,tkj->tik", er.propagator, er.propagator.conj()) * 0.5
    x_half = jnp.einsum("txaii->txa", er.current_state) * 0.5
    xd_half = jnp.einsum("txaii->txa", er.current_state_dt) * 0.5
    gcg_h = jnp.einsum("tij,tkj->tik", er.propagator_dt, er.propagator.conj()) * 0.5
    sd_half = jnp.stack([2 * jnp.einsum("ij,tji->t", hmat, gcg_h).real,
                         2 * jnp.einsum("tii->t", gcg_h).real], -1)
    # bath kernels: reservoir α = particle α (nodes ω, weight w) ∪ hole α (nodes −ω, −w)
    bc, bs = pack(er.correlation_kernel, er.current_kernel, er.current_kernel_dt,
                  er.scalar_kernel_dt, energy_of(er.correlation_kernel))
    oc, os_ = pack(er.correlation_offset + c_half, er.current_offset + x_half,
                   er.current_offset_dt + xd_half, er.scalar_offset_dt + sd_half,
                   energy_of(er.correlation_offset + c_half))
    return GeneralResponse(**nambu_fields(model, times, er, sk, (bc, bs), (oc, os_)))


# ------------------------------------------------------------------------------------------
# bosons: x–x coupling to Drude–Lorentz baths, auxiliary-variable closure
# ------------------------------------------------------------------------------------------
def _laurent(f, zvals=(1.0, -1.0, 1j)):
    """Coefficients (F_−, F_0, F_+) of F(z) = F_−/z + F_0 + F_+ z from F(1), F(−1), F(i)."""
    f1, fm, fi = (f(z) for z in zvals)
    f0 = jax.tree_util.tree_map(lambda a, b: 0.5 * (a + b), f1, fm)
    s = jax.tree_util.tree_map(lambda a, b: 0.5 * (a - b), f1, fm)
    d = jax.tree_util.tree_map(lambda a, b: (a - b) / 1j, fi, f0)
    fp = jax.tree_util.tree_map(lambda a, b: 0.5 * (a + b), s, d)
    fmn = jax.tree_util.tree_map(lambda a, b: 0.5 * (a - b), s, d)
    return fmn, f0, fp


@eqx.filter_jit
def _drude_arrays(dr: DrudeClosure, times, wn, ww, on, ow, sn, sw, a):
    """Window kernels (M, K, T, …), state kernels and the vacuum offset (window + [ω_max, a]
    + rays beyond a), each with its time derivative."""
    lm = dr.lmat
    mres = dr.beta.shape[0]
    n2 = dr.gsys.shape[0]
    phis = jax.vmap(lambda t: expm(lm * t))(times)

    def real_axis(omega, src):
        def at(phi, t):
            def f(ph, tt):
                c, s = dr.formal(omega, ph, jnp.exp(1j * omega * tt), src)
                return c.real, s.real
            (c, s), (dc, ds) = jax.jvp(f, (phi, t), (lm @ phi, jnp.ones_like(t)))
            return c, jnp.stack([s, ds], -2)

        return jax.vmap(at)(phis, times)

    def over_nodes(nodes, src):
        return jax.lax.map(lambda w: real_axis(w, src), nodes, batch_size=32)

    srcs = jnp.arange(mres)
    bc, bs = jax.vmap(lambda s: over_nodes(wn, s))(srcs)  # (M, K, T, ...)
    bc = bc * ww[None, :, None, None, None]
    bs = bs * ww[None, :, None, None, None]
    oc = 0.5 * jnp.sum(bc, axis=(0, 1))
    os_ = 0.5 * jnp.sum(bs, axis=(0, 1))
    if on.shape[0]:
        c2, s2 = jax.vmap(lambda s: over_nodes(on, s))(srcs)
        oc = oc + 0.5 * jnp.einsum("k,bktij->tij", ow, c2)
        os_ = os_ + 0.5 * jnp.einsum("k,bktxp->txp", ow, s2)

    # beyond a: rays
    def ray(src, t, phi):
        def f(tt, ph):
            def down(s):
                w = a - 1j * s
                fm, f0, _ = _laurent(lambda z: dr.formal(w, ph, z, src))
                return jax.tree_util.tree_map(lambda x0, xm: x0 + jnp.exp(-1j * w * tt) * xm,
                                              f0, fm)

            def up(s):
                w = a + 1j * s
                _, _, fp = _laurent(lambda z: dr.formal(w, ph, z, src))
                return jax.tree_util.tree_map(lambda x: jnp.exp(1j * w * tt) * x, fp)

            dn = jax.vmap(down)(sn)
            upv = jax.vmap(up)(sn)
            return jax.tree_util.tree_map(
                lambda d, u: (-1j * jnp.tensordot(sw, d, 1) + 1j * jnp.tensordot(sw, u, 1)).real,
                dn, upv)

        (c, s), (_, ds) = jax.jvp(f, (t, phi), (jnp.ones_like(t), lm @ phi))
        return c, jnp.stack([s, ds], -2)

    rc, rs = jax.vmap(lambda s: jax.lax.map(lambda tp: ray(s, *tp), (times, phis)))(srcs)
    oc = oc + 0.5 * jnp.sum(rc, 0)
    os_ = os_ + 0.5 * jnp.sum(rs, 0)

    # state part: E(t) = Φ E(0), second moments Φ Σ0 Φ^T with Σ0 = X0 ⊕ 0
    def state_obs(x0):
        z0 = jnp.zeros_like(lm).at[:n2, :n2].set(x0)

        def f(ph):
            z = ph @ z0 @ ph.T
            return dr.scalars(z, jnp.zeros(mres), jnp.zeros(mres))

        def at(ph):
            s, ds = jax.jvp(f, (ph,), (lm @ ph,))
            return jnp.stack([s, ds], -2)

        return jax.vmap(at)(phis)

    sk = jax.jacfwd(state_obs)(jnp.zeros((n2, n2)))
    return phis[:, :n2, :n2], sk, bc, bs, oc, os_


class DrudePlan(eqx.Module):
    """Where the bosonic x–x continuum's nodes lie (host floats): the stored window
    (0, ``w_hi``], the rays' start ``a``, the largest panel ``width``, the near-axis
    ``poles`` (centre, scale) the panels resolve, and the last time ``tmax``."""

    w_hi: float
    a: float
    width: float
    poles: tuple
    tmax: float


def _drude_range(model, method):
    temps = np.asarray(model.temperatures)
    return method.temperature_range or (0.8 * temps.min(), 1.25 * temps.max())


def _drude_plan(dr, model, times, method) -> DrudePlan:
    t_lo, t_hi = _drude_range(model, method)
    tmax = max(float(times[-1]), 1e-3)
    w_hi = window_cut(method.tolerance) * t_hi
    ev = np.linalg.eigvals(np.asarray(dr.lmat))
    nu, kap = np.abs(ev.imag), np.abs(ev.real)
    gams = [float(d.cutoff) for d in dr.dens]
    a = max(w_hi, float(nu.max()) + float(kap.max()) + 1.0)
    width = min(20.0 / tmax, 8.0 * t_lo, 2.0)
    scales = np.maximum(kap, 1.0 / tmax)
    poles = [(float(c), float(s)) for c, s in zip(nu, scales, strict=False) if 4.0 * s < width]
    poles += [(0.0, g) for g in gams if 4.0 * g < width]
    return DrudePlan(w_hi=float(w_hi), a=float(a), width=float(width),
                     poles=tuple(sorted(set(poles))), tmax=tmax)


def _drude_rules(plan: DrudePlan, q, factor):
    """(window, beyond-window, ray) Gauss rules, each as (nodes, weights)."""
    w_hi, a, width, poles, tmax = plan.w_hi, plan.a, plan.width, plan.poles, plan.tmax
    window = gauss_panels(0.0, w_hi, width, q, poles, factor)
    beyond = gauss_panels(w_hi, a, width, q, poles, factor) if a > w_hi else (
        np.zeros(0), np.zeros(0))
    return window, beyond, ray_rule(min(1.0 / tmax, 1.0), 1e3 * (a + 1.0), q)


def _padded(rule, n):
    """``rule`` padded to ``n`` nodes with zero-weight copies of its last node (finite values
    that contribute nothing), so that the coarse rule of the error estimate has the fine
    rule's shapes and reuses its compiled ``_drude_arrays`` (one XLA compilation, ~5 s for
    one oscillator, instead of two)."""
    x, w = rule
    k = n - len(x)
    if k <= 0 or len(x) == 0:
        return rule
    return np.concatenate([x, np.full(k, x[-1])]), np.concatenate([w, np.zeros(k)])


def _drude_build(dr, model, times, plan: DrudePlan, rules, like=None):
    """The kernels of ``rules`` (``_drude_rules``); with ``like`` (rules of a higher order on
    the same panels) computed at their shapes and trimmed back."""
    wn = rules[0][0]
    if like is not None:
        rules = tuple(_padded(r, len(f[0])) for r, f in zip(rules, like, strict=True))
    args = (jnp.asarray(x) for r in rules for x in r)
    prop, sk, bc, bs, oc, os_ = _drude_arrays(dr, jnp.asarray(times), *args,
                                              jnp.asarray(plan.a))
    k = len(wn)
    return (prop, sk, bc[:, :k], bs[:, :k], oc, os_), wn, plan.w_hi


def _drude_response(model, times, method) -> GeneralResponse:
    """Build with ``method.nodes_per_panel`` and with two nodes fewer per panel on the same
    panels; their difference is the error estimate. Panels are halved until it meets
    ``method.tolerance`` (at most ``method.max_refinements`` times)."""
    dr = drude_closure(model)
    plan = _drude_plan(dr, model, times, method)
    q = method.nodes_per_panel
    mres = model.n_reservoirs
    zero = jnp.diag(jnp.full(2 * model.n_modes, 0.5))
    factor = method.panel_factor
    for _ in range(method.max_refinements + 1):
        used = factor
        fine = _drude_rules(plan, q, factor)
        (prop, sk, bc, bs, oc, os_), wn, w_hi = _drude_build(dr, model, times, plan, fine)
        (_, _, bc2, bs2, oc2, os2), wn2, _ = _drude_build(
            dr, model, times, plan, _drude_rules(plan, q - 2, factor), like=fine)
        nodes = jnp.broadcast_to(jnp.asarray(wn), (mres, len(wn)))
        resp = _drude_pack(model, times, prop, sk, bc, bs, oc, os_, nodes, w_hi, method)
        coarse = _drude_pack(model, times, prop, sk, bc2, bs2, oc2, os2,
                             jnp.broadcast_to(jnp.asarray(wn2), (mres, len(wn2))), w_hi,
                             method)
        s1, s2 = resp.evaluate(zero), coarse.evaluate(zero)
        err = max(float(jnp.max(jnp.abs(getattr(s1, k) - getattr(s2, k))))
                  for k in ("covariance", "energy_current", "coupling_energy"))
        if err <= method.tolerance:
            break
        factor *= 0.5
    else:
        tolerance_missed(
            f"jt.GeneralContinuum could not reach tolerance {method.tolerance:g}: the error "
            f"estimate is {err:.3g} after {method.max_refinements} refinement(s) "
            f"(nodes_per_panel = {q}); raise max_refinements or nodes_per_panel, or loosen "
            "the tolerance.", method.strict)
    t_hi = _drude_range(model, method)[1]
    resp = dataclasses.replace(resp, planned_range=((plan.width * used / 8.0, float(t_hi)),
                                                    (0.0, 0.0)))
    return eqx.tree_at(lambda r: r.error_estimate, resp, jnp.asarray(err))


def _drude_pack(model, times, prop, sk, bc, bs, oc, os_, nodes, w_hi, method):
    return GeneralResponse(
        times=jnp.asarray(times),
        propagator=prop,
        state_kernel=sk,
        nodes=nodes,
        weights=jnp.ones_like(nodes),
        bath_covariance=bc,
        bath_scalar=bs,
        offset_covariance=oc,
        offset_scalar=os_,
        temperature=model.temperatures,
        chemical_potential=model.chemical_potentials,
        energy_offset=model.energy_offset,
        window=jnp.asarray([0.0, w_hi]),
        error_estimate=jnp.asarray(jnp.nan),
        statistics="boson",
        number_conserving=(False,) * model.n_reservoirs,
        method="continuum",
        edge_tolerance=edge_tolerance(method.tolerance),
    )
