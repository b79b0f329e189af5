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
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_times, tolerance_missed
from ..model import Model
from ..reservoir import Reservoir
from ..response.continuum import Continuum, _gauss_panels, _ray_rule, _window_cut
from ..spectral_density import AbstractSpectralDensity, Lorentzian
from .model import PositionReservoir, nambu_transform, symplectic_form
from .response import GeneralResponse


class GeneralContinuum(eqx.Module):
    """Exact continuum method for ``QuadraticModel`` (see module docstring).

    **Arguments:**

    - ``engine``: the ``jt.Continuum`` settings for fermionic models (default
      ``jt.Continuum()``; tolerance 1e-8 with its own error estimate).
    - ``tolerance``: bosons: sets the window (f < tolerance·e^{−5} at ω_max) and the default
      Gauss order.
    - ``temperature_range``: bosons: (T_min, T_max) for which stage 2 must be valid (default
      the model's temperatures × [0.8, 1.25]).
    - ``nodes_per_panel``, ``panel_factor``: bosonic quadrature resolution (panel width =
      factor × min(1/t_max·4, T_min, pole distances)).
    - ``strict``: bosons: raise instead of warning (``jt.ToleranceWarning``) when the error
      estimate misses ``tolerance`` (fermions: ``engine``'s own ``strict``).

    Stage 2 refuses temperatures below the planned range (the panels resolve thermal widths
    down to width/8) and (T, μ) outside the stored window.
    """

    engine: Continuum | None = None
    tolerance: float = eqx.field(default=1e-8, static=True)
    temperature_range: tuple | None = eqx.field(default=None, static=True)
    nodes_per_panel: int = eqx.field(default=12, static=True)
    panel_factor: float = eqx.field(default=1.0, static=True)
    strict: bool = eqx.field(default=False, static=True)

    def response(self, model, times) -> GeneralResponse:
        times = check_times(times)
        if model.statistics == "fermion":
            return _nambu_response(model, times, self.engine or Continuum())
        return _drude_response(model, times, self)


# ------------------------------------------------------------------------------------------
# fermions: Nambu doubling onto the number-conserving engine
# ------------------------------------------------------------------------------------------
class MirroredDensity(AbstractSpectralDensity):
    """g(−ω) of a density g (the hole copy of a lead)."""

    density: AbstractSpectralDensity

    def __call__(self, omega):
        return self.density(-omega)

    def lorentzian_terms(self):
        return tuple(Lorentzian(t.gamma, t.width, -t.center_, _pole=True)
                     for t in self.density.lorentzian_terms())

    def scale(self):
        return self.density.scale()

    def center(self):
        return -self.density.center()


def nambu_model(model) -> Model:
    """The number-conserving engine model of a fermionic ``QuadraticModel`` with exchange
    leads: 2n Nambu modes, reservoirs (particle_0..particle_{M−1}, hole_0..hole_{M−1})."""
    n = model.n_modes
    t = jnp.asarray(nambu_transform(n))
    hn = 1j * t @ model.hamiltonian @ t.conj().T  # dψ/dt = T G T† ψ = −i 𝓗 ψ
    hn = 0.5 * (hn + hn.conj().T)
    z = jnp.zeros(n, jnp.complex128)
    parts, holes = [], []
    for r in model.reservoirs:
        if not isinstance(r, Reservoir):
            raise ValueError("fermionic continuum needs exchange (jt.Reservoir) leads.")
        parts.append(Reservoir(terms=[(d, jnp.concatenate([v.astype(complex), z]))
                                      for d, v in r.terms],
                               temperature=r.temperature,
                               chemical_potential=r.chemical_potential))
        holes.append(Reservoir(terms=[(MirroredDensity(d), jnp.concatenate(
            [z, -jnp.conj(v.astype(complex))])) for d, v in r.terms],
            temperature=r.temperature, chemical_potential=-r.chemical_potential))
    return Model(hn, tuple(parts + holes), "fermion")


def _nambu_response(model, times, engine) -> GeneralResponse:
    nm = nambu_model(model)
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
    w = er.weights
    bc, bs = pack(er.correlation_kernel, er.current_kernel, er.current_kernel_dt,
                  er.scalar_kernel_dt, energy_of(er.correlation_kernel))
    oc, os_ = pack(er.correlation_offset + c_half, er.current_offset + x_half,
                   er.current_offset_dt + xd_half, er.scalar_offset_dt + sd_half,
                   energy_of(er.correlation_offset + c_half))
    hole_c = jnp.einsum("bk,bktij->tij", w[m:], bc[m:])
    hole_s = jnp.einsum("bk,bktxp->txp", w[m:], bs[m:])
    nodes = jnp.concatenate([er.nodes[:m], -er.nodes[m:]], axis=1)
    weights = jnp.concatenate([w[:m], -w[m:]], axis=1)
    lo, hi = float(er.window[0]), float(er.window[1])
    return GeneralResponse(
        times=jnp.asarray(times),
        propagator=jnp.real(t.conj().T @ er.propagator @ t),
        state_kernel=sk,
        nodes=nodes,
        weights=weights,
        bath_covariance=jnp.concatenate([bc[:m], bc[m:]], axis=1),
        bath_scalar=jnp.concatenate([bs[:m], bs[m:]], axis=1),
        offset_covariance=oc + hole_c,
        offset_scalar=os_ + hole_s,
        temperature=model.temperatures,
        chemical_potential=model.chemical_potentials,
        energy_offset=model.energy_offset,
        window=jnp.asarray([max(lo, -hi), min(hi, -lo)]),
        error_estimate=er.error_estimate,
        statistics="fermion",
        number_conserving=(True,) * m,
        method="continuum",
        edge_tolerance=er.edge_tolerance,
        planned_range=er.planned_range,
    )


# ------------------------------------------------------------------------------------------
# bosons: x–x coupling to Drude–Lorentz baths, auxiliary-variable closure
# ------------------------------------------------------------------------------------------
class _Drude(eqx.Module):
    lmat: jax.Array  # (m, m) real generator of E = (r_S, y)
    beta: jax.Array  # (M, m) noise input per reservoir
    eext: jax.Array  # (M, m) X_α = e_α·E
    lam_gam: jax.Array  # (M, P) 2λ_pγ_p on the terms of α (0 elsewhere)
    lam_gam2: jax.Array  # (M, P) 2λ_pγ_p²
    counter: jax.Array  # (M,) λ_r (0 without counter-term)
    gsys: jax.Array  # (2n, 2n) bare system matrix (system energy)
    dens: tuple  # per reservoir: density (analytic J(ω))

    def scalars(self, z, n1, ne):
        """[d<N>/dt (0), d<H_α>/dt, <H_I^α>, <H_S> − E_0] from an extended second-moment
        contribution z (…, m, m) and noise correlations n1, ne (…, M)."""
        n2 = self.gsys.shape[0]
        x2 = jnp.einsum("am,...mk,ak->...a", self.eext, z, self.eext)
        xy = jnp.einsum("am,...mp->...ap", self.eext, z[..., :, n2:])
        coup = n1 - jnp.sum(self.lam_gam * xy, -1) + self.counter * x2
        je = ne - jnp.sum(self.lam_gam, -1) * x2 + jnp.sum(self.lam_gam2 * xy, -1)
        es = 0.5 * jnp.einsum("ij,...ij->...", self.gsys, z[..., :n2, :n2])
        return jnp.concatenate([jnp.zeros_like(je), -je, coup, es[..., None]], -1)

    def formal(self, omega, phi, zz, src):
        """Observables of source reservoir ``src`` at frequency ω (complex allowed) with the
        phase e^{iωt} replaced by the symbol zz (e^{−iωt} by 1/zz). Returns (cov, scalars)."""
        m = self.lmat.shape[0]
        eye = jnp.eye(m)
        b = self.beta[src]
        a = jnp.linalg.solve(self.lmat - 1j * omega * eye, phi @ b - zz * b)
        at = jnp.linalg.solve(self.lmat + 1j * omega * eye, phi @ b - b / zz)
        j = 2.0 / math.pi * _analytic(self.dens, src, omega)
        z = 0.5 * j * (jnp.outer(a, at) + jnp.outer(at, a))
        e = self.eext[src]
        onehot = jax.nn.one_hot(src, self.eext.shape[0])
        n1 = 0.5 * j * (e @ a / zz + e @ at * zz) * onehot
        ne = 0.5 * j * omega * (-1j * (e @ a) / zz + 1j * (e @ at) * zz) * onehot
        n2 = self.gsys.shape[0]
        return z[:n2, :n2], self.scalars(z, n1, ne)


def _analytic(dens, src, omega):
    return jax.lax.switch(src, [lambda w, d=d: d.analytic(w) for d in dens], omega)


def _drude_setup(model) -> _Drude:
    n = model.n_modes
    n2 = 2 * n
    om = jnp.asarray(symplectic_form(n))
    terms = []
    for a, r in enumerate(model.reservoirs):
        if not (isinstance(r, PositionReservoir) and hasattr(r.spectral_density, "drude_terms")):
            raise ValueError(
                "the bosonic continuum method needs x–x reservoirs (jt.PositionReservoir) with "
                "Drude–Lorentz densities (jt.DrudeLorentz); use jt.Discretised(...) for other "
                "bosonic baths.")
        terms += [(a, lam, gam) for lam, gam in r.spectral_density.drude_terms()]
    p = len(terms)
    m = n2 + p
    lmat = jnp.zeros((m, m)).at[:n2, :n2].set(om @ model.dressed_hamiltonian())
    mres = model.n_reservoirs
    lg = jnp.zeros((mres, p))
    lg2 = jnp.zeros((mres, p))
    for q, (a, lam, gam) in enumerate(terms):
        e = model.position_vector(a)
        lmat = lmat.at[:n2, n2 + q].set(-2 * lam * gam * (om @ e))
        lmat = lmat.at[n2 + q, :n2].set(e)
        lmat = lmat.at[n2 + q, n2 + q].set(-gam)
        lg = lg.at[a, q].set(2 * lam * gam)
        lg2 = lg2.at[a, q].set(2 * lam * gam**2)
    pad = jnp.zeros(p)
    eext = jnp.stack([jnp.concatenate([model.position_vector(a), pad]) for a in range(mres)])
    beta = jnp.stack([jnp.concatenate([om @ model.position_vector(a), pad])
                      for a in range(mres)])
    counter = jnp.stack([r.reorganisation_energy() if r.counter_term else jnp.asarray(0.0)
                         for r in model.reservoirs])
    return _Drude(lmat, beta, eext, lg, lg2, counter, model.hamiltonian,
                  tuple(r.spectral_density for r in model.reservoirs))


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
def _drude_arrays(dr: _Drude, times, wn, ww, on, ow, sn, sw, a):
    """Window kernels (M, K, T, …), state kernels and the vacuum offset (window + [ω_max, a]
    + rays beyond a), each with its time derivative."""
    lm = dr.lmat
    mres = dr.beta.shape[0]
    n2 = dr.gsys.shape[0]
    phis = jax.vmap(lambda t: jax.scipy.linalg.expm(lm * t))(times)

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


def _drude_range(model, method):
    temps = np.asarray(model.temperatures)
    return method.temperature_range or (0.8 * temps.min(), 1.25 * temps.max())


def _drude_plan(dr, model, times, method):
    t_lo, t_hi = _drude_range(model, method)
    tmax = max(float(times[-1]), 1e-3)
    w_hi = _window_cut(method.tolerance) * t_hi
    ev = np.linalg.eigvals(np.asarray(dr.lmat))
    nu, kap = np.abs(ev.imag), np.abs(ev.real)
    gams = [float(d.cutoff) for d in dr.dens]
    a = max(w_hi, float(nu.max()) + float(kap.max()) + 1.0)
    width = min(20.0 / tmax, 8.0 * t_lo, 2.0)
    scales = np.maximum(kap, 1.0 / tmax)
    poles = [(float(c), float(s)) for c, s in zip(nu, scales, strict=False) if 4.0 * s < width]
    poles += [(0.0, g) for g in gams if 4.0 * g < width]
    return w_hi, a, width, tuple(sorted(set(poles))), tmax


def _drude_build(dr, model, times, plan, q, factor):
    w_hi, a, width, poles, tmax = plan
    wn, ww = _gauss_panels(0.0, w_hi, width, q, poles, factor)
    on, ow = _gauss_panels(w_hi, a, width, q, poles, factor) if a > w_hi else (
        np.zeros(0), np.zeros(0))
    sn, sw = _ray_rule(min(1.0 / tmax, 1.0), 1e3 * (a + 1.0), q)
    rules = (jnp.asarray(x) for x in (wn, ww, on, ow, sn, sw))
    return _drude_arrays(dr, jnp.asarray(times), *rules, jnp.asarray(a)), wn, w_hi


def _drude_response(model, times, method) -> GeneralResponse:
    dr = _drude_setup(model)
    plan = _drude_plan(dr, model, times, method)
    q = method.nodes_per_panel
    (prop, sk, bc, bs, oc, os_), wn, w_hi = _drude_build(dr, model, times, plan, q,
                                                         method.panel_factor)
    (_, _, bc2, bs2, oc2, os2), wn2, _ = _drude_build(dr, model, times, plan, q - 2,
                                                      method.panel_factor)
    mres = model.n_reservoirs
    nodes = jnp.broadcast_to(jnp.asarray(wn), (mres, len(wn)))
    resp = _drude_pack(model, times, prop, sk, bc, bs, oc, os_, nodes, w_hi, method)
    coarse = _drude_pack(model, times, prop, sk, bc2, bs2, oc2, os2,
                         jnp.broadcast_to(jnp.asarray(wn2), (mres, len(wn2))), w_hi, method)
    zero = jnp.diag(jnp.full(2 * model.n_modes, 0.5))
    s1, s2 = resp.evaluate(zero), coarse.evaluate(zero)
    err = max(float(jnp.max(jnp.abs(getattr(s1, k) - getattr(s2, k))))
              for k in ("covariance", "energy_current", "coupling_energy"))
    if not err <= method.tolerance:
        tolerance_missed(f"jt.GeneralContinuum could not reach tolerance {method.tolerance:g}: "
                         f"the error estimate is {err:.3g} (nodes_per_panel = {q}, "
                         f"panel_factor = {method.panel_factor:g}); raise nodes_per_panel or "
                         "lower panel_factor, or loosen the tolerance.", method.strict)
    t_lo, t_hi = _drude_range(model, method)
    resp = dataclasses.replace(resp, planned_range=((float(plan[2]) / 8.0, float(t_hi)),
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
        edge_tolerance=float(math.exp(-(_window_cut(method.tolerance) - 0.5))),
    )
