r"""Stage 1 of a driven continuum (``jt.Continuum`` on a model with a ``jt.Drive``): the pole
closure with a time-dependent generator, propagated in time; stage 2 is unchanged.

Maths (docs/theory.md, "Driven systems"). With H_S(t) = h + Σ_k f_k(t) V_k the closure of a
pole-sum memory kernel is the linear system dE/dt = L(t) E, E = (G; y_1..y_P), L(t) the
undriven generator with h → H_S(t) (``closure.closure_generator``). Its propagator U(t, s)
(m×m, m = n + P) gives G(t, 0) = U(t, 0)_{ss} and the C0 kernels. A reservoir mode at frequency
ω enters through the source columns B = (v_j; 0) (one per density term j); in the frame rotating
with it, the bath amplitude

    Ψ(ω, t) = ∫_0^t U(t, s) B e^{iω(t−s)} ds            (m × J; dΨ/dt = (L(t) + iω) Ψ + B)

has the system rows ``A`` and the auxiliary rows κ_p z_p of the undriven method, so the same
per-frequency observables apply (``continuum_kernels.observables_of_amplitudes``). For a
constant drive Ψ is the undriven A(ω, t) exactly. With coupling modulation and bias
(χ_α(t) = s_α(t) e^{−iφ_α(t)}, coupling gauge) the generator and the sources carry χ, and the
current amplitudes of reservoir α are χ_α(t) times the undriven expressions of these Ψ, y
(applied in stage 2, ``DrivenResponse.assemble``).

**Time stepping** (per step [t_k, t_k + h], substeps between the output times): the homogeneous
part is the fourth-order Magnus propagator exp(Ω_k) with the two-point Gauss rule; the source
integral ∫ U(t_{k+1}, s) B(s) e^{iω(t_{k+1}−s)} ds is written as ∫ e^{(L̄+iω)(t_{k+1}−s)} Gₖ(s) ds
with L̄ = Ω_k/h and Gₖ(s) = e^{−L̄(t_{k+1}−s)} U(t_{k+1}, s) B(s) (smooth, ω-independent, constant
for a constant generator), Gₖ interpolated by a cubic at four equispaced points and the
integral done exactly in the eigenbasis of L̄ (exponential Filon rule). Why this and not a
generic ODE solver: the error is O(h⁴) uniformly in ω (the oscillation e^{iωs} is integrated
exactly, so far-off nodes need no smaller steps), every node shares the ω-independent work of
a step (one eigendecomposition), and a constant drive is reproduced to rounding (Ω = hL,
G constant). The step error is estimated by step doubling of U(t, 0). Both rules need a
smooth generator inside a step: a step straddling a kink of an amplitude (a jump of f or of
one of its low derivatives) drops to second order. The steps are therefore split at the
drive's breakpoints (``jt.Drive.breakpoints``, ``aligned_grid``), traced values with a static
count, so trainable breakpoints neither recompile nor break ``jax.grad``.

**The tail** (−∞, a] of the f = 1 part is done on complex rays as in the undriven method, on
a closed-form model of Ψ that captures its large-|ω| behaviour: Ψ ≈ Y(ω, t) − e^{iωt} U(t, 0)
Y(ω, 0), Y the adiabatic solution of dY/dt = (L + iω) Y + B expanded in R_t(ω) = (L(t) + iω)^{-1}
(``adiabatic``, third order). The e^{iωt} part — what makes the tail decay slowly and
oscillate — is then exact, the remainder O(|ω|^{-5}) in Y and non-oscillating; it is measured
at ω = a against the exact amplitude and added to the error estimate. For a constant drive the
model is exact. At a breakpoint t_b, Y jumps (it holds time derivatives of L) while Ψ is
continuous, so each one past adds a term: Ψ ≈ Y(ω, t) − e^{iωt} U(t, 0) Y(ω, 0⁺)
− Σ_{0 < t_b < t} e^{iω(t−t_b)} U(t, t_b) [Y(ω, t_b⁺) − Y(ω, t_b⁻)] (one-sided values at
t_b ± δ, δ = 1e-10 (1 + |t_b|); without these terms the model misses an O(|ω|^{-2})
oscillating part after a kink of a Hamiltonian amplitude, measured 1.5e-6 in currents at
ω = a for a linear ramp). Each product e^{iω(τ_k − τ_l)} of two such parts goes to the ray on
which it decays (``tail_integrand``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .closure import Poles, closure_generator
from .continuum_kernels import (
    frequency_classes,
    observables_of_amplitudes,
    state_kernels,
)
from .eig import eig
from .expm import expm

_TWO_PI = 2.0 * math.pi
_C = math.sqrt(3.0) / 6.0  # two-point Gauss nodes at 1/2 ∓ √3/6
_X = np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0])  # interpolation points of G_k
# monomial coefficients of the Lagrange basis on _X: ℓ_j(x) = Σ_p _LAGRANGE[j, p] x^p
_LAGRANGE = np.linalg.inv(np.vander(_X, 4, increasing=True)).T
_TAYLOR = 17  # terms of the Taylor series of the fourth Filon moment (|z| < 1: < 1e-17)
ADIABATIC_ORDER = 3  # order in 1/ω of the tail model's adiabatic part (remainder ~ ω^-(5+order))
_SIDE = 1e-10  # relative offset of the one-sided limits at a breakpoint (an O(δ) error)


# ----------------------------------------------------------------------------------------
# the time-dependent generator
# ----------------------------------------------------------------------------------------
def generator(pl: Poles, drive, t):
    """(L(t), B(t)): the closure generator (m, m) with H_S(t) and the source columns (m, J).
    Coupling modulation and bias enter through χ_α(t) = s_α(t) e^{−iφ_α(t)} (the coupling
    gauge, ``jaxtransport.drive``): v_p → χ_{α(p)} v_p in L (so κ_p v_p† → κ_p χ* v_p†) and
    v_j → χ_{α(j)} v_j in B."""
    h = drive.hamiltonian(pl.h, t).astype(jnp.complex128)
    vec, tvec = pl.vec, pl.tvec
    if drive.has_coupling_modulation or drive.has_bias:
        chi = drive.coupling_factor(t)  # (M,)
        vec = vec * (chi @ pl.onehot)[None, :]
        tvec = tvec * (chi @ pl.tonehot)[None, :]
    lt = closure_generator(jnp, h, vec, pl.kappa, pl.lam)
    p = pl.vec.shape[1]
    b = jnp.concatenate([tvec, jnp.zeros((p, tvec.shape[1]), jnp.complex128)])
    return lt, b


def magnus(pl, drive, t0, h):
    """Fourth-order Magnus exponent Ω of the homogeneous closure over [t0, t0 + h]."""
    l1, _ = generator(pl, drive, t0 + (0.5 - _C) * h)
    l2, _ = generator(pl, drive, t0 + (0.5 + _C) * h)
    return 0.5 * h * (l1 + l2) + (math.sqrt(3.0) / 12.0) * h**2 * (l2 @ l1 - l1 @ l2)


# ----------------------------------------------------------------------------------------
# time grid
# ----------------------------------------------------------------------------------------
def step_grid(times, max_step, halve=False):
    """Host arrays (step starts, step sizes, index of each output time in the list of states
    after 0, 1, … steps): equal substeps of at most ``max_step`` between the output times
    (and from 0 to the first one); ``halve``: each of those steps split in two."""
    times = np.asarray(times, float).ravel()
    prev = np.concatenate([[0.0], times[:-1]])
    d = times - prev
    k = np.where(d > 0, np.maximum(1, np.ceil(d / max_step - 1e-9)), 0).astype(int)
    index = np.cumsum(k)
    first = np.repeat(index - k, k)  # (vectorised: this runs on every stage 1)
    within = np.arange(int(index[-1]) if len(index) else 0) - first
    starts = np.repeat(prev, k) + np.repeat(d, k) * within / np.repeat(k, k)
    sizes = np.repeat(d / np.maximum(k, 1), k)
    if halve:
        starts = np.stack([starts, starts + 0.5 * sizes], 1).ravel()
        sizes, index = np.repeat(0.5 * sizes, 2), 2 * index
    return starts, sizes, index


def aligned_grid(grid, times, breaks):
    """``step_grid``'s (starts, sizes, index) with every step that contains a breakpoint of
    the drive split there, so that no step straddles a kink (traced: the breakpoints may be
    trainable). Breakpoints outside [0, t_end] are clipped to the ends and give zero-length
    steps (the identity), so the number of steps, B more than ``step_grid``'s, is static."""
    starts, sizes, index = grid
    if breaks.shape[0] == 0 or starts.shape[0] == 0:
        return grid
    times = jnp.asarray(times)
    clipped = jnp.clip(breaks, 0.0, times[-1])
    bounds = jnp.sort(jnp.concatenate([starts, times[-1:], clipped]))
    return bounds[:-1], jnp.diff(bounds), index + jnp.sum(clipped < times[:, None], axis=1)


def halved(grid):
    """Every step of a (starts, sizes, index) grid split in two (the step-doubling grid)."""
    starts, sizes, index = grid
    return (jnp.stack([starts, starts + 0.5 * sizes], 1).ravel(), jnp.repeat(0.5 * sizes, 2),
            2 * index)


def propagator(pl, drive, starts, sizes, index, breaks=None):
    """U(t, 0) (T, m, m) at the output times (Magnus steps, matrix exponentials); with the
    breakpoints ``breaks`` (B,) (boundaries of the grid, ``aligned_grid``) the stack
    [U(t, 0), U(t, t_1), …, U(t, t_B)] (T, 1 + B, m, m), U(t, t_b) = 1 for t ≤ t_b."""
    m = pl.vec.shape[0] + pl.vec.shape[1]
    eye = jnp.eye(m, dtype=jnp.complex128)
    if breaks is None:
        def step(u, x):
            u = expm(magnus(pl, drive, *x)) @ u
            return u, u

        _, us = jax.lax.scan(step, eye, (starts, sizes))
        return jnp.concatenate([eye[None], us])[index]
    started = jnp.concatenate([jnp.full(1, -jnp.inf), breaks])  # U(t, 0) always runs

    def step_all(u, x):
        u = expm(magnus(pl, drive, *x)) @ u
        u = jnp.where((started <= x[0])[:, None, None], u, eye)
        return u, u

    u0 = jnp.broadcast_to(eye, (1 + breaks.shape[0], m, m))
    _, us = jax.lax.scan(step_all, u0, (starts, sizes))
    return jnp.concatenate([u0[None], us])[index]


def step_data(pl, drive, t0, h, bch=False):
    """The ω-independent data of one step: eigenvalues D and vectors R of Ω, R⁻¹, and the
    eigenbasis coefficients c_j = R⁻¹ G_k(t0 + x_j h) (4, m, J) of the interpolated source.

    G_k(x) = K(x) B(t0 + xh), K(x) = e^{−(1−x)Ω} U(t0 + h, t0 + xh): by default U from the
    Magnus exponent B_x of [t0 + xh, t0 + h] and a matrix exponential; ``bch``: K = e^{D}
    with D = B_x − A − [A, B_x]/2 + [A + B_x, [A, B_x]]/12 (A = (1−x)Ω; Baker–Campbell–
    Hausdorff, D = O(h²), the dropped terms O(h⁵)) and e^D ≈ 1 + D + D²/2 — the same order,
    without a matrix exponential per point (K = 1 exactly for a constant generator)."""
    omega_ = magnus(pl, drive, t0, h)
    d, r = eig(omega_)
    rinv = jnp.linalg.inv(r)
    cs = []
    for x in _X:
        _, b = generator(pl, drive, t0 + x * h)
        if 0.0 < x < 1.0 and bch:
            a, bx = (1.0 - x) * omega_, magnus(pl, drive, t0 + x * h, (1.0 - x) * h)
            com = a @ bx - bx @ a
            dd = bx - a - 0.5 * com + ((a + bx) @ com - com @ (a + bx)) / 12.0
            db = dd @ b
            cs.append(rinv @ (b + db + 0.5 * (dd @ db)))
        elif 0.0 < x < 1.0:  # U(t0 + h, t0 + x h) B, then e^{−(1−x)Ω} in the eigenbasis
            b = expm(magnus(pl, drive, t0 + x * h, (1.0 - x) * h)) @ b
            cs.append(jnp.exp(-(1.0 - x) * d)[:, None] * (rinv @ b))
        else:  # at x = 0: e^{−Ω} U(t0 + h, t0) = 1 (the step's own propagator)
            cs.append(rinv @ b)
    return d, r, rinv, jnp.stack(cs)


def filon_moments(z, ez=None):
    """μ_p(z) = ∫_0^1 x^p e^{z(1−x)} dx, p = 0…3, z (...), returns (4, ...) (``ez``: e^z if
    already at hand — the complex exponential is the costly part): by the recurrence
    μ_p = (p μ_{p−1} − 1)/z from μ_0 = (e^z − 1)/z for |z| ≥ 1 (stable there), and for
    |z| < 1 by the Taylor series of μ_3 (Σ_k z^k 3!/(k+4)!, 17 terms: < 1e-17) and the backward
    recurrence μ_{p−1} = (z μ_p + 1)/p (stable there)."""
    small = z.real**2 + z.imag**2 < 1.0
    zs = jnp.where(small, z, 0.0)
    inv = 1.0 / jnp.where(small, 1.0, z)
    ez = jnp.exp(z) if ez is None else ez
    coef = np.array([6.0 / math.factorial(k + 4) for k in range(_TAYLOR)])
    back = [jnp.polyval(jnp.asarray(coef[::-1]), zs)]
    for p in (3, 2, 1):
        back.append((zs * back[-1] + 1.0) / p)
    mu_l = [(ez - 1.0) * inv]
    for p in (1, 2, 3):
        mu_l.append((p * mu_l[-1] - 1.0) * inv)
    return jnp.stack([jnp.where(small, sm, lg) for sm, lg in zip(back[::-1], mu_l,
                                                                  strict=True)])


def cubic_in_monomials(values):
    """Monomial coefficients g_p (4, ...) of the cubic through ``values`` (4, ...) at _X:
    Σ_j values_j ℓ_j(x) = Σ_p g_p x^p."""
    return jnp.tensordot(jnp.asarray(_LAGRANGE.T, jnp.complex128), values, 1)


def filon_weights(z, moments=None):
    """ψ_j(z) = ∫_0^1 e^{z(1−x)} ℓ_j(x) dx for the cubic Lagrange basis ℓ_j on _X, z (...),
    returns (4, ...): the Lagrange combinations of the moments (``filon_moments``, or
    ``moments`` if already at hand)."""
    moments = filon_moments(z) if moments is None else moments
    return jnp.tensordot(jnp.asarray(_LAGRANGE, dtype=jnp.complex128), moments, 1)


def node_amplitudes(steps, omega, h, index):
    """Ψ(ω, t) (T, m, J) at the output times for one real frequency ω, from the per-step
    data (D, R, R⁻¹, c) and step sizes h (N,)."""
    d, r, rinv, cs = steps
    m, nj = cs.shape[2], cs.shape[3]

    def step(psi, x):
        d_k, r_k, rinv_k, c_k, h_k = x
        z = d_k + 1j * omega * h_k
        w = filon_weights(z)  # (4, m)
        new = jnp.exp(z)[:, None] * (rinv_k @ psi) + h_k * jnp.einsum("jm,jmb->mb", w, c_k)
        psi = r_k @ new
        return psi, psi

    zero = jnp.zeros((m, nj), jnp.complex128)
    _, psis = jax.lax.scan(step, zero, (d, r, rinv, cs, h))
    return jnp.concatenate([zero[None], psis])[index]


def node_kernels(pl, omega, psi, lts, bs):
    """Observables (corr (M,T,n,n), amplitude (M,T,2,M)) of one real frequency and their
    exact time derivatives (tangent dΨ/dt = (L + iω)Ψ + B)."""
    n = pl.vec.shape[0]
    kap = pl.kappa[:, None]

    def obs(s):
        return observables_of_amplitudes(pl, omega, s[:n], s[n:] / kap, s[:n].conj().T)

    def one(s, lt, b):
        tangent = lt @ s + 1j * omega * s + b
        (c, x), (cd, xd) = jax.jvp(obs, (s,), (tangent,))
        return c, cd, x, xd

    return tuple(jnp.moveaxis(a, 1, 0) for a in jax.vmap(one)(psi, lts, bs))


# ----------------------------------------------------------------------------------------
# the tail (−∞, a]: closed-form model of Ψ on the complex rays
# ----------------------------------------------------------------------------------------
def adiabatic(pl, drive, omega, t, order=ADIABATIC_ORDER):
    """Y(ω, t): the adiabatic solution of dY/dt = (L(t) + iω) Y + B(t) to ``order`` in
    R = (L + iω)⁻¹ ~ 1/ω: Y_0 = −R B, Y_{k+1} = R (dY_k/dt − B) (time derivatives in forward
    mode through L(t) and B(t))."""
    def y(k, s):
        lt, b = generator(pl, drive, s)
        lw = lt + 1j * omega * jnp.eye(lt.shape[0])
        if k == 0:
            return -jnp.linalg.solve(lw, b)
        dy = jax.jvp(lambda u: y(k - 1, u), (s,), (jnp.ones_like(s),))[1]
        return jnp.linalg.solve(lw, dy - b)

    return y(order, jnp.asarray(t, jnp.float64))


def _side(t):
    """The one-sided offset δ at a time t (Y(t ± δ) are its one-sided limits to O(δ))."""
    return _SIDE * (1.0 + jnp.abs(t))


def jumps(pl, drive, omega, breaks):
    """(1 + B, m, J): Y(ω, 0⁺) and the jumps Y(t_b⁺) − Y(t_b⁻) of the adiabatic solution at
    the breakpoints t_b (module docstring; one-sided values at t_b ± δ). Breakpoints within δ
    of an earlier one (e.g. the end of a ramp at a knot of another amplitude) count once;
    those within δ of 0 are in Y(0⁺)."""
    t0 = jnp.where(jnp.any(jnp.abs(breaks) <= _side(0.0)), _side(0.0), 0.0)
    first = adiabatic(pl, drive, omega, t0)[None]
    if breaks.shape[0] == 0:
        return first
    jump = jax.vmap(lambda b: adiabatic(pl, drive, omega, b + _side(b))
                    - adiabatic(pl, drive, omega, b - _side(b)))(breaks)
    order = jnp.arange(breaks.shape[0])
    dup = jnp.any((order[None, :] < order[:, None])
                  & (jnp.abs(breaks[:, None] - breaks[None, :]) <= _side(breaks)[None, :]), 1)
    return jnp.concatenate([first, jnp.where(dup[:, None, None], 0.0, jump)])


def initial_adiabatic(pl, drive, omega, breaks):
    """(``jumps`` at ω, at ω̄): the time-independent data of the tail model's e^{iω(t−t_b)}
    parts."""
    return jumps(pl, drive, omega, breaks), jumps(pl, drive, jnp.conj(omega), breaks)


def tail_integrand(pl, drive, omega, up, t, us, y0, breaks):
    """Integrand of the model on the ray through complex ``omega`` at time t (summed over the
    source reservoirs): (corr, amplitude). ``us`` = [U(t, 0), U(t, t_b)…] (``propagator``),
    ``y0`` = ``initial_adiabatic``. The model is a = Y(t⁻) + Σ_k e^{iωτ_k} a_k, τ_0 = t,
    τ_b = t − t_b, a_k = −U(t, t_k) ΔY_k (only for δ < t_b < t), and likewise ā at ω̄ with
    e^{−iωτ_l}; the observables are bilinear in (a, ā) plus linear in ā, and each product
    e^{iω(τ_k − τ_l)} goes to the ray on which it decays (τ_k ≥ τ_l: up)."""
    n = pl.vec.shape[0]
    kap = pl.kappa[:, None]
    wc = jnp.conj(omega)
    active = jnp.concatenate([jnp.ones(1, bool), (breaks > _side(0.0)) & (breaks < t)])
    taus = jnp.where(active, t - jnp.concatenate([jnp.zeros(1), breaks]), 0.0)  # (K,)
    # at a breakpoint itself the model is the left limit (no jump yet), except at the
    # switch-on, where it is Y(0⁺) as in ``jumps`` (Ψ(0) = 0)
    te = jnp.where(jnp.any(breaks == t), t - _side(t), t)
    at_start = (t <= _side(0.0)) & jnp.any(jnp.abs(breaks) <= _side(0.0))
    te = jnp.where(at_start, _side(0.0), te)
    y, yb = adiabatic(pl, drive, omega, te), adiabatic(pl, drive, wc, te)
    w = -jnp.einsum("k,kij,kjb->kib", active, us, y0[0])
    wb = -jnp.einsum("k,kij,kjb->kib", active, us, y0[1])

    def obs(fl, fr):
        a = jnp.einsum("k,kmb->mb", fl, w) + y
        ab = jnp.einsum("k,kmb->mb", jnp.conj(fr), wb) + yb  # enters conjugated
        c, x = observables_of_amplitudes(pl, omega, a[:n], a[n:] / kap, ab[:n].conj().T,
                                         complex_plane=True)
        return c.sum(0), x.sum(0)

    k = taus.shape[0]
    if k == 1:  # a smooth drive: the undriven method's classes with e^{iωt}
        return frequency_classes(lambda fl, fr: obs(jnp.reshape(fl, 1), jnp.reshape(fr, 1)),
                                 omega, t, up)
    zero = jnp.zeros(k, complex)
    o00 = obs(zero, zero)
    tmap = jax.tree_util.tree_map

    def pair(j, keep):  # Σ_{l ∈ keep} e^{iω(τ_j − τ_l)} B(a_j, ā_l) (and B(a_j, ā_0))
        e = jnp.zeros(k, complex).at[j].set(1.0)
        c = jnp.where(keep, jnp.exp(1j * omega * jnp.where(keep, taus[j] - taus, 0.0)), 0.0)
        oj0, ojc, o0c = obs(e, zero), obs(e, c), obs(zero, c)
        return oj0, tmap(lambda a, b_, c_, d: a - b_ - c_ + d, ojc, oj0, o0c, o00)

    if up:  # e^{iωτ_j} B(a_j, ā_0) and the pairs with τ_j ≥ τ_l, plus the non-oscillating part
        oj0, pairs = jax.vmap(lambda j: pair(j, taus <= taus[j]))(jnp.arange(k))
        ph = jnp.exp(1j * omega * taus)
        return tmap(lambda a, b_, c_: a + jnp.tensordot(ph, b_ - a[None], 1) + c_.sum(0),
                    o00, oj0, pairs)
    # down: e^{−iωτ_l} (B(a_0, ā_l) + D(ā_l)) and the pairs with τ_j < τ_l
    _, pairs = jax.vmap(lambda j: pair(j, taus > taus[j]))(jnp.arange(k))
    tail_l = obs(zero, jnp.exp(-1j * omega * taus))
    return tmap(lambda a, b_, c_: a - b_ + c_.sum(0), tail_l, o00, pairs)


def tail(pl, drive, a, s_nodes, s_weights, times, us, breaks):
    """∫_{−∞}^{a} dω/2π of the tail model (f = 1) and its time derivative, for all times
    (``us`` (T, 1 + B, m, m) from ``propagator`` with the breakpoints)."""
    # Y(ω, 0) and the jumps on both rays, once for all times
    ups = jax.vmap(lambda s: initial_adiabatic(pl, drive, a + 1j * s, breaks))(s_nodes)
    dns = jax.vmap(lambda s: initial_adiabatic(pl, drive, a - 1j * s, breaks))(s_nodes)

    def at(t, u):
        def integral(t_, u_):
            def integrand(up, s, y0):
                w = a + 1j * s if up else a - 1j * s
                return tail_integrand(pl, drive, w, up, t_, u_, y0, breaks)

            return ray_pair(integrand, s_nodes, s_weights, ups, dns)

        lt, _ = generator(pl, drive, t)
        (c, x), (cd, xd) = jax.jvp(integral, (t, u), (jnp.ones_like(t), lt @ u))
        return c, cd, x, xd

    return jax.lax.map(lambda args: at(*args), (jnp.asarray(times), us))


def tail_remainder(pl, drive, omega, t, u, psi, breaks):
    """|exact − model| of the real-axis integrand at a real ω (corr, amplitude), the size
    of the tail model's remainder at the ray's foot."""
    n = pl.vec.shape[0]
    kap = pl.kappa[:, None]
    y0 = initial_adiabatic(pl, drive, omega + 0j, breaks)
    up = tail_integrand(pl, drive, omega + 0j, True, t, u, y0, breaks)
    dn = tail_integrand(pl, drive, omega + 0j, False, t, u, y0, breaks)
    c, x = observables_of_amplitudes(pl, omega, psi[:n], psi[n:] / kap, psi[:n].conj().T)
    return (jnp.max(jnp.abs(c.sum(0) - up[0] - dn[0])),
            jnp.max(jnp.abs(x.sum(0) - up[1] - dn[1])))


def ray_pair(integrand, s_nodes, s_weights, ups, dns):
    """``continuum_kernels.ray_integral`` with per-node data: ∫_{−∞}^{a} dω/2π F from
    ``integrand(up, s, data)`` on the rays a ± is (data ``ups`` / ``dns`` per node s)."""
    up = jax.vmap(lambda s, d: integrand(True, s, d))(s_nodes, ups)
    dn = jax.vmap(lambda s, d: integrand(False, s, d))(s_nodes, dns)
    return jax.tree_util.tree_map(
        lambda u, d: (-1j * jnp.tensordot(s_weights, u, 1)
                      + 1j * jnp.tensordot(s_weights, d, 1)) / _TWO_PI, up, dn)


# ----------------------------------------------------------------------------------------
# all stage-1 arrays
# ----------------------------------------------------------------------------------------
def driven_arrays(pl, drive, times, grid, wn, on, ow, sn, sw, a, *, node_batch):
    """Every kernel of the driven response (a dict), the step-doubling estimate of U's error
    and the tail remainder at ω = a. ``grid``: ``step_grid``'s, aligned here with the drive's
    breakpoints (traced)."""
    n = pl.vec.shape[0]
    breaks = drive.breakpoints()
    grid = aligned_grid(grid, times, breaks)
    starts, sizes, index = grid
    clipped = jnp.clip(breaks, 0.0, times[-1])  # the grid's boundaries at the breakpoints
    us_all = propagator(pl, drive, starts, sizes, index, clipped)  # (T, 1 + B, m, m)
    us = us_all[:, 0]
    lts, bs = jax.vmap(lambda t: generator(pl, drive, t))(jnp.asarray(times))
    e = us[:, :, :n]
    g, gd, mk, mkd = state_kernels(pl, e, jnp.einsum("tij,tjk->tik", lts, e))
    steps = jax.vmap(lambda t0, h: step_data(pl, drive, t0, h))(starts, sizes)
    h = sizes

    def kernels(w):
        psi = node_amplitudes(steps, w, h, index)
        return node_kernels(pl, w, psi, lts, bs)

    def batched(nodes):
        return jax.lax.map(kernels, nodes, batch_size=node_batch)

    c_k, cd_k, x_k, xd_k = batched(wn)  # (K, M, T, ...)
    nres = pl.onehot.shape[0]
    nt = len(times)
    off = [jnp.zeros((nt, n, n), complex), jnp.zeros((nt, n, n), complex),
           jnp.zeros((nt, 2, nres), complex), jnp.zeros((nt, 2, nres), complex)]
    if on.shape[0] > 0:
        oks = batched(on)
        off = [o + jnp.einsum("k,kb...->...", ow, k) for o, k in zip(off, oks, strict=True)]
    remainder = jnp.zeros(2)
    if sn.shape[0] > 0:
        tks = tail(pl, drive, a, sn, sw, times, us_all, breaks)
        off = [o + k for o, k in zip(off, tks, strict=True)]
        psi_a = node_amplitudes(steps, a, h, index)
        rem = jax.vmap(lambda t, u, p: tail_remainder(pl, drive, a, t, u, p, breaks))(
            jnp.asarray(times), us_all, psi_a)
        remainder = jnp.stack([jnp.max(rem[0]), jnp.max(rem[1])])
    # step doubling of the homogeneous propagator (the error of the Magnus steps)
    us2 = propagator(pl, drive, *halved(grid))
    mv = lambda x: jnp.moveaxis(x, 0, 1)  # (K, M, ...) -> (M, K, ...)
    return dict(
        propagator=g, propagator_dt=gd, current_state=mk, current_state_dt=mkd,
        correlation_kernel=mv(c_k), correlation_kernel_dt=mv(cd_k),
        current_kernel=mv(x_k), current_kernel_dt=mv(xd_k),
        correlation_offset=off[0], correlation_offset_dt=off[1],
        current_offset=off[2], current_offset_dt=off[3],
    ), jnp.max(jnp.abs(us2[:, :n] - us[:, :n])), remainder
