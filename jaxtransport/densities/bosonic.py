"""Bosonic bath densities (support ω > 0): Ohmic, Drude, Drude–Lorentz."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validation import as_float_array, check_positive, is_concrete
from .base import AbstractSpectralDensity


def _tail_end(exponent: float, rtol: float = 1e-16) -> float:
    """x > max(s, 1) where x^s e^{−x} has fallen to rtol × its peak value (s^s e^{−s})."""
    s = max(exponent, 0.0)
    peak = s * math.log(s) - s if s > 0 else 0.0
    x = max(s, 1.0) + 1.0
    while s * math.log(x) - x > peak + math.log(rtol):
        x *= 1.1
    return x


class Ohmic(AbstractSpectralDensity):
    r"""Ohmic family with exponential cutoff, on ω > 0 only (bosonic baths, phonons):

    g(ω) = α ω_c (ω/ω_c)^s e^{−ω/ω_c}  for ω > 0,  0 for ω ≤ 0.

    - ``alpha`` (α ≥ 0, dimensionless): coupling strength; for s = 1, g ≈ α ω at ω ≪ ω_c.
    - ``cutoff`` (ω_c > 0): high-frequency cutoff.
    - ``exponent`` (s > 0, static): s < 1 sub-Ohmic, s = 1 Ohmic, s > 1 super-Ohmic.

    Memory kernel (closed form): k(τ) = α ω_c² Γ(s+1) / (2π (1 + iω_cτ)^{s+1}).
    Self-energy: Kramers–Kronig, numerically. Support [0, ∞).
    """

    alpha: Array
    cutoff: Array
    exponent: float = eqx.field(static=True)

    def __init__(self, alpha: ArrayLike, cutoff: ArrayLike, exponent: float = 1.0):
        self.alpha = as_float_array(alpha, "Ohmic alpha", ndim=0)
        self.cutoff = as_float_array(cutoff, "Ohmic cutoff", ndim=0)
        check_positive(self.alpha, "Ohmic alpha", allow_zero=True)
        check_positive(self.cutoff, "Ohmic cutoff")
        if not (isinstance(exponent, int | float) and math.isfinite(exponent) and exponent > 0):
            raise ValueError(f"Ohmic exponent s must be a finite number > 0, got {exponent!r}.")
        self.exponent = float(exponent)

    def __call__(self, omega):
        omega = jnp.asarray(omega)
        x = jnp.where(omega > 0, omega, 1.0) / self.cutoff
        val = self.alpha * self.cutoff * x**self.exponent * jnp.exp(-x)
        return jnp.where(omega > 0, val, 0.0)

    def scale(self):
        return self.cutoff

    def center(self):
        return self.exponent * self.cutoff

    def support(self):
        return (0.0, math.inf)

    def effective_support(self):
        return (0.0, float(self.cutoff) * _tail_end(self.exponent))

    def singular_points(self):
        return () if float(self.exponent).is_integer() else (0.0,)

    def kernels(self, tau):
        tau = np.atleast_1d(np.asarray(tau, float))
        a, wc, s = float(self.alpha), float(self.cutoff), self.exponent
        z = 1.0 + 1j * wc * tau
        k = a * wc**2 * math.gamma(s + 1) / (2 * math.pi) * z ** (-(s + 1))
        k_e = a * wc**3 * math.gamma(s + 2) / (2 * math.pi) * z ** (-(s + 2))  # i dk/dτ
        return k, k_e

    def total_weight(self):
        return float(self.alpha) * float(self.cutoff) ** 2 * math.gamma(self.exponent + 1)


class Drude(AbstractSpectralDensity):
    r"""Drude–Lorentz family on ω > 0 (bosonic baths), with an exponential high cutoff:

    g(ω) = α ω_c (ω/ω_c)^s · ω_c² / (ω² + ω_c²) · e^{−ω/Λ}   for ω > 0,  0 for ω ≤ 0.

    - ``alpha`` (α ≥ 0): coupling strength (g ≈ α ω for s = 1, ω ≪ ω_c).
    - ``cutoff`` (ω_c > 0): the Drude (Lorentzian) cutoff.
    - ``high_cutoff`` (Λ > 0): exponential cutoff, required: the bare Drude tail ∝ ω^{s−2}
      has ∫ω g dω = ∞ for every s > 0 (infinite energy variance: the transient energy
      currents and ⟨H_I⟩ of number-conserving coupling diverge at t → 0⁺). Λ ≫ ω_c recovers
      the Drude shape at the frequencies that matter.
    - ``exponent`` (0 < s < 3, static): sub-/super-Ohmic exponent.

    Memory kernel and self-energy: numerical (quadrature; Kramers–Kronig). Support [0, ∞).

    Units ħ = 1: ω_c, Λ and g(ω) in the units of h; α and s dimensionless. Energy currents are
    out of each reservoir.
    """

    alpha: Array
    cutoff: Array
    high_cutoff: Array
    exponent: float = eqx.field(static=True)

    def __init__(self, alpha: ArrayLike, cutoff: ArrayLike, high_cutoff: ArrayLike,
                 exponent: float = 1.0):
        self.alpha = as_float_array(alpha, "Drude alpha", ndim=0)
        self.cutoff = as_float_array(cutoff, "Drude cutoff", ndim=0)
        self.high_cutoff = as_float_array(high_cutoff, "Drude high_cutoff", ndim=0)
        check_positive(self.alpha, "Drude alpha", allow_zero=True)
        check_positive(self.cutoff, "Drude cutoff")
        check_positive(self.high_cutoff, "Drude high_cutoff")
        if not (isinstance(exponent, int | float) and 0 < exponent < 3):
            raise ValueError(f"Drude exponent s must be in (0, 3), got {exponent!r}.")
        self.exponent = float(exponent)

    def __call__(self, omega):
        omega = jnp.asarray(omega)
        om = jnp.where(omega > 0, omega, 1.0)
        wc = self.cutoff
        val = self.alpha * wc * (om / wc) ** self.exponent * wc**2 / (om**2 + wc**2)
        return jnp.where(omega > 0, val * jnp.exp(-om / self.high_cutoff), 0.0)

    def scale(self):
        return self.cutoff

    def center(self):
        return self.cutoff

    def support(self):
        return (0.0, math.inf)

    def effective_support(self):
        lam = float(self.high_cutoff)
        return (0.0, max(float(self.cutoff), lam * _tail_end(max(self.exponent - 2.0, 0.0))))

    def singular_points(self):
        return () if float(self.exponent).is_integer() else (0.0,)


class DrudeLorentz(AbstractSpectralDensity):
    r"""Drude–Lorentz (Ohmic with Lorentzian cutoff) bath spectral density for bosons,

    J(ω) = 2 λ γ ω / (ω² + γ²) for ω > 0 (0 otherwise),

    - ``reorganisation`` (λ > 0): reorganisation energy, λ = (1/π)∫_0^∞ J(ω)/ω dω;
    - ``cutoff`` (γ > 0): Drude frequency (inverse memory time).

    With x–x coupling its friction kernel is η(τ) = 2λ e^{−γτ} and its response function
    χ(τ) = (2/π)∫_0^∞ J sin ωτ dω = 2λγ e^{−γτ} (τ > 0): a single exponential, so the
    ``GeneralContinuum`` closure needs one auxiliary variable per Drude term.
    Low-frequency (Ohmic) friction: J ≈ (2λ/γ) ω.

    Units ħ = 1: λ, γ and J(ω) in the units of h (energy).
    """

    reorganisation: Array
    cutoff: Array

    def __init__(self, reorganisation: ArrayLike, cutoff: ArrayLike):
        self.reorganisation = as_float_array(reorganisation, "DrudeLorentz reorganisation", ndim=0)
        self.cutoff = as_float_array(cutoff, "DrudeLorentz cutoff", ndim=0)
        check_positive(self.reorganisation, "DrudeLorentz reorganisation")
        check_positive(self.cutoff, "DrudeLorentz cutoff")

    def __call__(self, omega):
        omega = jnp.asarray(omega)
        val = self.analytic(omega)
        return jnp.where(omega.real > 0, val, 0.0) if not jnp.iscomplexobj(omega) else val

    def analytic(self, omega):
        """2λγω/(ω² + γ²), the analytic continuation (also for complex ω)."""
        return 2 * self.reorganisation * self.cutoff * omega / (omega**2 + self.cutoff**2)

    def drude_terms(self):
        """((λ, γ),): the exponential terms of the response function."""
        return ((self.reorganisation, self.cutoff),)

    def reorganisation_energy(self):
        return self.reorganisation

    def scale(self):
        return self.cutoff

    def center(self):
        return jnp.asarray(0.0)


class CutoffDrudeLorentz(DrudeLorentz):
    r"""Drude–Lorentz density with a second, soft high-frequency cutoff Λ (bosons, ω > 0),

    J(ω) = 2 λ γ ω / (ω² + γ²) · Λ² / (ω² + Λ²),

    i.e. tails ∝ 1/ω³ instead of 1/ω, so ∫ωJ(ω)dω is finite: energy currents and coupling
    energies of a finite discretised bath converge (a plain Drude–Lorentz bath gives every
    high-frequency mode the same energy exchange, ωJ → 2λγ). Exactly two Drude terms
    (partial fractions, one with negative weight), so the ``GeneralContinuum`` closure stays
    exact: λ₁ = λΛ²/(Λ² − γ²) at γ and λ₂ = −λγΛ/(Λ² − γ²) at Λ; reorganisation energy
    (1/π)∫J/ω dω = λΛ/(Λ + γ). Requires Λ ≥ 1.5 γ (well separated poles).

    Units ħ = 1: λ, γ, Λ and J(ω) in the units of h (energy); the energy currents it makes
    converge are out of each reservoir.
    """

    high_cutoff: Array

    def __init__(self, reorganisation: ArrayLike, cutoff: ArrayLike, high_cutoff: ArrayLike):
        super().__init__(reorganisation, cutoff)
        self.high_cutoff = as_float_array(high_cutoff, "CutoffDrudeLorentz high_cutoff", ndim=0)
        check_positive(self.high_cutoff, "CutoffDrudeLorentz high_cutoff")
        if is_concrete(self.high_cutoff, self.cutoff) and not (
                float(self.high_cutoff) >= 1.5 * float(self.cutoff)):
            raise ValueError(
                f"CutoffDrudeLorentz needs high_cutoff >= 1.5 * cutoff (got high_cutoff = "
                f"{float(self.high_cutoff):g}, cutoff = {float(self.cutoff):g}).")

    def analytic(self, omega):
        """2λγω/(ω² + γ²) · Λ²/(ω² + Λ²) (also for complex ω)."""
        big = self.high_cutoff
        return super().analytic(omega) * big**2 / (omega**2 + big**2)

    def drude_terms(self):
        lam, gam, big = self.reorganisation, self.cutoff, self.high_cutoff
        den = big**2 - gam**2
        return ((lam * big**2 / den, gam), (-lam * gam * big / den, big))

    def reorganisation_energy(self):
        return self.reorganisation * self.high_cutoff / (self.high_cutoff + self.cutoff)
