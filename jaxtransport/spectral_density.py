r"""Spectral densities g(omega) of the reservoirs.

Convention (physics.md §1): a reservoir term with coupling vector v contributes
:math:`\Gamma(\omega) = g(\omega)\, v v^\dagger`, where
:math:`\Gamma_{ij}(\omega) = 2\pi \sum_k V_{k,i} V_{k,j}^* \delta(\omega-\epsilon_k)`.
A single level coupled with |v| = 1 to a flat density g = Γ decays as e^{-Γ t}.

Densities that are sums of Lorentzians ("poles") close exactly in the ``Continuum`` method;
every density can be used with ``Discretised``.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._validation import as_float_array, check_finite, check_positive, is_concrete


class AbstractSpectralDensity(eqx.Module):
    """Base class: a scalar spectral density g(omega) >= 0 (energy units, ħ = 1).

    Subclasses implement ``__call__(omega)`` (vectorised over ``omega``, also for complex
    omega where the density is analytic). Densities that are finite sums of Lorentzians
    also implement ``lorentzian_terms()`` so the exact ODE closure applies.
    """

    @abc.abstractmethod
    def __call__(self, omega: ArrayLike) -> Array: ...

    def lorentzian_terms(self) -> tuple[Lorentzian, ...]:
        """The Lorentzian terms of this density, if it is a finite sum of Lorentzians."""
        raise NotImplementedError(
            f"{type(self).__name__} is not a sum of Lorentzians; the exact Continuum closure "
            "currently needs Lorentzian (pole) densities. Use jt.Discretised(...) for it."
        )

    def scale(self) -> Array:
        """A characteristic frequency scale (used to choose default grids)."""
        return jnp.asarray(1.0)

    def center(self) -> Array:
        """A characteristic frequency around which the weight is concentrated."""
        return jnp.asarray(0.0)

    def __add__(self, other: AbstractSpectralDensity) -> SumDensity:
        if not isinstance(other, AbstractSpectralDensity):
            return NotImplemented
        return SumDensity((self, other))


class Lorentzian(AbstractSpectralDensity):
    r"""g(ω) = γ W² / ((ω − c)² + W²).

    - ``gamma`` (γ > 0): peak value, the wide-band decay rate of a level at the centre.
    - ``width`` (W > 0): half width at half maximum.
    - ``center`` (c, real): peak position.

    Memory kernel K(τ) = ∫dω/2π g e^{-iωτ} = (γW/2) e^{-(W + ic)τ} for τ ≥ 0;
    retarded self-energy Σ^R(ω) = (γW/2) / (ω − c + iW).
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


class SumDensity(AbstractSpectralDensity):
    """Sum of spectral densities, g = Σ_i g_i (e.g. a sum of Lorentzians)."""

    terms: tuple[AbstractSpectralDensity, ...]

    def __init__(self, terms):
        flat = []
        for t in terms:
            if not isinstance(t, AbstractSpectralDensity):
                raise ValueError(f"SumDensity terms must be spectral densities, got {type(t)}.")
            flat.extend(t.terms if isinstance(t, SumDensity) else [t])
        if not flat:
            raise ValueError("SumDensity needs at least one term.")
        self.terms = tuple(flat)

    def __call__(self, omega):
        return sum(t(omega) for t in self.terms)

    def lorentzian_terms(self):
        out = []
        for t in self.terms:
            out.extend(t.lorentzian_terms())
        return tuple(out)

    def scale(self):
        return jnp.max(jnp.stack([t.scale() for t in self.terms]))

    def center(self):
        return jnp.mean(jnp.stack([t.center() for t in self.terms]))


def LorentzianSum(gammas, widths, centers) -> SumDensity:
    """Convenience constructor: Σ_i γ_i W_i² / ((ω − c_i)² + W_i²)."""
    gammas, widths, centers = (jnp.atleast_1d(jnp.asarray(x)) for x in (gammas, widths, centers))
    if not (gammas.shape == widths.shape == centers.shape):
        raise ValueError(
            "LorentzianSum needs gammas, widths and centers of equal length, got "
            f"{gammas.shape}, {widths.shape}, {centers.shape}."
        )
    return SumDensity(tuple(Lorentzian(g, w, c) for g, w, c in zip(gammas, widths, centers)))
