r"""Continuum reservoirs: exact ODE closure for Lorentzian (pole) spectral densities.

Maths (physics.md §2–3). Each Lorentzian term p (reservoir r_p, vector v_p) has memory kernel
K_p(τ) = κ_p e^{−λ_p τ} v_p v_p†, κ_p = γ_p W_p / 2, λ_p = W_p + i c_p, and the energy kernel is
K^E_p = (c_p − i W_p) K_p. With y_p = v_p† Y_p the Dyson equation becomes the *linear*
constant-coefficient system E = (G; y_1..y_P), dE/dt = L E with

    L = [[−i h, −V], [diag(κ) V†, −diag(λ)]],   V = (v_1 … v_P),

so G(t) = [e^{Lt}]_{ss} exactly (matrix exponentials, no time stepping error).
The occupation-weighted frequency integrals need A(ω,t) = ∫_0^t G e^{iωτ} and
z_p(ω,t) = v_p† Z_p(ω,t), which obey another linear system (with L + iω), solved exactly per
frequency node. The frequency integral ∫dω f_β(ω) L_β(ω, t) is split into

* a stored window [w_lo, w_hi] (composite Gauss–Legendre, panels resolving e^{iωt}, the thermal
  width and the poles): evaluated in stage 2 with any f_β whose step lies inside the window;
* (−∞, w_lo], where every allowed f_β equals 1 (to e^{−x}, x = ln(1/tolerance) + 5, between
  12 and 30 thermal widths): T- and μ-independent, computed once.
  Its far part (−∞, a] is integrated *exactly* by splitting the integrand into e^{+iωt},
  e^{−iωt} and non-oscillating pieces (closed forms with the resolvent (L + iω)^{-1}) and
  rotating each onto a vertical ray where it decays (no poles lie left of a). This removes
  the slowly decaying, oscillating 1/ω² tail of the energy terms that defeats plain quadrature.

The achieved accuracy is estimated by repeating the quadrature at half resolution.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_times, is_concrete, tolerance_missed
from ..pole_fit import fit_kernel
from ..spectral_density import gauss_rule
from .base import Response, flatten_terms, one_hot, stack_reservoir_arrays

_TWO_PI = 2.0 * math.pi


# ----------------------------------------------------------------------------------------
# model -> pole data
# ----------------------------------------------------------------------------------------
def closure_generator(xp, h, vec, kappa, lam):
    """Generator L of the exact pole closure on (G; y_1..y_P) (physics.md §3, rank-one form):
    dG/dt = −ihG − Σ_p v_p y_p, dy_p/dt = κ_p v_p† G − λ_p y_p; (m, m), m = n + P. ``xp`` is
    ``jax.numpy`` or ``numpy`` (the same matrix without compiling anything)."""
    h = xp.asarray(h).astype(complex)
    return xp.block([[-1j * h, -vec], [kappa[:, None] * vec.conj().T, -xp.diag(lam)]])


class _Poles(eqx.Module):
    """Closure data: poles p (memory kernel Σ_p κ_p e^{−λ_p τ} v_p v_p†, exact for Lorentzian
    sums, fitted for other densities) and terms j (exact densities g_j with vectors v_j)."""

    h: jax.Array  # (n, n) complex
    vec: jax.Array  # (n, P) complex
    kappa: jax.Array  # (P,) complex
    lam: jax.Array  # (P,) complex
    onehot: jax.Array  # (M, P)
    tvec: jax.Array  # (n, J) complex
    tonehot: jax.Array  # (M, J)
    densities: tuple  # J spectral densities
    analytic: tuple = eqx.field(static=True)  # per term: usable at complex ω (pole sums)
    pole_term: tuple = eqx.field(static=True, default=())  # term index j of each pole p

    @property
    def k_energy(self):
        return -1j * self.lam

    def generator(self):
        return closure_generator(jnp, self.h, self.vec, self.kappa, self.lam)

    def density(self, omega, complex_plane: bool = False):
        """Exact g_j(ω) of every term (J,); on complex rays only pole sums contribute (the
        other densities vanish left of the tail's start)."""
        vals = [
            (d(omega) if (ok or not complex_plane) else jnp.zeros_like(omega))
            for d, ok in zip(self.densities, self.analytic, strict=True)
        ]
        return jnp.stack(vals).astype(jnp.complex128)


def _fingerprint(dens):
    return tuple(tuple(np.asarray(x).ravel().tolist()) for x in jax.tree_util.tree_leaves(dens))


def _poles(model, fits=None) -> _Poles:
    terms = flatten_terms(model)
    vec, kap, lam, res, pterm = [], [], [], [], []
    for j, (dens, v, r) in enumerate(terms):
        fit = None if fits is None else fits[j]
        if fit is None:
            pairs = [(0.5 * lor.gamma * lor.width, lor.width + 1j * lor.center_)
                     for lor in dens.lorentzian_terms()]
        else:
            if not is_concrete(*jax.tree_util.tree_leaves(dens)):
                raise ValueError(
                    f"Continuum fits the memory kernel of {type(dens).__name__} (not a sum of "
                    "Lorentzians) on the host; gradients with respect to its parameters are "
                    "not available. Use jt.Discretised for those, or Lorentzian terms."
                )
            if _fingerprint(dens) != fit[4]:
                raise ValueError(
                    f"This resolved Continuum was planned for different {type(dens).__name__} "
                    "parameters (its kernel fit would be stale); resolve it for this model."
                )
            pairs = list(zip(fit[0], fit[1], strict=True))
        for k, l_ in pairs:
            vec.append(v.astype(jnp.complex128))
            kap.append(jnp.asarray(k, jnp.complex128))
            lam.append(jnp.asarray(l_, jnp.complex128))
            res.append(r)
            pterm.append(j)
    return _Poles(
        h=model.hamiltonian.astype(jnp.complex128),
        vec=jnp.stack(vec, axis=1),
        kappa=jnp.stack(kap),
        lam=jnp.stack(lam),
        onehot=one_hot(res, model.n_reservoirs),
        tvec=jnp.stack([v.astype(jnp.complex128) for _, v, _ in terms], axis=1),
        tonehot=one_hot([r for _, _, r in terms], model.n_reservoirs),
        densities=tuple(d for d, _, _ in terms),
        analytic=tuple(bool(d.is_pole_sum) for d, _, _ in terms),
        pole_term=tuple(pterm),
    )


# ----------------------------------------------------------------------------------------
# observables of one frequency (shared by the real-axis nodes and the complex tail rays)
# ----------------------------------------------------------------------------------------
def _observables(pl: _Poles, omega, a, z, abar, complex_plane=False):
    """Integrands (without the 1/2π) per source reservoir β at frequency ``omega``.

    a = A(ω,t) (n,n); z = rows z_p (P,n); abar = the analytic continuation of A(ω,t)†.
    Returns corr (M,n,n) and amplitude (M_β, 2, M_α).
    """
    vj = pl.tvec
    return observables_of_amplitudes(pl, omega, a @ vj, z @ vj, vj.conj().T @ abar,
                                     complex_plane)


def observables_of_amplitudes(pl: _Poles, omega, av, zv, vda, complex_plane=False):
    """``_observables`` from the per-source amplitudes: av (n, J) = A v_j (the system
    amplitude driven by term j), zv (P, J) = z_p v_j and vda (J, n) = (the continuation of)
    av†. Also used by correlated (stationary) initial states, whose amplitudes are not of
    the form A v_j (``response/stationary.py``)."""
    g = pl.density(omega, complex_plane)  # (J,)
    vj = pl.tvec
    corr_j = jnp.einsum("j,ij,jk->jik", g, av, vda)
    corr = jnp.einsum("bj,jik->bik", pl.tonehot, corr_j)
    t1 = g * jnp.einsum("jn,nj->j", vda, vj)  # g_j v_j† Ā v_j
    w = jnp.stack([jnp.ones_like(omega), omega]).astype(jnp.complex128)  # w_N, w_E
    d1 = w[:, None] * (pl.tonehot @ t1)[None, :]  # (2, M): [x, α]
    bbar = vda @ pl.vec  # (J, P): v_j† Ā v_p
    zt = pl.kappa[:, None] * g[None, :] * zv * bbar.T  # [p, j]
    kx = jnp.stack([jnp.ones_like(pl.kappa), pl.k_energy]).astype(jnp.complex128)  # (2, P)
    x2 = jnp.einsum("ap,xp,pj,bj->bxa", pl.onehot, kx, zt, pl.tonehot)
    m = pl.onehot.shape[0]
    x1 = jnp.eye(m)[:, None, :] * d1[None, :, :]  # δ_αβ
    return corr, x1 - x2


def _with_scalars(pl, corr, amp):
    """Append the scalars Tr[h C_β], Tr[C_β] (M, 2) to an observable tuple."""
    sc = jnp.stack(
        [jnp.einsum("ij,bji->b", pl.h, corr), jnp.einsum("bii->b", corr)], axis=-1
    )
    return corr, amp, sc


# ----------------------------------------------------------------------------------------
# time-domain (state) part
# ----------------------------------------------------------------------------------------
def _time_domain(pl: _Poles, times):
    """E(t) = e^{Lt}[:, :n] and J_p(t) = ∫_0^t e^{−λ_p (t−s)} E(s) ds, exactly: per pole,
    the top and bottom blocks of exp([[L, 0], [1, −λ_p]] t)[:, :n] (size 2m, not m(1+P))."""
    lmat = pl.generator()
    m = lmat.shape[0]
    n, p = pl.vec.shape
    eye = jnp.eye(m, dtype=complex)
    zero = jnp.zeros((m, m), complex)

    def at(t):
        def one(lam_q):
            big = jnp.block([[lmat, zero], [eye, -lam_q * eye]])
            col = jax.scipy.linalg.expm(big * t)[:, :n]
            return col[:m], col[m:]

        e, j = jax.vmap(one)(pl.lam)
        return e[0], j

    return jax.lax.map(at, jnp.asarray(times))  # (T, m, n), (T, P, m, n)


def _state_kernels(pl: _Poles, e):
    """G, dG/dt and the C0 kernels of the current amplitudes (and their derivatives)."""
    lmat = pl.generator()
    n = pl.vec.shape[0]
    kx = jnp.stack([jnp.ones_like(pl.kappa), pl.k_energy]).astype(jnp.complex128)

    def kern(et):
        g, y = et[:n], et[n:]
        gv = g.conj().T @ pl.vec  # (n, P): G† v_p
        return g, -jnp.einsum("ap,xp,ip,pj->xaij", pl.onehot, kx, gv, y)

    def one(et):
        (g, mk), (gd, mkd) = jax.jvp(kern, (et,), (lmat @ et,))
        return g, gd, mk, mkd

    return jax.vmap(one)(e)


# ----------------------------------------------------------------------------------------
# real-axis frequency nodes
# ----------------------------------------------------------------------------------------
def _delta_index(times):
    """Unique time steps (t_{-1} = 0) for exact step-wise propagation."""
    times = np.asarray(times)
    deltas = np.diff(np.concatenate([[0.0], times]))
    scale = max(float(times[-1]), 1.0)
    key = np.round(deltas / scale, 13)
    uniq, inv = np.unique(key, return_inverse=True)
    vals = np.array([deltas[inv == u].mean() for u in range(len(uniq))])
    return vals, inv


def _node_kernels(pl: _Poles, omega, deltas, inv, correlation_dt=False):
    """Kernels at one real frequency for all times: corr (M,T,n,n), amp & d/dt (M,T,2,M),
    scalar derivatives (M,T,2); with ``correlation_dt`` also d(corr)/dt (M,T,n,n) (the
    tangent of the correlation in the same jvp)."""
    lmat = pl.generator()
    m = lmat.shape[0]
    n, p = pl.vec.shape
    lw = lmat + 1j * omega * jnp.eye(m)
    sel = jnp.eye(n, m, dtype=complex)
    zin = pl.vec.conj().T  # (P, n)
    gen = jnp.block(
        [
            [lw, jnp.zeros((m, n), complex), jnp.zeros((m, p), complex)],
            [sel, jnp.zeros((n, n), complex), jnp.zeros((n, p), complex)],
            [jnp.zeros((p, m), complex), zin, jnp.diag(-pl.lam + 1j * omega)],
        ]
    )
    s0 = jnp.concatenate([jnp.eye(m, n, dtype=complex), jnp.zeros((n + p, n), complex)])
    props = jax.vmap(lambda d: jax.scipy.linalg.expm(gen * d))(jnp.asarray(deltas))

    def step(s, k):
        s = props[k] @ s
        return s, s

    _, s_all = jax.lax.scan(step, s0, jnp.asarray(inv))  # (T, d, n)

    def obs(s):
        a, z = s[m : m + n], s[m + n :]
        return _with_scalars(pl, *_observables(pl, omega, a, z, a.conj().T))

    def one(s):
        (c, x, sc), (cd, xd, scd) = jax.jvp(obs, (s,), (gen @ s,))
        return (c, x, xd, scd, cd) if correlation_dt else (c, x, xd, scd)

    return tuple(jnp.moveaxis(a, 1, 0) for a in jax.vmap(one)(s_all))


# ----------------------------------------------------------------------------------------
# exact tail (−∞, a]: split into e^{±iωt} classes, rotate onto vertical rays
# ----------------------------------------------------------------------------------------
def _tail_integrand(pl: _Poles, omega, up: bool, t, e, j):
    """Integrand on a vertical ray through ``omega`` (complex) at time t (summed over β).

    up=True: e^{iωt} c_+ + c_0 (decays for Im ω > 0); up=False: e^{−iωt} c_−.
    """
    lmat = pl.generator()
    m = lmat.shape[0]
    n = pl.vec.shape[0]
    eye = jnp.eye(m, dtype=complex)
    rw = jnp.linalg.inv(lmat + 1j * omega * eye)
    rc = jnp.linalg.inv(lmat + 1j * jnp.conj(omega) * eye)
    a_p = (rw @ e)[:n]
    a_0 = -rw[:n, :n]
    ab_p = (rc @ e)[:n].conj().T
    ab_0 = -rc[:n, :n].conj().T
    vd = pl.vec.conj().T
    den = 1j * omega - pl.lam  # (P,)
    rj = jnp.einsum("ij,pjk->pik", rw, j)[:, :n, :]  # (P, n, n)
    z_p = jnp.einsum("ip,pik->pk", pl.vec.conj(), rj) + (
        (vd @ a_0) * (jnp.exp(-pl.lam * t) / den)[:, None]
    )
    z_0 = -(vd @ a_0) / den[:, None]

    def obs(fl, fr):
        c, x = _observables(pl, omega, fl * a_p + a_0, fl * z_p + z_0, fr * ab_p + ab_0,
                            complex_plane=True)
        return tuple(o.sum(0) for o in _with_scalars(pl, c, x))

    o00 = obs(0.0, 0.0)
    o01 = obs(0.0, 1.0)
    tmap = jax.tree_util.tree_map
    if up:
        o10 = obs(1.0, 0.0)
        o11 = obs(1.0, 1.0)
        ph = jnp.exp(1j * omega * t)
        return tmap(lambda a11, a10, a01, a00: ph * (a10 - a00) + (a11 - a10 - a01 + 2 * a00),
                    o11, o10, o01, o00)
    ph = jnp.exp(-1j * omega * t)
    return tmap(lambda a01, a00: ph * (a01 - a00), o01, o00)


def ray_integral(integrand, a, s_nodes, s_weights):
    """∫_{−∞}^{a} dω/2π F(ω) for F = F_+ + F_− where ``integrand(ω, True)`` is F_+ (decays for
    Im ω > 0) and ``integrand(ω, False)`` is F_− (decays for Im ω < 0), both analytic left of
    a: rotated onto the vertical rays a ± is, s ∈ [0, ∞) (rule ``s_nodes``, ``s_weights``)."""
    up = jax.vmap(lambda s: integrand(a + 1j * s, True))(s_nodes)
    dn = jax.vmap(lambda s: integrand(a - 1j * s, False))(s_nodes)
    # ∫_{-∞}^a F_+ = −i ∫_0^∞ F_+(a+is) ds ;  ∫_{-∞}^a F_- = +i ∫_0^∞ F_-(a−is) ds
    return jax.tree_util.tree_map(
        lambda u, d: (-1j * jnp.tensordot(s_weights, u, 1)
                      + 1j * jnp.tensordot(s_weights, d, 1)) / _TWO_PI,
        up,
        dn,
    )


def _tail(pl: _Poles, a, s_nodes, s_weights, times, e, j, correlation_dt=False):
    """∫_{−∞}^{a} dω/2π (all observables, f = 1), with d/dt, for all times (and d(corr)/dt
    with ``correlation_dt``)."""
    lmat = pl.generator()

    def at_time(t, et, jt):
        def integrand(t_, et_, jt_):
            return ray_integral(lambda w, up: _tail_integrand(pl, w, up, t_, et_, jt_), a,
                                s_nodes, s_weights)

        tang = (jnp.ones_like(t), lmat @ et, et[None] - pl.lam[:, None, None] * jt)
        (c, x, sc), (cd, xd, scd) = jax.jvp(integrand, (t, et, jt), tang)
        return (c, x, xd, scd, cd) if correlation_dt else (c, x, xd, scd)

    return jax.lax.map(lambda args: at_time(*args), (jnp.asarray(times), e, j))


# ----------------------------------------------------------------------------------------
# quadrature plans
# ----------------------------------------------------------------------------------------
def _panel_edges(lo, hi, width, poles=(), factor=1.0, cuts=(), singular=(), levels=14):
    """Panel edges on [lo, hi]: width ``factor·width``, refined near each pole (c, s) to
    ``factor·4s`` and growing as ``factor·|ω − c|/2`` away from it (the integrand is smooth
    on the scale of the distance to its nearest pole); panels also end at the ``cuts``
    (support ends and breakpoints of the densities) and are graded geometrically (ratio
    1/4) towards ``singular`` points (|ω − b|^s edges)."""
    inner = sorted({lo, hi, *(c for c in (*cuts, *singular) if lo < c < hi)})
    if len(inner) > 2:
        edges = np.unique(np.concatenate([
            _panel_edges(x0, x1, width, poles, factor)
            for x0, x1 in zip(inner[:-1], inner[1:], strict=True)]))
    elif not poles:
        npan = max(1, int(math.ceil((hi - lo) / (factor * width))))
        edges = np.linspace(lo, hi, npan + 1)
    else:
        cs = np.array([c for c, _ in poles])
        ss = np.array([sc for _, sc in poles])

        def local(x):
            return factor * min(width, float(np.min(np.maximum(4.0 * ss, 0.5 * np.abs(x - cs)))))

        out = [lo]
        while out[-1] < hi:
            e = out[-1]
            w = local(e)
            w = min(w, local(min(e + w, hi)))
            out.append(min(e + w, hi))
        if len(out) > 2 and out[-1] - out[-2] < 0.25 * (out[-2] - out[-3]):
            out.pop(-2)  # no sliver panel at the end
        edges = np.asarray(out)
    for b in singular:  # geometric grading inside the panels adjacent to b
        k = np.searchsorted(edges, b)
        extra = []
        if k < len(edges) and abs(edges[k] - b) < 1e-12 * max(1.0, abs(b)):
            if k + 1 < len(edges):
                extra += [b + (edges[k + 1] - b) * 0.25**i for i in range(1, levels + 1)]
            if k > 0:
                extra += [b - (b - edges[k - 1]) * 0.25**i for i in range(1, levels + 1)]
        edges = np.unique(np.concatenate([edges, extra]))
    return edges


def _gauss_panels(lo, hi, width, q, poles=(), factor=1.0, cuts=(), singular=()):
    return gauss_rule(_panel_edges(lo, hi, width, poles, factor, cuts, singular), q)


def _ray_rule(s_first, s_far, q):
    """Gauss rule on s ∈ [0, ∞): geometric panels up to s_far, then s = s_far/u."""
    x, w = np.polynomial.legendre.leggauss(q)
    edges = [0.0, s_first]
    while edges[-1] < s_far:
        edges.append(edges[-1] * 2.0)
    nodes, weights = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        nodes.append(0.5 * (hi + lo) + 0.5 * (hi - lo) * x)
        weights.append(0.5 * (hi - lo) * w)
    u = 0.5 * (1 + x)  # u ∈ (0, 1): s = S/u, ds = S/u² du
    big = edges[-1]
    nodes.append(big / u)
    weights.append(0.5 * w * big / u**2)
    return np.concatenate(nodes), np.concatenate(weights)


class Continuum(eqx.Module):
    """Exact continuum reservoirs (default method).

    **Arguments:**

    - ``tolerance``: target absolute accuracy of currents and coupling energies (default
      1e-8). The quadrature is refined (up to ``max_refinements`` times) until the error
      estimate (difference to a half-resolution rule, at the model's own T and μ) is below it;
      the achieved estimate is stored as ``Response.error_estimate``.
    - ``temperature_range``: (T_min, T_max) for which stage 2 must be valid (default: the
      model's temperatures, ×[0.8, 1.25]). T_min sets the node density, T_max the window.
    - ``chemical_potential_range``: (μ_min, μ_max) (default: the model's values).
    - ``nodes_per_panel``: Gauss–Legendre order per panel (default from the tolerance: 10 for
      tolerance ≥ 1e-6, 12 down to 1e-9, 16 below).
    - ``node_batch``: frequency nodes processed at once (memory bound).
    - ``correlation_dt``: also store the kernels of dC/dt (``Response.correlation_kernel_dt``
      and ``correlation_offset_dt``; default False). They are the time derivatives of the
      correlation kernels, exact (forward-mode derivative of the same closed forms), and are
      what ``master_equation.effective_generator_from_response`` needs for the gain/loss
      rates Γ±. Memory: as much again as ``correlation_kernel`` (M·K·T·n² complex). Only for
      the full Response (``observables="currents"`` stores no correlation kernels).

    - ``max_refinements``: how often the panels may be halved to meet ``tolerance``;
      ``strict``: if the estimate still misses it, raise a ValueError instead of warning
      (``jt.ToleranceWarning``); both messages give the reached estimate.

    The error estimate covers the whole planned range: it is the largest over the model's
    own (T, μ) and the range's corners (T_min, T_max, μ_min, μ_max). Stage 2 raises if asked
    for a temperature below T_min or (T, μ) outside the stored window.
    """

    tolerance: float = eqx.field(default=1e-8, static=True)
    temperature_range: tuple[float, float] | None = eqx.field(default=None, static=True)
    chemical_potential_range: tuple[float, float] | None = eqx.field(default=None, static=True)
    nodes_per_panel: int | None = eqx.field(default=None, static=True)
    node_batch: int = eqx.field(default=64, static=True)
    correlation_dt: bool = eqx.field(default=False, static=True)
    max_refinements: int = eqx.field(default=2, static=True)
    strict: bool = eqx.field(default=False, static=True)
    plan: tuple | None = eqx.field(default=None, static=True)
    error_estimate_: float | None = eqx.field(default=None, static=True)
    planned_range_: tuple | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if not (self.tolerance > 0):
            raise ValueError(f"Continuum tolerance must be > 0, got {self.tolerance}.")
        if self.nodes_per_panel is not None and not (
            isinstance(self.nodes_per_panel, int) and self.nodes_per_panel >= 6
        ):
            raise ValueError(
                f"nodes_per_panel must be an integer >= 6 (or None for the default), got "
                f"{self.nodes_per_panel!r}."
            )
        if not (isinstance(self.max_refinements, int) and self.max_refinements >= 0):
            raise ValueError(f"max_refinements must be an integer >= 0, got "
                             f"{self.max_refinements!r}.")
        if self.temperature_range is not None:
            lo, hi = self.temperature_range
            if not (0 < lo <= hi and np.isfinite(hi)):
                raise ValueError(
                    f"temperature_range must be (T_min, T_max) with 0 < T_min <= T_max, got "
                    f"{self.temperature_range}."
                )
        if self.chemical_potential_range is not None:
            lo, hi = self.chemical_potential_range
            if not (lo <= hi and np.isfinite(lo) and np.isfinite(hi)):
                raise ValueError(
                    f"chemical_potential_range must be finite (mu_min, mu_max), got "
                    f"{self.chemical_potential_range}."
                )

    # -- planning (host, concrete values) ------------------------------------------------
    def _fits(self, model, times):
        """Kernel fits of the non-pole densities on [0, t_max] (None for pole sums)."""
        tmax = max(float(times[-1]), 1e-3)
        fit_tol = min(1e-7, 1e-2 * self.tolerance)
        out = []
        for dens, _, _ in flatten_terms(model):
            if dens.is_pole_sum:
                out.append(None)
                continue
            f = fit_kernel(dens, tmax, fit_tol)
            out.append((f.kappa, f.lam, f.error, f.error_energy, _fingerprint(dens)))
        return tuple(out)

    def _ranges(self, model, times):
        """(T_min, T_max, μ_min, μ_max, t_max) the plan is made for."""
        temps = np.asarray(model.temperatures)
        mus = np.asarray(model.chemical_potentials)
        t_lo, t_hi = self.temperature_range or (0.8 * temps.min(), 1.25 * temps.max())
        m_lo, m_hi = self.chemical_potential_range or (mus.min(), mus.max())
        return (float(t_lo), float(t_hi), float(m_lo), float(m_hi),
                max(float(times[-1]), 1e-3))

    def planned_range(self, model, times):
        """((T_min, T_max), (μ_min, μ_max)) that stage 2 accepts: the panels (width w) resolve
        thermal widths down to w/8, which is the requested T_min or lower."""
        t_lo, t_hi, m_lo, m_hi, tmax = self._ranges(model, times)
        return ((_panel_width(tmax, t_lo) / 8.0, t_hi), (m_lo, m_hi))

    def _base_plan(self, model, times, fits):
        pl = _poles(model, fits)
        terms = flatten_terms(model)
        lam_l = np.linalg.eigvals(np.asarray(pl.generator()))
        lam_p = np.asarray(pl.lam)
        re_poles = np.concatenate([-lam_l.imag, lam_p.imag])
        im_dist = np.concatenate([-lam_l.real, lam_p.real])
        t_lo, t_hi, m_lo, m_hi, tmax = self._ranges(model, times)
        x_cut = _window_cut(self.tolerance)
        w_lo = m_lo - x_cut * t_hi
        w_hi = m_hi + x_cut * t_hi
        dist = max(float(np.max(np.abs(im_dist))), 1e-3)
        margin = 0.5 * dist + 1.0
        a = min(w_lo, float(re_poles.min()) - margin)
        # non-pole densities: exact values at the nodes, so the nodes cover their supports
        # (panels end at support ends and breakpoints, graded towards singular points)
        general = [d for d, _, _ in terms if not d.is_pole_sum]
        cuts, sing = (), ()
        node_lo, node_hi = -np.inf, np.inf
        if general:
            sups = [d.effective_support() for d in general]
            lo_g = min(lo for lo, _ in sups)
            a = min(a, lo_g)  # the complex tail rays see only the pole sums left of a
            cuts = tuple(sorted({float(x) for d in general for x in
                                 (*d.support(), *(d.breakpoints() if len(d.breakpoints()) <= 16
                                                  else ())) if np.isfinite(x)}))
            sing = tuple(sorted({float(x) for d in general for x in d.singular_points()}))
            if len(general) == len(terms):  # nothing outside the supports
                node_lo, node_hi = lo_g, max(hi for _, hi in sups)
                a = lo_g
        if model.statistics == "boson":
            w_lo = node_lo  # validated: no weight at ω ≤ μ, so the window starts at the support
        width = _panel_width(tmax, t_lo)
        # poles near the real axis (eigenvalues of L, and the kernel poles) need panels of
        # ~4 max(distance, 1/t_max) near them, growing with distance from them
        scales = np.maximum(np.abs(im_dist), 1.0 / tmax)
        poles = tuple(sorted({(round(float(c), 12), round(float(d), 12))
                              for c, d in zip(re_poles, scales) if 4.0 * d < width}))
        s_first = min(1.0 / tmax, 1.0)
        s_far = 1e3 * (abs(a) + margin + 1.0)
        return (float(a), float(w_lo), float(w_hi), float(width), float(s_first), float(s_far),
                poles, (float(node_lo), float(node_hi), cuts, sing))

    def _resolve(self, model, times, build=None, base_plan=None):
        build = _build if build is None else build
        times = check_times(times)
        leaves = jax.tree_util.tree_leaves(model)
        if not is_concrete(*leaves):
            raise ValueError(
                "Continuum needs concrete model values to plan its quadrature. Under "
                "jax.grad/jit, first call method = jt.Continuum().resolve(model, times) on "
                "concrete values and pass that method."
            )
        fits = self._fits(model, times)
        if base_plan is None:
            base_plan = self._base_plan
        a, w_lo, w_hi, width, s_first, s_far, poles, region = base_plan(model, times, fits)
        factor = 1.0
        q = self.nodes_per_panel or _default_order(self.tolerance)
        err = np.inf
        zero = _zero_state(model)
        planned = self.planned_range(model, times)
        corners = _corners(model, planned)
        fit_err = _fit_error(model, fits)
        for _ in range(self.max_refinements + 1):
            # the estimate compares with a lower-order rule on the same panels (padded to the
            # same node count, so both share one compiled program): |I_q − I_{q−2}| is the
            # error of the (q−2)-point rule, a conservative bound on that of I_q (these rules
            # converge geometrically in q: measured 30–200× per two extra nodes per panel).
            fine = (a, w_lo, w_hi, width, s_first, s_far, q, poles, factor, region, fits)
            coarse = fine[:6] + (max(q - 2, 4),) + fine[7:]
            sizes = rule_sizes(fine, self.node_batch)
            resp = build(model, times, fine, self.node_batch, sizes, self.tolerance)
            sol_f = resp.evaluate(zero, *corners)
            sol_c = build(model, times, coarse, self.node_batch, sizes,
                          self.tolerance).evaluate(zero, *corners)
            err = max(
                float(jnp.max(jnp.abs(getattr(sol_f, k) - getattr(sol_c, k))))
                for k in ("particle_current", "energy_current", "coupling_energy")
            ) + fit_err
            if err <= self.tolerance:
                break
            factor, s_first = 0.5 * factor, 0.5 * s_first
        if not err <= self.tolerance:
            tolerance_missed(
                f"jt.Continuum could not reach tolerance {self.tolerance:g}: the error "
                f"estimate is {err:.3g} after {self.max_refinements} refinement(s) (over T in "
                f"[{planned[0][0]:.4g}, {planned[0][1]:.4g}], mu in [{planned[1][0]:.4g}, "
                f"{planned[1][1]:.4g}]). Raise max_refinements or nodes_per_panel, narrow "
                "temperature_range, or loosen the tolerance.", self.strict)
        resolved = dataclasses.replace(self, plan=fine, error_estimate_=float(err),
                                       planned_range_=planned)
        resp = dataclasses.replace(resp, planned_range=planned)
        return resolved, eqx.tree_at(
            lambda r: r.error_estimate, resp, jnp.asarray(err, jnp.float64)
        )

    def resolve(self, model, times) -> Continuum:
        """Fix the quadrature plan on concrete values (adaptive refinement + error estimate).

        Returns a ``Continuum`` whose ``response`` also works with traced models (e.g. under
        ``jax.grad`` with respect to h or couplings)."""
        return self._resolve(model, times)[0]

    def response(self, model, times) -> Response:
        build = (functools.partial(_build, correlation_dt=True) if self.correlation_dt
                 else _build)
        return self._response(model, times, build, "all")

    def current_response(self, model, times):
        """Currents-only stage 1 (``jt.response(..., observables="currents")``): the same
        quadrature plan, refinement and error estimate, O(T n) state storage instead of
        O(T n²) and per-node current amplitudes only (see ``response/currents.py``)."""
        from .currents import build_continuum_currents

        return self._response(model, times, build_continuum_currents, "currents")

    def _response(self, model, times, build, observables):
        times = check_times(times)
        if self.plan is None:
            key = _plan_key(self, model, times)
            if key is not None and key in _PLANS:
                return _PLANS[key]._response(model, times, build, observables)
            resolved, resp = self._resolve(model, times, build)
            if key is not None:
                if len(_PLANS) >= 256:
                    _PLANS.pop(next(iter(_PLANS)))
                _PLANS[key] = resolved
            return resp
        err = jnp.nan if self.error_estimate_ is None else self.error_estimate_
        resp = build(model, times, self.plan, self.node_batch, tolerance=self.tolerance)
        resp = dataclasses.replace(resp, planned_range=self.planned_range_)
        return eqx.tree_at(lambda r: r.error_estimate, resp, jnp.asarray(err, jnp.float64))


# resolved quadrature plans (and their error estimates) of recently seen (method, model, times):
# the plan is a deterministic function of these values, so an identical request skips the
# adaptive refinement and builds once.
_PLANS: dict = {}


def _plan_key(method, model, times):
    leaves, treedef = jax.tree_util.tree_flatten(model)
    if not is_concrete(*leaves):
        return None
    data = tuple(np.asarray(x).tobytes() + str(np.shape(x)).encode() for x in leaves)
    return (method, str(treedef), data, np.asarray(times).tobytes())


def _panel_width(tmax, t_lo):
    """Window panel width: resolves e^{iωt} up to t_max and thermal widths down to t_lo/... ."""
    return min(20.0 / tmax, 8.0 * t_lo, 2.0)


def _corners(model, planned):
    """(temperatures, chemical potentials) (B, M) at which the error is estimated: the
    model's own values and the corners of the planned range."""
    temps = np.asarray(model.temperatures, float)
    mus = np.asarray(model.chemical_potentials, float)
    (t_lo, t_hi), (m_lo, m_hi) = planned
    t = [temps, np.full_like(temps, t_lo), np.full_like(temps, t_hi)]
    m = [mus, mus, mus]
    if m_lo < m_hi:
        t += [temps, temps]
        m += [np.full_like(mus, m_lo), np.full_like(mus, m_hi)]
    return jnp.asarray(np.stack(t)), jnp.asarray(np.stack(m))


def _window_cut(tolerance):
    """Half width of the stored frequency window in units of T_max: beyond it |f − θ| <
    e^{−x} ≈ tolerance × e^{−5} (between 12 and 30)."""
    return float(min(30.0, max(12.0, math.log(1.0 / tolerance) + 5.0)))


def _edge_tolerance(tolerance):
    """How far from 0/1 the occupations may be at the window edges in stage 2 (a little
    looser than at the planned T_max, so that range passes with a margin)."""
    return float(math.exp(-(_window_cut(tolerance) - 0.5)))


def _default_order(tolerance):
    return 10 if tolerance >= 1e-6 else 12 if tolerance >= 1e-9 else 16


def _zero_state(model):
    return jnp.zeros((model.n_modes, model.n_modes))


def _pad(nodes, weights, size, fill):
    """Pad a rule with zero-weight nodes at ``fill`` to ``size`` (shares compiled programs)."""
    extra = size - len(nodes)
    return (np.concatenate([nodes, np.full(extra, fill)]),
            np.concatenate([weights, np.zeros(extra)]))


def _rules(plan):
    """(window, offset, ray) Gauss rules (nodes, weights) of a plan, unpadded."""
    a, w_lo, w_hi, width, s_first, s_far, q, poles, factor, region, fits = plan
    node_lo, node_hi, cuts, sing = region
    lo, hi = max(w_lo, node_lo), min(w_hi, node_hi)
    if not lo < hi:  # the supports lie outside the window: a token panel (zero density)
        lo, hi = w_lo, w_lo + width
    wn, ww = _gauss_panels(lo, hi, width, q, poles, factor, cuts, sing)
    on, ow = (_gauss_panels(a, w_lo, width, q, poles, factor, cuts, sing) if w_lo > a
              else (np.zeros(0), np.zeros(0)))
    if any(f is None for f in fits):  # pole-sum densities extend to −∞: complex rays
        sn, sw = _ray_rule(s_first, s_far, q)
    else:
        sn, sw = np.zeros(0), np.zeros(0)
    return wn, ww, on, ow, sn, sw


def _fit_error(model, fits):
    """First-order bound on the currents' error from the kernel fits: 2 Σ_j |v_j|² (∫|Δk| +
    ∫|Δk^E|) (J = 2 Re X, and X ∋ ∫K(t−s)G(s)ds with |G| ≤ 1)."""
    return float(sum(2.0 * float(np.sum(np.abs(np.asarray(v)) ** 2)) * (f[2] + f[3])
                     for (_, v, _), f in zip(flatten_terms(model), fits, strict=True)
                     if f is not None))


def _round_up(k, b):
    return max(b, -(-k // b) * b)


def _build(model, times, plan, node_batch, sizes=None, tolerance=1e-8,
           correlation_dt=False, arrays=None) -> Response:
    """Stage-1 arrays for one quadrature plan. ``sizes`` = (K_window, K_offset, K_ray) pads the
    rules with zero-weight nodes so that rules of different orders share one compiled program;
    ``correlation_dt`` also stores the dC/dt kernels; ``arrays`` replaces ``_build_arrays``
    (same signature; correlated initial states, ``response/stationary.py``)."""
    a, w_lo, w_hi = plan[:3]
    deltas, inv = _delta_index(times)
    wn, ww, on, ow, sn, sw = _rules(plan)
    if sizes is None:
        sizes = _padded_sizes(wn, on, sn, node_batch)
    wn, ww = _pad(wn, ww, sizes[0], w_hi)
    on, ow = _pad(on, ow, sizes[1], a)
    sn, sw = _pad(sn, sw, sizes[2], 1.0)
    arrays = (_build_arrays if arrays is None else arrays)(
        _poles(model, plan[10]),
        *(jnp.asarray(x) for x in (times, deltas, inv, wn, on, ow / _TWO_PI, sn, sw)),
        jnp.asarray(a), node_batch=node_batch, correlation_dt=correlation_dt,
    )
    temp, mu = stack_reservoir_arrays(model)
    nres = model.n_reservoirs
    return Response(
        times=jnp.asarray(times),
        hamiltonian=model.hamiltonian,
        temperature=temp,
        chemical_potential=mu,
        nodes=jnp.broadcast_to(jnp.asarray(wn), (nres, len(wn))),
        weights=jnp.broadcast_to(jnp.asarray(ww / _TWO_PI), (nres, len(wn))),
        window=jnp.asarray([w_lo, w_hi]),
        edge_tolerance=_edge_tolerance(tolerance),
        error_estimate=jnp.asarray(jnp.nan),
        method="continuum",
        statistics=model.statistics,
        **arrays,
    )


def rule_sizes(plan, node_batch):
    """Padded node counts (window, offset, ray) of a plan."""
    wn, _, on, _, sn, _ = _rules(plan)
    return _padded_sizes(wn, on, sn, node_batch)


def _padded_sizes(wn, on, sn, node_batch):
    return (_round_up(len(wn), node_batch), len(on) and _round_up(len(on), node_batch),
            len(sn) and _round_up(len(sn), 16))


@eqx.filter_jit
def _build_arrays(pl, times, deltas, inv, wn, on, ow, sn, sw, a, *, node_batch,
                  correlation_dt=False):
    n = pl.vec.shape[0]
    nres = pl.onehot.shape[0]
    e, j = _time_domain(pl, times)
    g, gd, mk, mkd = _state_kernels(pl, e)

    def kernels(nodes):
        return jax.lax.map(
            lambda w: _node_kernels(pl, w, deltas, inv, correlation_dt), nodes,
            batch_size=node_batch,
        )

    c_k, x_k, xd_k, sd_k, *cd_k = kernels(wn)  # (K, M, T, ...)
    nt = times.shape[0]
    off_c = jnp.zeros((nt, n, n), complex)
    off_cd = jnp.zeros((nt, n, n), complex)
    off_x = jnp.zeros((nt, 2, nres), complex)
    off_xd = jnp.zeros_like(off_x)
    off_sd = jnp.zeros((nt, 2), complex)
    if on.shape[0] > 0:
        oc, ox, oxd, osd, *ocd = kernels(on)
        off_c += jnp.einsum("k,kbtij->tij", ow, oc)
        off_x += jnp.einsum("k,kbtxa->txa", ow, ox)
        off_xd += jnp.einsum("k,kbtxa->txa", ow, oxd)
        off_sd += jnp.einsum("k,kbts->ts", ow, osd)
        if correlation_dt:
            off_cd += jnp.einsum("k,kbtij->tij", ow, ocd[0])
    if sn.shape[0] > 0:
        tc, tx, txd, tsd, *tcd = _tail(pl, a, sn, sw, times, e, j, correlation_dt)
    else:  # no pole-sum density: nothing left of the nodes
        tc, tx, txd, tsd, tcd = 0.0, 0.0, 0.0, 0.0, [0.0]
    mv = lambda x: jnp.moveaxis(x, 0, 1)  # (K, M, ...) -> (M, K, ...)
    extra = {}
    if correlation_dt:
        extra = dict(correlation_kernel_dt=mv(cd_k[0]), correlation_offset_dt=off_cd + tcd[0])
    return dict(
        propagator=g,
        propagator_dt=gd,
        current_state=mk,
        current_state_dt=mkd,
        correlation_kernel=mv(c_k),
        current_kernel=mv(x_k),
        current_kernel_dt=mv(xd_k),
        scalar_kernel_dt=mv(sd_k).real,
        correlation_offset=off_c + tc,
        current_offset=off_x + tx,
        current_offset_dt=off_xd + txd,
        scalar_offset_dt=(off_sd + tsd).real,
        **extra,
    )
