"""One step of the driven Padé propagation (``driven_pade.py``): the columns' exact-in-ν Filon
step and the lead part's source integral, split into a frozen-generator part done in closed
form and a Hermite-interpolated remainder (docs/theory.md, "Driven systems", driven Padé)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .closure import Poles
from .driven import cubic_in_monomials, filon_moments, filon_weights, generator, step_data

# Hermite cubic basis (H00, H10, H01, H11) at the Filon interpolation points x = 0, 1/3, 2/3, 1
_XH = np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0])
_HERMITE = np.stack([2 * _XH**3 - 3 * _XH**2 + 1, _XH**3 - 2 * _XH**2 + _XH,
                     -2 * _XH**3 + 3 * _XH**2, _XH**3 - _XH**2])  # (4 basis, 4 points)


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


def herm(x):
    """x + x† over the last two axes."""
    return x + jnp.swapaxes(x, -1, -2).conj()


def _bath_source(ns, c, lt, b, bd):
    """S and dS/dt (sets, m, m) of the Padé sets from the columns c (m, Q), and dc/dt."""
    src = -1j * ns.s[None, :] * by_column(ns, b)
    cd = lt @ c - c * ns.nu[None, :] + src
    nt = b.shape[1]
    phi = (c @ ns.agg).reshape(c.shape[0], -1, nt).transpose(1, 0, 2)  # (sets, m, J)
    phid = (cd @ ns.agg).reshape(c.shape[0], -1, nt).transpose(1, 0, 2)
    s = herm(-1j * b[None] @ jnp.swapaxes(phi, -1, -2).conj())
    sd = herm(-1j * (bd[None] @ jnp.swapaxes(phi, -1, -2).conj()
                     + b[None] @ jnp.swapaxes(phid, -1, -2).conj()))
    return s, sd, cd


def _phi1_series(z):
    """The Taylor series of φ₁(z) = (e^z − 1)/z, Σ_j z^j/(j + 1)!, 16 terms (|z| < 1/2:
    < 1e-17)."""
    coef = [1.0 / math.factorial(j + 1) for j in range(16)][::-1]
    return jnp.polyval(jnp.asarray(coef, jnp.complex128), z)


def _frozen_data(ns, d, bhat, bdot, h, mzz):
    """State-independent data of the frozen part of the lead-part step, all steps at once
    (shapes (S, …)). The frozen model: the generator fixed at Ω/h and the columns' source
    linear in x, β₀ + β₁x with β₀ = h(−i s_q) R⁻¹b(t₀), β₁ = h²(−i s_q) R⁻¹ḃ(t₀) (so that its
    quasi-static columns follow a rotating source, e.g. a bias phase), b(t₀) in S. Then
    ĉ(x) = e^{zx} ĉ₀ + φ₁(zx)… in closed form, and ∫ e^{D(1−x)} Ŝ(x) e^{D*(1−x)} dx exactly.
    ``mzz``: the Filon moments of d_i + d_k* (4, S, m, m) (φ₁ = μ₀, φ₂ = μ₁). Returns (z, β₀,
    β₁, u, e^{d*}, the integral's ĉ₀-independent part)."""
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
    # e^{d} φ₁(w), w = −d − ν* h, = (e^{−ν* h} − e^{d})/w (|w| ≥ 1/2; both terms ≤ 1 in
    # modulus) from the small exponentials of d (S, m) and νh (S, Q), the series below
    w = -d[:, :, None] - ns.nu.conj() * h3
    ed, en = jnp.exp(d)[:, :, None], jnp.exp(-ns.nu.conj() * h3)
    small = w.real**2 + w.imag**2 < 0.25
    u = bq * jnp.where(small, ed * _phi1_series(jnp.where(small, w, 0.0)),
                       (en - ed) / jnp.where(small, 1.0, w))
    edc = jnp.exp(d).conj()[:, None, None, :]  # e^{d_k*}
    x_const = (-1j * edc * per_set(ns, u, f0) + 1j * mzz[0][:, None] * per_set(ns, bq, f0)
               + 1j * mzz[1][:, None] * per_set(ns, bq, f1))
    return z, beta0, beta1, u, edc, x_const


def per_set(ns, a, b):
    """Σ_{q in set} a_iq b_kq* (S, sets, m, m) from (S, m, Q) columns (sets contiguous)."""
    bounds = np.cumsum((0,) + ns.sizes)
    return jnp.stack([a[..., lo:hi] @ jnp.swapaxes(b[..., lo:hi], -1, -2).conj()
                      for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)], axis=1)


def propagate(pl: Poles, drive, grid, ns, n):
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
    d, r, rinv, cs = jax.vmap(lambda t0, h: step_data(pl, drive, t0, h, bch=True))(starts,
                                                                                   sizes)
    prop = (r * jnp.exp(d)[:, None, :]) @ rinv  # e^Ω (S, m, m)
    e0 = jnp.eye(m, dtype=jnp.complex128)[:, :n]
    if ns is None:
        def step_e(e, p):
            e = p @ e
            return e, e

        _, es = jax.lax.scan(step_e, e0, prop)
        return (jnp.concatenate([e0[None], es])[index],)
    # the generator and source at every grid point (a step's end is the next one's start)
    points = jnp.concatenate([starts, starts[-1:] + sizes[-1:]])
    src_all = jax.vmap(lambda t: _source(pl, drive, t))(points)
    src0, src1 = (tuple(x[:-1] for x in src_all), tuple(x[1:] for x in src_all))
    # the columns' Filon step at ω = iν_q (exact in ν_q): c ← R (e^z ∘ R⁻¹c + h Σ_j w_j(z)
    # ∘ src_j)
    h3 = sizes[:, None, None]
    bdot = rinv @ src0[2]
    zz = d[:, :, None] + d.conj()[:, None, :]  # (S, m, m)
    mzz = filon_moments(zz)
    z, beta0, beta1, u, edc, x_const = _frozen_data(ns, d, cs[:, 0], bdot, sizes, mzz)
    ez = jnp.exp(d)[:, :, None] * jnp.exp(-ns.nu * h3)  # e^z from the small exponentials
    # the source cubic in monomials, g_p = Σ_j ℓ_j's x^p coefficient × G(x_j) (per term, then
    # per column): kick = h Σ_p μ_p(z) g_p; φ₁(z) = μ₀ and φ₂(z) = ∫ e^{z(1−x)} x dx = μ₁
    mu = filon_moments(z, ez)
    mono = by_column(ns, cubic_in_monomials(jnp.moveaxis(cs, 1, 0)))  # (4, S, m, Q)
    kick = h3 * jnp.sum(mu * mono, axis=0) * (-1j * ns.s)
    phi1, phi2 = mu[0], mu[1]

    def step_c(carry, x):
        e, c = carry
        p, r_, rinv_, ez_, kick_ = x
        e, c = p @ e, r_ @ (ez_ * (rinv_ @ c) + kick_)
        return (e, c), (e, c)

    c0 = jnp.zeros((m, ns.nu.shape[0]), jnp.complex128)
    _, (es, cs_) = jax.lax.scan(step_c, (e0, c0), (prop, r, rinv, ez, kick))
    c_all = jnp.concatenate([c0[None], cs_])
    c_start = c_all[:-1]
    # the source integral of every step, in the eigenbasis of its Ω
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
    sv_all, sd_all, _ = jax.vmap(lambda *a: _bath_source(ns, *a))(c_all, *src_all)
    data = []
    for (lt, _, _), sv, sd in ((src0, sv_all[:-1], sd_all[:-1]),
                               (src1, sv_all[1:], sd_all[1:])):
        kx = (omega_ - sizes[:, None, None] * lt)[:, None]
        mx = kx @ sv + sv @ jnp.swapaxes(kx, -1, -2).conj() + h3[..., None] * sd
        data.append((sv, mx))
    wb = jnp.tensordot(jnp.asarray(_HERMITE, jnp.complex128),
                       filon_weights(zz, moments=mzz), 1)[:, :, None]
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
