"""Pole-sum densities: Lorentzians, their sums and the Lorentzian with a soft cutoff."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validation import as_float_array, check_finite, check_positive, is_concrete
from .base import AbstractSpectralDensity, SumDensity


class Lorentzian(AbstractSpectralDensity):
    r"""g(ω) = γ W² / ((ω − c)² + W²).

    - ``gamma`` (γ > 0): peak value, the wide-band decay rate of a level at the centre.
    - ``width`` (W > 0): half width at half maximum.
    - ``center`` (c, real): peak position.

    Memory kernel K(τ) = ∫dω/2π g e^{-iωτ} = (γW/2) e^{-(W + ic)τ} for τ ≥ 0;
    retarded self-energy Σ^R(ω) = (γW/2) / (ω − c + iW).

    Units ħ = 1: γ, W, c and g(ω) in the units of h (g is a rate).

    Examples:
        >>> import jaxtransport as jt
        >>> g = jt.Lorentzian(gamma=0.5, width=2.0)
        >>> float(g(0.0)), float(g(2.0))                     # peak γ, half maximum at c ± W
        (0.5, 0.25)
    """

    gamma: Array
    width: Array
    center_: Array = eqx.field(default=0.0)

    def __init__(self, gamma: ArrayLike, width: ArrayLike, center: ArrayLike = 0.0, *,
                 _pole: bool = False):
        self.gamma = as_float_array(gamma, "Lorentzian gamma", ndim=0)
        self.width = as_float_array(width, "Lorentzian width", ndim=0)
        self.center_ = as_float_array(center, "Lorentzian center", ndim=0)
        if _pole:  # a partial-fraction term of a non-negative sum (may carry gamma < 0)
            check_finite(self.gamma, "Lorentzian gamma")
        else:
            check_positive(self.gamma, "Lorentzian gamma", allow_zero=True)
        check_positive(self.width, "Lorentzian width")
        check_finite(self.center_, "Lorentzian center")

    def __call__(self, omega):
        w = self.width
        return self.gamma * w**2 / ((omega - self.center_) ** 2 + w**2)

    def lorentzian_terms(self):
        return (self,)

    def scale(self):
        return self.width

    def center(self):
        return self.center_

    def kernels(self, tau):
        tau = np.atleast_1d(np.asarray(tau, float))
        g, w, c = float(self.gamma), float(self.width), float(self.center_)
        k = 0.5 * g * w * np.exp(-(w + 1j * c) * tau)
        return k, (c - 1j * w) * k

    def self_energy(self, omega):
        """Retarded self-energy per unit |v|²: (γW/2)/(ω − c + iW)."""
        return 0.5 * self.gamma * self.width / (omega - self.center_ + 1j * self.width)


class CutoffLorentzian(AbstractSpectralDensity):
    r"""A Lorentzian with a Lorentzian high-frequency cutoff:

    g(ω) = γ W² Λ² / ( ((ω − c)² + W²) ((ω − c)² + Λ²) ).

    - ``gamma`` (γ ≥ 0): peak value g(c) (the wide-band decay rate of a level at the centre).
    - ``width`` (W > 0): scale of the peak (for Λ ≫ W nearly the Lorentzian's half width).
    - ``cutoff`` (Λ ≥ 1.5 W): band cutoff; beyond it the tails fall as γW²Λ²/ω⁴.
    - ``center`` (c, real).

    Unlike the plain Lorentzian (tails ∝ 1/ω², infinite ∫ω²g), this density has a finite
    energy variance, so transient energy currents and coupling energies converge quickly with
    the bandwidth of a discretised bath. It is a sum of two poles (partial fractions),

    g = γΛ²/(Λ² − W²) · W²/((ω−c)² + W²) − γW²/(Λ² − W²) · Λ²/((ω−c)² + Λ²),

    so the ``Continuum`` closure is exact. Λ ≥ 1.5 W keeps the two terms from cancelling
    catastrophically (the partial fractions diverge as Λ → W).

    Units ħ = 1: γ, W, Λ, c and g(ω) in the units of h (g is a rate); energy currents are out of
    each reservoir.
    """

    gamma: Array
    width: Array
    cutoff: Array
    center_: Array = eqx.field(default=0.0)

    def __init__(self, gamma: ArrayLike, width: ArrayLike, cutoff: ArrayLike,
                 center: ArrayLike = 0.0):
        self.gamma = as_float_array(gamma, "CutoffLorentzian gamma", ndim=0)
        self.width = as_float_array(width, "CutoffLorentzian width", ndim=0)
        self.cutoff = as_float_array(cutoff, "CutoffLorentzian cutoff", ndim=0)
        self.center_ = as_float_array(center, "CutoffLorentzian center", ndim=0)
        check_positive(self.gamma, "CutoffLorentzian gamma", allow_zero=True)
        check_positive(self.width, "CutoffLorentzian width")
        check_positive(self.cutoff, "CutoffLorentzian cutoff")
        check_finite(self.center_, "CutoffLorentzian center")
        if is_concrete(self.width, self.cutoff) and not float(self.cutoff) >= 1.5 * float(
            self.width
        ):
            raise ValueError(
                f"CutoffLorentzian cutoff must be >= 1.5 × width (the pole expansion cancels "
                f"catastrophically as cutoff → width), got cutoff={float(self.cutoff)}, "
                f"width={float(self.width)}."
            )

    def __call__(self, omega):
        x2 = (omega - self.center_) ** 2
        w2, l2 = self.width**2, self.cutoff**2
        return self.gamma * w2 * l2 / ((x2 + w2) * (x2 + l2))

    def lorentzian_terms(self):
        w2, l2 = self.width**2, self.cutoff**2
        d = l2 - w2
        return (
            Lorentzian(self.gamma * l2 / d, self.width, self.center_, _pole=True),
            Lorentzian(-self.gamma * w2 / d, self.cutoff, self.center_, _pole=True),
        )

    def scale(self):
        return self.width

    def center(self):
        return self.center_


def LorentzianSum(gammas, widths, centers) -> SumDensity:
    """Convenience constructor: Σ_i γ_i W_i² / ((ω − c_i)² + W_i²).

    Units ħ = 1: every γ_i, W_i, c_i in the units of h. Returns a ``SumDensity``."""
    gammas, widths, centers = (jnp.atleast_1d(jnp.asarray(x)) for x in (gammas, widths, centers))
    if not (gammas.shape == widths.shape == centers.shape):
        raise ValueError(
            "LorentzianSum needs gammas, widths and centers of equal length, got "
            f"{gammas.shape}, {widths.shape}, {centers.shape}."
        )
    return SumDensity(tuple(Lorentzian(g, w, c)
                            for g, w, c in zip(gammas, widths, centers, strict=True)))


# ----------------------------------------------------------------------------------------
# non-pole densities (Continuum: kernel fit; Discretised: directly)
# ----------------------------------------------------------------------------------------


class MirroredDensity(AbstractSpectralDensity):
    """g(−ω) of a density g (the hole copy of a lead).

    Units ħ = 1: g in the units of h."""

    density: AbstractSpectralDensity

    def __call__(self, omega):
        return self.density(-omega)

    def lorentzian_terms(self):
        return tuple(Lorentzian(t.gamma, t.width, -t.center_, _pole=True)
                     for t in self.density.lorentzian_terms())

    def scale(self):
        return self.density.scale()

    def center(self):
        return -self.density.center()
