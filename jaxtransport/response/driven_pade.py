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
the eigenbasis of the Magnus exponent Ω with S interpolated by a Hermite cubic (values and
exact derivatives at the step ends): fourth order. The fast Padé modes are quasi-static
except in a layer of width 1/ν_q after t = 0, which a geometrically graded start of the time
grid resolves. Readout: the rows of C_ψ at the system columns (system, pole rows, filter
outputs), exactly as the undriven ``pade_kernels.readout``; the current amplitudes are χ_α(t)
times those (``DrivenResponse.assemble``, shared with the driven continuum).

**Two stages.** Stage 1 (``jt.response``) propagates E(t) and the lead part at the model's own
(T, μ); ``evaluate`` contracts E with any C0. At another (T, μ) the lead part is propagated
again inside ``evaluate`` (the Padé filters depend on T, μ; jit/vmap/grad work, at the cost of
one propagation per configuration) — as for the undriven ``jt.Pade``, a response is meant for
a few (T, μ).

**Error estimate**: Padé truncation (N against N_lo = N − max(2, N/4) poles, as undriven, on the
grid) plus the step-doubling difference (N on the grid and on the grid with every step halved;
the finer result is returned), in correlations, currents and coupling energies, plus the
step-doubling difference of E. Without a given ``drive_step`` the step starts from the
continuum's choice (``choose_step``, rounded down to 0.2/2^k so that new drive values rarely
change it) and is halved, or N raised by 25 %, up to twice until the estimate meets the
tolerance; a missed tolerance gives a ``jt.ToleranceWarning`` (``strict=True``: raises
``PadeUnsuitable``; the automatic choice then falls back to ``jt.Continuum``). The drive's
breakpoints (kinks) are grid points. Stage 1 compiles once per drive structure, time grid,
step and N: new drive values, h and couplings reuse the program.
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
    """Host (starts, sizes, index) of the grid and of the halved grid (``step_grid``), the
    index that of the outputs in the states after each step."""
    allt, pos = graded_times(times, max_step, nu_max, breaks)
    out = []
    for halve in (False, True):
        starts, sizes, index = step_grid(allt, max_step, halve=halve)
        out.append((starts, sizes, index[pos]))
    return tuple(out)


class NoiseSet(eqx.Module):
    """Filter modes of the lead part at one (T, μ), for N and the lower order N_lo side by side:
    ν (Q,), column sums s (Q,), aggregation per term (Q, 2J) (columns: N set, then N_lo set)."""

    nu: Array
    s: Array
    agg: Array
    q_term: tuple = eqx.field(static=True)


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
                    tuple(int(q) for q in q_term))


def _source(pl, drive, t):
    """(L_c(t), b(t) (m, J), db/dt)."""
    def b_of(s):
        return generator(pl, drive, s)[1]

    lt, b = generator(pl, drive, t)
    return lt, b, jax.jvp(b_of, (t,), (jnp.ones_like(t),))[1]


def _bath_source(ns, c, lt, b, bd):
    """S and dS/dt (sets, m, m) of the Padé sets from the columns c (m, Q), and dc/dt."""
    src = -1j * ns.s[None, :] * b[:, np.asarray(ns.q_term)]
    cd = lt @ c - c * ns.nu[None, :] + src
    nt = b.shape[1]
    phi = (c @ ns.agg).reshape(c.shape[0], -1, nt).transpose(1, 0, 2)  # (sets, m, J)
    phid = (cd @ ns.agg).reshape(c.shape[0], -1, nt).transpose(1, 0, 2)
    herm = lambda x: x + jnp.swapaxes(x, -1, -2).conj()
    s = herm(-1j * b[None] @ jnp.swapaxes(phi, -1, -2).conj())
    sd = herm(-1j * (bd[None] @ jnp.swapaxes(phi, -1, -2).conj()
                     + b[None] @ jnp.swapaxes(phid, -1, -2).conj()))
    return s, sd, cd


def propagate(pl, drive, grid, ns: NoiseSet | None, n):
    """States after every step: E = U(t,0)[:, :n] (m, n), and with a noise set the columns
    c (m, Q) and the lead parts C_cc (sets, m, m); returned at the grid's output times."""
    starts, sizes, index = grid
    m = pl.vec.shape[0] + pl.vec.shape[1]
    steps = jax.vmap(lambda t0, h: step_data(pl, drive, t0, h))(starts, sizes)
    ends = jax.vmap(lambda t: _source(pl, drive, t))
    src0, src1 = ends(starts), ends(starts + sizes)
    d, r, rinv, cs = steps
    eds = jnp.exp(d)  # (S, m)
    if ns is not None:
        # everything that does not depend on the state, for all steps at once: the columns'
        # Filon step at ω = iν_q (exact in ν_q) is c ← R (e^z ∘ R⁻¹c + h Σ_j w_j(z) ∘ src_j)
        h3 = sizes[:, None, None]
        z = d[:, :, None] - ns.nu[None, None, :] * h3  # (S, m, Q)
        src = cs[..., np.asarray(ns.q_term)] * (-1j * ns.s)  # (S, 4, m, Q)
        kick = h3 * jnp.sum(jnp.moveaxis(filon_weights(z), 0, 1) * src, axis=1)
        zz = d[:, :, None] + d.conj()[:, None, :]  # (S, m, m)
        hw = jnp.tensordot(jnp.asarray(_HERMITE, jnp.complex128), filon_weights(zz), 1)
        hermite = (jnp.moveaxis(hw, 0, 1), jnp.exp(zz), (r * d[:, None, :]) @ rinv)
        per_step = (jnp.exp(z), kick, hermite)
    else:
        per_step = None

    def step(carry, x):
        e, c, ccc = carry
        (r, rinv, ed, h, s0d, s1d), extra = x
        e = r @ (ed[:, None] * (rinv @ e))
        if ns is None:
            return (e, c, ccc), (e, c, ccc)
        ez, kick, (wb, ezz, omega_) = extra
        c_new = r @ (ez * (rinv @ c) + kick)
        # lead part of C_cc: e^Ω C e^Ω† + ∫ U S U† with S Hermite-interpolated in the
        # eigenbasis of Ω; K(x) = e^{−Ω(1−x)} U(t+h, s) = 1 at the ends, dK/dx = Ω − h L(s)
        data = []
        for (lt, b, bd), cc in ((s0d, c), (s1d, c_new)):
            s, sd, _ = _bath_source(ns, cc, lt, b, bd)
            kx = omega_ - h * lt
            mx = kx[None] @ s + s @ kx.conj().T[None] + h * sd  # K'S + h S' + S K'†
            data.append((s, mx))
        proj = lambda a: rinv[None] @ a @ jnp.swapaxes(rinv, -1, -2).conj()[None]
        integral = h * (wb[0] * proj(data[0][0]) + wb[1] * proj(data[0][1])
                        + wb[2] * proj(data[1][0]) + wb[3] * proj(data[1][1]))
        chat = ezz[None] * proj(ccc) + integral
        ccc = r[None] @ chat @ jnp.swapaxes(r, -1, -2).conj()[None]
        return (e, c_new, ccc), (e, c_new, ccc)

    e0 = jnp.eye(m, dtype=jnp.complex128)[:, :n]
    nq = 0 if ns is None else ns.nu.shape[0]
    nset = 1 if ns is None else ns.agg.shape[1] // pl.tvec.shape[1]
    carry = (e0, jnp.zeros((m, nq), jnp.complex128), jnp.zeros((nset, m, m), jnp.complex128))
    _, outs = jax.lax.scan(step, carry, ((r, rinv, eds, sizes, src0, src1), per_step))
    return tuple(jnp.concatenate([x0[None], xs])[index] for x0, xs in zip(carry, outs,
                                                                           strict=True))


def _bath_rows(resp, ns, lts, bs, c, ccc, k):
    """Readout rows (T, m + 2J, n) and their time derivatives of Padé set k (0: N, 1: N_lo)
    from the columns c (T, m, Q) and the lead parts C_cc (T, 2, m, m)."""
    n = resp.n_modes
    nt = len(resp.term_res)
    agg = ns.agg[:, k * nt:(k + 1) * nt]
    src = -1j * ns.s[None, None, :] * bs[:, :, np.asarray(ns.q_term)]
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

    coarse_grid, fine_grid = resp.grids

    def rows(grid, ns):
        e, c, ccc = propagate(resp.pl, resp.drive, grid, ns, n)
        out = []
        for k in range(ccc.shape[1]):
            y, ydt = _bath_rows(resp, ns, resp.out_l, resp.out_b, c, ccc, k)
            corr, amp, amp_dt, _ = readout(jnp, resp, arr, y, ydt)
            out.append((corr, ydt[:, :n], amp, amp_dt))
        return e, out

    # N on the halved grid (the result); N and N_lo on the grid: the stepping estimate
    # (N, grid vs halved grid) and the truncation estimate (N vs N_lo, same grid)
    e_f, (fine,) = rows(fine_grid, noise_set(resp, temp, mu, lower=False))
    e_c, (coarse, coarse_lo) = rows(coarse_grid, noise_set(resp, temp, mu))
    diff = lambda a, b: jnp.maximum(jnp.max(jnp.abs(a[0] - b[0])),
                                    2 * jnp.max(jnp.abs(a[2] - b[2])))
    terms = (*fine, diff(coarse, coarse_lo), diff(fine, coarse))
    if with_state:
        return terms, (e_f, jnp.max(jnp.abs(e_f - e_c)))
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
    """E = U(t, 0)[:, :n] at the outputs (fine grid), its step-doubling error, and L_c(t),
    b(t) at the outputs."""
    e_c, e_f = (propagate(pl, drive, grid, None, n)[0] for grid in grids)
    lts, bs = jax.vmap(lambda t: generator(pl, drive, t))(times)
    return e_f, jnp.max(jnp.abs(e_f - e_c)), lts, bs


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
    grids: tuple  # ((starts, sizes, index) of the grid, and of the halved grid)
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
        step = quantised_step(choose_step(model, times, tolerance))
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
    grids = tuple(tuple(jnp.asarray(x) for x in g)
                  for g in make_grids(times, step, nu_max, breaks))
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
