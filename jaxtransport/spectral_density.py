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

from ._validation import as_float_array, check_finite, check_positive


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

    def __init__(self, gamma: ArrayLike, width: ArrayLike, center: ArrayLike = 0.0):
        self.gamma = as_float_array(gamma, "Lorentzian gamma", ndim=0)
        self.width = as_float_array(width, "Lorentzian width", ndim=0)
        self.center_ = as_float_array(center, "Lorentzian center", ndim=0)
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
