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


def is_concrete(*xs) -> bool:
    """True when none of ``xs`` is a JAX tracer (so its value can be inspected)."""
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def as_float_array(x, name: str, *, ndim: int | None = None) -> jax.Array:
    """Convert to a float64 JAX array (complex stays complex128), checking ``ndim``."""
    arr = jnp.asarray(x)
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        arr = arr.astype(jnp.complex128)
    else:
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
    (e.g. the model's or the Response's own values) when None; with ``shape``, both must
    have exactly that shape (else ``ValueError``)."""
    temp = default_t if temperature is None else jnp.asarray(temperature, jnp.float64)
    mu = default_mu if chemical_potential is None else jnp.asarray(chemical_potential,
                                                                   jnp.float64)
    if shape is not None and (temp.shape != tuple(shape) or mu.shape != tuple(shape)):
        raise ValueError(f"temperature and chemical_potential must have shape {tuple(shape)}, "
                         f"got {temp.shape} and {mu.shape}.")
    return temp, mu
