"""A density tabulated on a frequency grid (cubic spline)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validation import as_float_array, check_positive
from .base import AbstractSpectralDensity


class Tabulated(AbstractSpectralDensity):
    r"""A spectral density given by samples g_k ≥ 0 on a strictly increasing grid ω_k
    (user data), interpolated by a natural cubic spline and zero outside [ω_0, ω_N].

    - ``omega``: grid (static, host values); ``values``: samples (array leaf; gradients reach
      them).

    ``interpolation_error()`` estimates the spline's error (max |spline − spline of every
    other sample| at the dropped samples / 15, the h⁴ Richardson factor). The density is
    discontinuous at the grid ends unless the end samples vanish; the missing weight of a
    truncated tail is the user's to judge.

    Units ħ = 1: ``omega`` and ``values`` in the units of h.
    """

    values: Array
    omega: tuple = eqx.field(static=True)
    quadrature_order: ClassVar[int] = 8  # exact for the cubic pieces times e^{−iωτ}

    def __init__(self, omega: ArrayLike, values: ArrayLike):
        om = np.asarray(omega, float)
        if om.ndim != 1 or om.size < 4 or not np.all(np.isfinite(om)) or np.any(np.diff(om) <= 0):
            raise ValueError("Tabulated omega must be a finite, strictly increasing 1-D grid "
                             f"with at least 4 points, got shape {om.shape}.")
        self.values = as_float_array(values, "Tabulated values", ndim=1)
        if self.values.shape != om.shape:
            raise ValueError(f"Tabulated values must match omega's shape {om.shape}, got "
                             f"{self.values.shape}.")
        check_positive(self.values, "Tabulated values", allow_zero=True)
        self.omega = tuple(float(x) for x in om)

    def __call__(self, omega):
        return _spline(np.asarray(self.omega), self.values, jnp.asarray(omega))

    def scale(self):
        om = np.asarray(self.omega)
        return jnp.asarray(max(8.0 * float(np.max(np.diff(om))), 1e-3 * (om[-1] - om[0])))

    def center(self):
        return jnp.asarray(0.5 * (self.omega[0] + self.omega[-1]))

    def support(self):
        return (self.omega[0], self.omega[-1])

    def breakpoints(self):
        return self.omega  # the spline is a cubic between knots

    def fit_hint(self) -> str:
        v = np.abs(np.asarray(self.values))
        ends = v[[0, -1]] / max(float(v.max()), 1e-300)
        if ends.max() < 1e-9:
            return ""
        return (f" The samples do not vanish at the grid ends (g(ω_0)/max g = {ends[0]:.2g}, "
                f"g(ω_N)/max g = {ends[1]:.2g}): the density jumps to zero there, and a jump "
                "gives the memory kernel a 1/τ tail that no sum of poles reproduces. Extend the "
                "grid until the samples vanish, or taper them smoothly to zero.")

    def interpolation_error(self) -> float:
        om = np.asarray(self.omega)
        v = np.asarray(self.values)
        keep = np.arange(0, om.size, 2)
        if keep[-1] != om.size - 1:
            keep = np.append(keep, om.size - 1)
        drop = np.setdiff1d(np.arange(om.size), keep)
        coarse = np.asarray(_spline(om[keep], jnp.asarray(v[keep]), jnp.asarray(om[drop])))
        return float(np.max(np.abs(coarse - v[drop]))) / 15.0 if drop.size else 0.0


def _spline(x, y, t):
    """Natural cubic spline through (x, y) (x host, y traced ok) at points t; 0 outside."""
    h = np.diff(x)
    n = x.size
    # second derivatives m: tridiagonal system, natural ends m_0 = m_{n-1} = 0
    dl = np.concatenate([[0.0], h[:-1], [0.0]])
    d = np.concatenate([[1.0], 2 * (h[:-1] + h[1:]), [1.0]])
    du = np.concatenate([[0.0], h[1:], [0.0]])
    slope = jnp.diff(y) / h
    rhs = jnp.concatenate([jnp.zeros(1), 6 * jnp.diff(slope), jnp.zeros(1)])
    m = jax.lax.linalg.tridiagonal_solve(
        jnp.asarray(dl), jnp.asarray(d), jnp.asarray(du), rhs[:, None]
    )[:, 0]
    k = jnp.clip(jnp.searchsorted(jnp.asarray(x), t, side="right") - 1, 0, n - 2)
    xk, hk = jnp.asarray(x)[k], jnp.asarray(h)[k]
    a, b = (jnp.asarray(x)[k + 1] - t) / hk, (t - xk) / hk
    val = a * y[k] + b * y[k + 1] + ((a**3 - a) * m[k] + (b**3 - b) * m[k + 1]) * hk**2 / 6
    return jnp.where((t >= x[0]) & (t <= x[-1]), val, 0.0)
