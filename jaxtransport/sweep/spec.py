"""Sweep specifications (host side): axes, observables, validation.

Units ħ = k_B = 1. Currents are OUT OF each reservoir; ``reversed_heat`` is the heat that
flowed INTO the hot reservoir, ∫ max(−J^Q_hot, 0) dt ≥ 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

SUMMARIES = ("min_heat_current", "min_heat_current_time", "reversed_heat",
             "final_heat_current")
"""Summary observables of the ``hot`` reservoir's heat current J^Q_hot (out of it), one number
per configuration: its minimum over time (energy per time; negative = heat flows into the hot
reservoir), the time of that minimum, ``reversed_heat`` = ∫ max(−J^Q_hot, 0) dt ≥ 0 (energy:
the heat that flowed into it) and its value at the last time. Units ħ = k_B = 1."""
TRACES = ("heat_current", "particle_current", "energy_current", "coupling_energy",
          "symmetric_heat_current", "occupation")
"""Trace observables over time (dims time × reservoir, or time × mode for ``occupation``):
currents out of each reservoir (particles or energy per time), coupling energies (energy),
occupations (dimensionless). Units ħ = k_B = 1."""
# heat-conductance candidates (jaxtransport.thermodynamics), traces over time, hot vs cold
CONDUCTANCES = ("conductance_g1", "conductance_g2", "conductance_g4", "conductance_g5")
"""Conductance candidates G1, G2, G4, G5 of ``jaxtransport.thermodynamics`` (traces over time,
hot vs cold; heat out of each reservoir). Units ħ = k_B = 1: 1/time."""
# heat cumulants κ_n(t) of the hot reservoir (jaxtransport.statistics, finite reservoirs)
CUMULANTS = ("heat_cumulants",)
"""Heat cumulants κ_n(t) of the heat out of the hot reservoir (dims time × cumulant_order),
on finite reservoirs. Units ħ = k_B = 1: energy^n."""
# genuine uphill (cold-to-hot) flow per configuration, hot/cold from its own temperatures
# (jaxtransport.uphill): heat moved uphill ∫ r dt and the time with r > 0
UPHILL = ("uphill_heat", "uphill_duration")
OBSERVABLES = SUMMARIES + TRACES + CONDUCTANCES + CUMULANTS + UPHILL
"""Every observable a sweep can keep (units and signs: see each group; currents and heat are
out of each reservoir, ħ = k_B = 1)."""
DEFAULT_CUMULANT_ORDERS = (2, 3, 4)
DEFAULT_OBSERVABLES = ("min_heat_current", "min_heat_current_time", "reversed_heat")
"""The observables kept by default: the minimum of the heat current out of the hot reservoir,
its time and the reversed heat (units ħ = k_B = 1: energy per time, time, energy)."""

# status codes stored per configuration (dimensionless integers, variable ``status``)
OK = 0
"""Status code (dimensionless): the configuration was evaluated and every stored value is
finite."""
NON_FINITE = 1
"""Status code (dimensionless): the configuration was evaluated but a stored value is NaN or
infinite."""
MODEL_FAILED = 2
"""Status code (dimensionless): building the model (stage 1) for this configuration's
parameters failed."""
OUT_OF_RANGE = 3
"""Status code: a temperature or chemical potential lies outside the range the method was
refined for (e.g. below an explicit ``Continuum(temperature_range=...)``): no error
guarantee, the values are not to be used."""


@dataclasses.dataclass(frozen=True)
class Axis:
    """One sweep dimension: ``name`` and its coordinate ``values`` (1-D).

    Units: those of the swept quantity (ħ = k_B = 1: temperatures and chemical potentials in
    the units of h; ``initial_state``, ``sample`` and parameter indices are dimensionless)."""

    name: str
    values: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class Sweep:
    """A sweep specification (host-side, validated at construction; use the constructors
    ``Sweep.grid``, ``Sweep.samples``, ``Sweep.random``).

    ``axes`` are the stored dimensions in order. For a grid: ``parameter_<name>`` axes first
    (stage 1 per value), then ``temperature_<α>``, ``chemical_potential_<α>``,
    ``initial_state``. For samples: one ``sample`` axis.

    Observables (``observables=``): the summaries ``SUMMARIES`` and traces ``TRACES`` of the
    engine; the conductance candidates ``CONDUCTANCES`` (traces over time, from
    ``jaxtransport.thermodynamics``: G1 = J^Q_hot/ΔT, G2 = (J^Q_hot − J^Q_cold)/(2ΔT), G4 the
    subtracted [J^Q_hot(ΔT) − J^Q_hot(0)]/ΔT, G5 = Q_hot/(tΔT); ΔT = T_hot − T_cold must be
    nonzero in every configuration, G5 needs times starting at 0; G4 costs two extra
    evaluations per configuration); and ``heat_cumulants``: κ_n(t) of the heat out of the hot
    reservoir for n in ``cumulant_orders`` (dims time × cumulant_order), from
    ``jaxtransport.statistics.cumulants`` on the finite reservoirs of ``cumulant_method`` (a
    ``jt.Discretised``; default ``method`` when that is one) — exact for those modes, a
    D×D determinant series per time and configuration (D = n + all bath modes): seconds per
    configuration for D ~ 200, so keep such sweeps small — or ``cumulant_method="continuum"``:
    the continuous pole-sum reservoirs without discretisation (``jaxtransport.fcs_continuum``,
    fermions, orders up to ``fcs_continuum.max_order(model)``).
    ``UPHILL``: ``uphill_heat`` = ∫ r dt (energy) and ``uphill_duration`` (ħ/energy), the
    genuine cold-to-hot flow of ``jaxtransport.uphill`` (heat out of the colder and into the
    hotter reservoir at once), hot/cold from each configuration's own temperatures.
    ``cold``: the reservoir the conductances compare with (default: the other one when there
    are two reservoirs).
    ``currents_only``: build stage 1 with ``observables="currents"`` (``jt.CurrentResponse``:
    O(T n) instead of O(T n²) storage, for systems of tens to hundreds of sites); every
    observable but ``occupation`` is available.

    Units ħ = k_B = 1: times in 1/h, temperatures and chemical potentials in the units of h;
    currents out of each reservoir in energy per time; ``reversed_heat`` (heat into the hot
    reservoir) in energy. Construction raises ``ValueError`` naming the bad argument.
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
    cold: int | None = None
    cumulant_orders: tuple[int, ...] = DEFAULT_CUMULANT_ORDERS
    cumulant_method: Any = None  # jt.Discretised for heat_cumulants
    currents_only: bool = False  # stage 1 with observables="currents" (jt.CurrentResponse)
    # jt.Pade with a fixed pole count when the sweep runs stage 1 as vmapped batches of
    # models (see ``_batched_pade``); None: per-model kernels contracted per axis
    pade: Any = None
    # the tolerance that pole count was chosen for (checked per chunk); None: user-fixed N
    pade_tolerance: float | None = None

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def grid(cls, model, times, *, temperature: Mapping[int, Sequence[float]] | None = None,
             chemical_potential: Mapping[int, Sequence[float]] | None = None,
             initial_states=None, parameters: Mapping[str, Sequence[float]] | None = None,
             model_fn: Callable | None = None, observables=DEFAULT_OBSERVABLES, hot: int = 0,
             time_stride: int = 1, method=None, cold: int | None = None,
             cumulant_orders=DEFAULT_CUMULANT_ORDERS, cumulant_method=None,
             currents_only: bool = False) -> Sweep:
        """Cartesian grid. ``temperature={α: values}`` (reservoir index → values; reservoirs
        not listed keep the model's value), likewise ``chemical_potential``;
        ``initial_states``: correlation matrices (S, n, n) (default: the empty state);
        ``parameters={name: values}`` with ``model_fn(**{name: value}) -> Model`` (stage 1
        per value). ``hot``: the reservoir whose heat current the summaries follow; ``cold``,
        ``cumulant_orders``, ``cumulant_method``, ``currents_only``: see the class
        docstring."""
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
                         method, temperature, chemical_potential, c0, parameters, model_fn,
                         cold, cumulant_orders, cumulant_method, currents_only)

    @classmethod
    def samples(cls, model, times, *, temperature, chemical_potential=None, initial_states,
                observables=DEFAULT_OBSERVABLES, hot: int = 0, time_stride: int = 1,
                method=None, cold: int | None = None, cumulant_orders=DEFAULT_CUMULANT_ORDERS,
                cumulant_method=None, currents_only: bool = False) -> Sweep:
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
                         {"all": np.array(mu)}, c0, {}, None, cold, cumulant_orders,
                         cumulant_method, currents_only)

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
              chemical_potential, c0, parameters, model_fn, cold=None,
              cumulant_orders=DEFAULT_CUMULANT_ORDERS, cumulant_method=None,
              currents_only=False):
        observables = tuple(observables)
        from ..response.pade import Pade

        if isinstance(method, Pade) and currents_only:
            raise ValueError("jt.Pade has no currents-only mode (currents_only=True); use "
                             "currents_only=False with jt.Pade, or jt.Continuum.")
        if currents_only and "occupation" in observables:
            raise ValueError("currents_only=True keeps no correlation matrix, so 'occupation' "
                             "cannot be stored; drop it or use currents_only=False.")
        unknown = [o for o in observables if o not in OBSERVABLES]
        if unknown or not observables:
            raise ValueError(f"unknown observables {unknown or '(none given)'}; allowed: "
                             f"{', '.join(OBSERVABLES)}.")
        if not (0 <= int(hot) < model.n_reservoirs):
            raise ValueError(f"hot must be a reservoir index in [0, {model.n_reservoirs}), "
                             f"got {hot}.")
        if not (isinstance(time_stride, int | np.integer) and time_stride >= 1):
            raise ValueError(f"time_stride must be an integer >= 1, got {time_stride!r}.")
        cold = _check_cold(model, int(hot), cold, observables, kind, temperature, times)
        orders = _check_orders(cumulant_orders)
        if "heat_cumulants" in observables:
            cumulant_method = _check_cumulant_method(model, times, method, cumulant_method,
                                                     orders)
        else:
            cumulant_method = None
        pade = _batched_pade(method, model, kind, parameters, model_fn, temperature,
                             currents_only, observables)
        pade_tol = None if pade is None or getattr(method, "n_pade", None) is not None \
            else pade.tolerance
        return cls(kind, model, times, axes, observables, int(hot), int(time_stride), method,
                   temperature, chemical_potential, c0, parameters, model_fn, cold, orders,
                   cumulant_method, bool(currents_only), pade, pade_tol)

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
            if o in SUMMARIES or o in UPHILL:
                out[o] = ((), ())
            elif o in CONDUCTANCES:
                out[o] = (("time",), (nt,))
            elif o == "heat_cumulants":
                out[o] = (("time", "cumulant_order"), (nt, len(self.cumulant_orders)))
            elif o == "occupation":
                out[o] = (("time", "mode"), (nt, n))
            else:
                out[o] = (("time", "reservoir"), (nt, m))
        return out

    def method_for(self, model):
        """The stage-1 method, its temperature/μ ranges widened to cover the sweep."""
        from ..response.continuum import Continuum

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


def _batched_pade(method, model, kind, parameters, model_fn, temperature, currents_only,
                  observables):
    """The ``jt.Pade`` (fixed pole count) this sweep evaluates as vmapped batches of stage 1
    — models built by ``jax.vmap(model_fn)``, kernels and evaluation in one compiled program
    per chunk — or None for the per-axis contraction of one model's stored kernels.

    Used when ``method`` is a ``jt.Pade``, or when ``method`` is None (automatic), the sweep
    has parameter axes (a new model per point: the Padé closed form needs no frequency
    kernels) and ``jt.Pade`` supports the model (``jaxtransport.solve`` rule 3). The pole
    count is chosen for the tolerance at the lowest swept temperature and the largest lead
    tails among the model and the corners of the parameter axes; the per-configuration
    error estimates are checked after each chunk (a warning if one exceeds the tolerance)."""
    from ..response.pade import Pade, pade_for_models
    from ..solve import AUTO_TOLERANCE, pade_supports

    if method is None:
        if not parameters or currents_only or not pade_supports(model):
            return None
        method = Pade(tolerance=AUTO_TOLERANCE)
    elif not isinstance(method, Pade):
        return None
    models = [model]
    if parameters:
        names = list(parameters)
        for corner in np.ndindex(*(2,) * len(names)):
            vals = {k: float(np.min(parameters[k]) if c == 0 else np.max(parameters[k]))
                    for k, c in zip(names, corner, strict=True)}
            try:
                models.append(model_fn(**vals))
            except (ValueError, FloatingPointError):
                continue  # an invalid corner: its points are recorded as failed when run
    t_all = [np.asarray(model.temperatures, float).ravel()]
    t_all += [np.ravel(np.asarray(v, float)) for v in temperature.values()]
    return pade_for_models(method, models, float(np.min(np.concatenate(t_all))))


def _check_cold(model, hot, cold, observables, kind, temperature, times):
    """The cold reservoir index (validated); for conductances also ΔT != 0 everywhere and,
    for G5, times from 0."""
    m = model.n_reservoirs
    if cold is None:
        if not any(o in CONDUCTANCES for o in observables):
            return None
        if m != 2:
            raise ValueError(f"conductance observables need cold= (the reservoir compared "
                             f"with hot={hot}) when there are {m} reservoirs.")
        cold = 1 - hot
    if not (isinstance(cold, int | np.integer) and 0 <= cold < m):
        raise ValueError(f"cold must be a reservoir index in [0, {m}), got {cold!r}.")
    if cold == hot:
        raise ValueError(f"cold must differ from hot (both {hot}).")
    if not any(o in CONDUCTANCES for o in observables):
        return int(cold)
    if kind == "samples":
        t = temperature["all"]
        same = np.nonzero(t[:, hot] == t[:, cold])[0]
        if same.size:
            raise ValueError(f"conductance observables divide by T_hot − T_cold, which is 0 in "
                             f"sample(s) {same[:5].tolist()}.")
    else:
        th = temperature.get(hot, np.asarray([float(model.temperatures[hot])]))
        tc = temperature.get(cold, np.asarray([float(model.temperatures[cold])]))
        both = np.intersect1d(th, tc)
        if both.size:
            raise ValueError(f"conductance observables divide by T_hot − T_cold, which is 0 "
                             f"where both equal {both[:5].tolist()} (hot={hot}, cold={cold}).")
    if "conductance_g5" in observables and times[0] != 0.0:
        raise ValueError(f"conductance_g5 = Q_hot/(t ΔT) needs times starting at 0 (the "
                         f"switch-on), got {times[0]:g}.")
    return int(cold)


def _check_orders(orders):
    try:
        out = tuple(int(k) for k in orders)
    except (TypeError, ValueError):
        raise ValueError(f"cumulant_orders must be a list of integers >= 1, got "
                         f"{orders!r}.") from None
    if (not out or any(k < 1 for k in out) or len(set(out)) != len(out)
            or any(float(a) != b for a, b in zip(out, orders, strict=True))):
        raise ValueError(f"cumulant_orders must be distinct integers >= 1, got {orders!r}.")
    return out


def _check_cumulant_method(model, times, method, cumulant_method, orders=(1,)):
    """The finite reservoirs for heat_cumulants: a Discretised (validated on the model), or
    ``"continuum"``: the continuous reservoirs themselves (``jaxtransport.fcs_continuum``)."""
    from ..response.discretised import Discretised
    from ..statistics import FiniteModes

    if isinstance(cumulant_method, str):
        if cumulant_method != "continuum":
            raise ValueError(f"cumulant_method must be a jt.Discretised(...) or 'continuum', "
                             f"got {cumulant_method!r}.")
        from ..fcs_continuum import check_model_orders

        check_model_orders(model, max(orders))
        return "continuum"

    cm = cumulant_method if cumulant_method is not None else method
    if not isinstance(cm, Discretised):
        raise ValueError(
            "heat_cumulants are computed on finite reservoirs: pass cumulant_method="
            "jt.Discretised(...) (or use method=jt.Discretised(...)); got "
            f"{type(cm).__name__ if cm is not None else 'the default Continuum'}.")
    fm = FiniteModes.from_model(model, cm)
    if times[-1] >= fm.recurrence_time:
        raise ValueError(f"heat_cumulants: the finite reservoirs of cumulant_method recur at "
                         f"{fm.recurrence_time:.4g} but times reach {times[-1]:g}: increase "
                         "its n_modes.")
    return cm


def random_states(n: int, num: int, rng) -> np.ndarray:
    """``num`` random physical fermionic correlation matrices C = U diag(ν) U† (Haar U,
    ν uniform in [0, 1]).

    Units: C is dimensionless."""
    z = rng.normal(size=(num, n, n)) + 1j * rng.normal(size=(num, n, n))
    q, r = np.linalg.qr(z)
    q = q * (np.diagonal(r, axis1=1, axis2=2) / np.abs(np.diagonal(r, axis1=1, axis2=2)))[
        :, None, :]
    nu = rng.uniform(0.0, 1.0, size=(num, n))
    c = np.einsum("bij,bj,bkj->bik", q, nu, q.conj())
    return 0.5 * (c + np.conj(np.swapaxes(c, 1, 2)))


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
    from ..state import GaussianState

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
    from .._validation import check_times

    return np.asarray(check_times(times))
