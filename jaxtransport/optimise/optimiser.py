r"""``jt.optimise_preparation``: multi-start gradient optimisation of initial preparations.

Stage 1 (``jt.response``) runs once; each optimiser step is a stage-2 evaluation plus its
gradient (cheap: every current is affine in C0, docs/theory.md). All starts are optimised at
once with ``jax.vmap``; ``check_every`` steps run inside one compiled ``lax.scan`` and the host
loop (tqdm progress, convergence test) calls the same compiled program every time: one trace
for the whole optimisation (``OptimisationResult.n_traces``).

Model parameters can be optimised jointly within bounds (``ModelParameters``): reservoir
temperatures and chemical potentials enter stage 2 only (cheap); level energies, hoppings and
coupling strengths change the kernels and re-run stage 1 inside every step: by default
through ``jt.Pade`` with one pole count fixed for the bounds (fermionic pole-sum leads; the
optimum's error estimate is checked), else through a ``Continuum`` plan resolved once on the
initial model (its quadrature error estimate refers to that model, so keep bounds moderate or
re-check the optimum with a fresh ``jt.solve``).

Units ħ = k_B = 1; every current is out of its reservoir (a negative heat current out of the hot
reservoir is heat flowing into it).
"""

from __future__ import annotations

import dataclasses
import math
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._validation import check_times, readable_errors
from ..response import Continuum, Response
from ..response import response as _response
from .drive_parameters import DriveParameters, entry_name
from .model_parameters import STAGE1, ModelParameters, apply_model
from .model_parameters import apply_model as _apply_model  # noqa: F401  (former name)
from .objectives import as_objective
from .parametrisations import AbstractParametrisation, FermionicGaussian, bounded, unbounded


@dataclasses.dataclass
class OptimisationResult:
    """What ``jt.optimise_preparation`` returns.

    - ``state``: the best ``GaussianState``; ``correlation``: its C0 (n, n).
    - ``value``: the best objective value (the quantity minimised, see the objective's docs).
    - ``solution``: the ``Solution`` of the best state (at the optimised model parameters).
    - ``history``: ``xarray.Dataset`` with dims (step, start): ``objective`` (value before the
      step's update), ``gradient_norm``, ``best_objective`` (step) and, if model parameters
      are trained, ``model_parameter`` (step, start, parameter). Attributes include
      ``first_chunk_s`` (compile + first ``check_every`` steps) and ``steps_per_s`` (median
      over the later chunks; one step = all starts).
    - ``params``: best unconstrained parameters ``{"state": ..., "model": ...}``.
    - ``start_values``: best value reached by each start; ``best_start``: its index.
    - ``model``, ``temperature``, ``chemical_potential``: optimised model and reservoir values.
    - ``model_parameters``: {name: optimised value}.
    - ``converged``: the convergence criterion was met before ``steps``; ``n_steps`` run;
      ``convergence``: in words, which criterion was met or not and by how much (the largest
      objective change over the last ``check_every`` steps vs tolerance·max(1, |f|)).
    - ``n_traces``: how often the optimisation loop was traced (1 = no recompilation).
    - ``constraint_violation``: of the best state (0 for unconstrained parametrisations).
    - ``certificate``: for a linear objective with ``FermionicGaussian`` (free or fixed N) or
      ``SlaterDeterminant`` states and no stage-1 parameters trained, the analytic optimum
      (``jt.optimal_linear_preparation`` at the optimised T, μ) ``{"analytic_value": f*,
      "relative_error": |f − f*|/|f*|}``; else None.

    Units: ``value``, ``start_values`` and the history's ``objective`` in the units of the objective
    (e.g. energy per time for a heat current out of a reservoir, ħ = k_B = 1); temperatures and
    chemical potentials in the units of h; C0 dimensionless.
    """

    state: object
    correlation: np.ndarray
    value: float
    solution: object
    history: object
    params: dict
    start_values: np.ndarray
    best_start: int
    model: object
    temperature: np.ndarray
    chemical_potential: np.ndarray
    model_parameters: dict
    converged: bool
    n_steps: int
    n_traces: int
    constraint_violation: float
    response: Response | None = None
    certificate: dict | None = None
    convergence: str = ""


def _make_optimiser(optimiser, learning_rate, steps):
    if isinstance(optimiser, str):
        if optimiser == "adam":
            lr = 0.05 if learning_rate is None else float(learning_rate)
            if not lr > 0:
                raise ValueError(f"learning_rate must be > 0, got {learning_rate}.")
            sched = optax.cosine_decay_schedule(lr, max(int(steps), 1), alpha=1e-3)
            return optax.adam(sched), "adam"
        if optimiser == "lbfgs":
            if learning_rate is not None:
                raise ValueError("lbfgs uses a line search; leave learning_rate=None.")
            return optax.lbfgs(), "lbfgs"
        raise ValueError(
            f"optimiser must be 'adam', 'lbfgs' or an optax.GradientTransformation, got "
            f"{optimiser!r}."
        )
    if isinstance(optimiser, optax.GradientTransformation):
        return optax.with_extra_args_support(optimiser), type(optimiser).__name__
    raise ValueError(
        f"optimiser must be 'adam', 'lbfgs' or an optax.GradientTransformation, got "
        f"{type(optimiser).__name__}."
    )


def _stage1_method(method, model, entries, times):
    """The method re-run inside every step when level energies, hoppings or couplings are
    trained. ``None`` (automatic): ``jt.Pade`` for models it supports (``jaxtransport.solve``
    rule 3), with one pole count fixed for the tolerance at the lowest temperature and the
    strongest couplings the bounds allow (the estimate of the optimum is checked at the end),
    else ``jt.Continuum``. A ``jt.Continuum`` gets its frequency plan resolved once on the
    initial model (reused under jax.grad; its error estimate refers to that model)."""
    from ..response.pade import Pade, pade_for_models
    from ..solve import AUTO_TOLERANCE, pade_supports

    if method is None and pade_supports(model) and getattr(model, "drive", None) is None:
        method = Pade(tolerance=AUTO_TOLERANCE)
    if isinstance(method, Pade):
        x_hi = np.array([hi if kind == "coupling_strengths" else x0
                         for kind, _k, _lo, hi, x0 in entries], float)
        t_min = min([float(np.min(np.asarray(model.temperatures)))]
                    + [lo for kind, _k, lo, _hi, _x0 in entries if kind == "temperature"])
        strongest = apply_model(model, entries, jnp.asarray(x_hi))[0]
        # the steps skip the error estimate (half the work); the optimum is re-evaluated
        # with it (``_with_estimate``)
        return dataclasses.replace(pade_for_models(method, [model, strongest], t_min),
                                   estimate=False)
    method = _covering_method(method, model, entries, None, None)
    if not isinstance(method, Continuum):
        raise ValueError(
            f"optimising level energies, hoppings or couplings needs a method whose stage 1 "
            f"is differentiable: jt.Pade or jt.Continuum (method=None chooses), not "
            f"{type(method).__name__}.")
    return method.resolve(model, times) if method.plan is None else method


def _covering_method(method, model, entries, temperature, chemical_potential):
    """A method whose stage-2 window covers every temperature/chemical potential we evaluate."""
    t_vals = list(np.atleast_1d(np.asarray(model.temperatures if temperature is None
                                           else temperature, float)))
    m_vals = list(np.atleast_1d(np.asarray(model.chemical_potentials if chemical_potential is None
                                           else chemical_potential, float)))
    for kind, _k, lo, hi, _x0 in entries:
        if kind == "temperature":
            t_vals += [lo, hi]
        elif kind == "chemical_potential":
            m_vals += [lo, hi]
    t_rng = (float(min(t_vals)), float(max(t_vals)))
    m_rng = (float(min(m_vals)), float(max(m_vals)))
    if method is None:
        return Continuum(temperature_range=t_rng, chemical_potential_range=m_rng)
    if isinstance(method, Continuum):
        changes = {}
        for field, rng, name in (("temperature_range", t_rng, "temperature"),
                                 ("chemical_potential_range", m_rng, "chemical potential")):
            cur = getattr(method, field)
            if cur is None:
                changes[field] = rng
            elif cur[0] > rng[0] + 1e-12 or cur[1] < rng[1] - 1e-12:
                raise ValueError(
                    f"method.{field} = {cur} does not cover the {name} values to be evaluated "
                    f"{rng} (bounds of trained parameters included); widen it or leave it None."
                )
        if changes and method.plan is None:
            method = dataclasses.replace(method, **changes)
    return method


@readable_errors()
def optimise_preparation(
    model,
    times,
    objective,
    parametrisation: AbstractParametrisation | None = None,
    *,
    method=None,
    response: Response | None = None,
    optimiser="adam",
    learning_rate: float | None = None,
    steps: int = 300,
    n_starts: int = 8,
    key=0,
    tolerance: float = 1e-10,
    check_every: int = 10,
    model_parameters: ModelParameters | None = None,
    drive_parameters: DriveParameters | None = None,
    temperature=None,
    chemical_potential=None,
    progress: bool | None = None,
) -> OptimisationResult:
    r"""Find the initial preparation (and optionally model parameters) minimising ``objective``.

    **Arguments:**

    - ``model``, ``times``: the open system and time grid (stage 1 runs once, or pass
      ``response=`` built on the same model and times).
    - ``objective``: a jt objective or callable ``Solution -> scalar`` to **minimise** (e.g.
      ``jt.MinHeatCurrent(window, reservoir=0)``: the most negative heat current out of the
      hot reservoir; currents are out of each reservoir, so negative = heat into it).
    - ``parametrisation``: default ``jt.FermionicGaussian(model.n_modes)`` (all states).
    - ``method``: stage-1 method (default ``jt.Continuum()`` with ranges covering the
      temperatures/chemical potentials used, bounds of trained ones included; when level
      energies, hoppings or couplings are trained, ``jt.Pade`` where it applies).
    - ``optimiser``: ``"adam"`` (default; learning rate 0.05 cosine-decayed to 5e-5 over
      ``steps``), ``"lbfgs"`` (optax L-BFGS with zoom line search) or any
      ``optax.GradientTransformation``.
    - ``steps``: maximum steps (rounded up to a multiple of ``check_every``).
    - ``n_starts``: independent random initialisations optimised together (``jax.vmap``).
    - ``key``: int seed or PRNG key (fixed default → reproducible).
    - ``tolerance``: stop when no start's objective changed by more than
      ``tolerance·max(1, |f|)`` over the last ``check_every`` steps.
    - ``model_parameters``: ``jt.ModelParameters`` to optimise jointly, within bounds.
    - ``drive_parameters``: ``jt.DriveParameters``: parameters of the model's ``jt.Drive``
      (amplitudes, frequencies, phases, pulse times, ...) to optimise jointly, within bounds
      (optimal control; re-runs the driven stage 1 inside every step, e.g. with
      ``jt.CycleWork``/``jt.CycleHeat``/``jt.UphillHeat`` objectives).
    - ``temperature``, ``chemical_potential``: (M,) reservoir values (default: the model's).
    - ``progress``: tqdm bar (None: only on a TTY).

    Returns an ``OptimisationResult`` (best state, value, Solution, xarray history, ...).

    Units ħ = k_B = 1: times, temperatures and chemical potentials in the units of h; the
    objective's value in its own units (energy per time for a heat current out of a reservoir).
    """
    from tqdm.auto import tqdm

    times = check_times(times)
    par = FermionicGaussian(model.n_modes) if parametrisation is None else parametrisation
    if not isinstance(par, AbstractParametrisation):
        raise ValueError(
            f"parametrisation must be a jt parametrisation (e.g. jt.FermionicGaussian), got "
            f"{type(par).__name__}."
        )
    if par.n_modes != model.n_modes:
        raise ValueError(
            f"parametrisation has n_modes = {par.n_modes} but the model has {model.n_modes} "
            "modes; they must match."
        )
    if par.statistics != model.statistics:
        raise ValueError(
            f"parametrisation describes {par.statistics}s but the model is {model.statistics}"
            "ic; use a parametrisation of the model's statistics (bosons: jt.BosonicGaussian or "
            "jt.ThermalState(..., statistics='boson'))."
        )
    obj = as_objective(objective)
    obj.check(times, model.n_reservoirs)
    for name, v in (("steps", steps), ("n_starts", n_starts), ("check_every", check_every)):
        if not (isinstance(v, int | np.integer) and v >= 1):
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")
    if not (tolerance >= 0):
        raise ValueError(f"tolerance must be >= 0, got {tolerance}.")
    n_chunks = math.ceil(steps / check_every)
    steps = n_chunks * check_every
    opt, opt_name = _make_optimiser(optimiser, learning_rate, steps)
    mp = model_parameters or ModelParameters()
    if not isinstance(mp, ModelParameters):
        raise ValueError(f"model_parameters must be jt.ModelParameters, got {type(mp).__name__}.")
    dp = drive_parameters or DriveParameters()
    if not isinstance(dp, DriveParameters):
        raise ValueError(f"drive_parameters must be jt.DriveParameters, got {type(dp).__name__}.")
    entries = mp.entries(model) + dp.entries(model)
    names = [entry_name(k) if kind == "drive" else f"{kind}[{k}]" for kind, k, *_ in entries]
    lo = np.array([e[2] for e in entries], float)
    hi = np.array([e[3] for e in entries], float)
    x0 = np.array([e[4] for e in entries], float)
    needs_stage1 = any(e[0] in STAGE1 or e[0] == "drive" for e in entries)
    m_res = model.n_reservoirs
    base_t = None if temperature is None else jnp.asarray(temperature, jnp.float64)
    base_mu = None if chemical_potential is None else jnp.asarray(chemical_potential, jnp.float64)
    for nm, v in (("temperature", base_t), ("chemical_potential", base_mu)):
        if v is not None and v.shape != (m_res,):
            raise ValueError(f"{nm} must have shape ({m_res},) (one per reservoir), got {v.shape}.")
    if base_t is not None:
        model = eqx.tree_at(lambda mm: [r.temperature for r in mm.reservoirs], model,
                            list(base_t))
    if base_mu is not None:
        model = eqx.tree_at(lambda mm: [r.chemical_potential for r in mm.reservoirs], model,
                            list(base_mu))
    if needs_stage1:
        if response is not None:
            raise ValueError("response= cannot be reused when stage-1 parameters are trained.")
        fixed_n = getattr(method, "n_pade", None) is not None
        method = _stage1_method(method, model, entries, times)
        check = None if fixed_n else method  # an automatically fixed pole count
        resp = None
    else:
        check = None
        method = _covering_method(method, model, entries, None, None)
        tic1 = time.perf_counter()
        resp = _response(model, times, method) if response is None else response
        stage1_s = time.perf_counter() - tic1
        if resp.n_modes != model.n_modes or not np.array_equal(np.asarray(resp.times), times):
            raise ValueError("response was built for a different model size or time grid.")

    def loss(resp_, p):
        x = bounded(p["model"], lo, hi) if entries else jnp.zeros((0,))
        mdl, temp, mu = apply_model(model, entries, x)
        r = resp_ if resp_ is not None else method.response(mdl, times)
        c0 = par.correlation(p["state"])
        # the parametrisation yields physical states by construction: no per-step C0 check
        return obj(r.evaluate(c0, temp, mu, validate=False)), x

    traces = [0]

    def chunk(resp_, p, s, best_v, best_p):
        traces[0] += 1  # runs at trace time only

        def one_step(carry, _):
            p, s, best_v, best_p = carry
            f = lambda q: loss(resp_, q)[0]
            (v, x), g = jax.value_and_grad(lambda q: loss(resp_, q), has_aux=True)(p)
            ok = jnp.isfinite(v) & jnp.all(jnp.stack(
                [jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(g)]))
            upd, s2 = opt.update(g, s, p, value=v, grad=g, value_fn=f)
            p2 = optax.apply_updates(p, upd)
            p2 = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), p2, p)
            s2 = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), s2, s)
            better = ok & (v < best_v)
            best_v2 = jnp.where(better, v, best_v)
            best_p2 = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), p, best_p)
            return (p2, s2, best_v2, best_p2), (v, optax.tree.norm(g), x)

        def run(p, s, best_v, best_p):
            return jax.lax.scan(one_step, (p, s, best_v, best_p), None, length=check_every)

        return jax.vmap(run)(p, s, best_v, best_p)

    run_chunk = eqx.filter_jit(chunk)
    final_loss = eqx.filter_jit(lambda r, p: jax.vmap(lambda q: loss(r, q)[0])(p))

    # initial parameters: a fixed PRNG key, split over starts
    key = jax.random.PRNGKey(key) if isinstance(key, int | np.integer) else key
    k_state, k_model = jax.random.split(key)
    p_state = jax.vmap(par.init)(jax.random.split(k_state, n_starts))
    u0 = unbounded(x0, lo, hi) if entries else np.zeros((0,))
    frac = np.asarray(jax.random.uniform(k_model, (n_starts, len(entries)), minval=0.05,
                                         maxval=0.95))
    u_rand = np.log(frac) - np.log1p(-frac)
    u = np.where(np.arange(n_starts)[:, None] == 0, u0[None, :], u_rand)
    params = {"state": p_state, "model": jnp.asarray(u, jnp.float64)}
    # strong types (optax initialises some counters weakly typed; the first step's outputs
    # would then differ in type from its inputs and force a second trace)
    strong = lambda t: jax.tree_util.tree_map(lambda a: jnp.array(a, dtype=a.dtype), t)
    opt_state = strong(jax.vmap(opt.init)(params))
    best_v = jnp.full((n_starts,), jnp.inf, jnp.float64)
    best_p = params

    hist_v, hist_g, hist_x, chunk_s = [], [], [], []
    converged = False
    disable = None if progress is None else not progress
    with tqdm(total=steps, desc="optimise_preparation", disable=disable) as bar:
        for _ in range(n_chunks):
            tic = time.perf_counter()
            (params, opt_state, best_v, best_p), (v, g, x) = run_chunk(
                resp, params, opt_state, best_v, best_p)
            v = np.asarray(jax.block_until_ready(v))  # (starts, chunk)
            chunk_s.append(time.perf_counter() - tic)
            hist_v.append(v)
            hist_g.append(np.asarray(g))
            hist_x.append(np.asarray(x))
            if len(chunk_s) == 1 and not bar.disable:
                s1 = ("stage 1 re-run inside every step" if needs_stage1 else
                      f"stage 1 ({type(resp).__name__}) {stage1_s:.2f} s")
                bar.write(f"optimise_preparation: {s1}; first {check_every} steps incl. "
                          f"tracing + compilation {chunk_s[0]:.2f} s")
            bar.update(check_every)
            bar.set_postfix(best=f"{np.nanmin(np.asarray(best_v)):.8g}")
            change = np.abs(v[:, -1] - v[:, 0])
            allowed = tolerance * np.maximum(1.0, np.abs(v[:, -1]))
            if np.all(np.isfinite(v[:, -1])) and np.all(change <= allowed):
                converged = True
                break
    convergence = _convergence(converged, change, allowed, v, tolerance, check_every,
                               len(hist_v) * check_every)
    # the last update has not been evaluated yet
    v_last = np.asarray(final_loss(resp, params))
    better = v_last < np.asarray(best_v)
    best_v = np.where(better, v_last, np.asarray(best_v))
    best_p = jax.tree_util.tree_map(
        lambda a, b: jnp.where(jnp.asarray(better).reshape((-1,) + (1,) * (a.ndim - 1)), a, b),
        params, best_p)
    if not np.any(np.isfinite(best_v)):
        raise FloatingPointError("optimise_preparation: every start produced non-finite values.")
    i = int(np.nanargmin(best_v))
    p_best = jax.tree_util.tree_map(lambda a: a[i], best_p)
    x_best = bounded(p_best["model"], lo, hi) if entries else jnp.zeros((0,))
    model_best, t_best, mu_best = apply_model(model, entries, x_best)
    model_best = eqx.tree_at(lambda mm: [r.temperature for r in mm.reservoirs], model_best,
                             list(t_best))
    model_best = eqx.tree_at(lambda mm: [r.chemical_potential for r in mm.reservoirs],
                             model_best, list(mu_best))
    resp_best = _with_estimate(method).response(model_best, times) if needs_stage1 else resp
    c_best = par.correlation(p_best["state"])
    sol = resp_best.evaluate(c_best, t_best, mu_best)
    _check_estimate(check, sol)
    from ..state import GaussianState

    state = GaussianState(c_best, par.statistics)
    certificate = _certify(obj, par, resp_best, t_best, mu_best, needs_stage1)
    if certificate is not None:
        f_star = certificate["analytic_value"]
        certificate["relative_error"] = abs(float(best_v[i]) - f_star) / max(abs(f_star), 1e-300)
    history = _history(hist_v, hist_g, hist_x, names, opt_name, par, obj, converged,
                       traces[0])
    history.attrs["first_chunk_s"] = chunk_s[0]  # includes tracing + compilation
    if len(chunk_s) > 1:
        history.attrs["steps_per_s"] = check_every / float(np.median(chunk_s[1:]))
    return OptimisationResult(
        state=state,
        correlation=np.asarray(c_best),
        value=float(best_v[i]),
        solution=sol,
        history=history,
        params=p_best,
        start_values=np.asarray(best_v),
        best_start=i,
        model=model_best,
        temperature=np.asarray(t_best),
        chemical_potential=np.asarray(mu_best),
        model_parameters={nm: float(x) for nm, x in zip(names, np.asarray(x_best), strict=True)},
        converged=converged,
        convergence=convergence,
        n_steps=len(hist_v) * check_every,
        n_traces=traces[0],
        constraint_violation=float(par.constraint_violation(p_best["state"])),
        response=resp_best,
        certificate=certificate,
    )


def _with_estimate(method):
    from ..response.pade import Pade

    return dataclasses.replace(method, estimate=True) if isinstance(method, Pade) else method


def _check_estimate(method, sol):
    """Warn when the optimum's error estimate exceeds the tolerance the automatically fixed
    Padé pole count was chosen for."""
    import warnings

    from ..response.pade import Pade

    if isinstance(method, Pade) and not float(sol.error_estimate) <= method.tolerance:
        warnings.warn(
            f"optimise_preparation: the optimum's Padé error estimate "
            f"{float(sol.error_estimate):.2g} exceeds the tolerance {method.tolerance:g} its "
            f"{method.n_pade} poles were chosen for; re-check it with jt.solve or pass "
            "method=jt.Pade(n_pade=...) with more poles.", stacklevel=3)


def _convergence(converged, change, allowed, v, tolerance, check_every, n_steps) -> str:
    """Which convergence criterion was met or missed, and by how much (one sentence)."""
    crit = (f"every start's objective change over the last {check_every} steps <= tolerance "
            f"({tolerance:g}) x max(1, |f|)")
    if converged:
        return f"converged after {n_steps} steps: {crit}."
    if not np.all(np.isfinite(v[:, -1])):
        bad = np.flatnonzero(~np.isfinite(v[:, -1])).tolist()
        return (f"not converged after {n_steps} steps (the limit): start(s) {bad} ended with a "
                f"non-finite objective; criterion: {crit}.")
    ratio = change / np.where(allowed > 0, allowed, np.nan)
    k = int(np.argmax(np.where(np.isfinite(ratio), ratio, np.inf)))
    n_bad = int(np.sum(change > allowed))
    hint = ("tolerance = 0 never stops early (only steps does)" if tolerance == 0 else
            f"worst start {k}: change {change[k]:.3g} vs allowed {allowed[k]:.3g} "
            f"({ratio[k]:.3g}x)")
    return (f"not converged after {n_steps} steps (the limit): {n_bad} of {len(change)} starts "
            f"still changed by more than tolerance x max(1, |f|) over the last {check_every} "
            f"steps; largest change {float(change.max()):.3g}; {hint}. Raise steps (or the "
            f"learning rate), or accept the best value found.")


def _certify(obj, par, resp, temp, mu, needs_stage1):
    """Analytic optimum of a linear objective over the parametrisation's state set."""
    from .linear import optimal_linear_preparation
    from .parametrisations import SlaterDeterminant

    if needs_stage1 or not obj.is_linear:
        return None
    if isinstance(par, FermionicGaussian) and par.energy is None:
        n = par.particle_number
    elif isinstance(par, SlaterDeterminant):
        n = par.n_particles
    else:
        return None
    lin = optimal_linear_preparation(response=resp, objective=obj, temperature=temp,
                                     chemical_potential=mu, particle_number=n)
    return {"analytic_value": float(lin.value), "affine_residual": float(lin.affine_residual)}


def _history(hist_v, hist_g, hist_x, names, opt_name, par, obj, converged, n_traces):
    import xarray as xr

    v = np.concatenate(hist_v, axis=1).T  # (step, start)
    g = np.concatenate(hist_g, axis=1).T
    data = {
        "objective": (("step", "start"), v),
        "gradient_norm": (("step", "start"), g),
        "best_objective": (("step",), np.minimum.accumulate(np.nanmin(v, axis=1))),
    }
    if names:
        x = np.concatenate(hist_x, axis=1).transpose(1, 0, 2)  # (step, start, parameter)
        data["model_parameter"] = (("step", "start", "parameter"), x)
    coords = {"step": np.arange(v.shape[0]), "start": np.arange(v.shape[1])}
    if names:
        coords["parameter"] = names
    return xr.Dataset(data, coords=coords, attrs={
        "optimiser": opt_name, "parametrisation": par.describe(), "objective": repr(obj),
        "converged": int(converged), "n_traces": n_traces,
        "convention": "objective is minimised; currents are OUT OF each reservoir",
    })


__all__ = ["ModelParameters", "OptimisationResult", "optimise_preparation"]
