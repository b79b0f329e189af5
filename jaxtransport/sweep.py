r"""Parameter sweeps at scale: cartesian grids or sample lists of (T, μ, C0, model parameters).

Every first moment is a sum of a C0 term, one term per reservoir β depending only on
(T_β, μ_β), and a constant (physics.md §2). On a cartesian grid each term is computed once per
axis value (O(N_1 + N_2 + …) kernel contractions) and the grid is formed as an outer *sum*,
fused with the reductions kept (e.g. the minimum of the hot reservoir's heat current over
time). Non-cartesian samples use per-configuration contractions (GEMMs, ``Response.evaluate``).
Model-parameter axes (e.g. a level energy) rerun stage 1 once per value.

Execution (``run_sweep``): the grid is flattened, split into chunks along its leading axis
(sized from a memory budget), each chunk evaluated by one compiled, vmapped function, sharded
over the local devices (rows padded to a multiple of the device count; padded rows are never
stored), written to a Zarr store (``jaxtransport.storage``) with a completion marker after
each chunk; ``resume=True`` computes only missing chunks. Processes can split the chunks
(``process_index``/``process_count``) and fill one store.

Units ħ = k_B = 1. Currents are OUT OF each reservoir; ``reversed_heat`` is the heat that
flowed INTO the hot reservoir, ∫ max(−J^Q_hot, 0) dt ≥ 0.
"""

from __future__ import annotations

import dataclasses
import math
import time as _time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .response.base import add_terms, assemble, bath_terms, offset_terms, state_terms

SUMMARIES = ("min_heat_current", "min_heat_current_time", "reversed_heat",
             "final_heat_current")
TRACES = ("heat_current", "particle_current", "energy_current", "coupling_energy",
          "symmetric_heat_current", "occupation")
DEFAULT_OBSERVABLES = ("min_heat_current", "min_heat_current_time", "reversed_heat")

# status codes stored per configuration
OK, NON_FINITE, MODEL_FAILED = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class Axis:
    """One sweep dimension: ``name`` and its coordinate ``values`` (1-D)."""

    name: str
    values: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class Sweep:
    """A sweep specification (host-side, validated at construction; use the constructors
    ``Sweep.grid``, ``Sweep.samples``, ``Sweep.random``).

    ``axes`` are the stored dimensions in order. For a grid: ``parameter_<name>`` axes first
    (stage 1 per value), then ``temperature_<α>``, ``chemical_potential_<α>``,
    ``initial_state``. For samples: one ``sample`` axis.
    """

    kind: str  # "grid" | "samples"
    model: Any
    times: np.ndarray
    axes: tuple[Axis, ...]
    observables: tuple[str, ...]
    hot: int
    time_stride: int
    method: Any
    temperature: dict  # grid: α -> values; samples: (N, M) array under key "all"
    chemical_potential: dict
    initial_states: np.ndarray  # grid: (S, n, n); samples: (N, n, n)
    parameters: dict  # name -> values
    model_fn: Callable | None

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def grid(cls, model, times, *, temperature: Mapping[int, Sequence[float]] | None = None,
             chemical_potential: Mapping[int, Sequence[float]] | None = None,
             initial_states=None, parameters: Mapping[str, Sequence[float]] | None = None,
             model_fn: Callable | None = None, observables=DEFAULT_OBSERVABLES, hot: int = 0,
             time_stride: int = 1, method=None) -> Sweep:
        """Cartesian grid. ``temperature={α: values}`` (reservoir index → values; reservoirs
        not listed keep the model's value), likewise ``chemical_potential``;
        ``initial_states``: correlation matrices (S, n, n) (default: the empty state);
        ``parameters={name: values}`` with ``model_fn(**{name: value}) -> Model`` (stage 1
        per value). ``hot``: the reservoir whose heat current the summaries follow."""
        times = _check_times(times)
        nres, n = model.n_reservoirs, model.n_modes
        temperature = _check_axis_map(temperature, nres, "temperature", positive=True)
        chemical_potential = _check_axis_map(chemical_potential, nres, "chemical_potential")
        c0 = _check_states(initial_states, n)
        parameters = {str(k): _as_values(v, f"parameter {k!r}") for k, v in
                      (parameters or {}).items()}
        if parameters and model_fn is None:
            raise ValueError("parameters= needs model_fn(**params) -> Model to rebuild the "
                             "model for each value.")
        axes = [Axis(f"parameter_{k}", v) for k, v in parameters.items()]
        axes += [Axis(f"temperature_{a}", v) for a, v in temperature.items()]
        axes += [Axis(f"chemical_potential_{a}", v) for a, v in chemical_potential.items()]
        axes.append(Axis("initial_state", np.arange(len(c0))))
        return cls._make("grid", model, times, tuple(axes), observables, hot, time_stride,
                         method, temperature, chemical_potential, c0, parameters, model_fn)

    @classmethod
    def samples(cls, model, times, *, temperature, chemical_potential=None, initial_states,
                observables=DEFAULT_OBSERVABLES, hot: int = 0, time_stride: int = 1,
                method=None) -> Sweep:
        """Explicit list of N configurations: ``temperature`` (N, M), ``chemical_potential``
        (N, M) (default: the model's), ``initial_states`` (N, n, n)."""
        times = _check_times(times)
        nres, n = model.n_reservoirs, model.n_modes
        temp = np.asarray(temperature, dtype=float)
        if temp.ndim != 2 or temp.shape[1] != nres:
            raise ValueError(f"temperature must have shape (N, {nres}), got {temp.shape}.")
        if not np.all(np.isfinite(temp)) or np.any(temp <= 0):
            raise ValueError("temperatures must be finite and > 0.")
        num = temp.shape[0]
        mu = (np.broadcast_to(np.asarray(model.chemical_potentials), (num, nres))
              if chemical_potential is None else np.asarray(chemical_potential, dtype=float))
        if mu.shape != (num, nres) or not np.all(np.isfinite(mu)):
            raise ValueError(f"chemical_potential must be finite with shape ({num}, {nres}), "
                             f"got {mu.shape}.")
        c0 = _check_states(initial_states, n)
        if len(c0) != num:
            raise ValueError(f"initial_states must have {num} entries (one per sample), got "
                             f"{len(c0)}.")
        return cls._make("samples", model, times, (Axis("sample", np.arange(num)),),
                         observables, hot, time_stride, method, {"all": temp},
                         {"all": np.array(mu)}, c0, {}, None)

    @classmethod
    def random(cls, model, times, num: int, *, seed: int = 0, temperature_range=None,
               chemical_potential_range=None, **kw) -> Sweep:
        """``num`` random samples (fixed ``seed``): T_α uniform in ``temperature_range[α]``
        (default: the model's T_α ×[0.5, 1.5]), μ_α uniform in ``chemical_potential_range``
        (default: fixed at the model's), C0 = random physical fermionic Gaussian states
        (Haar-random unitary, occupations uniform in [0, 1])."""
        if not (isinstance(num, int | np.integer) and num >= 1):
            raise ValueError(f"num must be a positive integer, got {num!r}.")
        rng = np.random.default_rng(seed)
        nres, n = model.n_reservoirs, model.n_modes
        t0 = np.asarray(model.temperatures)
        tr = np.asarray(temperature_range if temperature_range is not None
                        else np.stack([0.5 * t0, 1.5 * t0], axis=1), dtype=float)
        temp = rng.uniform(tr[:, 0], tr[:, 1], size=(num, nres))
        mu = None
        if chemical_potential_range is not None:
            mr = np.asarray(chemical_potential_range, dtype=float)
            mu = rng.uniform(mr[:, 0], mr[:, 1], size=(num, nres))
        return cls.samples(model, times, temperature=temp, chemical_potential=mu,
                           initial_states=random_states(n, num, rng), **kw)

    @classmethod
    def _make(cls, kind, model, times, axes, observables, hot, time_stride, method, temperature,
              chemical_potential, c0, parameters, model_fn):
        observables = tuple(observables)
        unknown = [o for o in observables if o not in SUMMARIES + TRACES]
        if unknown or not observables:
            raise ValueError(f"unknown observables {unknown or '(none given)'}; allowed: "
                             f"{', '.join(SUMMARIES + TRACES)}.")
        if not (0 <= int(hot) < model.n_reservoirs):
            raise ValueError(f"hot must be a reservoir index in [0, {model.n_reservoirs}), "
                             f"got {hot}.")
        if not (isinstance(time_stride, int | np.integer) and time_stride >= 1):
            raise ValueError(f"time_stride must be an integer >= 1, got {time_stride!r}.")
        return cls(kind, model, times, axes, observables, int(hot), int(time_stride), method,
                   temperature, chemical_potential, c0, parameters, model_fn)

    # ---- shapes -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def stored_times(self) -> np.ndarray:
        return self.times[:: self.time_stride]

    def variables(self) -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
        """Stored data variables: name -> (extra dims, extra shape) after the sweep dims."""
        nt, m, n = len(self.stored_times), self.model.n_reservoirs, self.model.n_modes
        out = {}
        for o in self.observables:
            if o in SUMMARIES:
                out[o] = ((), ())
            elif o == "occupation":
                out[o] = (("time", "mode"), (nt, n))
            else:
                out[o] = (("time", "reservoir"), (nt, m))
        return out

    def method_for(self, model):
        """The stage-1 method, its temperature/μ ranges widened to cover the sweep."""
        from .response.continuum import Continuum

        method = self.method if self.method is not None else Continuum()
        if not isinstance(method, Continuum) or method.plan is not None:
            return method
        t_all = np.concatenate([np.ravel(v) for v in self.temperature.values()]
                               + [np.asarray(model.temperatures)])
        m_all = np.concatenate([np.ravel(v) for v in self.chemical_potential.values()]
                               + [np.asarray(model.chemical_potentials)])
        t_rng = method.temperature_range or (float(t_all.min()), float(t_all.max()))
        m_rng = method.chemical_potential_range or (float(m_all.min()), float(m_all.max()))
        return dataclasses.replace(method, temperature_range=t_rng,
                                   chemical_potential_range=m_rng)


# ------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------
def _observe(sol, spec_static):
    """Requested observables of a batch of Solutions (leading axis = configurations)."""
    observables, hot, stride = spec_static
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
        else:
            out[o] = getattr(sol, o)[..., ::stride, :]
    return out


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
        return _observe(sol, spec_static)

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
        return _observe(assemble(resp, terms, t, m), spec_static)

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
    sizes = dict(zip(names, spec.shape))
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
                                                jnp.asarray(mm)[:, None])[:, 0]
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
# execution
# ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    """What ``run_sweep`` did: the store path, chunk counts, timings and throughput."""

    path: str
    n_configurations: int
    n_chunks: int
    computed_chunks: list
    seconds: float
    configurations_per_second: float
    best: dict | None = None
    stage1_seconds: float = 0.0  # of ``seconds``: stage 1 and per-axis parts
    errors: dict | None = None  # model-parameter points that failed: index -> message

    @property
    def evaluation_configurations_per_second(self) -> float:
        """Throughput of the chunk evaluations alone (stage 1 excluded)."""
        dt = self.seconds - self.stage1_seconds
        n = self.n_configurations * len(self.computed_chunks) / max(self.n_chunks, 1)
        return n / dt if dt > 0 else float("nan")

    def open(self):
        """The results as an ``xarray.Dataset`` (lazy, from the Zarr store)."""
        from .storage import open_store

        return open_store(self.path)


def random_states(n: int, num: int, rng) -> np.ndarray:
    """``num`` random physical fermionic correlation matrices C = U diag(ν) U† (Haar U,
    ν uniform in [0, 1])."""
    z = rng.normal(size=(num, n, n)) + 1j * rng.normal(size=(num, n, n))
    q, r = np.linalg.qr(z)
    q = q * (np.diagonal(r, axis1=1, axis2=2) / np.abs(np.diagonal(r, axis1=1, axis2=2)))[
        :, None, :]
    nu = rng.uniform(0.0, 1.0, size=(num, n))
    c = np.einsum("bij,bj,bkj->bik", q, nu, q.conj())
    return 0.5 * (c + np.conj(np.swapaxes(c, 1, 2)))


def chunk_rows(spec: Sweep, memory_budget: float, chunk_size: int | None) -> int:
    """Leading-axis rows per chunk: explicit ``chunk_size`` (configurations, rounded to whole
    rows) or from ``memory_budget`` bytes (outputs + per-configuration intermediates)."""
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
    if _fast_path(spec):
        return out + 8  # outputs; the sub-batches bound the temporaries
    return out + 16 * nt * (n * n + 4 * m + 2)  # outputs + final per-config Solution arrays


def _sub_batch(spec, rows_configs, budget):
    if _fast_path(spec):
        per = 8 * len(spec.times) * 4  # one real trace and its temporaries
    else:
        per = 16 * len(spec.times) * (spec.model.n_modes ** 2 + 4 * spec.model.n_reservoirs
                                      + 2)
        per *= 4  # intermediates of the sum and the derived observables
    sub = max(1, min(rows_configs, int(budget // (4 * per))))
    return sub


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
    """
    from tqdm.auto import tqdm

    from . import storage

    if not (0 <= process_index < process_count):
        raise ValueError(f"process_index must be in [0, process_count), got {process_index} "
                         f"of {process_count}.")
    rows = chunk_rows(spec, memory_budget, chunk_size)
    rest = spec.size // spec.shape[0]
    n_chunks = -(-spec.shape[0] // rows)
    store = storage.SweepStore(path, spec, rows, config_text)
    store.open_or_create(resume=resume, create=process_index == 0)
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
    static = (spec.observables, spec.hot, spec.time_stride)
    t_start = _time.perf_counter()
    computed = []
    cache: dict = {}
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), disable=None if progress is None
               else not progress, desc="sweep chunks", unit="chunk")
    n_cfg = 0
    for c in todo:
        lo, hi = c * rows * rest, min(spec.size, (c + 1) * rows * rest)
        flat = np.arange(lo, hi)
        out, status = _run_chunk(spec, flat, padded, row_shard, sub, static, cache)
        store.write_chunk(c, out, status)
        computed.append(c)
        n_cfg += hi - lo
        bar.update(1)
        if _stop_after is not None and len(computed) >= _stop_after:
            break
    bar.close()
    seconds = _time.perf_counter() - t_start
    complete = all(store.is_done(c) for c in range(n_chunks))
    if complete:
        store.finalise(export_netcdf=export_netcdf)
    best = store.best_reversal() if complete else None
    return SweepResult(str(path), spec.size, n_chunks, computed, seconds,
                       n_cfg / seconds if seconds > 0 else float("nan"), best,
                       cache.get("stage1_s", 0.0), cache.get("errors"))


def _run_chunk(spec, flat, padded, row_shard, sub, static, cache):
    """Evaluate the configurations ``flat`` (padded to ``padded`` rows, sharded)."""
    nvalid = len(flat)
    pad = lambda x: np.concatenate([x, np.repeat(x[-1:], padded - len(x), axis=0)])
    put = lambda x: jax.device_put(jnp.asarray(pad(x)), row_shard)
    if spec.kind == "samples":
        resp = _response(spec, spec.model, cache, key=None)
        out, status = _sample_chunk(resp, put(spec.initial_states[flat]),
                                    put(spec.temperature["all"][flat]),
                                    put(spec.chemical_potential["all"][flat]), static, sub)
        return _to_host(out, status, nvalid)
    par, index, temp, mu = _grid_indices(spec, flat)
    outs, stats = [], []
    for p in np.unique(par):  # stage 1 per model-parameter point in this chunk
        sel = np.nonzero(par == p)[0]
        resp, parts = _response_and_parts(spec, int(p), cache)
        if resp is None:  # the model of this parameter point failed: record it, go on
            outs.append(_failed(spec, len(sel)))
            stats.append(np.full(len(sel), MODEL_FAILED, np.int8))
            continue
        if _fast_path(spec) and ("q", int(p)) not in cache:
            cache[("q", int(p))] = _hot_heat_parts(spec, resp, parts)
        if _fast_path(spec) and not spec.parameters and row_shard.mesh.size == 1:
            rest = spec.size // spec.shape[0]  # the chunk is whole leading rows: a block
            r0, r1 = flat[0] // rest, flat[-1] // rest + 1
            rows_p, const_p = _block_parts(spec, cache[("q", int(p))], r0, r1)
            if rows_p:
                o, s = _block_fast(rows_p, const_p, resp.times, spec.observables)
                o, s = _to_host(o, s, len(sel))
                outs.append(o)
                stats.append(s)
                continue
        if _fast_path(spec):
            o, s = _grid_chunk_fast(cache[("q", int(p))], put(index[sel]), static, sub,
                                    resp.times)
        else:
            o, s = _grid_chunk(resp, parts, put(index[sel]), put(temp[sel]), put(mu[sel]),
                               static, sub)
        o, s = _to_host(o, s, len(sel))
        outs.append(o)
        stats.append(s)
    out = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
    order = np.argsort(np.concatenate([np.nonzero(par == p)[0] for p in np.unique(par)]),
                       kind="stable")
    return {k: v[order] for k, v in out.items()}, np.concatenate(stats)[order]


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
    return {k: float(spec.parameters[k][i]) for k, i in zip(names, sub)}


def _response(spec, model, cache, key):
    if key not in cache:
        from .response.base import response

        t0 = _time.perf_counter()
        cache[key] = jax.block_until_ready(response(model, spec.times, spec.method_for(model)))
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


def _as_values(v, name):
    arr = np.atleast_1d(np.asarray(v, dtype=float))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} values must be a non-empty 1-D list of finite numbers, got "
                         f"{v!r}.")
    return arr


def _check_axis_map(m, nres, name, positive=False):
    out = {}
    for k, v in (m or {}).items():
        try:
            a = int(k)
        except (TypeError, ValueError):
            raise ValueError(f"{name} keys must be reservoir indices, got {k!r}.") from None
        if not 0 <= a < nres:
            raise ValueError(f"{name}: reservoir index {a} out of range [0, {nres}).")
        vals = _as_values(v, f"{name}[{a}]")
        if positive and np.any(vals <= 0):
            raise ValueError(f"{name}[{a}] values must be > 0, got {vals}.")
        out[a] = vals
    return out


def _check_states(states, n):
    if states is None:
        return np.zeros((1, n, n), complex)
    from .state import GaussianState

    if isinstance(states, GaussianState):
        states = [states]
    if isinstance(states, list | tuple) and states and isinstance(states[0], GaussianState):
        states = [np.asarray(s.correlation) for s in states]
    c = np.asarray(states, dtype=complex)
    if c.ndim == 2:
        c = c[None]
    if c.ndim != 3 or c.shape[1:] != (n, n):
        raise ValueError(f"initial_states must be correlation matrices of shape (S, {n}, {n}), "
                         f"got {c.shape}.")
    if not np.allclose(c, np.conj(np.swapaxes(c, 1, 2)), atol=1e-10):
        raise ValueError("initial_states must be Hermitian.")
    ev = np.linalg.eigvalsh(c)
    if ev.min() < -1e-10 or ev.max() > 1 + 1e-10:
        raise ValueError(f"initial_states must satisfy 0 <= C0 <= 1 (fermions); eigenvalues "
                         f"range over [{ev.min():.3g}, {ev.max():.3g}].")
    return c


def _check_times(times):
    from ._validation import check_times

    return np.asarray(check_times(times))


__all__ = ["Axis", "Sweep", "SweepResult", "run_sweep", "grid_parts", "random_states",
           "chunk_rows"]
