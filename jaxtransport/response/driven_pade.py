r"""``jt.Pade()`` on a driven model: the exact pole-sum problem with a time-dependent generator.

Maths (``pade.py`` for the undriven form, docs/theory.md "Driven systems", its driven Padé paragraph). For pole-sum leads at
given (T, μ) the transient is the second moment of one finite linear system ψ = (a, y, x):
system amplitudes, lead-pole closure modes and coloured-noise filter modes (one per lead pole
and per Fermi–Padé pole). Under a ``jt.Drive`` only the closure block L_c(t) (H_S(t), and the
couplings χ_α(t) v_p in the coupling gauge) and the source columns B(t) = −iχ_α(t)(v_j; 0)
depend on time; the filters are the reservoirs' stationary noise (ν_q, Σ). Hence
dC_ψ/dt = L(t) C_ψ + C_ψ L(t)† + Q, and with C_ψ = [[C_cc, C_cf], [C_cf†, Σ]] (the filter
block stays Σ):

    dc_q/dt  = (L_c(t) − ν_q) c_q − i s_q b_j(t),          c_q = C_cf e_q, c_q(0) = 0,
    dC_cc/dt = L_c C_cc + C_cc L_c† + S(t),   S = −i Σ_j b_j Φ_j† + h.c.,   Φ_j = Σ_{q∈j} c_q,

with b_j = (χ v_j; 0), s_q = Σ_{q'} Σ_{q'q}, and C_cc(0) = C0 ⊕ 0. Each column c_q is −i s_q
times the driven continuum's amplitude Ψ_j(ω, t) at the complex frequency ω = iν_q
(``driven.py``: dΨ/dt = (L + iω)Ψ + b), so it is propagated by the same fourth-order Magnus /
exponential-Filon steps, exact in ν_q (the Padé modes decay at rates up to Tξ_N ~ 10³–10⁴:
the problem is stiff, and this treats the stiff part exactly). C_cc is affine in C0: the C0
part is E C0 E†, E = U(t, 0)[:, :n] (stage 2), the lead part starts at 0. Over a step the lead
part is C_cc(t+h) = e^Ω C_cc(t) e^{Ω†} + ∫ U(t+h, s) S(s) U(t+h, s)† ds, the integral done in
the eigenbasis of the Magnus exponent Ω: its frozen-generator part (L = Ω/h, b(t), the
columns' source linear over the step) in closed form, the smooth remainder by a Hermite cubic
(values and exact derivatives at the step ends): exact for a constant generator, fourth order
otherwise (``propagate``). The fast Padé modes are quasi-static
except in a layer of width 1/ν_q after t = 0, which a geometrically graded start of the time
grid resolves. Readout: the rows of C_ψ at the system columns (system, pole rows, filter
outputs), exactly as the undriven ``pade_kernels.readout``; the current amplitudes are χ_α(t)
times those (``DrivenResponse.assemble``, shared with the driven continuum).

**Two stages.** Stage 1 (``jt.response``) propagates E(t) and the lead part at the model's own
(T, μ); ``evaluate`` contracts E with any C0. At another (T, μ) the lead part is propagated
again inside ``evaluate`` (the Padé filters depend on T, μ; jit/vmap/grad work, at the cost of
one propagation per configuration) — as for the undriven ``jt.Pade``, a response is meant for
a few (T, μ).

**Error estimate**: Padé truncation (N against N_lo = N − max(2, N/4) poles, as undriven, on
the doubled grid) plus the Richardson estimate of the stepping error: the propagation on the
grid with consecutive steps merged in pairs (never across a breakpoint), |y_h − y_2h|/15 at
the shared output times — the asymptotic error of the fourth-order result y_h — in
correlations, currents and coupling energies, and the same for E. Without a given
``drive_step`` (the step of the returned result) the step starts from the continuum's choice
(``choose_step`` on a uniform trial grid over the window, rounded down to 0.2/2^k so that new
drive values rarely change it) and is halved, or N raised by 25 %, up to twice until the
estimate meets the tolerance; a missed tolerance gives a ``jt.ToleranceWarning``
(``strict=True``: raises ``PadeUnsuitable``; the automatic choice then falls back to
``jt.Continuum``). The drive's breakpoints (kinks) are grid points. Stage 1 compiles once per
drive structure, time grid, step and N: new drive values, h and couplings reuse the program.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._validation import is_concrete, tolerance_missed
from .base import AbstractResponse, flatten_terms, stack_reservoir_arrays
from .closure import Poles, pole_data
from .driven import filon_weights, generator, step_data, step_grid
from .driven_response import DrivenResponse, choose_step
from .pade_kernels import (
    N_MAX,
    PadeUnsuitable,
    checked_temperature,
    default_n,
    filter_noise,
    pade_pole_data,
    pade_poles,
    pole_scale,
    readout,
)

# Hermite cubic basis (H00, H10, H01, H11) at the Filon interpolation points x = 0, 1/3, 2/3, 1
_XH = np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0])
_HERMITE = np.stack([2 * _XH**3 - 3 * _XH**2 + 1, _XH**3 - 2 * _XH**2 + _XH,
                     -2 * _XH**3 + 3 * _XH**2, _XH**3 - _XH**2])  # (4 basis, 4 points)
_BASE_STEP = 0.2
_RICHARDSON = 15.0  # 2^4 − 1: |y_h − y_2h| / 15 estimates the error of y_h (fourth order)


def graded_times(times, max_step, nu_max, breaks=()):
    """The output times plus a geometric grid t_a 2^{−k} towards 0 (t_a = min(first positive
    time, max_step)), down to ~0.25/ν_max: it resolves the fast Padé modes' layer after the
    switch-on; plus the drive's ``breaks`` (kinks) inside the window, so that no step straddles
    one. Returns (all times, index of the outputs in them)."""
    times = np.asarray(times, float)
    breaks = np.asarray(breaks, float).ravel()
    breaks = breaks[(breaks > 0) & (breaks < times[-1])]
    pos = times[times > 0]
    extra = []
    if len(pos) and nu_max > 0:
        t_a = min(float(pos[0]), max_step)
        k = int(np.clip(np.ceil(np.log2(max(t_a * nu_max / 0.25, 1.0))), 0, 40))
        extra = [t_a * 2.0 ** (-i) for i in range(1, k + 1) if t_a * 2.0 ** (-i) < pos[0]]
    allt = np.unique(np.concatenate([times, np.asarray(extra, float), breaks]))
    return allt, np.searchsorted(allt, times)


def quantised_step(step):
    """``step`` rounded down to _BASE_STEP / 2^k (few distinct grids: new drive values rarely
    change the step, so they rarely recompile)."""
    k = max(0, math.ceil(math.log2(_BASE_STEP / step) - 1e-9))
    return _BASE_STEP / 2.0**k


def make_grids(times, max_step, nu_max, breaks=()):
    """Host arrays of the step grid and of its step-doubled twin: ((starts, sizes, index) of
    the grid (``step_grid`` on the graded times, ``index`` that of the outputs in the states
    after each step), (the same of the doubled grid, ``index`` that of the shared outputs),
    shared). The doubled grid merges consecutive steps in pairs, across output times but
    never across a breakpoint (a kink); ``shared`` (K,) are the outputs that are states of
    both grids (where the two are compared: at least the first and the last time)."""
    allt, pos = graded_times(times, max_step, nu_max, breaks)
    starts, sizes, index = step_grid(allt, max_step)
    kinks = np.asarray(breaks, float).ravel()
    ends = starts + sizes
    at_kink = np.zeros(len(starts), bool)  # step k ends on a breakpoint
    if kinks.size:
        at_kink = np.any(np.abs(ends[:, None] - kinks[None, :])
                         <= 1e-12 * (1.0 + np.abs(ends[:, None])), axis=1)
    bounds, k, last = [0], 0, len(starts) - 1  # base-state indices that are doubled states
    while k <= last:
        k += 2 if k < last and not at_kink[k] else 1
        bounds.append(k)
    bounds = np.asarray(bounds)
    out = index[pos]
    shared = np.flatnonzero(np.isin(out, bounds))
    doubled = (starts[bounds[:-1]], ends[bounds[1:] - 1] - starts[bounds[:-1]],
               np.searchsorted(bounds, out[shared]))
    return (starts, sizes, out), doubled, shared


class NoiseSet(eqx.Module):
    """Filter modes of the lead part at one (T, μ), for N and the lower order N_lo side by side:
    ν (Q,), column sums s (Q,), aggregation per term (Q, 2J) (columns: N set, then N_lo set)."""

    nu: Array
    s: Array
    agg: Array
    q_term: tuple = eqx.field(static=True)
    sizes: tuple = eqx.field(static=True, default=())  # columns per set (contiguous)


def noise_set(resp, temp, mu, lower=True) -> NoiseSet:
    """The filter modes at (T, μ) (M,) for N poles and (``lower``) the N_lo of the estimate."""
    pairs = [(resp.xi, resp.eta)] + ([(resp.xi_lo, resp.eta_lo)] if lower else [])
    nus, ss, terms, sets = [], [], [], []
    for k, (xi, eta) in enumerate(pairs):
        q_term, _, _, nu, sig = filter_noise(jnp, resp.pole_term, resp.term_res, resp.pl.kappa,
                                             resp.pl.lam, temp, mu, xi, eta)
        nus.append(nu), ss.append(jnp.sum(sig, axis=0)), terms.append(q_term)
        sets.append(np.full(len(q_term), k))
    q_term, sets = np.concatenate(terms), np.concatenate(sets)
    nt = len(resp.term_res)
    agg = np.zeros((len(q_term), len(pairs) * nt))
    agg[np.arange(len(q_term)), sets * nt + q_term] = 1.0
    return NoiseSet(jnp.concatenate(nus), jnp.concatenate(ss), jnp.asarray(agg),
                    tuple(int(q) for q in q_term), tuple(len(t) for t in terms))


def by_column(ns, x):
    """x (..., J) per density term → (..., Q) per filter column (q's term), as a product with
    a constant 0/1 matrix (XLA's gather is several times slower here)."""
    return x @ jnp.asarray(np.eye(x.shape[-1])[np.asarray(ns.q_term)].T, x.dtype)


def _source(pl, drive, t):
    """(L_c(t), b(t) (m, J), db/dt)."""
    def b_of(s):
        return generator(pl, drive, s)[1]

    lt, b = generator(pl, drive, t)
    return lt, b, jax.jvp(b_of, (t,), (jnp.ones_like(t),))[1]


def _bath_source(ns, c, lt, b, bd):
    """S and dS/dt (sets, m, m) of the Padé sets from the columns c (m, Q), and dc/dt."""
    src = -1j * ns.s[None, :] * by_column(ns, b)
    cd = lt @ c - c * ns.nu[None, :] + src
    nt = b.shape[1]
    phi = (c @ ns.agg).reshape(c.shape[0], -1, nt).transpose(1, 0, 2)  # (sets, m, J)
    phid = (cd @ ns.agg).reshape(c.shape[0], -1, nt).transpose(1, 0, 2)
    herm = lambda x: x + jnp.swapaxes(x, -1, -2).conj()
    s = herm(-1j * b[None] @ jnp.swapaxes(phi, -1, -2).conj())
    sd = herm(-1j * (bd[None] @ jnp.swapaxes(phi, -1, -2).conj()
                     + b[None] @ jnp.swapaxes(phid, -1, -2).conj()))
    return s, sd, cd


def _phi(k, z):
    """φ_k(z) = ∫_0^1 e^{z(1−x)} x^{k−1}/(k−1)! dx for k = 1, 2: (e^z − 1)/z and
    (e^z − 1 − z)/z²; a Taylor series for |z| < 1/2, the closed form otherwise (stable for
    large negative Re z; for |z| ≥ 1/2 the cancellation in e^z − 1 costs at most a few
    ulps)."""
    small = jnp.abs(z) < 0.5
    zs = jnp.where(small, z, 0.0)
    zl = jnp.where(small, 1.0, z)
    coef = [1.0 / math.factorial(j + k) for j in range(16)][::-1]
    series = jnp.polyval(jnp.asarray(coef, jnp.complex128), zs)
    inv = 1.0 / zl
    closed = (jnp.exp(zl) - 1.0) * inv if k == 1 else (jnp.exp(zl) - 1.0 - zl) * inv**2
    return jnp.where(small, series, closed)


def _frozen_data(ns, d, bhat, bdot, h):
    """State-independent data of the frozen part of the lead-part step, all steps at once
    (shapes (S, …)). The frozen model: the generator fixed at Ω/h and the columns' source
    linear in x, β₀ + β₁x with β₀ = h(−i s_q) R⁻¹b(t₀), β₁ = h²(−i s_q) R⁻¹ḃ(t₀) (so that its
    quasi-static columns follow a rotating source, e.g. a bias phase), b(t₀) in S. Then
    ĉ(x) = e^{zx} ĉ₀ + φ₁(zx)… in closed form, and ∫ e^{D(1−x)} Ŝ(x) e^{D*(1−x)} dx exactly.
    Returns (z, β₀, β₁, u, e^{d*}, the integral's ĉ₀-independent part)."""
    h3 = h[:, None, None]
    bq = by_column(ns, bhat)  # (S, m, Q)
    z = d[:, :, None] - ns.nu[None, None, :] * h3
    beta0 = h3 * (-1j * ns.s) * bq
    beta1 = h3**2 * (-1j * ns.s) * by_column(ns, bdot)
    # ĉ(x) = e^{zx} g − f₀ − f₁x, g = ĉ₀ + f₀, f₀ = β₀/z + β₁/z², f₁ = β₁/z;
    # ∫_0^1 e^{(d_i + d_k*)(1−x)} e^{z_kq* x} dx = e^{d_i + d_k*} φ₁(−d_i − ν_q* h)
    inv = 1.0 / z
    f1 = beta1 * inv
    f0 = (beta0 + f1) * inv
    u = bq * jnp.exp(d)[:, :, None] * _phi(1, -d[:, :, None] - ns.nu.conj() * h3)
    edc = jnp.exp(d).conj()[:, None, None, :]  # e^{d_k*}
    zz = (d[:, :, None] + d.conj()[:, None, :])[:, None]  # (S, 1, m, m)
    x_const = (-1j * edc * per_set(ns, u, f0) + 1j * _phi(1, zz) * per_set(ns, bq, f0)
               + 1j * _phi(2, zz) * per_set(ns, bq, f1))
    return z, beta0, beta1, u, edc, x_const


def per_set(ns, a, b):
    """Σ_{q in set} a_iq b_kq* (S, sets, m, m) from (S, m, Q) columns (sets contiguous)."""
    bounds = np.cumsum((0,) + ns.sizes)
    return jnp.stack([a[..., lo:hi] @ jnp.swapaxes(b[..., lo:hi], -1, -2).conj()
                      for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)], axis=1)


def propagate(pl, drive, grid, ns: NoiseSet | None, n):
    """States after every step: E = U(t,0)[:, :n] (m, n), and with a noise set the columns
    c (m, Q) and the lead parts C_cc (sets, m, m); returned at the grid's output times.

    Over a step, E ← e^Ω E, the columns take their exact-in-ν Filon step, and C_cc ←
    e^Ω C_cc e^{Ω†} + G with G = ∫ U S U† the source integral. The columns do not depend on
    C_cc, and G depends only on the columns at the step's ends, so two lean sequential scans
    (E and the columns; then C_cc) bracket work done for all steps at once. G is split into
    the frozen part (generator fixed at Ω/h, b(t₀), the columns' source linear in x: the
    columns are then exponentials and the integral is done in closed form) and the
    remainder, interpolated by a Hermite cubic (values and exact derivatives at the ends):
    exact for a constant generator, fourth order otherwise."""
    starts, sizes, index = grid
    m = pl.vec.shape[0] + pl.vec.shape[1]
    d, r, rinv, cs = jax.vmap(lambda t0, h: step_data(pl, drive, t0, h))(starts, sizes)
    prop = (r * jnp.exp(d)[:, None, :]) @ rinv  # e^Ω (S, m, m)
    e0 = jnp.eye(m, dtype=jnp.complex128)[:, :n]
    if ns is None:
        def step_e(e, p):
            e = p @ e
            return e, e

        _, es = jax.lax.scan(step_e, e0, prop)
        return (jnp.concatenate([e0[None], es])[index],)
    ends = jax.vmap(lambda t: _source(pl, drive, t))
    src0, src1 = ends(starts), ends(starts + sizes)
    # the columns' Filon step at ω = iν_q (exact in ν_q): c ← R (e^z ∘ R⁻¹c + h Σ_j w_j(z)
    # ∘ src_j)
    h3 = sizes[:, None, None]
    bdot = rinv @ src0[2]
    z, beta0, beta1, u, edc, x_const = _frozen_data(ns, d, cs[:, 0], bdot, sizes)
    ez = jnp.exp(z)
    src = by_column(ns, cs) * (-1j * ns.s)  # (S, 4, m, Q)
    fw = filon_weights(z)
    kick = h3 * jnp.sum(jnp.moveaxis(fw, 0, 1) * src, axis=1)
    # φ₁(z) = ∫ e^{z(1−x)} dx and φ₂(z) = ∫ e^{z(1−x)} x dx from the Filon weights (the cubic
    # Lagrange basis reproduces 1 and x)
    phi1 = jnp.sum(fw, axis=0)
    phi2 = jnp.tensordot(jnp.asarray(_XH, jnp.complex128), fw, 1)

    def step_c(carry, x):
        e, c = carry
        p, r_, rinv_, ez_, kick_ = x
        e, c = p @ e, r_ @ (ez_ * (rinv_ @ c) + kick_)
        return (e, c), (e, c)

    c0 = jnp.zeros((m, ns.nu.shape[0]), jnp.complex128)
    _, (es, cs_) = jax.lax.scan(step_c, (e0, c0), (prop, r, rinv, ez, kick))
    c_all = jnp.concatenate([c0[None], cs_])
    c_start, c_end = c_all[:-1], c_all[1:]
    # the source integral of every step, in the eigenbasis of its Ω
    herm = lambda x: x + jnp.swapaxes(x, -1, -2).conj()
    nt = cs.shape[-1]
    bhat = cs[:, 0][:, None]  # R⁻¹ b(t₀) (S, 1, m, J)

    def frozen_source(v):  # −i b̂ Φ̂(v)† + h.c. per set, Φ̂ = v aggregated per term
        phi = (v @ ns.agg).reshape(v.shape[0], m, -1, nt).transpose(0, 2, 1, 3)
        return herm(-1j * bhat @ jnp.swapaxes(phi, -1, -2).conj())

    chat0 = rinv @ c_start
    dc0 = z * chat0 + beta0
    frozen = (frozen_source(dc0), frozen_source(ez * chat0 + phi1 * beta0 + phi2 * beta1),
              frozen_source(ez * dc0 + phi1 * beta1))
    xs = -1j * edc * per_set(ns, u, chat0) + x_const
    # the remainder: U S U† = e^{Ω(1−x)} K S K† e^{Ω†(1−x)}, K(x) = e^{−Ω(1−x)} U(t+h, s) = 1
    # at the ends, dK/dx = Ω − h L(s); its values and x-derivatives at the ends
    omega_ = (r * d[:, None, :]) @ rinv
    proj = lambda a: rinv[:, None] @ a @ jnp.swapaxes(rinv, -1, -2).conj()[:, None]
    data = []
    for (lt, b, bd), cc in ((src0, c_start), (src1, c_end)):
        sv, sd, _ = jax.vmap(lambda *a: _bath_source(ns, *a))(cc, lt, b, bd)
        kx = (omega_ - sizes[:, None, None] * lt)[:, None]
        mx = kx @ sv + sv @ jnp.swapaxes(kx, -1, -2).conj() + h3[..., None] * sd
        data.append((sv, mx))
    zz = d[:, :, None] + d.conj()[:, None, :]
    wb = jnp.tensordot(jnp.asarray(_HERMITE, jnp.complex128), filon_weights(zz), 1)[:, :, None]
    chat = h3[..., None] * (wb[1] * (proj(data[0][1]) - frozen[0])
                            + wb[2] * (proj(data[1][0]) - frozen[1])
                            + wb[3] * (proj(data[1][1]) - frozen[2]) + herm(xs))
    gain = r[:, None] @ chat @ jnp.swapaxes(r, -1, -2).conj()[:, None]  # (S, sets, m, m)

    def step_cc(ccc, x):
        p, g = x
        ccc = p[None] @ ccc @ p.conj().T[None] + g
        return ccc, ccc

    ccc0 = jnp.zeros(gain.shape[1:], jnp.complex128)
    _, cccs = jax.lax.scan(step_cc, ccc0, (prop, gain))
    es = jnp.concatenate([e0[None], es])
    return es[index], c_all[index], jnp.concatenate([ccc0[None], cccs])[index]


def _bath_rows(resp, ns, lts, bs, c, ccc, k):
    """Readout rows (T, m + 2J, n) and their time derivatives of Padé set k (0: N, 1: N_lo)
    from the columns c (T, m, Q) and the lead parts C_cc (T, 2, m, m)."""
    n = resp.n_modes
    nt = len(resp.term_res)
    agg = ns.agg[:, k * nt:(k + 1) * nt]
    src = -1j * ns.s[None, None, :] * by_column(ns, bs)
    cd = lts @ c - c * ns.nu[None, None, :] + src
    cc = ccc[:, k]
    herm = lambda x: x + jnp.swapaxes(x, -1, -2).conj()
    phi, phid = c @ agg, cd @ agg
    s = herm(-1j * bs @ jnp.swapaxes(phi, -1, -2).conj())
    ccd = herm(lts @ cc) + s
    t = lambda x: jnp.swapaxes(x[:, :n], -1, -2).conj()  # (T, m, J) -> (T, J, n)
    phie, phied = (c * ns.nu) @ agg, (cd * ns.nu) @ agg
    y = jnp.concatenate([cc[:, :, :n], t(phi), t(1j * phie)], axis=1)
    ydt = jnp.concatenate([ccd[:, :, :n], t(phid), t(1j * phied)], axis=1)
    return y, ydt


def bath_part(resp, temp, mu, with_state=False):
    """The lead part at one (T, μ) (M,) each: (C, dC/dt, X̂, dX̂/dt, truncation estimate,
    stepping estimate), X̂ the current amplitudes before the factor χ_α(t); propagated on the
    fine grid; the estimates are |N − N_lo| and |fine − coarse grid| (correlations and twice
    the amplitudes, i.e. currents and coupling energies). ``with_state``: also (E, its
    step-doubling error) from the same propagations."""
    n = resp.n_modes
    arr = dict(vec=resp.pl.vec, tvec=resp.pl.tvec, lam=resp.pl.lam,
               hamiltonian=resp.hamiltonian)

    grid, doubled, shared = resp.grids

    def rows(grid, ns, at=slice(None)):
        e, c, ccc = propagate(resp.pl, resp.drive, grid, ns, n)
        out = []
        for k in range(ccc.shape[1]):
            y, ydt = _bath_rows(resp, ns, resp.out_l[at], resp.out_b[at], c, ccc, k)
            corr, amp, amp_dt, _ = readout(jnp, resp, arr, y, ydt)
            out.append((corr, ydt[:, :n], amp, amp_dt))
        return e, out

    # N on the grid (the result); N and N_lo on the doubled grid: the stepping estimate
    # (Richardson: |grid − doubled grid| / 15 at the shared outputs) and the truncation
    # estimate (N vs N_lo, same grid)
    e, (fine,) = rows(grid, noise_set(resp, temp, mu, lower=False))
    e_c, (coarse, coarse_lo) = rows(doubled, noise_set(resp, temp, mu), shared)
    diff = lambda a, b: jnp.maximum(jnp.max(jnp.abs(a[0] - b[0])),
                                    2 * jnp.max(jnp.abs(a[2] - b[2])))
    fine_shared = tuple(x[shared] for x in fine)
    terms = (*fine, diff(coarse, coarse_lo), diff(fine_shared, coarse) / _RICHARDSON)
    if with_state:
        return terms, (e, jnp.max(jnp.abs(e[shared] - e_c)) / _RICHARDSON)
    return terms


_bath_jit = eqx.filter_jit(bath_part)


@eqx.filter_jit
def _stage1_concrete(resp, temp, mu):
    """Everything of stage 1 in one program: L_c(t), b(t) at the outputs, E and the lead
    part at the model's (T, μ)."""
    lts, bs = jax.vmap(lambda t: generator(resp.pl, resp.drive, t))(resp.times)
    resp = eqx.tree_at(lambda r: (r.out_l, r.out_b), resp, (lts, bs))
    terms, (e, err) = bath_part(resp, temp, mu, with_state=True)
    return lts, bs, e, err, terms


@eqx.filter_jit
def _state_propagation(pl, drive, grids, times, n):
    """E = U(t, 0)[:, :n] at the outputs, its step-doubling error estimate, and L_c(t),
    b(t) at the outputs."""
    e, e_c = (propagate(pl, drive, grid, None, n)[0] for grid in grids[:2])
    lts, bs = jax.vmap(lambda t: generator(pl, drive, t))(times)
    return e, jnp.max(jnp.abs(e[grids[2]] - e_c)) / _RICHARDSON, lts, bs


@eqx.filter_jit
def _state_part(resp, c0):
    e, lts = resp.state_propagator, resp.out_l
    n = resp.n_modes
    ed = lts @ e
    c0 = c0.astype(jnp.complex128)
    en = jnp.swapaxes(e[:, :n], -1, -2).conj()
    edn = jnp.swapaxes(ed[:, :n], -1, -2).conj()
    y = e @ c0[..., None, :, :] @ en
    ydt = ed @ c0[..., None, :, :] @ en + e @ c0[..., None, :, :] @ edn
    zeros = jnp.zeros(y.shape[:-2] + (2 * len(resp.term_res), n), complex)
    y, ydt = (jnp.concatenate([x, zeros], axis=-2) for x in (y, ydt))
    arr = dict(vec=resp.pl.vec, tvec=resp.pl.tvec, lam=resp.pl.lam,
               hamiltonian=resp.hamiltonian)
    corr, amp, amp_dt, _ = readout(jnp, resp, arr, y, ydt)
    zero = jnp.zeros(y.shape[:-3])
    return corr, ydt[..., :n, :], amp, amp_dt, zero, 2.0 * resp.state_error + zero


@eqx.filter_jit
def _assemble(resp, terms, temperature, chemical_potential):
    *parts, trunc, steps = terms
    batch = parts[0].shape[:-3]
    with_err = eqx.tree_at(lambda r: r.error_estimate, resp,
                           jnp.broadcast_to(trunc + steps, batch))
    return DrivenResponse.assemble(with_err, tuple(parts), temperature, chemical_potential)


class DrivenPadeResponse(AbstractResponse):
    """Stage-1 result of ``jt.Pade()`` on a driven model (module docstring): E(t) = U(t, 0)
    for the C0 part and the lead part at the model's (T, μ); ``evaluate(state, T, μ)`` gives a
    ``jt.DrivenSolution`` (the driven continuum's fields: power, work, first-law residual, …).
    Another (T, μ) propagates the lead part again (jit/vmap/grad work).

    Shapes: T times, n modes, m = n + P closure modes, M reservoirs. Units ħ = k_B = 1."""

    times: Float[Array, " T"]
    hamiltonian: Array
    drive: eqx.Module
    temperature: Float[Array, " M"]
    chemical_potential: Float[Array, " M"]
    pl: Poles
    grids: tuple  # ((starts, sizes, index) of the grid, of the doubled grid; shared outputs)
    state_propagator: Array  # (T, m, n)
    state_error: Array
    out_l: Array  # (T, m, m) L_c(t)
    out_b: Array  # (T, m, J) b(t)
    xi: Array
    eta: Array
    xi_lo: Array
    eta_lo: Array
    bath_cache: tuple | None
    error_estimate: Array
    pole_term: tuple = eqx.field(static=True)
    term_res: tuple = eqx.field(static=True)
    pole_res: tuple = eqx.field(static=True)
    n_pade: int = eqx.field(static=True)
    max_step: float = eqx.field(static=True)
    statistics: str = eqx.field(static=True, default="fermion")
    method: str = eqx.field(static=True, default="pade")

    hamiltonian_terms = DrivenResponse.hamiltonian_terms
    reservoir_terms = DrivenResponse.reservoir_terms

    @property
    def n_modes(self) -> int:
        return int(self.hamiltonian.shape[0])

    def runs_eagerly(self, state, temperature, chemical_potential) -> bool:
        """Concrete inputs: the parts run as their own compiled programs (the lead part at the
        model's (T, μ) is then read from stage 1)."""
        return is_concrete(state, temperature, chemical_potential,
                           *jax.tree_util.tree_leaves(self))

    checked_temperature = checked_temperature

    def state_terms(self, state):
        return _state_part(self, jnp.asarray(state))

    def bath_terms(self, temperature, chemical_potential):
        temp, mu = temperature, chemical_potential
        if (self.bath_cache is not None and is_concrete(temp, mu) and temp.ndim == 1
                and mu.ndim == 1 and np.array_equal(np.asarray(temp), np.asarray(
                    self.temperature)) and np.array_equal(np.asarray(mu),
                                                          np.asarray(self.chemical_potential))):
            return self.bath_cache
        m_res = self.n_reservoirs
        batch = jnp.broadcast_shapes(temp.shape[:-1], mu.shape[:-1])
        tb = jnp.broadcast_to(temp, batch + (m_res,)).reshape(-1, m_res)
        mb = jnp.broadcast_to(mu, batch + (m_res,)).reshape(-1, m_res)
        out = jax.vmap(lambda t, u: _bath_jit(self, t, u))(tb, mb)
        return tuple(x.reshape(batch + x.shape[1:]) for x in out)

    def offset_terms(self):
        return (0.0,) * 6

    def assemble(self, terms, temperature, chemical_potential):
        return _assemble(self, terms, temperature, chemical_potential)


def driven_pade_response(method, model, times):
    """Stage 1 of ``jt.Pade()`` for a driven model (called by ``Pade.response``)."""
    times = np.asarray(times, float)
    concrete = is_concrete(*jax.tree_util.tree_leaves(model))
    temp, mu = stack_reservoir_arrays(model)
    tolerance = method.tolerance
    if method.n_pade is not None:
        n_pade = int(method.n_pade)
    elif concrete:
        n_pade = default_n(tolerance, pole_scale(pade_pole_data(model)),
                            float(np.min(np.asarray(temp))))
    else:
        raise ValueError("jt.Pade() chooses its number of poles and time step of a driven "
                         "model from concrete values; under tracing pass jt.Pade(n_pade=..., "
                         "drive_step=...) explicitly.")
    if method.drive_step is not None:
        step = float(method.drive_step)
    elif concrete:
        # the trial on a uniform grid over the window, not on the outputs (whose spacing
        # would set the trial's cost, and says nothing about the drive's time scales)
        t_end = float(np.max(times)) if len(times) else 0.0
        trial = np.linspace(0.0, t_end, max(1, math.ceil(t_end / 0.1)) + 1)
        step = quantised_step(choose_step(model, trial, tolerance))
    else:
        raise ValueError("jt.Pade() chooses the time step of a driven model on concrete "
                         "values; under tracing pass jt.Pade(n_pade=..., drive_step=...).")
    for attempt in range(3):
        resp = _build(model, times, step, n_pade, concrete)
        if resp.bath_cache is None or attempt == 2:
            break
        trunc, steps = (float(x) for x in resp.bath_cache[-2:])
        steps += 2.0 * float(resp.state_error)
        if trunc + steps <= tolerance:
            break
        if steps > 0.5 * tolerance and method.drive_step is None:
            step = 0.5 * step  # (a new grid: compiles again)
        elif trunc > 0.5 * tolerance and method.n_pade is None and n_pade < N_MAX:
            n_pade = min(int(math.ceil(1.25 * n_pade)), N_MAX)
        else:
            break
    if concrete and not (err := float(resp.error_estimate)) <= tolerance:
        msg = (f"jt.Pade (driven) could not reach tolerance {tolerance:g}: the error estimate "
               f"is {err:.3g} (N = {n_pade} Padé poles, time step {step:g}). Pass a smaller "
               "drive_step or a larger n_pade, loosen the tolerance, or use jt.Continuum.")
        if method.strict:
            raise PadeUnsuitable(msg)
        tolerance_missed(msg, False)
    return resp


def _build(model, times, step, n_pade, concrete):
    xi, eta = pade_poles(n_pade)
    xi_lo, eta_lo = pade_poles(n_pade - max(2, n_pade // 4))
    temp, mu = stack_reservoir_arrays(model)
    nu_max = float(np.max(np.asarray(temp))) * float(xi[-1]) if is_concrete(temp) else 1e4
    pl = pole_data(model)
    pole_res = tuple(r for dens, _, r in flatten_terms(model) for _ in dens.lorentzian_terms())
    n = model.n_modes
    breaks = model.drive.breakpoints() if hasattr(model.drive, "breakpoints") else ()
    breaks = np.asarray(breaks) if is_concrete(breaks) else ()  # traced kinks: not aligned
    grid, doubled, shared = make_grids(times, step, nu_max, breaks)
    grids = (tuple(jnp.asarray(x) for x in grid), tuple(jnp.asarray(x) for x in doubled),
             jnp.asarray(shared))
    tj = jnp.asarray(times)
    if concrete:
        m = pl.vec.shape[0] + pl.vec.shape[1]
        e = jnp.zeros((len(times), m, n), complex)
        err, lts = jnp.asarray(0.0), jnp.zeros((len(times), m, m), complex)
        bs = jnp.zeros((len(times), m, pl.tvec.shape[1]), complex)
    else:
        e, err, lts, bs = _state_propagation(pl, model.drive, grids, tj, n)
    resp = DrivenPadeResponse(
        times=tj, hamiltonian=jnp.asarray(model.hamiltonian), drive=model.drive,
        temperature=temp, chemical_potential=mu, pl=pl, grids=grids,
        state_propagator=e, state_error=err, out_l=lts, out_b=bs,
        xi=jnp.asarray(xi), eta=jnp.asarray(eta), xi_lo=jnp.asarray(xi_lo),
        eta_lo=jnp.asarray(eta_lo),
        bath_cache=None, error_estimate=jnp.asarray(0.0), pole_term=pl.pole_term,
        term_res=tuple(r for _, _, r in flatten_terms(model)), pole_res=pole_res,
        n_pade=int(n_pade), max_step=float(step), statistics=model.statistics)
    if not concrete:
        return resp
    lts, bs, e, err, cache = _stage1_concrete(resp, temp, mu)
    est = float(cache[-2]) + float(cache[-1]) + 2.0 * float(err)
    return eqx.tree_at(
        lambda r: (r.out_l, r.out_b, r.state_propagator, r.state_error, r.bath_cache,
                   r.error_estimate), resp, (lts, bs, e, err, cache, jnp.asarray(est)),
        is_leaf=lambda x: x is None)
