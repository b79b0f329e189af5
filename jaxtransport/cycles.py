r"""Cycle-resolved thermodynamics of periodic drives: heat and work per cycle, efficiency or
coefficient of performance, and the approach to the periodic steady state.

Units ħ = k_B = 1 (energies in the units of h, times in 1/h). Sign conventions (those of every
jaxtransport result):

- every current is **out of** its reservoir, so the heat per cycle
  Q_α^(k) = ∫_{t_k}^{t_{k+1}} J^Q_α dt is the heat that **left** reservoir α during cycle k
  (t_k = start + kτ); Q_α < 0 means heat went into α. E_α^(k) = ∫ J^E_α dt likewise;
- the work per cycle W^(k) = ∫ P dt is the work done **on** the system by the drive
  (P = <∂_t H(t)>, the drive's power, as ``Solution.power`` reports it); W < 0 means work is
  extracted;
- energy balance (first law) per cycle:
  Δ(<H_S> + Σ_α <H_I^α>) over the cycle = W + Σ_α E_α; at the periodic steady state the
  left side vanishes, so W + Σ_α E_α → 0 (and W + Σ_α Q_α → 0 when all μ_α are equal to 0);
- entropy production per cycle Σ^(k) = −Σ_α Q_α^(k)/T_α (the reservoirs' entropy change;
  ≥ 0 at the periodic steady state by the second law).

**Which figure of merit applies** (per cycle, with "hot"/"cold" the hottest and coldest
reservoirs unless chosen): an **engine** when work is extracted (W < 0) and heat leaves the
hot reservoir (Q_hot > 0): efficiency η = −W/Q_hot (≤ 1 − T_cold/T_hot at the periodic steady
state); a **refrigerator** when work is put in (W > 0) and heat leaves the cold reservoir
(Q_cold > 0): coefficient of performance COP = Q_cold/W (≤ T_cold/(T_hot − T_cold)). Otherwise
(heater, accelerator, ...) neither is defined (NaN). ``mode`` codes these as 1 (engine),
2 (refrigerator) and 0 (neither).

**Quadrature.** The per-cycle integrals use the piecewise-cubic interpolant of the samples
(4-point Lagrange stencils on the grid, exact for cubics, error O(Δt⁴) for smooth integrands,
any grid spacing). The grid must contain every cycle boundary start + kτ; ``ValueError``
otherwise. At the switch-on t = 0 the currents are not smooth, so the first cycle's integrals
converge more slowly in Δt; the periodic steady state is unaffected. ``quadrature_error`` is
the largest difference to the trapezoid rule (a conservative estimate of the error).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._validation import check_times

__all__ = ["CycleThermodynamics", "cycle_boundaries", "cycle_integral", "cycle_thermodynamics"]

MODES = ("neither", "engine", "refrigerator")


def cycle_boundaries(times, period, start=None) -> np.ndarray:
    """Grid indices (K + 1,) of the cycle boundaries start + kτ, k = 0…K, K the number of
    whole cycles on the grid. ``start`` defaults to the first grid time; ``period`` τ > 0 in
    the units of ``times`` (1/h with ħ = 1). Raises ``ValueError`` when fewer than one whole
    cycle fits, when a boundary is not a grid time, or when a cycle has fewer than 4 grid
    intervals."""
    t = check_times(times)
    tau = float(np.asarray(period))
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"period must be a finite number > 0, got {tau}.")
    t0 = float(t[0]) if start is None else float(start)
    tol = 1e-8 * max(tau, 1.0)
    n_cycles = int(np.floor((t[-1] - t0) / tau + 1e-8))
    if t0 < t[0] - tol or n_cycles < 1:
        raise ValueError(
            f"the time grid [{t[0]:g}, {t[-1]:g}] does not hold one whole cycle of period "
            f"{tau:g} starting at {t0:g}; extend the grid to at least {t0 + tau:g}.")
    targets = t0 + tau * np.arange(n_cycles + 1)
    idx = np.clip(np.searchsorted(t, targets - tol), 0, t.size - 1)
    off = np.abs(t[idx] - targets)
    if np.any(off > tol):
        k = int(np.argmax(off > tol))
        raise ValueError(
            f"the time grid must contain every cycle boundary start + k·period (period "
            f"{tau:g}, start {t0:g}); {targets[k]:.10g} (k = {k}) is not a grid time (nearest "
            f"{t[idx[k]]:.10g}). Use e.g. times = start + period/N · arange(K·N + 1).")
    if np.min(np.diff(idx)) < 4:
        raise ValueError(
            f"each cycle needs at least 4 grid intervals for the cycle integrals; the grid has "
            f"{int(np.min(np.diff(idx)))} in a cycle of period {tau:g}. Refine the time grid.")
    return idx


def _cubic_weights(t):
    """(T − 1, 4) weights and (T − 1,) stencil starts (static): ∫_{t_i}^{t_{i+1}} f ≈
    Σ_j w_ij f(t_{s_i+j}) with the cubic through the 4 grid points s_i…s_i+3 around the
    interval. ``t`` may be traced (the stencils depend on its length only)."""
    n = t.shape[0]
    if n < 4:
        raise ValueError(f"cycle integrals need at least 4 grid times, got {n}.")
    t = jnp.asarray(t)
    i = np.arange(n - 1)
    s = np.clip(i - 1, 0, n - 4)
    x = t[s[:, None] + np.arange(4)] - t[i][:, None]  # stencil nodes relative to t_i
    h = t[i + 1] - t[i]
    cols = []
    for j in range(4):
        o = [x[:, k] for k in range(4) if k != j]
        c2 = -(o[0] + o[1] + o[2])
        c1 = o[0] * o[1] + o[0] * o[2] + o[1] * o[2]
        c0 = -o[0] * o[1] * o[2]
        integral = h**4 / 4 + c2 * h**3 / 3 + c1 * h**2 / 2 + c0 * h
        cols.append(integral / ((x[:, j] - o[0]) * (x[:, j] - o[1]) * (x[:, j] - o[2])))
    return jnp.stack(cols, axis=-1), s


def _cumulative(t, v):
    """∫_{t_0}^{t_i} of v (..., T) on the grid t (piecewise cubic), shape (..., T)."""
    w, s = _cubic_weights(t)
    seg = jnp.einsum("...ij,ij->...i", v[..., s[:, None] + np.arange(4)], w)
    return jnp.concatenate([jnp.zeros_like(seg[..., :1]), jnp.cumsum(seg, axis=-1)], axis=-1)


def _integrals(t, values, idx, axis):
    """Per-cycle integrals (cubic and trapezoid) of ``values`` along ``axis`` (the time axis)."""
    v = jnp.moveaxis(jnp.asarray(values), axis, -1)
    if v.shape[-1] != t.size:
        raise ValueError(f"values have {v.shape[-1]} times along axis {axis}, the grid "
                         f"{t.size}.")
    trap = 0.5 * np.diff(t) * (v[..., 1:] + v[..., :-1])
    cum_trap = jnp.concatenate([jnp.zeros_like(trap[..., :1]), jnp.cumsum(trap, axis=-1)],
                               axis=-1)
    return [jnp.moveaxis(cum[..., idx[1:]] - cum[..., idx[:-1]], -1, axis)
            for cum in (_cumulative(t, v), cum_trap)]


def one_cycle_integral(times, values, period, cycle: int = -1, start=None) -> Array:
    """∫ of ``values`` (..., T) over cycle ``cycle`` (−1: the last whole cycle on the grid)
    by the rule of ``cycle_integral``, with ``times`` possibly traced (inside jax.jit, e.g.
    an objective's ``Solution.times``): the boundaries are found on the grid by nearest time.
    Validate the grid with ``cycle_boundaries`` on concrete times first. Units: values ×
    time (ħ = 1)."""
    t = jnp.asarray(times)
    v = jnp.asarray(values)
    t0 = t[0] if start is None else start
    if cycle < 0:
        n_cycles = jnp.floor((t[-1] - t0) / period + 1e-8)
        k = n_cycles + cycle
    else:
        k = cycle
    cum = _cumulative(t, v)
    ends = [jnp.argmin(jnp.abs(t - (t0 + (k + d) * period))) for d in (0, 1)]
    return cum[..., ends[1]] - cum[..., ends[0]]


def cycle_integral(times, values, period, *, start=None, axis: int = -1) -> Array:
    """∫ over each whole cycle [start + kτ, start + (k+1)τ] of sampled ``values`` (time along
    ``axis``), by the piecewise-cubic interpolant (module docstring). Returns the array with
    the time axis replaced by the cycle axis (K entries), in the units of values × time.
    Differentiable in ``values``; ``times`` and ``period`` are concrete."""
    t = check_times(times)
    return _integrals(t, values, cycle_boundaries(t, period, start), axis)[0]


class CycleThermodynamics(eqx.Module):
    """Per-cycle thermodynamics of a periodically driven solution (``cycle_thermodynamics``).

    Shapes: K whole cycles, M reservoirs, batch dims (...) of the solution first. Units
    ħ = k_B = 1: heats, energies and work in the units of h (energy), entropy dimensionless.
    Signs in the module docstring (heat out of each reservoir, work done on the system).

    - ``boundaries`` (K + 1,): cycle boundary times t_k = start + kτ; ``period`` τ.
    - ``heat`` (..., K, M): Q_α^(k); ``energy`` (..., K, M): E_α^(k) = ∫ J^E_α.
    - ``work`` (..., K): W^(k) = ∫ P, done on the system by the drive.
    - ``stored_energy_change`` (..., K): Δ(<H_S> + Σ_α <H_I^α>) over cycle k (NaN when the
      solution does not carry these energies); ``first_law_residual`` (..., K):
      stored_energy_change − W − Σ_α E_α (≈ 0, up to quadrature error).
    - ``entropy_production`` (..., K): −Σ_α Q_α/T_α.
    - ``mode`` (..., K): 1 engine, 2 refrigerator, 0 neither (``MODES``);
      ``efficiency`` −W/Q_hot for engine cycles, ``coefficient_of_performance`` Q_cold/W for
      refrigerator cycles, NaN otherwise.
    - ``heat_change`` (..., K − 1, M), ``work_change`` (..., K − 1): |X^(k) − X^(k−1)|, the
      approach to the periodic steady state; ``stroboscopic_change`` (..., K):
      max_ij |C_ij(t_{k+1}) − C_ij(t_k)| (NaN without a correlation matrix).
    - ``hot``, ``cold``: reservoir indices; ``quadrature_error``: largest |cubic − trapezoid|
      over all per-cycle integrals (energy units).
    """

    boundaries: Array
    period: float = eqx.field(static=True)
    heat: Array
    energy: Array
    work: Array
    stored_energy_change: Array
    first_law_residual: Array
    entropy_production: Array
    mode: Array
    efficiency: Array
    coefficient_of_performance: Array
    heat_change: Array
    work_change: Array
    stroboscopic_change: Array
    quadrature_error: Array
    hot: int = eqx.field(static=True)
    cold: int = eqx.field(static=True)

    @property
    def n_cycles(self) -> int:
        return int(self.work.shape[-1])

    def periodic_cycle(self, rtol: float = 1e-3) -> int:
        """The first cycle k from which on the cycles agree: every change of heat and work
        between consecutive cycles k, k+1, …, K−1 is ≤ rtol·max(|Q|, |W|) (the scale of the
        last cycle); −1 when even the last two cycles differ more (an unbatched result only)."""
        if self.work.ndim != 1:
            raise ValueError("periodic_cycle needs an unbatched result (index the batch first).")
        scale = max(float(jnp.max(jnp.abs(self.heat[-1]))), abs(float(self.work[-1])), 1e-300)
        bad = np.asarray((jnp.max(self.heat_change, axis=-1) > rtol * scale)
                         | (self.work_change > rtol * scale))
        if bad.size and bad[-1]:
            return -1
        later = np.flatnonzero(bad)
        return int(later[-1]) + 1 if later.size else 0


def cycle_thermodynamics(solution, period, *, start=None, hot: int | None = None,
                         cold: int | None = None) -> CycleThermodynamics:
    """Heat, energy and work per cycle of a periodically driven ``solution`` (module docstring):
    heat and energy out of each reservoir, work done on the system by the drive. Units
    ħ = k_B = 1: heat, energy and work in the units of h, times in 1/h.

    **Arguments:**

    - ``solution``: a driven ``jt.Solution`` (or any result with ``times``, ``heat_current``,
      ``energy_current``, ``power``, ``temperature``; ``system_energy``, ``coupling_energy``
      and ``correlation`` are used where present), batch dims allowed.
    - ``period``: τ (1/h, ħ = 1), e.g. ``jt.Sine(...).period``; the grid must contain every
      cycle boundary start + kτ (``ValueError`` otherwise).
    - ``start``: first cycle boundary (default the first grid time).
    - ``hot``, ``cold``: reservoir indices (default the hottest and the coldest).

    Returns a ``CycleThermodynamics``."""
    power = getattr(solution, "power", None)
    if power is None:
        raise ValueError(
            f"cycle_thermodynamics needs the drive's power P(t): {type(solution).__name__} has "
            f"no 'power' field (solve a model with a jt.Drive).")
    t = check_times(solution.times)
    idx = cycle_boundaries(t, period, start)
    temp = jnp.asarray(solution.temperature)
    m = temp.shape[-1]
    t_mean = np.asarray(temp).reshape(-1, m).mean(axis=0)
    hot = int(np.argmax(t_mean)) if hot is None else int(hot)
    cold = int(np.argmin(t_mean)) if cold is None else int(cold)
    for name, k in (("hot", hot), ("cold", cold)):
        if not 0 <= k < m:
            raise ValueError(f"{name} must be a reservoir index 0…{m - 1}, got {k}.")
    if hot == cold:
        raise ValueError("hot and cold must be different reservoirs (the reservoirs have equal "
                         "temperatures; choose them with hot=, cold=).")
    heat, heat_trap = _integrals(t, solution.heat_current, idx, -2)
    energy, energy_trap = _integrals(t, solution.energy_current, idx, -2)
    work, work_trap = _integrals(t, power, idx, -1)
    err = jnp.max(jnp.stack([jnp.max(jnp.abs(heat - heat_trap)),
                             jnp.max(jnp.abs(energy - energy_trap)),
                             jnp.max(jnp.abs(work - work_trap))]))
    e_s = getattr(solution, "system_energy", None)
    e_i = getattr(solution, "coupling_energy", None)
    if e_s is not None and e_i is not None:
        stored = jnp.asarray(e_s) + jnp.sum(jnp.asarray(e_i), axis=-1)
        stored_change = stored[..., idx[1:]] - stored[..., idx[:-1]]
    else:
        stored_change = jnp.full(work.shape, jnp.nan)
    corr = getattr(solution, "correlation", None)
    if corr is not None:
        c = jnp.asarray(corr)
        strobo = jnp.max(jnp.abs(c[..., idx[1:], :, :] - c[..., idx[:-1], :, :]), axis=(-2, -1))
    else:
        strobo = jnp.full(work.shape, jnp.nan)
    q_hot, q_cold = heat[..., hot], heat[..., cold]
    engine = (work < 0) & (q_hot > 0)
    fridge = (work > 0) & (q_cold > 0)
    nan = jnp.nan
    return CycleThermodynamics(
        boundaries=jnp.asarray(t[idx]),
        period=float(np.asarray(period)),
        heat=heat,
        energy=energy,
        work=work,
        stored_energy_change=stored_change,
        first_law_residual=stored_change - work - jnp.sum(energy, axis=-1),
        entropy_production=-jnp.sum(heat / temp[..., None, :], axis=-1),
        mode=jnp.where(engine, 1, jnp.where(fridge, 2, 0)),
        efficiency=jnp.where(engine, -work / jnp.where(engine, q_hot, 1.0), nan),
        coefficient_of_performance=jnp.where(fridge, q_cold / jnp.where(fridge, work, 1.0), nan),
        heat_change=jnp.abs(jnp.diff(heat, axis=-2)),
        work_change=jnp.abs(jnp.diff(work, axis=-1)),
        stroboscopic_change=strobo,
        quadrature_error=err,
        hot=hot,
        cold=cold,
    )
