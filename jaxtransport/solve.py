r"""The entry points ``jt.solve`` and ``jt.response``: every model, every method, and with
``method=None`` an automatic choice of the fastest exact method.

**Automatic choice** (``method=None``), in this order:

1. A ``jt.QuadraticModel`` (pairing, squeezing, position coupling): the general continuum
   closure (``jt.GeneralContinuum``; the only other method for it is ``jt.Discretised``).
2. ``observables``: ``None`` means ``"all"`` for systems of at most ``LARGE_SYSTEM`` (= 64)
   modes and ``"currents"`` above (a ``jt.CurrentSolution``: currents and coupling energies,
   no C(t); O(T n) instead of O(T n²) memory). ``"currents"`` always uses ``jt.Continuum``
   (currents-only kernels).
3. ``observables="all"``, a fermionic ``jt.Model`` whose spectral densities are all sums of
   poles (``Lorentzian``, ``LorentzianSum``, ``CutoffLorentzian`` and sums of them), at most
   ``LARGE_SYSTEM`` modes and concrete (not traced) values: ``jt.Pade(tolerance=tolerance)``
   — closed form in time, no frequency quadrature, nothing to compile for one configuration.
   It falls back to rule 4 when the closure is too ill-conditioned (near an exceptional point)
   or when the tolerance would need more than 400 Padé poles.
4. Otherwise ``jt.Continuum(tolerance=tolerance)`` (exact ODE closure + frequency quadrature;
   bosons, non-pole densities via the kernel fit).

**Driven models** (``jt.Model(..., drive=jt.Drive(...))``): ``observables=None`` means
``"all"``, and rule 3 applies with the driven ``jt.Pade`` (``response/driven_pade.py``: the same
finite linear system with a time-dependent generator, propagated in time with error control;
its ``evaluate`` gives a ``jt.DrivenSolution`` with ``power``, ``work``,
``first_law_residual`` and the instantaneous ``system_energy``). It is built with
``strict=True``: where it cannot meet the tolerance (error estimate of the Padé truncation
plus step doubling), or for bosons and non-pole densities, the choice is ``jt.Continuum``,
whose stage 1 then propagates the closure with the time-dependent generator
(``response/driven.py``; same frequency nodes, same stage 2, any (T, μ) at stage-2 cost). A
forced ``jt.Discretised`` integrates the drive with finite modes
(``response/driven_discretised.py``, same ``DrivenResponse``).
A driven ``jt.QuadraticModel``: fermions with exchange leads get rule 1's general continuum
with the driven closure of the Nambu-doubled model (``response/driven_general_continuum.py``);
bosons (squeezing, x–x coupling) only the forced ``jt.Discretised``
(``response/driven_general.py``; method=None raises naming it). Both give a
``jt.DrivenGeneralSolution``.

``tolerance`` is the absolute accuracy asked of occupations, correlations, currents and
coupling energies (default: ``AUTO_TOLERANCE`` = 1e-6 for ``jt.Pade`` — where its error is
the Padé truncation, which in practice leaves occupations, particle and heat currents far
more accurate and only coupling energies near the tolerance — and each other method's own
default, 1e-8 for ``jt.Continuum``); the chosen method's own error
estimate is on the result (``sol.error_estimate``) and its name too (``sol.method``, and
``resp.method`` for a response). For a response built by ``jt.Pade`` the estimate is checked
again at every (T, μ) it is evaluated at (see ``PadeResponse.evaluate``).

**The tools** apply the same rules where a new model is solved often: ``jt.Sweep`` with
parameter axes (a new model per point) runs ``jt.Pade`` with one pole count for the whole
sweep, its models built and solved as ``jax.vmap`` batches (``sweep/spec.py``); sweeps over
T, μ and C0 of one model keep the Continuum's per-axis contraction of stored kernels; and
``jt.optimise_preparation`` training level energies, hoppings or couplings re-runs
``jt.Pade`` (pole count fixed for the bounds) inside every step.

**Correlated initial states** (``state=jt.StationaryState(premodel)`` or ``initial=``): stage 1
depends on the premodel, so the state is built into the response; the automatic choice is
``jt.Continuum`` (``jt.Pade`` has no stationary start), ``jt.Discretised`` may be forced
(joint equilibrium only).

**Forcing a method**: ``method=jt.Continuum(...)``, ``jt.Discretised(...)`` or
``jt.Pade(...)`` is always used as given (its own tolerance; passing ``tolerance=`` as well is
an error). A combination the method cannot do raises one ``ValueError`` naming the method, the
missing feature and an alternative.
"""

from __future__ import annotations

import dataclasses
import warnings

import jax

from ._validation import is_concrete, require_x64
from .model import QuadraticModel
from .response.api import response as method_response
from .response.continuum import Continuum
from .response.general import state_from
from .response.general_continuum import GeneralContinuum
from .response.pade import Pade, PadeResponse, PadeUnsuitable

AUTO_TOLERANCE = 1e-6
LARGE_SYSTEM = 64


def _is_general(model) -> bool:
    return isinstance(model, QuadraticModel)


def _resolve_observables(model, observables):
    if observables is None:
        if _is_general(model) or getattr(model, "drive", None) is not None:
            return "all"
        return "all" if model.n_modes <= LARGE_SYSTEM else "currents"
    if observables not in ("all", "currents"):
        raise ValueError(f"observables must be 'all' or 'currents' (or None: automatic, by "
                         f"system size), got {observables!r}.")
    return observables


def pade_supports(model, observables: str = "all") -> bool:
    """Whether rule 3 applies: ``jt.Pade`` can solve ``model`` for ``observables``."""
    return getattr(model, "drive", None) is None and _pade_model(model, observables)


def _pade_model(model, observables) -> bool:
    from .model import Model
    from .response.base import flatten_terms

    return (isinstance(model, Model) and model.statistics == "fermion"
            and observables == "all" and model.n_modes <= LARGE_SYSTEM
            and all(dens.is_pole_sum for dens, _, _ in flatten_terms(model)))


def driven_pade_supports(model, observables: str = "all") -> bool:
    """Whether rule 3 applies to a driven model (the driven ``jt.Pade``); the tools that
    build models in batches (sweeps, optimiser) keep ``pade_supports``, undriven only."""
    return getattr(model, "drive", None) is not None and _pade_model(model, observables)


def choose_method(model, observables=None, tolerance: float | None = None):
    """The method the automatic rule (module docstring) picks for ``model``, before the
    fall-backs that need stage 1 (conditioning, pole count): a ``jt.Pade``,
    ``jt.Continuum`` or ``jt.GeneralContinuum`` instance."""
    observables = _resolve_observables(model, observables)
    if _is_general(model):
        if tolerance is None:
            return GeneralContinuum()
        return GeneralContinuum(engine=Continuum(tolerance=float(tolerance)),
                                tolerance=float(tolerance))
    concrete = is_concrete(*jax.tree_util.tree_leaves(model))
    if concrete and (pade_supports(model, observables)
                     or driven_pade_supports(model, observables)):
        # driven: strict, so that a missed tolerance falls back to jt.Continuum
        return Pade(tolerance=AUTO_TOLERANCE if tolerance is None else float(tolerance),
                    strict=getattr(model, "drive", None) is not None)
    return _fallback(tolerance)


def _fallback(tolerance):
    return Continuum() if tolerance is None else Continuum(tolerance=float(tolerance))


def _check_forced(model, method, observables, tolerance):
    if tolerance is not None:
        raise ValueError(
            f"tolerance= applies to the automatic choice (method=None); the forced method "
            f"{type(method).__name__} has its own: pass {type(method).__name__}("
            f"tolerance=...) instead.")
    if isinstance(method, Pade):
        if _is_general(model):
            raise ValueError(
                "jt.Pade solves number-conserving jt.Model systems; a jt.QuadraticModel "
                "(pairing, squeezing, position coupling) is not supported. Use method=None "
                "(the general continuum) or jt.Discretised.")
        if observables == "currents":
            raise ValueError(
                "jt.Pade has no currents-only mode (observables='currents'; its response is "
                "already small). Use observables='all' with jt.Pade, or jt.Continuum for "
                "currents only.")


def response(model, times, method=None, observables: str | None = None,
             tolerance: float | None = None, initial=None):
    """Stage 1: exact response kernels of ``model`` on the time grid ``times``, independent
    of temperatures, chemical potentials and the initial state (``.evaluate(state, T, μ)``
    gives the observables). ``method=None``: the automatic choice of the module docstring;
    else the given ``jt.Pade``/``jt.Continuum``/``jt.Discretised``. ``observables``:
    ``"all"``, ``"currents"`` or ``None`` (automatic, by system size).
    ``initial=jt.StationaryState(premodel)``: the kernels of that correlated initial state
    (they depend on the premodel), a ``jt.StationaryResponse``.

    Units ħ = k_B = 1: ``times`` in 1/h; ``tolerance`` in the units of the observables it
    bounds. The response's ``evaluate`` gives currents out of each reservoir (particles per
    time; energy and heat in energy per time) and C_ij = <a_j† a_i>. Raises ``ValueError`` for
    invalid input or an impossible forced combination (naming the method, the missing feature
    and an alternative)."""
    require_x64("jt.response")
    if initial is not None:
        return _stationary_response(model, times, method, observables, tolerance, initial)
    observables = _resolve_observables(model, observables)
    if method is not None:
        _check_forced(model, method, observables, tolerance)
        return method_response(model, times, method, observables)
    method = choose_method(model, observables, tolerance)
    if isinstance(method, Pade):
        try:
            return method.response(model, times)
        except PadeUnsuitable:
            method = _fallback(tolerance)
    return method_response(model, times, method, observables)


def solve(model, state, times, method=None, observables: str | None = None,
          tolerance: float | None = None):
    """One call: ``response(model, times, method, observables, tolerance).evaluate(state)``
    at the model's own temperatures and chemical potentials. The result carries the method
    used (``sol.method``) and its error estimate (``sol.error_estimate``).

    Units ħ = k_B = 1: ``times`` in 1/h; the result's currents are out of each reservoir
    (particles per time; energy and heat in energy per time), correlations C_ij = <a_j† a_i>
    dimensionless. Raises ``ValueError`` for invalid input or a method that cannot do what is
    asked (the message names the method, the missing feature and an alternative).

    Examples:
        A level between a hot and a cold lead, initially filled; at long times heat leaves
        the hot lead (positive) and enters the cold one (negative):

        >>> import numpy as np, jaxtransport as jt
        >>> lead = jt.Lorentzian(gamma=0.5, width=2.0)
        >>> model = jt.Model([[0.5]], (jt.Reservoir(lead, temperature=1.5, coupling=[1.0]),
        ...                            jt.Reservoir(lead, temperature=0.5, coupling=[1.0])))
        >>> sol = jt.solve(model, jt.GaussianState([[1.0]]), np.linspace(0.0, 30.0, 31))
        >>> sol.method, sol.heat_current.shape
        ('pade', (31, 2))
        >>> bool(sol.heat_current[-1, 0] > 0 > sol.heat_current[-1, 1])
        True
    """
    if getattr(state, "is_stationary_state", False):  # correlated start: its own stage 1
        resp = _stationary_response(model, times, method, observables, tolerance, state)
        return with_method(resp.evaluate(state), resp.method)
    resp = response(model, times, method, observables, tolerance)
    if _is_general(model):
        state = state_from(state, model.statistics, model.n_modes)
    try:
        sol = resp.evaluate(state)
    except PadeUnsuitable:
        if method is not None or not isinstance(resp, PadeResponse):
            raise
        resp = response(model, times, _fallback(tolerance),
                        _resolve_observables(model, observables))
        sol = resp.evaluate(state)
    return with_method(sol, resp.method)


def _stationary_response(model, times, method, observables, tolerance, initial):
    """``jt.StationaryState``: ``jt.Continuum`` (automatic choice: jt.Pade has no stationary
    start) or a forced ``jt.Continuum``/``jt.Discretised``; full observables."""
    if not getattr(initial, "is_stationary_state", False):
        raise ValueError(f"initial= must be a jt.StationaryState, got {type(initial).__name__}.")
    if observables not in (None, "all"):
        raise ValueError("jt.StationaryState supports observables='all' only.")
    if method is None:
        method = _fallback(tolerance)
    elif tolerance is not None:
        _check_forced(initial.premodel, method, "all", tolerance)
    return initial.response(model, times, method)


def with_method(sol, name: str):
    """``sol`` with its ``method`` field set (the name of the method that computed it)."""
    if getattr(sol, "method", None) == name or not hasattr(sol, "method"):
        return sol
    return dataclasses.replace(sol, method=name)


def _deprecated(old, new):
    warnings.warn(f"jt.{old} is deprecated: use jt.{new} (it takes every model kind).",
                  DeprecationWarning, stacklevel=3)


def general_response(model, times, method=None):
    """Deprecated: ``jt.response(model, times, method)``.

    Units ħ = 1: ``times`` in 1/h. Returns a ``GeneralResponse`` whose currents are out of each
    reservoir."""
    _deprecated("general_response", "response")
    return response(model, times, method)


def solve_general(model, state, times, method=None):
    """Deprecated: ``jt.solve(model, state, times, method)``.

    Units ħ = k_B = 1; returns a ``GeneralSolution`` (currents out of each reservoir)."""
    _deprecated("solve_general", "solve")
    return solve(model, state, times, method)
