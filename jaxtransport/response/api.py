"""Stage 1 for a given method, for every model kind (``jt.response`` with a forced method;
the automatic choice is ``jaxtransport.solve``).

``jt.Model`` (number-conserving) and ``jt.QuadraticModel`` (pairing, squeezing, position
coupling) go through the same function; the model kind picks the stage-1 builder of the
method, and the result implements the one stage-2 protocol (``AbstractResponse``).
"""

from __future__ import annotations

from .._validation import require_x64
from ..model import QuadraticModel
from .base import AbstractResponse
from .continuum import Continuum
from .discretised import Discretised
from .driven_general import driven_general_response
from .general import GeneralResponse
from .general_continuum import GeneralContinuum
from .general_discretised import discretised_response


def response(model, times, method=None, observables: str = "all") -> AbstractResponse:
    """Stage 1: exact response kernels of ``model`` on the time grid ``times``.

    ``method`` is ``jt.Continuum()`` (default; exact ODE closure + frequency quadrature with
    error estimate), ``jt.Discretised(n_modes, band)`` (finite reservoirs, exact unitary
    evolution) or ``jt.Pade()`` (closed form for pole-sum leads at given T, μ). The result
    does not depend on the initial state (nor, except for Padé, on temperatures and chemical
    potentials); evaluate it with ``.evaluate(state, temperature, chemical_potential)``.

    ``observables="all"`` (default) returns the full response (currents, coupling energies
    and C(t)); ``observables="currents"`` returns a ``CurrentResponse`` whose ``evaluate``
    gives a ``CurrentSolution`` with the currents and coupling energies only: O(T n) state
    storage instead of O(T n²) and no per-node correlation kernels, for systems of hundreds
    of modes (number-conserving models). A ``jt.QuadraticModel`` (pairing, squeezing, x–x
    coupling) gets a ``GeneralResponse`` (full observables) from ``Continuum`` or
    ``Discretised``.
    """
    require_x64("jt.response")
    if observables not in ("all", "currents"):
        raise ValueError(f"observables must be 'all' or 'currents', got {observables!r}.")
    if isinstance(model, QuadraticModel):
        if observables != "all":
            raise ValueError("observables='currents' is available for jt.Model (number-"
                             "conserving), not for jt.QuadraticModel; use observables='all'.")
        return _quadratic_response(model, times, method)
    method = Continuum() if method is None else method
    if observables == "all":
        return method.response(model, times)
    if not hasattr(method, "current_response"):
        raise ValueError(
            f"observables='currents' is available for jt.Continuum and jt.Discretised, "
            f"not {type(method).__name__}."
        )
    return method.current_response(model, times)


def _quadratic_response(model, times, method) -> GeneralResponse:
    if isinstance(method, Discretised):
        if model.drive is not None:  # time-ordered Magnus stepping of the quadrature form
            return driven_general_response(model, times, method)
        return discretised_response(model, times, method)
    if method is None or isinstance(method, Continuum):
        method = GeneralContinuum.from_continuum(method)
    if not isinstance(method, GeneralContinuum):
        raise ValueError(f"{type(method).__name__} does not solve jt.QuadraticModel: use "
                         "jt.Continuum(...) (or GeneralContinuum(...)) or jt.Discretised(...).")
    return method.response(model, times)
