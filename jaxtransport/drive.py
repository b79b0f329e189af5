r"""Time-dependent driving: a driven system Hamiltonian, modulated couplings and reservoir bias.

A driven model (``jt.Model(h, reservoirs, drive=jt.Drive(...))``) has

    H_S(t)   = h + Σ_k f_k(t) V_k                       (``terms``: pairs (V_k, f_k))
    V_α(t)   = s_α(t) V_α                                (``coupling``: s_α per reservoir)
    H_α(t)   = Σ_q (ε_αq + Δ_α(t)) c_αq† c_αq            (``bias``: Δ_α per reservoir)

with the reservoirs in their thermal states (T_α, μ_α) at t = 0, when the coupling is switched
on. Unmodulated reservoirs have s_α = 1 and Δ_α = 0. Amplitudes are real functions of time
(energy units for f_k·V_k and Δ_α, dimensionless for s_α; ħ = 1, times in inverse energy).

**Amplitudes** are JAX-traceable callables ``f(t)`` of a scalar time: the ``eqx.Module``
amplitudes of this module (``Sine``, ``Ramp``, ``Pulse``, ``PiecewiseLinear``, ``Constant``),
whose array fields are pytree leaves — ``jax.grad`` reaches them and new values do not
recompile —, or a plain Python function built from ``jax.numpy`` (wrapped in ``Function``;
its body is static: changing the function recompiles, and closed-over arrays get no gradient).
``amplitude.derivative(t)`` is df/dt by forward-mode autodiff (used for the drive's power).

**Breakpoints.** ``amplitude.breakpoints()`` is a 1-d array of the times at which f or one of
its first three derivatives jumps (a kink or a jump of f; ``jt.Ramp``: its two ends, also for
the smooth shape, whose second derivative jumps there; ``jt.PiecewiseLinear``: its knots; the
smooth ``jt.Sine``, ``jt.Pulse`` (a Gaussian) and ``jt.Constant``: none). ``Drive.breakpoints()``
collects them over the system terms, coupling modulations and biases. The time-stepping
methods put step boundaries there, so that every step sees a smooth generator (a fourth-order
step across a kink would drop to second order). The values may be traced (trainable): the
number of breakpoints is static (structure), their values are not, so new values do not
recompile. A plain function has none unless declared: ``jt.Function(f, breakpoints=[...])``.

**Gauge of the bias.** A potential Δ_α(t) on reservoir α shifts all its mode energies. The
unitary e^{iφ_α(t) N_α}, φ_α(t) = ∫_0^t Δ_α, removes it from H_α and puts the phase on the
coupling instead, V_α → V_α e^{−iφ_α(t)}; the methods work in that (coupling) gauge. The
reported particle current (out of the reservoir, as every current here), the coupling energy
and the system observables are gauge invariant. The energy current J^E_α is defined as the
energy leaving reservoir α through the coupling, −i<[H(t), H_α(t)]> with H_α(t) including
Δ_α(t) (the explicit change of ⟨H_α⟩ by the potential itself, Δ̇_α<N_α>, is work done on the
reservoir, not a current), and the heat
current as J^Q_α = J^E_α − (μ_α + Δ_α(t)) J^N_α (the electrochemical potential of the
reservoir at time t).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._validation import check_hermitian, is_concrete

__all__ = [
    "AbstractAmplitude",
    "Constant",
    "Drive",
    "Function",
    "PiecewiseLinear",
    "Pulse",
    "Ramp",
    "Sine",
]


def _scalar(x, name):
    x = jnp.asarray(x, dtype=jnp.float64)
    if x.ndim != 0:
        raise ValueError(f"{name} must be a real scalar, got shape {x.shape}.")
    return x


class AbstractAmplitude(eqx.Module):
    """A real amplitude f(t) of time (a scalar in, a scalar out; traceable).

    Units: t in inverse energy (ħ = k_B = 1); f in the units its use gives it — energy for a
    Hamiltonian term with a dimensionless V_k or a bias Δ_α, dimensionless for a coupling
    scale s_α."""

    @abc.abstractmethod
    def __call__(self, t) -> Array:
        """f(t) for a scalar time t."""

    def derivative(self, t) -> Array:
        """df/dt at a scalar time t (forward-mode autodiff)."""
        t = jnp.asarray(t, dtype=jnp.float64)
        return jax.jvp(self.__call__, (t,), (jnp.ones_like(t),))[1]

    def integral(self, t) -> Array:
        """∫_0^t f (a scalar t): closed forms for the jt amplitudes; this default (a plain
        function) uses 96-point Gauss–Legendre on [0, t] (accurate for smooth f that varies
        on scales longer than t/30)."""
        t = jnp.asarray(t, dtype=jnp.float64)
        x, w = np.polynomial.legendre.leggauss(96)
        u = 0.5 * t * (jnp.asarray(x) + 1.0)
        return 0.5 * t * jnp.sum(jnp.asarray(w) * jax.vmap(self.__call__)(u))

    def on_grid(self, times) -> Array:
        """f at every time of an array of times (any shape)."""
        times = jnp.asarray(times, dtype=jnp.float64)
        return jnp.vectorize(self.__call__)(times)

    def breakpoints(self) -> Array:
        """(B,) the times where f or one of its first three derivatives jumps (module
        docstring); none (shape (0,)) for a smooth amplitude. B is static, the values may be
        traced."""
        return jnp.zeros((0,), dtype=jnp.float64)


class Constant(AbstractAmplitude):
    """f(t) = ``value`` for all t ≥ 0 (the coupling is still switched on at t = 0).

    Units: those of ``value`` (see ``AbstractAmplitude``)."""

    value: Array

    def __init__(self, value: ArrayLike):
        self.value = _scalar(value, "Constant value")

    def __call__(self, t):
        return self.value + 0.0 * jnp.asarray(t, dtype=jnp.float64)

    def integral(self, t):
        return self.value * jnp.asarray(t, dtype=jnp.float64)


class Sine(AbstractAmplitude):
    """f(t) = ``offset`` + ``amplitude`` · sin(``frequency`` · t + ``phase``).

    ``frequency`` is the angular frequency Ω (energy units, ħ = 1; period 2π/Ω), ``phase`` in
    radians. The period is ``self.period``."""

    amplitude: Array
    frequency: Array
    phase: Array
    offset: Array

    def __init__(self, amplitude: ArrayLike, frequency: ArrayLike, phase: ArrayLike = 0.0,
                 offset: ArrayLike = 0.0):
        self.amplitude = _scalar(amplitude, "Sine amplitude")
        self.frequency = _scalar(frequency, "Sine frequency")
        self.phase = _scalar(phase, "Sine phase")
        self.offset = _scalar(offset, "Sine offset")

    @property
    def period(self) -> Array:
        """2π/Ω (inverse energy units)."""
        return 2 * jnp.pi / self.frequency

    def __call__(self, t):
        return self.offset + self.amplitude * jnp.sin(self.frequency * t + self.phase)

    def integral(self, t):
        t = jnp.asarray(t, dtype=jnp.float64)
        w = self.frequency
        safe = jnp.where(w == 0, 1.0, w)
        osc = jnp.where(w == 0, t * jnp.sin(self.phase),
                        (jnp.cos(self.phase) - jnp.cos(w * t + self.phase)) / safe)
        return self.offset * t + self.amplitude * osc


class Ramp(AbstractAmplitude):
    """A ramp from ``initial`` to ``final`` between ``start`` and ``start + duration``, constant
    before and after.

    ``shape="smooth"`` (default) uses (1 − cos(π x))/2 of the elapsed fraction x, continuous
    with its first derivative (a smooth switch-on for coupling modulation, ``Ramp(0, 1, τ)``);
    ``shape="linear"`` a straight line (a kink at both ends).

    Units: ``duration`` and ``start`` in inverse energy (ħ = 1); ``initial`` and ``final`` in
    the units of the amplitude (see ``AbstractAmplitude``)."""

    initial: Array
    final: Array
    duration: Array
    start: Array
    shape: str = eqx.field(static=True)

    def __init__(self, initial: ArrayLike, final: ArrayLike, duration: ArrayLike,
                 start: ArrayLike = 0.0, shape: str = "smooth"):
        if shape not in ("smooth", "linear"):
            raise ValueError(f"Ramp shape must be 'smooth' or 'linear', got {shape!r}.")
        self.initial = _scalar(initial, "Ramp initial")
        self.final = _scalar(final, "Ramp final")
        self.duration = _scalar(duration, "Ramp duration")
        self.start = _scalar(start, "Ramp start")
        self.shape = shape
        if is_concrete(self.duration) and float(self.duration) <= 0:
            raise ValueError(f"Ramp duration must be > 0, got {float(self.duration)}.")

    def __call__(self, t):
        x = jnp.clip((t - self.start) / self.duration, 0.0, 1.0)
        if self.shape == "smooth":
            x = 0.5 * (1.0 - jnp.cos(jnp.pi * x))
        return self.initial + (self.final - self.initial) * x

    def breakpoints(self) -> Array:
        """Both ends of the ramp: f' jumps there (``"linear"``) or f'' (``"smooth"``)."""
        return jnp.stack([self.start, self.start + self.duration])

    def integral(self, t):
        def ramp_part(u):  # ∫_{-∞}^u of the ramp's shape x (0 before, 1 after)
            d = self.duration
            x = jnp.clip((u - self.start) / d, 0.0, 1.0)
            if self.shape == "smooth":
                inside = d * (0.5 * x - jnp.sin(jnp.pi * x) / (2 * jnp.pi))
            else:
                inside = 0.5 * d * x**2
            return inside + jnp.maximum(u - self.start - d, 0.0)

        t = jnp.asarray(t, dtype=jnp.float64)
        return self.initial * t + (self.final - self.initial) * (ramp_part(t) - ramp_part(0.0))


class Pulse(AbstractAmplitude):
    """A Gaussian pulse f(t) = ``amplitude`` · exp(−(t − ``center``)² / (2 ``width``²)).

    Units: ``center`` and ``width`` in inverse energy (ħ = 1); ``amplitude`` in the units of
    the amplitude (see ``AbstractAmplitude``)."""

    amplitude: Array
    center: Array
    width: Array

    def __init__(self, amplitude: ArrayLike, center: ArrayLike, width: ArrayLike):
        self.amplitude = _scalar(amplitude, "Pulse amplitude")
        self.center = _scalar(center, "Pulse center")
        self.width = _scalar(width, "Pulse width")
        if is_concrete(self.width) and float(self.width) <= 0:
            raise ValueError(f"Pulse width must be > 0, got {float(self.width)}.")

    def __call__(self, t):
        return self.amplitude * jnp.exp(-0.5 * ((t - self.center) / self.width) ** 2)

    def integral(self, t):
        s2 = jnp.sqrt(2.0) * self.width
        erf = jax.scipy.special.erf
        return (self.amplitude * self.width * jnp.sqrt(jnp.pi / 2)
                * (erf((t - self.center) / s2) - erf(-self.center / s2)))


class PiecewiseLinear(AbstractAmplitude):
    """Linear interpolation of ``values`` at increasing ``knots`` (times), constant outside
    [knots[0], knots[-1]]. Both are pytree leaves (trainable, e.g. an optimal-control drive
    on a fixed time grid).

    Units: ``knots`` in inverse energy (ħ = 1); ``values`` in the units of the amplitude (see
    ``AbstractAmplitude``)."""

    knots: Array
    values: Array

    def __init__(self, knots: ArrayLike, values: ArrayLike):
        knots = jnp.asarray(knots, dtype=jnp.float64)
        values = jnp.asarray(values, dtype=jnp.float64)
        if knots.ndim != 1 or values.shape != knots.shape or knots.shape[0] < 2:
            raise ValueError(
                f"PiecewiseLinear needs 1-d knots and values of the same length ≥ 2, got "
                f"shapes {knots.shape} and {values.shape}."
            )
        if is_concrete(knots) and not np.all(np.diff(np.asarray(knots)) > 0):
            raise ValueError("PiecewiseLinear knots must be strictly increasing.")
        self.knots = knots
        self.values = values

    def __call__(self, t):
        return jnp.interp(t, self.knots, self.values)

    def breakpoints(self) -> Array:
        """The knots (f' jumps there)."""
        return self.knots

    def integral(self, t):
        k, v = self.knots, self.values
        cum = jnp.concatenate([jnp.zeros(1), jnp.cumsum(0.5 * jnp.diff(k) * (v[1:] + v[:-1]))])

        def anti(u):  # ∫_{knots[0]}^u (constant continuation outside)
            i = jnp.clip(jnp.searchsorted(k, u, side="right") - 1, 0, k.shape[0] - 1)
            inside = cum[i] + 0.5 * (u - k[i]) * (v[i] + jnp.interp(u, k, v))
            return jnp.where(u <= k[0], v[0] * (u - k[0]), inside)

        t = jnp.asarray(t, dtype=jnp.float64)
        return anti(t) - anti(jnp.zeros_like(t))


class Function(AbstractAmplitude):
    """A plain Python function f(t) built from ``jax.numpy`` (static: a different function
    recompiles; arrays it closes over are constants, not trainable).

    ``breakpoints``: the times where f or one of its first three derivatives jumps (a kink,
    e.g. from ``jnp.clip`` or ``jnp.where``), so that the time-stepping methods put step
    boundaries there (module docstring); default none — undeclared kinks still work but
    converge at a lower order in the time step.

    Units: t in inverse energy (ħ = 1); f as in ``AbstractAmplitude``."""

    fn: Callable = eqx.field(static=True)
    breaks: Array

    def __init__(self, fn: Callable, breakpoints: ArrayLike = ()):
        if not callable(fn):
            raise ValueError(f"an amplitude must be callable f(t), got {type(fn).__name__}.")
        self.fn = fn
        breaks = jnp.asarray(breakpoints, dtype=jnp.float64)
        if breaks.ndim != 1:
            raise ValueError(f"Function breakpoints must be a 1-d sequence of times, got "
                             f"shape {breaks.shape}.")
        if is_concrete(breaks) and not np.all(np.isfinite(np.asarray(breaks))):
            raise ValueError("Function breakpoints must be finite times.")
        self.breaks = breaks

    def breakpoints(self) -> Array:
        """The declared ``breakpoints``."""
        return self.breaks

    def __call__(self, t):
        out = jnp.asarray(self.fn(t))
        if out.shape != ():
            raise ValueError(f"amplitude function must return a scalar, got shape {out.shape}.")
        if jnp.iscomplexobj(out):
            raise ValueError("amplitude function must be real-valued.")
        return out.astype(jnp.float64)


def amplitude(f) -> AbstractAmplitude:
    """``f`` as an ``AbstractAmplitude`` (a number becomes ``Constant``, a callable
    ``Function``)."""
    if isinstance(f, AbstractAmplitude):
        return f
    if callable(f):
        return Function(f)
    try:
        return Constant(f)
    except (TypeError, ValueError):
        raise ValueError(
            f"an amplitude must be a jt amplitude (jt.Sine, jt.Ramp, jt.Pulse, "
            f"jt.PiecewiseLinear, jt.Constant), a callable f(t) or a real number; got "
            f"{type(f).__name__}."
        ) from None


class Drive(eqx.Module):
    r"""The time dependence of a model (module docstring): H_S(t) = h + Σ_k f_k(t) V_k,
    couplings V_α(t) = s_α(t) V_α, reservoir potentials Δ_α(t).

    **Arguments:**

    - ``terms``: sequence of pairs ``(V_k, f_k)``: a Hermitian matrix V_k of the model's
      Hamiltonian shape (n×n for ``jt.Model``) and an amplitude f_k (see the module
      docstring; numbers and plain functions are accepted).
    - ``coupling``: mapping reservoir (index or name) → s_α(t), dimensionless.
    - ``bias``: mapping reservoir (index or name) → Δ_α(t), energy units.

    Reservoir names are resolved when the drive is attached to a model
    (``jt.Model(..., drive=drive)``); afterwards ``coupling`` and ``bias`` are tuples with one
    entry per reservoir (``None`` where unmodulated).
    """

    matrices: tuple[Array, ...]
    amplitudes: tuple[AbstractAmplitude, ...]
    coupling: tuple | Mapping
    bias: tuple | Mapping

    def __init__(self, terms: Sequence = (), coupling: Mapping | None = None,
                 bias: Mapping | None = None):
        mats, amps = [], []
        for k, term in enumerate(terms):
            if not (isinstance(term, tuple | list) and len(term) == 2):
                raise ValueError(f"Drive terms[{k}] must be a pair (V_k, f_k), got {term!r}.")
            v = jnp.asarray(term[0])
            v = v.astype(jnp.complex128 if jnp.iscomplexobj(v) else jnp.float64)
            if not _real_antisymmetric(v):  # else a fermionic jt.QuadraticModel term
                check_hermitian(v, f"Drive terms[{k}] matrix (Hermitian, or real "
                                   f"antisymmetric for a fermionic jt.QuadraticModel)")
            mats.append(v)
            amps.append(amplitude(term[1]))
        self.matrices = tuple(mats)
        self.amplitudes = tuple(amps)
        self.coupling = _amplitude_map(coupling, "coupling")
        self.bias = _amplitude_map(bias, "bias")
        if not (self.matrices or self.coupling or self.bias):
            raise ValueError("Drive needs at least one term, coupling modulation or bias.")

    # --- resolution against a model ----------------------------------------------------
    def resolved(self, names: Sequence[str], n_hamiltonian: int) -> Drive:
        """This drive with ``coupling`` and ``bias`` as per-reservoir tuples (``None`` where
        unmodulated), checked against the model's reservoir ``names`` and Hamiltonian size."""
        for k, v in enumerate(self.matrices):
            if v.shape != (n_hamiltonian, n_hamiltonian):
                raise ValueError(
                    f"Drive terms[{k}] matrix has shape {v.shape}, but the model's "
                    f"Hamiltonian is {n_hamiltonian}×{n_hamiltonian}."
                )
        new = self
        for field in ("coupling", "bias"):
            value = getattr(self, field)
            if isinstance(value, tuple):
                if len(value) != len(names):
                    raise ValueError(f"Drive {field} has {len(value)} entries for "
                                     f"{len(names)} reservoirs.")
                continue
            per = [None] * len(names)
            for key, amp in value.items():
                per[_reservoir_index(key, names, field)] = amp
            new = eqx.tree_at(lambda d, f=field: getattr(d, f), new, tuple(per),
                              is_leaf=lambda x: x is None)
        return new

    def breakpoints(self) -> Array:
        """(B,) the breakpoints of every amplitude (terms, coupling modulations, biases; see
        the module docstring), concatenated, unsorted, possibly outside the time window."""
        amps = [*self.amplitudes, *(a for a in self._entries(self.coupling) if a is not None),
                *(a for a in self._entries(self.bias) if a is not None)]
        return jnp.concatenate([jnp.zeros((0,), jnp.float64)]
                               + [jnp.ravel(a.breakpoints()) for a in amps])

    # --- values at a time ----------------------------------------------------------------
    def hamiltonian(self, h, t) -> Array:
        """H_S(t) = h + Σ_k f_k(t) V_k."""
        out = jnp.asarray(h)
        for v, f in zip(self.matrices, self.amplitudes, strict=True):
            out = out + f(t) * v
        return out

    def hamiltonian_rate(self, t, like=None) -> Array:
        """∂_t H_S(t) = Σ_k f_k'(t) V_k (zeros shaped as ``like`` when there are no terms)."""
        out = jnp.zeros_like(like) if like is not None else 0.0
        for v, f in zip(self.matrices, self.amplitudes, strict=True):
            out = out + f.derivative(t) * v
        return out

    def coupling_scale(self, t) -> Array:
        """(M,) s_α(t) (1 where unmodulated). Needs a resolved drive."""
        return self._per_reservoir(self.coupling, t, 1.0, "coupling")

    def coupling_rate(self, t) -> Array:
        """(M,) ds_α/dt."""
        return self._per_reservoir(self.coupling, t, 0.0, "coupling", derivative=True)

    def potential(self, t) -> Array:
        """(M,) Δ_α(t) (0 where unbiased). Needs a resolved drive."""
        return self._per_reservoir(self.bias, t, 0.0, "bias")

    def phase(self, t) -> Array:
        """(M,) φ_α(t) = ∫_0^t Δ_α (the coupling-gauge phase of the bias; 0 where unbiased)."""
        if isinstance(self.bias, Mapping):
            raise ValueError("Drive bias is keyed by reservoir name; attach the drive to a "
                             "model first (jt.Model(..., drive=drive)).")
        t = jnp.asarray(t, dtype=jnp.float64)
        return jnp.stack([a.integral(t) if a is not None else jnp.zeros_like(t)
                          for a in self.bias], axis=-1)

    def coupling_factor(self, t) -> Array:
        """(M,) χ_α(t) = s_α(t) e^{−iφ_α(t)}: the factor of reservoir α's coupling in the
        coupling gauge (module docstring)."""
        return self.coupling_scale(t) * jnp.exp(-1j * self.phase(t))

    @property
    def has_coupling_modulation(self) -> bool:
        return any(a is not None for a in self._entries(self.coupling))

    @property
    def has_bias(self) -> bool:
        return any(a is not None for a in self._entries(self.bias))

    @staticmethod
    def _entries(value):
        return value.values() if isinstance(value, Mapping) else value

    def _per_reservoir(self, value, t, default, field, derivative=False):
        if isinstance(value, Mapping):
            raise ValueError(f"Drive {field} is keyed by reservoir name; attach the drive to "
                             f"a model first (jt.Model(..., drive=drive)).")
        t = jnp.asarray(t, dtype=jnp.float64)
        vals = [(a.derivative(t) if derivative else a(t)) if a is not None
                else jnp.full_like(t, default) for a in value]
        return jnp.stack(vals, axis=-1)


def _real_antisymmetric(v) -> bool:
    """A concrete, real, nonzero antisymmetric square matrix (a fermionic quadrature term; the
    model it is attached to checks the form it needs)."""
    if jnp.iscomplexobj(v) or v.ndim != 2 or v.shape[0] != v.shape[1] or not is_concrete(v):
        return False
    a = np.asarray(v)
    return bool(np.all(np.isfinite(a)) and np.any(a != 0)
                and np.max(np.abs(a + a.T)) <= 1e-10 * np.max(np.abs(a)))


def _amplitude_map(value, field) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"Drive {field} must be a mapping reservoir (index or name) → "
                         f"amplitude, got {type(value).__name__}.")
    return {key: amplitude(f) for key, f in value.items()}


def _reservoir_index(key, names, field) -> int:
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        if not 0 <= int(key) < len(names):
            raise ValueError(f"Drive {field}: reservoir index {key} out of range "
                             f"(the model has {len(names)} reservoirs).")
        return int(key)
    if isinstance(key, str) and key in names:
        return names.index(key)
    raise ValueError(f"Drive {field}: unknown reservoir {key!r}; the model's reservoirs are "
                     f"{names} (or indices 0…{len(names) - 1}).")


def refuse_drive(model, method_name: str) -> None:
    """Raise ``ValueError`` if ``model`` is driven: for a method with no driven stage 1."""
    if getattr(model, "drive", None) is not None:
        raise ValueError(
            f"{method_name} does not support time-dependent driving (this model has a "
            f"jt.Drive). Use jt.Continuum (the time-ordered closure; jt.solve / jt.response "
            f"with method=None pick it for a driven model)."
        )
