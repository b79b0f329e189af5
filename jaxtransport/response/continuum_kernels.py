r"""Stage-1 kernels of the Continuum method: the closure solved per frequency node (real axis)
and on the complex tail rays, for one ``QuadraturePlan`` (maths: ``continuum.py``)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .base import Response, stack_reservoir_arrays
from .closure import Poles, pole_data
from .expm import expm
from .plan import QuadraturePlan, edge_tolerance, padded_rules

_TWO_PI = 2.0 * math.pi


# ----------------------------------------------------------------------------------------
# observables of one frequency (shared by the real-axis nodes and the complex tail rays)
# ----------------------------------------------------------------------------------------
def _observables(pl: Poles, omega, a, z, abar, complex_plane=False):
    """Integrands (without the 1/2π) per source reservoir β at frequency ``omega``.

    a = A(ω,t) (n,n); z = rows z_p (P,n); abar = the analytic continuation of A(ω,t)†.
    Returns corr (M,n,n) and amplitude (M_β, 2, M_α).
    """
    vj = pl.tvec
    return observables_of_amplitudes(pl, omega, a @ vj, z @ vj, vj.conj().T @ abar,
                                     complex_plane)


def observables_of_amplitudes(pl: Poles, omega, av, zv, vda, complex_plane=False):
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


def with_scalars(pl, corr, amp):
    """Append the scalars Tr[h C_β], Tr[C_β] (M, 2) to an observable tuple."""
    sc = jnp.stack(
        [jnp.einsum("ij,bji->b", pl.h, corr), jnp.einsum("bii->b", corr)], axis=-1
    )
    return corr, amp, sc


# ----------------------------------------------------------------------------------------
# time-domain (state) part
# ----------------------------------------------------------------------------------------
def _time_domain(pl: Poles, times):
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
            col = expm(big * t)[:, :n]
            return col[:m], col[m:]

        e, j = jax.vmap(one)(pl.lam)
        return e[0], j

    return jax.lax.map(at, jnp.asarray(times))  # (T, m, n), (T, P, m, n)


def _state_kernels(pl: Poles, e):
    """G, dG/dt and the C0 kernels of the current amplitudes (and their derivatives)."""
    return state_kernels(pl, e, pl.generator() @ e)


def state_kernels(pl: Poles, e, e_dt):
    """G, dG/dt and the C0 kernels of the current amplitudes (and their derivatives), from
    the closure's columns E(t) = (G; y) (T, m, n) and their time derivatives ``e_dt`` (also
    for a time-dependent generator, ``response/driven.py``)."""
    n = pl.vec.shape[0]
    kx = jnp.stack([jnp.ones_like(pl.kappa), pl.k_energy]).astype(jnp.complex128)

    def kern(et):
        g, y = et[:n], et[n:]
        gv = g.conj().T @ pl.vec  # (n, P): G† v_p
        return g, -jnp.einsum("ap,xp,ip,pj->xaij", pl.onehot, kx, gv, y)

    def one(et, etd):
        (g, mk), (gd, mkd) = jax.jvp(kern, (et,), (etd,))
        return g, gd, mk, mkd

    return jax.vmap(one)(e, e_dt)


# ----------------------------------------------------------------------------------------
# real-axis frequency nodes
# ----------------------------------------------------------------------------------------
def delta_index(times):
    """Unique time steps (t_{-1} = 0) for exact step-wise propagation."""
    times = np.asarray(times)
    deltas = np.diff(np.concatenate([[0.0], times]))
    scale = max(float(times[-1]), 1.0)
    key = np.round(deltas / scale, 13)
    uniq, inv = np.unique(key, return_inverse=True)
    vals = np.array([deltas[inv == u].mean() for u in range(len(uniq))])
    return vals, inv


def _node_kernels(pl: Poles, omega, deltas, inv, correlation_dt=False):
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
    props = jax.vmap(lambda d: expm(gen * d))(jnp.asarray(deltas))

    def step(s, k):
        s = props[k] @ s
        return s, s

    _, s_all = jax.lax.scan(step, s0, jnp.asarray(inv))  # (T, d, n)

    def obs(s):
        a, z = s[m : m + n], s[m + n :]
        return with_scalars(pl, *_observables(pl, omega, a, z, a.conj().T))

    def one(s):
        (c, x, sc), (cd, xd, scd) = jax.jvp(obs, (s,), (gen @ s,))
        return (c, x, xd, scd, cd) if correlation_dt else (c, x, xd, scd)

    return tuple(jnp.moveaxis(a, 1, 0) for a in jax.vmap(one)(s_all))


# ----------------------------------------------------------------------------------------
# exact tail (−∞, a]: split into e^{±iωt} classes, rotate onto vertical rays
# ----------------------------------------------------------------------------------------
def _tail_integrand(pl: Poles, omega, up: bool, t, e, j):
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
        return tuple(o.sum(0) for o in with_scalars(pl, c, x))

    return frequency_classes(obs, omega, t, up)


def frequency_classes(obs, omega, t, up):
    """The part of a tail integrand that decays on the upper (``up``) or lower ray, from
    ``obs(fl, fr)``: the observables of the amplitudes a = fl a_p + a_0 (a_p carries e^{iωt})
    and ā = fr ā_p + ā_0 (ā_p carries e^{−iωt}), i.e. bilinear in (a, ā) plus linear in ā.
    up: e^{iωt} B(a_p, ā_0) + [B(a_p, ā_p) + B(a_0, ā_0) + D(ā_0)]; down: e^{−iωt} [B(a_0, ā_p)
    + D(ā_p)]. ``up`` is a Python bool, or a traced one (``ray_integral``: both rays in one
    vmapped program; the four products are then formed on both rays and the class selected)."""
    o00 = obs(0.0, 0.0)
    o01 = obs(0.0, 1.0)
    tmap = jax.tree_util.tree_map
    if up is False:
        ph = jnp.exp(-1j * omega * t)
        return tmap(lambda a01, a00: ph * (a01 - a00), o01, o00)
    o10 = obs(1.0, 0.0)
    o11 = obs(1.0, 1.0)
    ph = jnp.exp(jnp.where(up, 1j, -1j) * omega * t)

    def select(a11, a10, a01, a00):
        upper = ph * (a10 - a00) + (a11 - a10 - a01 + 2 * a00)
        return jnp.where(up, upper, ph * (a01 - a00))

    return tmap(select, o11, o10, o01, o00)


def ray_rule(a, s_nodes, s_weights):
    """Both rays a ± is of the tail as one rule: (ω (2K,), up (2K,) bool, weights (2K,))
    with ∫_{-∞}^a F_+ = −i ∫_0^∞ F_+(a+is) ds and ∫_{-∞}^a F_- = +i ∫_0^∞ F_-(a−is) ds, the
    1/2π included: Σ weights · F(ω, up) is ∫_{−∞}^{a} dω/2π F."""
    k = s_nodes.shape[0]
    omegas = jnp.concatenate([a + 1j * s_nodes, a - 1j * s_nodes])
    weights = jnp.concatenate([-1j * s_weights, 1j * s_weights]) / _TWO_PI
    return omegas, jnp.arange(2 * k) < k, weights


def ray_integral(integrand, a, s_nodes, s_weights):
    """∫_{−∞}^{a} dω/2π F(ω) for F = F_+ + F_− where ``integrand(ω, up)`` is F_+ (decays for
    Im ω > 0) for ``up`` True and F_− (decays for Im ω < 0) for False, both analytic left of
    a: rotated onto the vertical rays a ± is, s ∈ [0, ∞) (rule ``s_nodes``, ``s_weights``).
    Both rays are one vmapped batch (``up`` is a traced bool): one copy of the integrand in
    the compiled program instead of two."""
    omegas, up, wts = ray_rule(a, s_nodes, s_weights)
    vals = jax.vmap(integrand)(omegas, up)
    return jax.tree_util.tree_map(lambda v: jnp.tensordot(wts, v, 1), vals)


def _tail(pl: Poles, a, s_nodes, s_weights, times, e, j, correlation_dt=False):
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


def build_response(model, times, plan: QuadraturePlan, node_batch, sizes=None, tolerance=1e-8,
                   correlation_dt=False, arrays=None) -> Response:
    """Stage-1 arrays for one quadrature plan. ``sizes`` = (K_window, K_offset, K_ray) pads the
    rules with zero-weight nodes so that rules of different orders share one compiled program;
    ``correlation_dt`` also stores the dC/dt kernels; ``arrays`` replaces ``build_arrays``
    (same signature; correlated initial states, ``response/stationary.py``)."""
    deltas, inv = delta_index(times)
    wn, ww, on, ow, sn, sw = padded_rules(plan, node_batch, sizes)
    arrays = (build_arrays if arrays is None else arrays)(
        pole_data(model, plan.fits),
        *(jnp.asarray(x) for x in (times, deltas, inv, wn, on, ow / _TWO_PI, sn, sw)),
        jnp.asarray(plan.a), node_batch=node_batch, correlation_dt=correlation_dt,
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
        window=jnp.asarray([plan.w_lo, plan.w_hi]),
        edge_tolerance=edge_tolerance(tolerance),
        error_estimate=jnp.asarray(jnp.nan),
        method="continuum",
        statistics=model.statistics,
        **arrays,
    )


@eqx.filter_jit
def build_arrays(pl, times, deltas, inv, wn, on, ow, sn, sw, a, *, node_batch,
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
