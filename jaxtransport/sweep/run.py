"""Sweep execution: memory-bounded chunks, sharding over local devices, Zarr storage with
completion markers, resume, multi-process chunk split."""

from __future__ import annotations

import dataclasses
import math
import time as _time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import outside_planned, readable_errors, require_x64
from .evaluate import (
    block_fast,
    block_parts,
    continuum_cumulant_chunk,
    cumulant_chunk,
    fast_path,
    grid_chunk,
    grid_chunk_fast,
    grid_indices,
    grid_parts,
    hot_heat_parts,
    sample_chunk,
    spec_reservoir_values,
)
from .spec import CUMULANTS, MODEL_FAILED, OK, OUT_OF_RANGE, Sweep


# ------------------------------------------------------------------------------------------
# execution
# ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    """What ``run_sweep`` did: the store path, chunk counts, timings and throughput.

    Units: ``seconds`` and ``stage1_seconds`` in wall-clock seconds, throughputs in
    configurations per second (not physical units)."""

    path: str
    n_configurations: int
    n_chunks: int
    computed_chunks: list
    seconds: float
    configurations_per_second: float
    best: dict | None = None
    stage1_seconds: float = 0.0  # of ``seconds``: stage 1 and per-axis parts
    errors: dict | None = None  # model-parameter points that failed: index -> message
    damaged: dict | None = None  # chunks found damaged (and recomputed): index -> why
    missing: list | None = None  # chunks still not computed at the end (incomplete store)
    notes: list | None = None  # e.g. the store's chunk size used instead of the requested

    @property
    def complete(self) -> bool:
        """Every chunk computed and verified (only then NetCDF and ``best`` exist)."""
        return not self.missing

    def report(self) -> str:
        """Lines on damaged/recomputed chunks and, for an incomplete store, what is missing."""
        lines = [f"note: {n}" for n in self.notes or ()]
        for c, why in sorted((self.damaged or {}).items()):
            lines.append(f"chunk {c} was damaged ({why}): "
                         + ("recomputed" if c in self.computed_chunks else "reset, not yet "
                            "recomputed"))
        if self.missing:
            shown = ", ".join(map(str, self.missing[:20])) + (" ..." if len(self.missing) > 20
                                                              else "")
            lines.append(f"incomplete store: {self.n_chunks - len(self.missing)} of "
                         f"{self.n_chunks} chunks done (missing: {shown}); no NetCDF export "
                         "or summary until it is complete (run again with --resume).")
        return "\n".join(lines)

    @property
    def evaluation_configurations_per_second(self) -> float:
        """Throughput of the chunk evaluations alone (stage 1 excluded)."""
        dt = self.seconds - self.stage1_seconds
        n = self.n_configurations * len(self.computed_chunks) / max(self.n_chunks, 1)
        return n / dt if dt > 0 else float("nan")

    def open(self):
        """The results as an ``xarray.Dataset`` (lazy, from the Zarr store)."""
        from ..storage import open_store

        return open_store(self.path)


def chunk_rows(spec: Sweep, memory_budget: float, chunk_size: int | None) -> int:
    """Leading-axis rows per chunk: explicit ``chunk_size`` (configurations, rounded to whole
    rows) or from ``memory_budget`` bytes (outputs + per-configuration intermediates).

    Units: ``memory_budget`` in bytes; the result is a (dimensionless) number of rows."""
    rest = spec.size // spec.shape[0]
    if chunk_size is not None:
        if not (isinstance(chunk_size, int | np.integer) and chunk_size >= 1):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
        return max(1, min(spec.shape[0], chunk_size // rest))
    per_config = _bytes_per_config(spec)
    rows = int(memory_budget // max(1, per_config * rest))
    if rows < 1:
        raise ValueError(
            f"one leading-axis row of the sweep ({rest} configurations, ~{per_config * rest:.3g}"
            f" bytes) exceeds memory_budget={memory_budget:.3g} bytes: reorder the axes "
            "(put a long axis first) or raise the budget.")
    return min(spec.shape[0], rows)


def _bytes_per_config(spec):
    nt, m, n = len(spec.times), spec.model.n_reservoirs, spec.model.n_modes
    out = sum(8 * math.prod(shape) for _, shape in spec.variables().values()) + 1
    if fast_path(spec):
        return out + 8  # outputs; the sub-batches bound the temporaries
    if "heat_cumulants" in spec.observables:  # a whole chunk at once: D×D series per config
        d = n + _n_bath_modes(spec)
        out += 16 * d * d * (max(spec.cumulant_orders) + 4) + 16 * nt * max(spec.cumulant_orders)
    nn = 0 if spec.currents_only else n * n  # a CurrentSolution has no C(t)
    if "conductance_g4" in spec.observables:  # two more evaluations per configuration
        out += 2 * 16 * nt * (nn + 4 * m + 2)
    return out + 16 * nt * (nn + 4 * m + 2)  # outputs + final per-config Solution arrays


def _n_bath_modes(spec):
    if spec.cumulant_method == "continuum":  # auxiliary modes: small, bounded by the chunk
        return 0
    return sum(len(g[0]) for g in spec.cumulant_method.grid(spec.model))


def _sub_batch(spec, rows_configs, budget):
    if fast_path(spec):
        per = 8 * len(spec.times) * 4  # one real trace and its temporaries
    else:
        nn = 0 if spec.currents_only else spec.model.n_modes ** 2
        per = 16 * len(spec.times) * (nn + 4 * spec.model.n_reservoirs + 2)
        per *= 4  # intermediates of the sum and the derived observables
    sub = max(1, min(rows_configs, int(budget // (4 * per))))
    return sub


@readable_errors()
def run_sweep(spec: Sweep, path, *, resume: bool = False, memory_budget: float = 2e9,
              chunk_size: int | None = None, devices=None, process_index: int = 0,
              process_count: int = 1, progress: bool | None = None, config_text: str = "",
              export_netcdf: bool = True, _stop_after: int | None = None) -> SweepResult:
    """Run ``spec`` into the Zarr store at ``path`` (see the module docstring).

    - ``resume``: continue an existing store (only missing chunks are computed); without it
      an existing store is an error.
    - ``memory_budget``: bytes for one chunk's outputs and intermediates (default 2 GB; the
      stage-1 kernels of the current model, K·T·(n² + 4M + 2)·M complex numbers, come on top);
      ``chunk_size``: configurations per chunk instead (rounded to whole leading-axis rows).
    - ``devices``: the local devices to shard each chunk over (default all local devices).
    - ``process_index``/``process_count``: this process takes chunks i with
      i % process_count == process_index; process 0 writes the store template.
    - ``progress``: tqdm bar over chunks (None: only on a terminal).
    Returns a ``SweepResult``; the data: ``result.open()`` (xarray).

    Units: ``memory_budget`` in bytes; the stored observables in the units of ``jt.Sweep`` (ħ =
    k_B = 1; currents out of each reservoir).
    """
    from tqdm.auto import tqdm

    from .. import storage

    if not (0 <= process_index < process_count):
        raise ValueError(f"process_index must be in [0, process_count), got {process_index} "
                         f"of {process_count}.")
    require_x64("run_sweep")
    rows = chunk_rows(spec, memory_budget, chunk_size)
    rest = spec.size // spec.shape[0]
    existed = Path(path).exists()
    store = storage.SweepStore(path, spec, rows, config_text)
    store.open_or_create(resume=resume, create=process_index == 0)
    rows, n_chunks = store.rows, store.n_chunks  # the store's chunking (fixed at creation)
    damaged = store.verify(repair=True) if existed else {}
    mine = [c for c in range(n_chunks) if c % process_count == process_index]
    todo = [c for c in mine if not store.is_done(c)]
    devices = list(devices) if devices is not None else jax.local_devices()
    ndev = len(devices)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("sweep",))
    row_shard = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("sweep"))
    cfg_per_chunk = rows * rest
    padded = -(-cfg_per_chunk // ndev) * ndev
    sub = _sub_batch(spec, padded // ndev, memory_budget)
    while (padded // ndev) % sub:
        sub -= 1
    static = (spec.observables, spec.hot, spec.time_stride, spec.cold)
    t_start = _time.perf_counter()
    computed = []
    cache: dict = {}
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), disable=None if progress is None
               else not progress, desc="sweep chunks", unit="chunk")
    n_cfg = 0
    for c in todo:
        lo, hi = c * rows * rest, min(spec.size, (c + 1) * rows * rest)
        flat = np.arange(lo, hi)
        tic = _time.perf_counter()
        out, status = _run_chunk(spec, flat, padded, row_shard, sub, static, cache)
        store.write_chunk(c, out, status)
        if not computed and not bar.disable:  # where the first minute goes
            s1 = cache.get("stage1_s", 0.0)
            bar.write(f"sweep: stage 1 (kernels) {s1:.2f} s; first chunk incl. tracing + "
                      f"compilation {_time.perf_counter() - tic - s1:.2f} s")
        computed.append(c)
        n_cfg += hi - lo
        bar.update(1)
        if _stop_after is not None and len(computed) >= _stop_after:
            break
    bar.close()
    seconds = _time.perf_counter() - t_start
    missing = store.missing()
    if not missing:  # complete: check every chunk once more before exporting/summarising
        late = store.verify(repair=True)
        damaged.update(late)
        missing = store.missing()
    best = None
    if not missing:
        store.finalise(export_netcdf=export_netcdf)
        best = store.best_reversal()
    return SweepResult(str(path), spec.size, n_chunks, computed, seconds,
                       n_cfg / seconds if seconds > 0 else float("nan"), best,
                       cache.get("stage1_s", 0.0), cache.get("errors"), damaged, missing,
                       store.notes)


def _run_chunk(spec, flat, padded, row_shard, sub, static, cache):
    """Evaluate the configurations ``flat`` (padded to ``padded`` rows, sharded): the engine's
    observables, then the heat cumulants (finite reservoirs) if requested."""
    engine = tuple(o for o in spec.observables if o not in CUMULANTS)
    if engine:
        out, status = _run_engine_chunk(spec, flat, padded, row_shard, sub,
                                        (engine,) + static[1:], cache)
    else:
        out, status = {}, np.full(len(flat), OK, np.int8)
    if "heat_cumulants" in spec.observables:
        k_out, k_status = _run_cumulant_chunk(spec, flat, padded, row_shard, cache)
        out.update(k_out)
        status = np.maximum(status, k_status)
    return out, status


def _run_cumulant_chunk(spec, flat, padded, row_shard, cache):
    """Heat cumulants of the configurations ``flat``: per model-parameter point the finite
    reservoirs of ``spec.cumulant_method``, one sharded batch of ``statistics.cumulants``."""
    pad = lambda x: np.concatenate([x, np.repeat(x[-1:], padded - len(x), axis=0)])
    put = lambda x: jax.device_put(jnp.asarray(pad(x)), row_shard)
    if spec.kind == "samples":
        par = np.zeros(len(flat), int)
        c0 = spec.initial_states[flat]
        temp, mu = spec.temperature["all"][flat], spec.chemical_potential["all"][flat]
    else:
        par, index, temp, mu = grid_indices(spec, flat)
        c0 = spec.initial_states[index[:, 0]]
    times = tuple(float(t) for t in spec.times)
    nt, no = len(spec.stored_times), len(spec.cumulant_orders)
    out = np.full((len(flat), nt, no), np.nan)
    status = np.full(len(flat), MODEL_FAILED, np.int8)
    for p in np.unique(par):
        sel = np.nonzero(par == p)[0]
        modes = _finite_modes(spec, int(p), cache)
        if modes is None:  # the model of this parameter point failed (recorded in errors)
            continue
        chunk = continuum_cumulant_chunk if spec.cumulant_method == "continuum" \
            else cumulant_chunk
        o, s = chunk(modes, put(c0[sel]), put(temp[sel]), put(mu[sel]), times,
                               spec.hot, spec.cumulant_orders, spec.time_stride)
        o, s = _to_host(o, s, len(sel))
        out[sel], status[sel] = o["heat_cumulants"], s
    return {"heat_cumulants": out}, status


def _finite_modes(spec, p, cache):
    """FiniteModes of the model at parameter point p (None if that model is invalid)."""
    from ..statistics import FiniteModes

    key = ("modes", p)
    if key not in cache:
        for old in [k for k in cache if isinstance(k, tuple) and k[0] == "modes"]:
            del cache[old]  # one model's modes at a time
        try:
            model = spec.model_fn(**_param_values(spec, p)) if spec.parameters else spec.model
            cache[key] = (model if spec.cumulant_method == "continuum"
                          else FiniteModes.from_model(model, spec.cumulant_method))
        except (ValueError, FloatingPointError) as err:
            cache.setdefault("errors", {})[p] = f"{type(err).__name__}: {err}"
            cache[key] = None
    return cache[key]


def _run_engine_chunk(spec, flat, padded, row_shard, sub, static, cache):
    """The engine's observables of the configurations ``flat``."""
    nvalid = len(flat)
    if spec.pade is not None:  # jt.Pade: stage 1 as vmapped batches of models
        return _pade_engine_chunk(spec, flat, cache)
    pad = lambda x: np.concatenate([x, np.repeat(x[-1:], padded - len(x), axis=0)])
    put = lambda x: jax.device_put(jnp.asarray(pad(x)), row_shard)
    if spec.kind == "samples":
        resp = _response(spec, spec.model, cache, key=None)
        temp, mu = spec.temperature["all"][flat], spec.chemical_potential["all"][flat]
        out, status = sample_chunk(resp, put(spec.initial_states[flat]), put(temp), put(mu),
                                    static, sub)
        out, status = _to_host(out, status, nvalid)
        return out, _range_status(resp, status, temp, mu)
    if spec.parameters:
        par, index, temp, mu = grid_indices(spec, flat)
    else:  # one model; the per-configuration indices only if a gather path needs them
        par, index, temp, mu = np.zeros(len(flat), int), None, None, None
    outs, stats = [], []
    for p in np.unique(par):  # stage 1 per model-parameter point in this chunk
        sel = np.nonzero(par == p)[0]
        resp, parts = _response_and_parts(spec, int(p), cache)
        if resp is None:  # the model of this parameter point failed: record it, go on
            outs.append(_failed(spec, len(sel)))
            stats.append(np.full(len(sel), MODEL_FAILED, np.int8))
            continue
        if fast_path(spec) and ("q", int(p)) not in cache:
            cache[("q", int(p))] = hot_heat_parts(spec, resp, parts)
        if fast_path(spec) and not spec.parameters and row_shard.mesh.size == 1:
            rest = spec.size // spec.shape[0]  # the chunk is whole leading rows: a block
            r0, r1 = flat[0] // rest, flat[-1] // rest + 1
            rows_p, const_p = block_parts(spec, cache[("q", int(p))], r0, r1)
            if rows_p:
                o, s = block_fast(rows_p, const_p, resp.times, spec.observables)
                o, s = _to_host(o, s, len(sel))
                outs.append(o)
                stats.append(_grid_range_status(spec, resp, s, flat[sel], int(p), cache))
                continue
        if index is None:
            _, index, temp, mu = grid_indices(spec, flat)
        if fast_path(spec):
            o, s = grid_chunk_fast(cache[("q", int(p))], put(index[sel]), static, sub,
                                    resp.times)
        else:
            o, s = grid_chunk(resp, parts, put(index[sel]), put(temp[sel]), put(mu[sel]),
                               static, sub)
        o, s = _to_host(o, s, len(sel))
        outs.append(o)
        stats.append(_grid_range_status(spec, resp, s, flat[sel], int(p), cache))
    out = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
    order = np.argsort(np.concatenate([np.nonzero(par == p)[0] for p in np.unique(par)]),
                       kind="stable")
    return {k: v[order] for k, v in out.items()}, np.concatenate(stats)[order]


def _grid_range_status(spec, resp, status, flat, p, cache):
    """``_range_status`` for grid configurations ``flat``: each reservoir's (T, μ) axis values
    are checked once per model; only if one is out of range are the configurations checked."""
    key = ("in_range", p)
    if key not in cache:
        t0 = np.asarray(spec.model.temperatures, float)
        m0 = np.asarray(spec.model.chemical_potentials, float)
        rows_t, rows_m = [t0], [m0]
        for b in range(len(t0)):  # (T_b, μ_b) pairs, the other reservoirs at the model's
            t_vals, m_vals = spec_reservoir_values(spec, b)
            for t in t_vals:
                for m in m_vals:
                    rows_t.append(np.where(np.arange(len(t0)) == b, t, t0))
                    rows_m.append(np.where(np.arange(len(m0)) == b, m, m0))
        cache[key] = not outside_planned(resp, np.stack(rows_t), np.stack(rows_m)).any()
    if cache[key]:
        return status
    _, _, temp, mu = grid_indices(spec, flat)
    return _range_status(resp, status, temp, mu)


def _range_status(resp, status, temp, mu):
    """``status`` with OUT_OF_RANGE where (T, μ) lie outside the range ``resp`` was refined
    for (its numbers there carry no error guarantee)."""
    return np.where(outside_planned(resp, temp, mu), OUT_OF_RANGE, status).astype(np.int8)


def _pade_engine_chunk(spec, flat, cache):
    """``evaluate.pade_chunk``, with a warning when a Padé error estimate exceeds the
    tolerance the pole count was chosen for (not for a user-fixed ``n_pade``)."""
    import warnings

    from .evaluate import pade_chunk

    out, status, err = pade_chunk(spec, flat, cache)
    cache["pade_error_estimate"] = max(err, cache.get("pade_error_estimate", 0.0))
    tol = spec.pade_tolerance
    if tol is not None and not err <= tol:
        warnings.warn(f"sweep: the Padé error estimate reaches {err:.2g} in this chunk, above "
                      f"the tolerance {tol:g} its {spec.pade.n_pade} poles were chosen for; "
                      "pass method=jt.Pade(n_pade=...) with more poles.", stacklevel=3)
    return out, status


def _to_host(out, status, nvalid):
    out = {k: np.asarray(jax.device_get(v))[:nvalid] for k, v in out.items()}
    return out, np.asarray(jax.device_get(status))[:nvalid]


def _failed(spec, num):
    return {k: np.full((num,) + shape, np.nan) for k, (_, shape) in spec.variables().items()}


def _param_values(spec, p):
    names = list(spec.parameters)
    if not names:
        return {}
    sub = np.unravel_index(p, tuple(len(v) for v in spec.parameters.values()))
    return {k: float(spec.parameters[k][i]) for k, i in zip(names, sub, strict=True)}


def _response(spec, model, cache, key):
    if key not in cache:
        from ..response.api import response

        t0 = _time.perf_counter()
        cache[key] = jax.block_until_ready(response(
            model, spec.times, spec.method_for(model),
            observables="currents" if spec.currents_only else "all"))
        cache["stage1_s"] = cache.get("stage1_s", 0.0) + _time.perf_counter() - t0
    return cache[key]


def _response_and_parts(spec, p, cache):
    key = ("parts", p)
    if key not in cache:
        for old in [k for k in cache if isinstance(k, tuple) and k[0] in ("parts", "resp", "q")]:
            del cache[old]  # keep one model's kernels in memory at a time
        try:  # invalid or unsolvable models (validation errors) are recorded, not raised
            model = spec.model_fn(**_param_values(spec, p)) if spec.parameters else spec.model
            resp = _response(spec, model, cache, ("resp", p))
        except (ValueError, FloatingPointError) as err:
            cache.setdefault("errors", {})[p] = f"{type(err).__name__}: {err}"
            cache[key] = (None, None)
            return cache[key]
        if model.n_modes != spec.model.n_modes or model.n_reservoirs != spec.model.n_reservoirs:
            raise ValueError("model_fn must keep the number of modes and reservoirs.")
        t0 = _time.perf_counter()
        cache[key] = jax.block_until_ready((resp, grid_parts(spec, resp)))
        cache["stage1_s"] = cache.get("stage1_s", 0.0) + _time.perf_counter() - t0
    return cache[key]
