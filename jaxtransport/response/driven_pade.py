r"""``jt.Pade()`` on a driven model: the exact pole-sum problem with a time-dependent generator.

Maths (``pade.py`` for the undriven form, docs/theory.md "Driven systems", its driven Padé
paragraph). For pole-sum leads at given (T, μ) the transient is the second moment of one finite
linear system ψ = (a, y, x): system amplitudes, lead-pole closure modes and coloured-noise
filter modes (one per lead pole and per Fermi–Padé pole). Under a ``jt.Drive`` only the closure
block L_c(t) (H_S(t), and the couplings χ_α(t) v_p in the coupling gauge) and the source columns
B(t) = −iχ_α(t)(v_j; 0) depend on time; the filters are the reservoirs' stationary noise (ν_q,
Σ). Hence dC_ψ/dt = L(t) C_ψ + C_ψ L(t)† + Q, and with C_ψ = [[C_cc, C_cf], [C_cf†, Σ]] (the
filter block stays Σ):

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
otherwise (``driven_pade_step.propagate``). The fast Padé modes are quasi-static
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
from .driven import generator, step_grid
from .driven_pade_step import by_column, herm, propagate
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
    raised_n,
    readout,
)

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


def _bath_rows(resp, ns, lts, bs, c, ccc, k):
    """Readout rows (T, m + 2J, n) and their time derivatives of Padé set k (0: N, 1: N_lo)
    from the columns c (T, m, Q) and the lead parts C_cc (T, 2, m, m)."""
    n = resp.n_modes
    nt = len(resp.term_res)
    agg = ns.agg[:, k * nt:(k + 1) * nt]
    src = -1j * ns.s[None, None, :] * by_column(ns, bs)
    cd = lts @ c - c * ns.nu[None, None, :] + src
    cc = ccc[:, k]
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
    pl = pole_data(model)
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
        step = quantised_step(choose_step(model, trial, tolerance, pl=pl))
    else:
        raise ValueError("jt.Pade() chooses the time step of a driven model on concrete "
                         "values; under tracing pass jt.Pade(n_pade=..., drive_step=...).")
    for attempt in range(3):
        resp = _build(model, pl, times, step, n_pade, concrete)
        if resp.bath_cache is None or attempt == 2:
            break
        trunc, steps = (float(x) for x in resp.bath_cache[-2:])
        steps += 2.0 * float(resp.state_error)
        if trunc + steps <= tolerance:
            break
        if steps > 0.5 * tolerance and method.drive_step is None:
            step = 0.5 * step  # (a new grid: compiles again)
        elif trunc > 0.5 * tolerance and method.n_pade is None and n_pade < N_MAX:
            n_pade = raised_n(n_pade)
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


def _build(model, pl, times, step, n_pade, concrete):
    xi, eta = pade_poles(n_pade)
    xi_lo, eta_lo = pade_poles(n_pade - max(2, n_pade // 4))
    temp, mu = stack_reservoir_arrays(model)
    nu_max = float(np.max(np.asarray(temp))) * float(xi[-1]) if is_concrete(temp) else 1e4
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
