"""Sweep evaluation kernels: per-axis parts of a cartesian grid, their outer sum fused with
the reductions, and per-configuration contractions for samples (physics.md §2: every first
moment = C0 term + one term per reservoir's (T, μ) + a constant)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import statistics as _statistics
from .. import thermodynamics as _thermo
from ..response.base import add_terms, assemble, bath_terms, offset_terms, state_terms
from .spec import NON_FINITE, OK, SUMMARIES, Sweep


# ------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------
def _observe(sol, spec_static, resp):
    """Requested observables of a batch of Solutions (leading axes = configurations); the
    conductances by the functions of ``jaxtransport.thermodynamics`` (G4 evaluates ``resp``
    again at T_hot = T_cold, per configuration)."""
    observables, hot, stride, cold = spec_static
    out = {}
    jq = sol.heat_current[..., hot]  # (B, T)
    times = sol.times
    for o in observables:
        if o == "min_heat_current":
            out[o] = jnp.min(jq, axis=-1)
        elif o == "min_heat_current_time":
            out[o] = times[jnp.argmin(jq, axis=-1)]
        elif o == "reversed_heat":
            neg = jnp.maximum(-jq, 0.0)
            out[o] = jnp.sum(0.5 * jnp.diff(times) * (neg[..., 1:] + neg[..., :-1]), axis=-1)
        elif o == "final_heat_current":
            out[o] = jq[..., -1]
        elif o in ("uphill_heat", "uphill_duration"):
            out[o] = _uphill(sol, o)
        elif o in ("conductance_g1", "conductance_g2", "conductance_g5"):
            out[o] = getattr(_thermo, o)(sol, hot, cold)[..., ::stride]
        elif o == "conductance_g4":
            g4 = lambda t, m: _thermo.conductance_g4(resp, t, m, hot, cold)
            for _ in range(sol.temperature.ndim - 1):
                g4 = jax.vmap(g4)
            out[o] = g4(sol.temperature, sol.chemical_potential)[..., ::stride]
        else:
            out[o] = getattr(sol, o)[..., ::stride, :]
    return out


def _uphill(sol, which):
    """∫ r dt (trapezoid) or the time with R > 0 (crossings linearly interpolated), (B,)."""
    from ..uphill import uphill_margin

    r = uphill_margin(sol.heat_current, sol.temperature)  # (B, T); −inf: no gradient
    dt = jnp.diff(sol.times)
    if which == "uphill_heat":
        p = jnp.maximum(r, 0.0)
        return jnp.sum(0.5 * dt * (p[..., 1:] + p[..., :-1]), axis=-1)
    a, b = jnp.maximum(r[..., :-1], -1e300), jnp.maximum(r[..., 1:], -1e300)
    part = jnp.where((a > 0) & (b > 0), 1.0, jnp.where((a > 0) | (b > 0), jnp.maximum(a, b)
                     / jnp.where(a != b, jnp.abs(a - b), 1.0), 0.0))
    return jnp.sum(dt * part, axis=-1)


@eqx.filter_jit
def _cumulant_chunk(modes, c0, temp, mu, times, hot, orders, stride):
    """Heat cumulants κ_n(t) of the hot reservoir for a batch of configurations (B, ...) by
    ``statistics.cumulants`` (one call: the spectrum is shared by the batch), the requested
    orders at the stored times: (B, T', len(orders)). ``times``: a tuple (static)."""
    k = _statistics.cumulants(modes, np.asarray(times), c0, temp, mu, quantity="heat",
                              reservoir=hot, order=max(orders))
    out = {"heat_cumulants": k[:, ::stride][..., jnp.asarray(orders) - 1]}
    return out, _status(out)


def _status(out):
    bad = jnp.zeros(next(iter(out.values())).shape[:1], bool)
    for v in out.values():
        bad = bad | ~jnp.all(jnp.isfinite(v.reshape(v.shape[0], -1)), axis=1)
    return jnp.where(bad, NON_FINITE, OK).astype(jnp.int8)


@eqx.filter_jit
def _grid_chunk(resp, parts, index, temp, mu, spec_static, sub_batch):
    """Outer sum of per-axis parts for the configurations in ``index`` (B, n_parts)."""
    state_p, bath_p = parts  # state: tuple of (S, ...); bath: per reservoir tuple of (V_β, ...)
    off = offset_terms(resp)

    def one(args):
        idx, t, m = args
        terms = [tuple(p[idx[0]] for p in state_p), off]
        for b, bp in enumerate(bath_p):
            terms.append(tuple(p[idx[1 + b]] for p in bp))
        sol = assemble(resp, add_terms(*terms), t, m)
        return _observe(sol, spec_static, resp)

    out = jax.lax.map(lambda a: jax.vmap(lambda *x: one(x))(*a), _batched((index, temp, mu),
                                                                            sub_batch))
    out = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), out)
    return out, _status(out)


@eqx.filter_jit
def _sample_chunk(resp, c0, temp, mu, spec_static, sub_batch):
    """Per-configuration contractions (GEMMs over each sub-batch)."""

    def block(args):
        c, t, m = args
        wf = resp.weights * resp.occupations(t, m)
        terms = add_terms(state_terms(resp, c), bath_terms(resp, wf), offset_terms(resp))
        return _observe(assemble(resp, terms, t, m), spec_static, resp)

    out = jax.lax.map(block, _batched((c0, temp, mu), sub_batch))
    out = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), out)
    return out, _status(out)


@eqx.filter_jit
def _grid_chunk_fast(q_parts, index, spec_static, sub_batch, times):
    """Summaries of the hot heat current only: the per-axis parts are pre-reduced to real
    traces J^Q_hot(t) (C0 part + offset, one part per reservoir's (T, μ) value), so each
    configuration is an outer sum of a few rows of length T, fused with its reductions."""
    state_q, bath_q = q_parts
    observables = spec_static[0]

    def one(idx):
        jq = state_q[idx[0]]
        for b, bq in enumerate(bath_q):
            jq = jq + bq[idx[1 + b]]
        return _reductions(jq, times, observables)

    out = jax.lax.map(jax.vmap(one), index.reshape(-1, sub_batch, index.shape[-1]))
    out = jax.tree_util.tree_map(lambda x: x.reshape(-1), out)
    return out, _status(out)


def _reductions(jq, times, observables):
    """Summaries of J^Q_hot traces jq (..., T) along the last axis."""
    out = {}
    if "min_heat_current" in observables or "min_heat_current_time" in observables:
        i = jnp.argmin(jq, axis=-1)  # one pass gives both the minimum and where
        if "min_heat_current" in observables:
            out["min_heat_current"] = jnp.take_along_axis(jq, i[..., None], axis=-1)[..., 0]
        if "min_heat_current_time" in observables:
            out["min_heat_current_time"] = times[i]
    if "reversed_heat" in observables:  # trapezoid: Σ_t w_t max(−J, 0)
        dt = jnp.diff(times)
        w = 0.5 * (jnp.concatenate([dt, jnp.zeros(1)]) + jnp.concatenate([jnp.zeros(1), dt]))
        out["reversed_heat"] = jnp.sum(w * jnp.maximum(-jq, 0.0), axis=-1)
    if "final_heat_current" in observables:
        out["final_heat_current"] = jq[..., -1]
    return {o: out[o] for o in observables}


@eqx.filter_jit
def _block_fast(row_parts, const_parts, times, observables):
    """A cartesian block (rows of the leading axis × all other axes) as an outer sum of
    per-axis J^Q_hot traces, fused with the reductions; one leading row at a time."""
    const = sum(const_parts)[0]  # (T, rest...): time first, so that one pass over time
    # updates the running minimum, its index and the reversed heat elementwise across the
    # (contiguous) configurations of a row (measured ~8x faster than jnp.argmin on CPU)
    nt = times.shape[0]
    dt = jnp.diff(times)
    w = 0.5 * (jnp.concatenate([dt, jnp.zeros(1)]) + jnp.concatenate([jnp.zeros(1), dt]))

    def one(rows):
        def x(t):
            return const[t] + sum(r[t] for r in rows)

        def body(t, carry):
            m, i, q = carry
            xt = x(t)
            better = xt < m
            return jnp.where(better, xt, m), jnp.where(better, t, i), q + w[t] * jnp.maximum(
                -xt, 0.0)

        x0 = x(0)
        m, i, q = jax.lax.fori_loop(1, nt, body, (x0, jnp.zeros(x0.shape, jnp.int32),
                                                   w[0] * jnp.maximum(-x0, 0.0)))
        res = {"min_heat_current": m, "min_heat_current_time": times[i], "reversed_heat": q,
               "final_heat_current": x(nt - 1)}
        return {o: res[o] for o in observables}

    out = jax.lax.map(one, row_parts)
    out = {k: v.reshape(-1) for k, v in out.items()}
    return out, _status(out)


def _block_parts(spec, q_parts, r0, r1):
    """Per-axis J^Q_hot parts shaped for broadcasting over the block's dims (+ time); split
    into those that vary along the leading axis (sliced to rows r0:r1) and the rest."""
    state_q, bath_q = q_parts
    names = [a.name for a in spec.axes]
    sizes = dict(zip(names, spec.shape, strict=True))
    nt = state_q.shape[-1]
    items = [(["initial_state"], state_q)]
    for b, bq in enumerate(bath_q):
        items.append(([a for a in (f"temperature_{b}", f"chemical_potential_{b}")
                       if a in sizes], bq))
    row, const = [], []
    for axes, arr in items:  # -> (lead, T, other dims...) with ones where independent
        shape = [sizes[a] if a in axes else 1 for a in names]
        arr = jnp.moveaxis(arr.T.reshape([nt] + shape), 0, 1)
        if names[0] in axes:
            row.append(arr[r0:r1])
        else:
            const.append(arr)
    return tuple(row), tuple(const)


def _hot_heat_parts(spec, resp, parts):
    """The grid parts reduced to real J^Q_hot(t) traces (μ_hot fixed): C0 part (+ the
    constant offset) and one part per reservoir value."""
    hot = spec.hot
    mu_h = float(_reservoir_values(spec, hot)[1][0])

    def q(x):
        return 2 * x[..., 1, hot].real - mu_h * 2 * x[..., 0, hot].real

    state_p, bath_p = parts
    off = offset_terms(resp)[1]
    return q(state_p[1]) + q(off), tuple(q(bp[1]) for bp in bath_p)


def _fast_path(spec):
    return (spec.kind == "grid" and all(o in SUMMARIES for o in spec.observables)
            and len(_reservoir_values(spec, spec.hot)[1]) == 1)


def _batched(tree, sub):
    return jax.tree_util.tree_map(lambda x: x.reshape(-1, sub, *x.shape[1:]), tree)


def grid_parts(spec: Sweep, resp):
    """Per-axis parts of a cartesian grid: the C0 terms for each initial state, and for each
    reservoir β the bath terms for each (T_β, μ_β) value pair of its axes."""
    c0 = jnp.asarray(spec.initial_states, jnp.complex128)
    state_p = jax.jit(state_terms)(resp, c0)
    bath_p = []
    for b in range(spec.model.n_reservoirs):
        t_vals, m_vals = _reservoir_values(spec, b)
        tt, mm = (np.repeat(t_vals, len(m_vals)), np.tile(m_vals, len(t_vals)))
        wf = resp.weights[b] * resp.occupations(jnp.asarray(tt)[:, None],
                                                jnp.asarray(mm)[:, None])[:, b]
        bad = resp._check_window(jnp.asarray(tt), jnp.asarray(mm))
        if bool(bad):
            raise ValueError(f"reservoir {b}: swept temperatures/chemical potentials lie "
                             "outside the Response's frequency window; pass a method built "
                             "for that range (jt.Continuum(temperature_range=...)).")
        bath_p.append(jax.jit(bath_terms, static_argnums=2)(resp, wf[:, None, :],
                                                            (b, b + 1)))
    return state_p, tuple(bath_p)


def _reservoir_values(spec, b):
    t = spec.temperature.get(b, np.asarray([float(spec.model.temperatures[b])]))
    m = spec.chemical_potential.get(b, np.asarray([float(spec.model.chemical_potentials[b])]))
    return np.asarray(t, float), np.asarray(m, float)


def _grid_indices(spec, flat):
    """Per flat configuration index: (parameter index, state index, per-reservoir part index),
    temperatures (B, M) and chemical potentials (B, M)."""
    sub = np.unravel_index(flat, spec.shape)
    names = [a.name for a in spec.axes]
    pos = {nm: i for i, nm in enumerate(names)}
    nres = spec.model.n_reservoirs
    n_par = sum(1 for nm in names if nm.startswith("parameter_"))
    par = (np.ravel_multi_index(sub[:n_par], spec.shape[:n_par]) if n_par
           else np.zeros(len(flat), int))
    cols = [sub[pos["initial_state"]]]
    temp = np.empty((len(flat), nres))
    mu = np.empty((len(flat), nres))
    for b in range(nres):
        t_vals, m_vals = _reservoir_values(spec, b)
        it = sub[pos[f"temperature_{b}"]] if f"temperature_{b}" in pos else 0
        im = sub[pos[f"chemical_potential_{b}"]] if f"chemical_potential_{b}" in pos else 0
        cols.append(np.asarray(it) * len(m_vals) + np.asarray(im))
        temp[:, b] = t_vals[it]
        mu[:, b] = m_vals[im]
    return par, np.stack([np.broadcast_to(c, (len(flat),)) for c in cols], axis=1), temp, mu
