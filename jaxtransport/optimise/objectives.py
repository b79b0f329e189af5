r"""Objectives on a ``Solution``: small pure functions of the observables, to be **minimised**.

Sign conventions (docs/theory.md, "Conventions"): currents are *out of* each reservoir, so
J^Q_hot < 0 means heat flows *into* the hot reservoir — a transient heat reversal. Every
objective here returns a scalar that is **smaller for a stronger reversal**;
``jt.optimise_preparation`` minimises it.
(``ReversalDuration`` therefore returns *minus* the duration.) Units: currents in energy/ħ
(energy units of h, ħ = 1), times in ħ/energy, heats in energy.

Time windows ``(t_start, t_end)`` select the grid times t_start ≤ t ≤ t_end (default: the
whole grid). Single times snap to the nearest grid time (``check`` insists it is on the grid
to 1e-9 relative). Smooth minima use the log-sum-exp soft minimum at a *smoothing
temperature* τ (same units as the quantity):

    softmin_τ(x_1..x_K) = −τ ln Σ_k e^{−x_k/τ},   min x − τ ln K ≤ softmin_τ ≤ min x.

Objectives compose: ``a + b``, ``c * a``, ``-a`` and any callable ``sol -> scalar`` (wrap it
with ``Custom(fn)``, or pass it directly). Linear objectives (affine in C0: ``HeatCurrentAt``,
``IntegratedHeat`` and their sums/multiples) have a known global optimum
(``jt.optimal_linear_preparation``).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def _window(w):
    if w is None:
        return None
    try:
        return tuple(float(x) for x in w)
    except (TypeError, ValueError):
        raise ValueError(f"window must be (t_start, t_end) or None, got {w!r}.") from None


def _opt_float(x):
    return None if x is None else float(x)


def _int(x):
    return int(x) if isinstance(x, int | np.integer) else x


_FIELDS = ("heat_current", "symmetric_heat_current", "energy_current", "particle_current")


class AbstractObjective(eqx.Module):
    """A scalar function of a ``Solution`` to be minimised (module docs: conventions).

    Units: those of the quantity it measures (e.g. energy per time for a heat current out of a
    reservoir, ħ = k_B = 1)."""

    def __call__(self, sol):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def is_linear(self) -> bool:
        """True when the objective is affine in C0 (global optimum known analytically)."""
        return False

    def check(self, times, n_reservoirs: int) -> None:
        """Validate against a concrete time grid and reservoir count (raises ValueError)."""

    def __add__(self, other):
        return Sum((self, as_objective(other)))

    def __radd__(self, other):
        return Sum((as_objective(other), self))

    def __sub__(self, other):
        return Sum((self, Scaled(-1.0, as_objective(other))))

    def __mul__(self, c):
        return Scaled(float(c), self)

    __rmul__ = __mul__

    def __neg__(self):
        return Scaled(-1.0, self)


def as_objective(obj) -> AbstractObjective:
    """An ``AbstractObjective`` from an objective or any callable ``sol -> scalar``.

    Units: those of the objective."""
    if isinstance(obj, AbstractObjective):
        return obj
    if callable(obj):
        return Custom(obj)
    raise ValueError(
        f"objective must be a jt objective or a callable Solution -> scalar, got "
        f"{type(obj).__name__}."
    )


class Custom(AbstractObjective):
    """A user-defined objective: any pure, differentiable ``fn(sol) -> scalar`` (minimised).
    Set ``linear=True`` only if ``fn`` is affine in C0 (it is then checked numerically by
    ``jt.optimal_linear_preparation``).

    Units: those of ``fn``'s value."""

    fn: Callable = eqx.field(static=True)
    linear: bool = eqx.field(default=False, static=True)

    def __call__(self, sol):
        return jnp.asarray(self.fn(sol)).reshape(())

    @property
    def is_linear(self):
        return self.linear


class Sum(AbstractObjective):
    """Sum of objectives.

    Units: those of the summed objectives (which must agree)."""

    terms: tuple

    def __call__(self, sol):
        return sum(t(sol) for t in self.terms)

    @property
    def is_linear(self):
        return all(t.is_linear for t in self.terms)

    def check(self, times, n_reservoirs):
        for t in self.terms:
            t.check(times, n_reservoirs)


class Scaled(AbstractObjective):
    """c × objective.

    Units: those of the objective times those of c."""

    factor: float = eqx.field(static=True)
    term: AbstractObjective

    def __call__(self, sol):
        return self.factor * self.term(sol)

    @property
    def is_linear(self):
        return self.term.is_linear

    def check(self, times, n_reservoirs):
        self.term.check(times, n_reservoirs)


# --- helpers ---------------------------------------------------------------------------------
def _check_reservoir(r, n_reservoirs, name="reservoir"):
    if not (isinstance(r, int | np.integer) and 0 <= r < n_reservoirs):
        raise ValueError(
            f"{name} must be an integer index in [0, {n_reservoirs}) (the model has "
            f"{n_reservoirs} reservoirs), got {r!r}."
        )


def _check_window(window, times, name):
    if window is None:
        return
    t = np.asarray(times)
    try:
        a, b = (float(x) for x in window)
    except (TypeError, ValueError):
        raise ValueError(f"{name} window must be (t_start, t_end), got {window!r}.") from None
    if not (a <= b):
        raise ValueError(f"{name} window must have t_start <= t_end, got ({a}, {b}).")
    if not np.any((t >= a - 1e-12) & (t <= b + 1e-12)):
        raise ValueError(
            f"{name} window ({a}, {b}) contains no time of the grid [{t[0]}, {t[-1]}]."
        )


def _check_time(time, times, name):
    t = np.asarray(times)
    k = int(np.argmin(np.abs(t - time)))
    if abs(t[k] - time) > 1e-9 * max(1.0, abs(time)):
        raise ValueError(
            f"{name} time {time} is not on the time grid (nearest grid time {t[k]}); "
            "add it to `times`."
        )


def _check_smoothing(s, name):
    if s is not None and not (float(s) > 0 and np.isfinite(float(s))):
        raise ValueError(f"{name} smoothing temperature must be > 0 (or None), got {s!r}.")


def _mask(times, window):
    if window is None:
        return jnp.ones(times.shape, bool)
    return (times >= window[0] - 1e-12) & (times <= window[1] + 1e-12)


def _index(times, time):
    return jnp.argmin(jnp.abs(times - time))


def soft_minimum(x, mask, smoothing):
    """min over ``mask`` (hard if smoothing is None), else −τ ln Σ e^{−x/τ}.

    Units: those of x (τ likewise)."""
    if smoothing is None:
        return jnp.min(jnp.where(mask, x, jnp.inf))
    z = jnp.where(mask, -x / smoothing, -jnp.inf)
    return -smoothing * jax.nn.logsumexp(z)


def _trapezoid(times, y, mask):
    """∫ y dt over the masked grid times (trapezoid over consecutive masked points)."""
    dt = jnp.diff(times)
    both = mask[1:] & mask[:-1]
    return jnp.sum(jnp.where(both, 0.5 * dt * (y[1:] + y[:-1]), 0.0))


def _field(sol, field):
    return getattr(sol, field)


def _check_field(field):
    if field not in _FIELDS:
        raise ValueError(f"field must be one of {_FIELDS}, got {field!r}.")


# --- objectives ------------------------------------------------------------------------------
class HeatCurrentAt(AbstractObjective):
    """J^Q_α(t) out of reservoir α at one grid time (linear in C0). Minimising it makes heat
    flow into α as strongly as possible at t. Units: energy/ħ."""

    time: float = eqx.field(static=True, converter=float)
    reservoir: int = eqx.field(default=0, static=True, converter=_int)
    field: str = eqx.field(default="heat_current", static=True)

    def __call__(self, sol):
        return _field(sol, self.field)[_index(sol.times, self.time), self.reservoir]

    @property
    def is_linear(self):
        return True

    def check(self, times, n_reservoirs):
        _check_field(self.field)
        _check_reservoir(self.reservoir, n_reservoirs)
        _check_time(self.time, times, "HeatCurrentAt")


class MinHeatCurrent(AbstractObjective):
    """The most negative heat current out of reservoir α over a window: min_t J^Q_α(t)
    (``smoothing=None``) or its soft minimum at smoothing temperature τ (energy/ħ units; within
    τ ln K below the true minimum for K grid times). ``field="symmetric_heat_current"`` gives
    the symmetrised heat J^Q_α − ½ d<H_I^α>/dt."""

    window: tuple[float, float] | None = eqx.field(default=None, static=True, converter=_window)
    reservoir: int = eqx.field(default=0, static=True, converter=_int)
    smoothing: float | None = eqx.field(default=None, static=True, converter=_opt_float)
    field: str = eqx.field(default="heat_current", static=True)

    def __call__(self, sol):
        j = _field(sol, self.field)[..., self.reservoir]
        return soft_minimum(j, _mask(sol.times, self.window), self.smoothing)

    def check(self, times, n_reservoirs):
        _check_field(self.field)
        _check_reservoir(self.reservoir, n_reservoirs)
        _check_window(self.window, times, "MinHeatCurrent")
        _check_smoothing(self.smoothing, "MinHeatCurrent")


def SmoothMinHeatCurrent(window=None, smoothing=0.01, reservoir=0):  # noqa: N802
    """Soft minimum of J^Q_α over a window at smoothing temperature τ (energy/ħ).

    The heat current is out of reservoir α (negative: heat flows into it). Units ħ = k_B = 1: the
    value is an energy per time (units of h²), τ likewise."""
    return MinHeatCurrent(window=window, reservoir=reservoir, smoothing=smoothing)


def MinSymmetricHeatCurrent(window=None, smoothing=None, reservoir=0):  # noqa: N802
    """(Soft) minimum of the symmetrised heat current J^Q_α − ½ d<H_I^α>/dt over a window.

    The heat current is out of reservoir α (negative: heat flows into it). Units ħ = k_B = 1: energy
    per time (units of h²)."""
    return MinHeatCurrent(window=window, reservoir=reservoir, smoothing=smoothing,
                          field="symmetric_heat_current")


class IntegratedHeat(AbstractObjective):
    """Net heat out of reservoir α over [t_start, t_end]: Q_α(t_end) − Q_α(t_start) (energy;
    ``Solution.integrated_heat``). Linear in C0; negative = net heat into α.

    Units ħ = k_B = 1: the value is an energy (units of h)."""

    window: tuple[float, float] | None = eqx.field(default=None, static=True, converter=_window)
    reservoir: int = eqx.field(default=0, static=True, converter=_int)

    def __call__(self, sol):
        q = sol.integrated_heat[..., self.reservoir]
        if self.window is None:
            return q[-1] - q[0]
        return q[_index(sol.times, self.window[1])] - q[_index(sol.times, self.window[0])]

    @property
    def is_linear(self):
        return True

    def check(self, times, n_reservoirs):
        _check_reservoir(self.reservoir, n_reservoirs)
        if self.window is not None:
            _check_window(self.window, times, "IntegratedHeat")
            for t in self.window:
                _check_time(t, times, "IntegratedHeat window")


class ReversedHeat(AbstractObjective):
    """Integrated *reversed* heat of reservoir α over a window: ∫ min(J^Q_α, 0) dt ≤ 0
    (energy; the heat that flowed *into* α while it did), trapezoid rule on the grid. With
    ``smoothing`` τ, min(J, 0) is replaced by −τ softplus(−J/τ) (differentiable at J = 0).

    Units ħ = k_B = 1: the value is an energy (units of h); ``smoothing`` τ in energy per time."""

    window: tuple[float, float] | None = eqx.field(default=None, static=True, converter=_window)
    reservoir: int = eqx.field(default=0, static=True, converter=_int)
    smoothing: float | None = eqx.field(default=None, static=True, converter=_opt_float)

    def __call__(self, sol):
        j = sol.heat_current[..., self.reservoir]
        neg = (jnp.minimum(j, 0.0) if self.smoothing is None
               else -self.smoothing * jax.nn.softplus(-j / self.smoothing))
        return _trapezoid(sol.times, neg, _mask(sol.times, self.window))

    def check(self, times, n_reservoirs):
        _check_reservoir(self.reservoir, n_reservoirs)
        _check_window(self.window, times, "ReversedHeat")
        _check_smoothing(self.smoothing, "ReversedHeat")


class ReversalDuration(AbstractObjective):
    """**Minus** the duration of the reversal J^Q_α < 0 within a window (time units ħ/energy):
    −∫ σ(−J^Q_α/τ) dt with the logistic σ at smoothing temperature τ (energy/ħ); τ → 0 counts
    the time with J^Q_α < 0 exactly. Minimising it lengthens the reversal."""

    window: tuple[float, float] | None = eqx.field(default=None, static=True, converter=_window)
    reservoir: int = eqx.field(default=0, static=True, converter=_int)
    smoothing: float = eqx.field(default=1e-3, static=True, converter=_opt_float)

    def __call__(self, sol):
        j = sol.heat_current[..., self.reservoir]
        return -_trapezoid(sol.times, jax.nn.sigmoid(-j / self.smoothing),
                           _mask(sol.times, self.window))

    def check(self, times, n_reservoirs):
        _check_reservoir(self.reservoir, n_reservoirs)
        _check_window(self.window, times, "ReversalDuration")
        _check_smoothing(self.smoothing, "ReversalDuration")
        if self.smoothing is None:
            raise ValueError("ReversalDuration needs a smoothing temperature > 0.")


class MinConductanceG1(AbstractObjective):
    """Most negative G1(t) = J^Q_hot(t) / (T_hot − T_cold) over a window (docs/theory.md,
    "Heat, energy balance, entropy and conductances"; a rate, k_B = ħ = 1), hard or soft
    minimum (``smoothing`` in G1 units). Uses the Solution's temperatures (so it follows
    jointly optimised temperatures).

    Units ħ = k_B = 1: G1 in 1/time (energy per time per temperature); heat out of the hot
    reservoir (negative: heat flows into it)."""

    window: tuple[float, float] | None = eqx.field(default=None, static=True, converter=_window)
    hot: int = eqx.field(default=0, static=True, converter=_int)
    cold: int = eqx.field(default=1, static=True, converter=_int)
    smoothing: float | None = eqx.field(default=None, static=True, converter=_opt_float)

    def __call__(self, sol):
        dt = sol.temperature[..., self.hot] - sol.temperature[..., self.cold]
        g1 = sol.heat_current[..., self.hot] / dt
        return soft_minimum(g1, _mask(sol.times, self.window), self.smoothing)

    def check(self, times, n_reservoirs):
        _check_reservoir(self.hot, n_reservoirs, "hot")
        _check_reservoir(self.cold, n_reservoirs, "cold")
        if self.hot == self.cold:
            raise ValueError("MinConductanceG1 needs hot != cold reservoirs.")
        _check_window(self.window, times, "MinConductanceG1")
        _check_smoothing(self.smoothing, "MinConductanceG1")


class UphillHeat(AbstractObjective):
    r"""**Minus** the heat moved uphill (cold to hot) within a window: −∫ r(t) dt (energy),
    r = ``jt.thermodynamics.uphill_rate`` (two reservoirs: max(0, min(−J^Q_hot, J^Q_cold)),
    hot/cold from the Solution's temperatures, so it follows optimised temperatures).
    Trapezoid rule on the grid (equal to ``uphill_flow(...).heat`` up to O(Δt²) at window
    edges). ``smoothing`` τ (energy/ħ) replaces r by its smooth version (within τ (ln 2 + ln M)
    of r; needed for gradients where r = 0 on the whole grid). Fix the system energy with
    ``jt.FermionicGaussian(n, energy=E, hamiltonian=h)`` to optimise at a given energy.
    Units: energy (ħ = k_B = 1); heat currents are out of each reservoir."""

    window: tuple[float, float] | None = eqx.field(default=None, static=True, converter=_window)
    smoothing: float | None = eqx.field(default=None, static=True, converter=_opt_float)

    def __call__(self, sol):
        from ..uphill import uphill_rate

        r = uphill_rate(sol.heat_current, sol.temperature, smoothing=self.smoothing)
        return -_trapezoid(sol.times, r, _mask(sol.times, self.window))

    def check(self, times, n_reservoirs):
        if n_reservoirs < 2:
            raise ValueError("UphillHeat needs at least two reservoirs.")
        _check_window(self.window, times, "UphillHeat")
        _check_smoothing(self.smoothing, "UphillHeat")


class UphillDuration(AbstractObjective):
    r"""**Minus** the time with genuine uphill flow within a window: −∫ σ(R(t)/τ) dt (ħ/energy),
    R = ``jt.thermodynamics.uphill_margin`` (signed; R > 0 exactly when heat leaves the colder
    side and enters the hotter side), σ the logistic function at smoothing temperature τ
    (energy/ħ; R is soft-maximised at τ too). τ → 0 counts the uphill time exactly. Minimising
    it lengthens the uphill window; combine with ``UphillHeat`` to keep it substantial.
    Units: ħ/energy (ħ = k_B = 1); heat currents are out of each reservoir."""

    window: tuple[float, float] | None = eqx.field(default=None, static=True, converter=_window)
    smoothing: float = eqx.field(default=1e-3, static=True, converter=_opt_float)

    def __call__(self, sol):
        from ..uphill import uphill_margin

        m = uphill_margin(sol.heat_current, sol.temperature, smoothing=self.smoothing)
        return -_trapezoid(sol.times, jax.nn.sigmoid(m / self.smoothing),
                           _mask(sol.times, self.window))

    def check(self, times, n_reservoirs):
        if n_reservoirs < 2:
            raise ValueError("UphillDuration needs at least two reservoirs.")
        _check_window(self.window, times, "UphillDuration")
        _check_smoothing(self.smoothing, "UphillDuration")
        if self.smoothing is None:
            raise ValueError("UphillDuration needs a smoothing temperature > 0.")


class CycleWork(AbstractObjective):
    r"""The mean power put into the system by the drive over one cycle, W^(k)/τ (energy per
    time; ``jt.cycle_thermodynamics``: W = ∫ P over [start + kτ, start + (k+1)τ], P the
    solution's ``power``). Minimising it maximises the power an engine delivers (W < 0 is
    work extracted). ``cycle`` k counts from ``start`` (default the first grid time); −1 (the
    default) is the last whole cycle on the grid. Units: energy per time (ħ = 1)."""

    period: float = eqx.field(static=True, converter=float)
    cycle: int = eqx.field(default=-1, static=True, converter=int)
    start: float | None = eqx.field(default=None, static=True, converter=_opt_float)

    def __call__(self, sol):
        from ..cycles import one_cycle_integral

        w = one_cycle_integral(sol.times, sol.power, self.period, self.cycle, self.start)
        return w / self.period

    def check(self, times, n_reservoirs):
        _check_cycle(self, times)


class CycleHeat(AbstractObjective):
    r"""The mean heat current out of ``reservoir`` α over one cycle, Q_α^(k)/τ (energy per
    time; heat out of the reservoir, ``jt.cycle_thermodynamics``). Minimising it pumps heat
    into α; minimise ``-jt.CycleHeat(τ, reservoir=cold)`` to extract the most heat from the
    cold reservoir per cycle (a refrigerator). ``cycle`` and ``start`` as in ``CycleWork``.
    Units: energy per time (ħ = k_B = 1); heat currents are out of each reservoir."""

    period: float = eqx.field(static=True, converter=float)
    reservoir: int = eqx.field(default=0, static=True, converter=int)
    cycle: int = eqx.field(default=-1, static=True, converter=int)
    start: float | None = eqx.field(default=None, static=True, converter=_opt_float)

    def __call__(self, sol):
        from ..cycles import one_cycle_integral

        q = one_cycle_integral(sol.times, sol.heat_current[..., self.reservoir], self.period,
                               self.cycle, self.start)
        return q / self.period

    def check(self, times, n_reservoirs):
        _check_reservoir(self.reservoir, n_reservoirs, "CycleHeat")
        _check_cycle(self, times)


def _check_cycle(obj, times):
    from ..cycles import cycle_boundaries

    k = len(cycle_boundaries(times, obj.period, obj.start)) - 1
    if not -k <= obj.cycle < k:
        raise ValueError(f"{type(obj).__name__}: cycle {obj.cycle} does not exist; the grid "
                         f"holds {k} whole cycles (0…{k - 1}, or −1 for the last).")


__all__ = [
    "AbstractObjective",
    "CycleHeat",
    "CycleWork",
    "Custom",
    "HeatCurrentAt",
    "IntegratedHeat",
    "MinConductanceG1",
    "MinHeatCurrent",
    "MinSymmetricHeatCurrent",
    "ReversalDuration",
    "ReversedHeat",
    "Scaled",
    "SmoothMinHeatCurrent",
    "Sum",
    "UphillDuration",
    "UphillHeat",
    "as_objective",
    "soft_minimum",
]
