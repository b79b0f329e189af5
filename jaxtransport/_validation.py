"""Small helpers for validating user input at construction time.

Checks only run on concrete values: inside ``jax.jit``/``jax.vmap`` the values are tracers and
structural checks (shapes) still apply, value checks are skipped (the caller validated the
concrete inputs before tracing, or uses ``eqx.error_if`` where a value check must survive jit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def enable_x64() -> None:
    """Enable float64 in JAX (all library entry points call this)."""
    jax.config.update("jax_enable_x64", True)


enable_x64()


def require_x64(where: str = "jaxtransport") -> None:
    """Raise if JAX's float64 mode is off: the library never computes in float32 by accident
    (``import jaxtransport`` enables it; this catches it being switched off afterwards)."""
    if not jax.config.read("jax_enable_x64"):
        raise RuntimeError(
            f"{where}: JAX's float64 mode is off (jax_enable_x64 = False), so every array "
            "would silently be float32 (error estimates ~100x worse). jaxtransport enables it "
            "when imported; it was switched off afterwards. Re-enable it with "
            "jax.config.update('jax_enable_x64', True)."
        )


def _shown(x) -> str:
    return f" ({np.asarray(x)!r})" if is_concrete(x) else ""


def check_real(x, name: str) -> None:
    """Complex input where a real quantity is required is an error (never dropped silently)."""
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(
            f"{name} must be real, got a complex value{_shown(x)}; pass a real number (its "
            "real part, if the imaginary part is an artefact)."
        )


def is_concrete(*xs) -> bool:
    """True when none of ``xs`` is a JAX tracer (so its value can be inspected)."""
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def to_jax(tree):
    """Every leaf of ``tree`` as a JAX array: concrete host values in one batched transfer
    (``jax.device_put``: one dispatch instead of one per leaf, ~40 µs each, a tenth of a
    default single-level solve), traced values unchanged."""
    if is_concrete(*jax.tree_util.tree_leaves(tree)):
        return jax.device_put(tree)
    return jax.tree_util.tree_map(jnp.asarray, tree)


def as_float_array(x, name: str, *, ndim: int | None = None) -> jax.Array:
    """Convert a real quantity to a float64 JAX array, checking ``ndim``; complex input is an
    error (its imaginary part would otherwise be dropped or carried into the physics)."""
    require_x64(name)
    arr = jnp.asarray(x)
    check_real(arr, name)
    arr = arr.astype(jnp.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}.")
    return arr


def check_finite(x, name: str) -> None:
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {np.asarray(x)}.")


def check_positive(x, name: str, *, allow_zero: bool = False) -> None:
    check_finite(x, name)
    if not is_concrete(x):
        return
    v = np.asarray(x)
    bad = v < 0 if allow_zero else v <= 0
    if np.any(bad):
        rel = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {rel} and finite, got {v}.")


def check_hermitian(m, name: str, *, atol: float = 1e-10) -> None:
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {m.shape}.")
    check_finite(m, name)
    if is_concrete(m):
        a = np.asarray(m)
        err = np.max(np.abs(a - a.conj().T)) if a.size else 0.0
        if err > atol * max(1.0, np.max(np.abs(a))):
            raise ValueError(
                f"{name} must be Hermitian (max |M - M^dagger| = {err:.3g} > {atol:g})."
            )


def check_times(times) -> np.ndarray:
    """Validate a time grid (concrete, 1-D, finite, >= 0, strictly increasing)."""
    if not is_concrete(times):
        raise ValueError(
            "times must be a concrete array (the time grid fixes array shapes); "
            "do not trace it through jax.jit/vmap."
        )
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times must be a non-empty 1-D array, got shape {t.shape}.")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite (no NaN or inf).")
    if np.any(t < 0):
        raise ValueError(
            f"times must be >= 0 (the coupling is switched on at t = 0), got min {t.min()}."
        )
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing (sorted, no repeats).")
    return t


def reservoir_values(default_t, default_mu, temperature=None, chemical_potential=None, *,
                     shape=None):
    """(temperature, chemical_potential) as float64 arrays, each falling back to its default
    (e.g. the model's or the Response's own values) when None; complex values are an error;
    with ``shape``, both must have exactly that shape (else ``ValueError``)."""
    if temperature is not None:
        check_real(temperature, "temperature")
    if chemical_potential is not None:
        check_real(chemical_potential, "chemical_potential")
    temp = default_t if temperature is None else jnp.asarray(temperature, jnp.float64)
    mu = default_mu if chemical_potential is None else jnp.asarray(chemical_potential,
                                                                   jnp.float64)
    if shape is not None and (temp.shape != tuple(shape) or mu.shape != tuple(shape)):
        raise ValueError(f"temperature and chemical_potential must have shape {tuple(shape)}, "
                         f"got {temp.shape} and {mu.shape}.")
    return temp, mu


# ------------------------------------------------------------------------------------------
# stage-2 inputs (C0, T, μ) of every Response's ``evaluate``: eagerly a ValueError naming the
# values, under jit/vmap/grad ``eqx.error_if`` (messages are static: they name the ranges)
# ------------------------------------------------------------------------------------------
_C0 = "initial correlation matrix C0"


def _allowed(statistics: str) -> str:
    return ("[0, 1] for fermions (occupations of natural orbitals)" if statistics == "fermion"
            else "[0, inf) for bosons")


def check_correlation(c0, statistics: str, *, atol: float = 1e-10, name: str = _C0) -> None:
    """Concrete C0 (..., n, n): finite, Hermitian, eigenvalues in [0, 1] (fermions) or ≥ 0
    (bosons); a ValueError saying what is wrong and what is allowed."""
    a = np.asarray(c0)
    a = a.reshape((-1,) + a.shape[-2:])
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf); got non-finite entries.")
    for m in a:
        check_hermitian(m, name, atol=atol)
    ev = np.linalg.eigvalsh(0.5 * (a + np.conj(np.swapaxes(a, -1, -2))))
    lo, hi = float(ev.min()), float(ev.max())
    if lo < -atol or (statistics == "fermion" and hi > 1 + atol):
        hint = (" (evaluate(..., validate=False) skips this check in a hot loop over states "
                "known to be physical)" if name == _C0 else "")
        raise ValueError(
            f"{name} eigenvalues must lie in {_allowed(statistics)}, got range "
            f"[{lo:.6g}, {hi:.6g}]{hint}."
        )


def correlation_error(c0, statistics: str, *, atol: float = 1e-10):
    """``c0`` with a runtime check (``eqx.error_if``, works under jit/vmap/grad) of what
    ``check_correlation`` checks eagerly."""
    import equinox as eqx

    a = jnp.asarray(c0)
    ah = jnp.conj(jnp.swapaxes(a, -1, -2))
    finite = jnp.all(jnp.isfinite(a))
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(jnp.where(jnp.isfinite(a), a, 0.0))))
    herm = jnp.max(jnp.abs(jnp.where(finite, a - ah, 0.0))) <= atol * scale
    ev = jnp.linalg.eigvalsh(jnp.where(finite, 0.5 * (a + ah), 0.0))
    spec = jnp.all(ev >= -atol)
    if statistics == "fermion":
        spec = spec & jnp.all(ev <= 1 + atol)
    # one error_if per condition (a branched error under vmap reports the first row's branch)
    c0 = eqx.error_if(c0, ~finite, f"{_C0} must be finite (no NaN or inf).")
    c0 = eqx.error_if(c0, finite & ~herm,
                      f"{_C0} must be Hermitian (C0 = C0^dagger within {atol:g}).")
    return eqx.error_if(c0, finite & herm & ~spec,
                        f"{_C0} eigenvalues must lie in {_allowed(statistics)} (evaluate(..., "
                        "validate=False) skips this check).")


def _range_text(planned) -> str:
    if planned is None:
        return ""
    (t_lo, t_hi), (m_lo, m_hi) = planned
    return (f" This Response's frequency quadrature was refined for T in [{t_lo:.6g}, "
            f"{t_hi:.6g}] and mu in [{m_lo:.6g}, {m_hi:.6g}].")


_WIDEN = (" Widen it: rebuild with jt.Continuum(temperature_range=(T_min, T_max), "
          "chemical_potential_range=(mu_min, mu_max)) covering every evaluated value.")


def reservoir_error(temp, mu, window_bad, planned, statistics: str):
    """``temp`` with runtime checks (``eqx.error_if``) of the stage-2 reservoir values: T > 0
    and finite, μ finite, T not below the planned range, occupations inside the stored
    frequency window (``window_bad``: the Response's own test)."""
    import equinox as eqx

    temp = jnp.asarray(temp)
    mu = jnp.asarray(mu)
    bad_t = jnp.any(~(temp > 0) | ~jnp.isfinite(temp))
    bad_mu = jnp.any(~jnp.isfinite(mu))
    low = (jnp.any(temp < planned[0][0] * (1 - 1e-12)) if planned is not None
           else jnp.asarray(False))
    ok = ~bad_t & ~bad_mu
    temp = eqx.error_if(temp, bad_t, "temperature must be finite and > 0.")
    temp = eqx.error_if(temp, ~bad_t & bad_mu,
                        "chemical_potential must be finite (no NaN or inf).")
    temp = eqx.error_if(temp, ok & low, "temperature below the range the Response was "
                        "refined for." + _range_text(planned) + _WIDEN)
    return eqx.error_if(
        temp, ok & ~low & window_bad,
        "temperature/chemical_potential outside the Response's stored frequency window (T "
        "too high, mu outside the planned range"
        + ("; for bosons mu must stay below the lowest bath frequency" if statistics
           == "boson" else "") + ")." + _range_text(planned) + _WIDEN)


def check_reservoir_values(resp, temp, mu) -> None:
    """Eager twin of ``reservoir_error``: a ValueError naming the offending values."""
    t, m = np.asarray(temp, float), np.asarray(mu, float)
    if not np.all(np.isfinite(t) & (t > 0)):
        raise ValueError(f"temperature must be finite and > 0 (one value per reservoir), got "
                         f"{t.tolist() if t.size <= 8 else t}.")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"chemical_potential must be finite (no NaN or inf), got "
                         f"{m.tolist() if m.size <= 8 else m}.")
    planned = getattr(resp, "planned_range", None)
    need = (f" Needed here: temperature_range=({t.min():.6g}, {t.max():.6g}), "
            f"chemical_potential_range=({m.min():.6g}, {m.max():.6g}).")
    if planned is not None:
        tt = t.reshape(-1, t.shape[-1])
        for b in range(tt.shape[-1]):
            lowest = float(tt[:, b].min())
            if lowest < planned[0][0] * (1 - 1e-12):
                raise ValueError(
                    f"temperature[{b}] = {lowest:.6g} is below the range the Response was "
                    f"refined for (its quadrature does not resolve the Fermi/Bose step at "
                    f"that temperature)." + _range_text(planned) + _WIDEN + need)
    if hasattr(resp, "window") and bool(resp.window_violated(jnp.asarray(t), jnp.asarray(m))):
        lo, hi = (float(x) for x in np.asarray(resp.window))
        raise ValueError(
            f"temperature up to {t.max():.6g} with chemical_potential in [{m.min():.6g}, "
            f"{m.max():.6g}] leaves the Response's stored frequency window [{lo:.6g}, "
            f"{hi:.6g}] (the occupations are not 1 below / 0 above it"
            + ("; for bosons mu must stay below the lowest bath frequency" if
               resp.statistics == "boson" else "") + ")." + _range_text(planned) + _WIDEN
            + need)


def check_stage2(resp, c0, temp, mu, *, validate: bool, checked_state: bool):
    """Validate ``evaluate``'s (C0, T, μ): eagerly (concrete values) with ValueErrors naming
    the values, else with ``eqx.error_if``. Returns (c0, temp). ``validate=False`` skips the
    C0 checks (a hot loop over states known to be physical); ``checked_state``: C0 came from
    a concretely validated ``GaussianState``."""
    require_x64("evaluate")
    check_c0 = validate and not checked_state
    if is_concrete(c0, temp, mu):
        if check_c0:
            check_correlation(c0, resp.statistics)
        check_reservoir_values(resp, temp, mu)
        return c0, temp
    if check_c0:
        c0 = correlation_error(c0, resp.statistics)
    window_bad = resp.window_violated(temp, mu) if hasattr(resp, "window") else False
    temp = reservoir_error(temp, mu, window_bad, getattr(resp, "planned_range", None),
                           resp.statistics)
    return c0, temp


class ToleranceWarning(UserWarning):
    """A method could not reach its requested tolerance (the message gives the estimate).

    Units: the tolerance and estimate it reports are in the units of the observables concerned
    (ħ = k_B = 1)."""


def tolerance_missed(message: str, strict: bool) -> None:
    """Raise (``strict``) or warn that a requested tolerance was not met."""
    if strict:
        raise ValueError(message + " (strict=True)")
    import warnings

    warnings.warn(message + " Pass strict=True to make this an error.", ToleranceWarning,
                  stacklevel=4)


def outside_planned(resp, temp, mu) -> np.ndarray:
    """Per configuration (rows of ``temp``/``mu``, (B, M)): True where T ≤ 0 or not finite,
    μ not finite, T below the planned range or (T, μ) outside the stored window."""
    t = np.asarray(temp, float).reshape(-1, np.shape(temp)[-1])
    m = np.asarray(mu, float).reshape(-1, np.shape(mu)[-1])
    bad = ~np.all(np.isfinite(t) & (t > 0), axis=1) | ~np.all(np.isfinite(m), axis=1)
    planned = getattr(resp, "planned_range", None)
    if planned is not None:
        bad |= np.any(t < planned[0][0] * (1 - 1e-12), axis=1)
    if hasattr(resp, "window") and len(t):
        bad |= np.asarray(jax.vmap(resp.window_violated)(jnp.asarray(t), jnp.asarray(m)))
    return bad


class readable_errors:  # noqa: N801 - used as a decorator and a context manager
    """Re-raise a runtime error of compiled code (``eqx.error_if`` inside ``jax.jit``, which
    JAX reports as "INTERNAL: CpuCallback error…" with a traceback first) as a ValueError
    whose message leads with the library's own text. Used at the library's eager entry points
    (sweeps, the optimiser); usable around any user code: ``with jt.readable_errors(): ...``.

    Units: none (it only changes how errors are reported; dimensionless).
    """

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if err is None or not isinstance(err, RuntimeError):
            return False
        text = library_message(str(err))
        if text is None:
            return False
        raise ValueError(text) from err

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with readable_errors():
                return fn(*args, **kwargs)

        return wrapped


def library_message(text: str) -> str | None:
    """The ``eqx.error_if`` message inside a JAX/Equinox runtime error's text, or None."""
    for marker in ("EquinoxRuntimeError: ", "_EquinoxRuntimeError: "):
        if marker in text:
            msg = text.rsplit(marker, 1)[1]
            return msg.split("\n\n---", 1)[0].strip()
    return None
