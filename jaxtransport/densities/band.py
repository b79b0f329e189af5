"""Finite-band densities: semicircle and flat band with smooth edges."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._validation import as_float_array, check_finite, check_positive
from .base import AbstractSpectralDensity


class Semicircle(AbstractSpectralDensity):
    r"""Semicircular band (the end site of a semi-infinite tight-binding lead):

    g(ω) = γ sqrt(1 − ((ω − c)/D)²)  for |ω − c| < D,  0 outside.

    - ``gamma`` (γ ≥ 0): value at the band centre.
    - ``half_bandwidth`` (D > 0): band edges c ± D (a chain with hopping J has D = 2J; an end
      coupling τ gives γ = 4τ²/D).
    - ``center`` (c).

    Exact self-energy Σ(ω) = (γ/D)(x − sqrt(x² − D²)), x = ω − c, on the branch with
    Im Σ ≤ 0 (= −g/2 inside the band) and Σ → γD/(4x) far outside; memory kernel
    k(τ) = γ e^{−icτ} J₁(Dτ)/(2τ).

    Units ħ = 1: γ, D, c and g(ω) in the units of h.
    """

    gamma: Array
    half_bandwidth: Array
    center_: Array

    def __init__(self, gamma: ArrayLike, half_bandwidth: ArrayLike, center: ArrayLike = 0.0):
        self.gamma = as_float_array(gamma, "Semicircle gamma", ndim=0)
        self.half_bandwidth = as_float_array(half_bandwidth, "Semicircle half_bandwidth", ndim=0)
        self.center_ = as_float_array(center, "Semicircle center", ndim=0)
        check_positive(self.gamma, "Semicircle gamma", allow_zero=True)
        check_positive(self.half_bandwidth, "Semicircle half_bandwidth")
        check_finite(self.center_, "Semicircle center")

    def __call__(self, omega):
        x = (jnp.asarray(omega) - self.center_) / self.half_bandwidth
        inside = jnp.abs(x) < 1
        return jnp.where(inside, self.gamma * jnp.sqrt(jnp.where(inside, 1 - x * x, 0.0)), 0.0)

    def scale(self):
        return self.half_bandwidth

    def center(self):
        return self.center_

    def support(self):
        c, d = float(self.center_), float(self.half_bandwidth)
        return (c - d, c + d)

    def singular_points(self):
        return self.support()

    def total_weight(self):
        return 0.5 * math.pi * float(self.gamma) * float(self.half_bandwidth)

    def self_energy(self, omega):
        x = jnp.asarray(omega, jnp.float64) - self.center_
        d = self.half_bandwidth
        inside = jnp.abs(x) < d
        root_out = jnp.sign(x) * jnp.sqrt(jnp.where(inside, 1.0, x * x - d * d))
        root_in = 1j * jnp.sqrt(jnp.where(inside, d * d - x * x, 0.0))
        return (self.gamma / d) * 0.5 * (x - jnp.where(inside, root_in, root_out))


class FlatBand(AbstractSpectralDensity):
    r"""Flat band with smooth (raised-cosine) edges of width δ:

    g(ω) = γ                                   for lo + δ ≤ ω ≤ hi − δ,
    g(ω) = γ sin²(π(ω − lo)/(2δ))              for lo ≤ ω < lo + δ  (and mirrored at hi),
    g(ω) = 0 outside [lo, hi].

    - ``gamma`` (γ ≥ 0): the flat value (wide-band decay rate of a level inside the band).
    - ``lower``, ``upper`` (lo < hi, static): band ends; ``edge`` (δ > 0, 2δ ≤ hi − lo).

    Exactly zero outside [lo, hi] (valid for bosons with μ ≤ lo); C¹ at the four joints
    (quadrature panels end there). Kernel and self-energy: numerical.

    Units ħ = 1: γ, the band ends, δ and g(ω) in the units of h.
    """

    gamma: Array
    lower: float = eqx.field(static=True)
    upper: float = eqx.field(static=True)
    edge: float = eqx.field(static=True)

    def __init__(self, gamma: ArrayLike, lower: float, upper: float, edge: float):
        self.gamma = as_float_array(gamma, "FlatBand gamma", ndim=0)
        check_positive(self.gamma, "FlatBand gamma", allow_zero=True)
        vals = [float(v) for v in (lower, upper, edge)]
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"FlatBand lower, upper, edge must be finite, got {vals}.")
        self.lower, self.upper, self.edge = vals
        if not (self.edge > 0 and 2 * self.edge <= self.upper - self.lower):
            raise ValueError(
                f"FlatBand needs edge > 0 and 2*edge <= upper - lower, got lower={self.lower}, "
                f"upper={self.upper}, edge={self.edge}."
            )

    def __call__(self, omega):
        omega = jnp.asarray(omega)
        lo, hi, d = self.lower, self.upper, self.edge
        up = jnp.sin(0.5 * math.pi * jnp.clip((omega - lo) / d, 0.0, 1.0)) ** 2
        dn = jnp.sin(0.5 * math.pi * jnp.clip((hi - omega) / d, 0.0, 1.0)) ** 2
        return self.gamma * up * dn

    def scale(self):
        return jnp.asarray(self.edge)

    def center(self):
        return jnp.asarray(0.5 * (self.lower + self.upper))

    def support(self):
        return (self.lower, self.upper)

    def breakpoints(self):
        lo, hi, d = self.lower, self.upper, self.edge
        return (lo, lo + d, hi - d, hi)

    def total_weight(self):
        return float(self.gamma) * (self.upper - self.lower - self.edge)
