"""Sweep evaluation kernels: per-axis parts of a cartesian grid, their outer sum fused with
the reductions, and per-configuration contractions for samples (docs/theory.md: every first
moment = C0 term + one term per reservoir's (T, μ) + a constant)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import statistics as _statistics
from .. import thermodynamics as _thermo
from ..response.base import add_terms, assemble, bath_terms, offset_terms, state_terms
from .spec import MODEL_FAILED, NON_FINITE, OK, SUMMARIES, Sweep


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


def _continuum_cumulant_chunk(model, c0, temp, mu, times, hot, orders, stride):
    """Same as ``_cumulant_chunk`` for continuous pole-sum reservoirs (``fcs_continuum``,
    compiled there; the model stays concrete)."""
    k = _statistics.cumulants(model, np.asarray(times), c0, temp, mu, quantity="heat",
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
    reservoir β the bath terms for each (T_β, μ_β) value pair of its axes.

    Units: those of the observables (ħ = k_B = 1; currents out of each reservoir)."""
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


# ------------------------------------------------------------------------------------------
# jt.Pade: stage 1 as vmapped batches of models
# ------------------------------------------------------------------------------------------
def pade_chunk(spec: Sweep, flat, cache, memory_budget: float = 5e8):
    """Observables of the configurations ``flat`` with ``spec.pade``: the chunk's models
    (one per parameter point, built by ``jax.vmap`` over ``model_fn``) each run stage 1 and
    stage 2 for their (T, μ, C0) configurations inside one compiled, vmapped program, in
    sub-batches of models bounded by ``memory_budget`` bytes. A ``model_fn`` that cannot be
    traced (e.g. written with NumPy) builds the models one by one instead; they are stacked
    and stage 1 still runs vmapped. Returns (outputs, status, largest Padé error
    estimate)."""
    names = tuple(spec.parameters)
    n, nres = spec.model.n_modes, spec.model.n_reservoirs
    if spec.kind == "samples":
        params, order = np.zeros((1, 0)), np.zeros(1, int)
        c0 = spec.initial_states[flat][None]
        temp = spec.temperature["all"][flat][None]
        mu = spec.chemical_potential["all"][flat][None]
    else:
        par, index, temp, mu = _grid_indices(spec, flat)
        pts, first = np.unique(par, return_index=True)
        inner = len(flat) // len(pts)
        # parameter axes come first and chunks are whole leading rows: each point's
        # configurations are one contiguous block of the same length
        if inner * len(pts) != len(flat) or np.any(par != np.repeat(par[np.sort(first)],
                                                                       inner)):
            raise AssertionError("sweep chunk is not made of whole parameter points")
        order = par[np.sort(first)]
        subs = np.unravel_index(order, tuple(len(v) for v in spec.parameters.values()))
        params = np.stack([np.asarray(spec.parameters[k], float)[subs[i]]
                           for i, k in enumerate(names)], axis=1).reshape(len(order), -1)
        c0 = spec.initial_states[index[:, 0]].reshape(len(order), inner, n, n)
        temp = temp.reshape(len(order), inner, nres)
        mu = mu.reshape(len(order), inner, nres)
    n_pts, inner = c0.shape[:2]
    sub = max(1, min(n_pts, int(memory_budget // _pade_bytes_per_model(spec, inner))))
    pad = -n_pts % sub
    grow = lambda x: np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) if pad else x
    static = (spec.observables, spec.hot, spec.time_stride, spec.cold)
    times = tuple(float(t) for t in spec.times)
    batch = tuple(jnp.asarray(grow(x)) for x in (c0, temp, mu))
    if names and cache.get("model_fn_traceable", True):
        try:  # model_fn under jax.vmap: the models themselves are built as one batch
            out, err = _pade_batch(spec.pade, spec.model_fn, names, jnp.asarray(grow(params)),
                                   *batch, times, static, sub)
            cache["model_fn_traceable"] = True
        except (jax.errors.JAXTypeError, jax.errors.ConcretizationTypeError, TypeError):
            cache["model_fn_traceable"] = False  # e.g. a model_fn written with NumPy
    if not names or not cache.get("model_fn_traceable", True):
        # models built one by one in Python (concrete values), stacked, then vmapped
        models = [spec.model] if not names else [_build_or_none(spec, dict(zip(
            names, p, strict=True)), int(i), cache) for i, p in zip(grow(order), grow(params),
                                                                    strict=True)]
        failed = np.asarray([m is None for m in models])
        models = [spec.model if m is None else m for m in models]
        stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *models)
        out, err = _pade_batch(spec.pade, None, (), stacked, *batch, times, static, sub)
        err = jnp.where(jnp.asarray(failed), -1.0, err)
    out = {k: np.asarray(v)[:n_pts].reshape(n_pts * inner, *v.shape[2:])
           for k, v in out.items()}
    err = np.asarray(err)[:n_pts]
    out = {k: np.where(np.repeat(err < 0, inner).reshape((-1,) + (1,) * (v.ndim - 1)),
                       np.nan, v) for k, v in out.items()}
    status = np.asarray(_status({k: jnp.asarray(v) for k, v in out.items()}))
    status = np.where(np.repeat(err < 0, inner), MODEL_FAILED, status).astype(np.int8)
    return out, status, float(np.max(err, initial=0.0))


def _build_or_none(spec, values, index, cache):
    """model_fn(**values), or None (recorded in cache["errors"] under the parameter point's
    flat index) if the model is invalid."""
    try:
        return spec.model_fn(**{k: float(v) for k, v in values.items()})
    except (ValueError, FloatingPointError) as err:
        cache.setdefault("errors", {})[index] = f"{type(err).__name__}: {err}"
        return None


def _pade_bytes_per_model(spec, inner):
    """Rough peak intermediates of one model's Padé stage 1 + 2 (both pole sets)."""
    model, pade = spec.model, spec.pade
    n, nt = model.n_modes, len(spec.times)
    terms = sum(len(r.terms) for r in model.reservoirs)
    poles = sum(len(d.lorentzian_terms()) for r in model.reservoirs for d, _ in r.terms)
    q = terms * (pade.n_pade + 1)
    m = n + poles
    rows = m + 2 * terms
    return 2 * 16 * nt * inner * (q * (2 * n + rows + 4) + 4 * m * m + rows * n) * 2


def _model_ok(model):
    """Whether a (traced) model is valid: the constructors' value checks need concrete
    values, so the models built under ``jax.vmap`` are checked here instead: finite Hermitian
    h, T > 0, finite μ and couplings, pole widths > 0 and densities ≥ 0 at their poles'
    centres and half widths."""
    h = model.hamiltonian
    scale = 1.0 + jnp.max(jnp.abs(h))
    ok = jnp.all(jnp.isfinite(h)) & (jnp.max(jnp.abs(h - h.conj().T)) <= 1e-10 * scale)
    for res in model.reservoirs:
        ok &= (res.temperature > 0) & jnp.isfinite(res.chemical_potential)
        for dens, v in res.terms:
            ok &= jnp.all(jnp.isfinite(v))
            for lor in dens.lorentzian_terms():
                w = jnp.asarray(lor.width)
                x = jnp.asarray(lor.center_) + jnp.stack([-w, 0.0 * w, w])
                ok &= (w > 0) & jnp.all(dens(x) >= 0) & jnp.all(jnp.isfinite(dens(x)))
    return ok


@eqx.filter_jit
def _pade_batch(method, model_fn, names, models, c0, temp, mu, times, spec_static, sub):
    """Per model (vmapped, ``sub`` models per ``lax.map`` step): build it (``model_fn`` of
    the parameter values ``models`` (B, k), or ``models`` is a stacked batch of models),
    stage 1 (closure eigendecomposition), stage 2 for its configurations, and the requested
    observables; also the largest Padé error estimate per model."""
    times = np.asarray(times)

    def one(p, c, t, u):
        model = model_fn(**{k: p[i] for i, k in enumerate(names)}) if names else p
        resp = method.response(model, times)
        sol = resp.evaluate(c, t, u)
        ok = _model_ok(model)
        out = jax.tree_util.tree_map(lambda x: jnp.where(ok, x, jnp.nan),
                                     _observe(sol, spec_static, resp))
        return out, jnp.where(ok, jnp.max(sol.error_estimate), -1.0)

    out, err = jax.lax.map(lambda a: jax.vmap(one)(*a), _batched((models, c0, temp, mu), sub))
    merge = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
    return jax.tree_util.tree_map(merge, out), merge(err)
