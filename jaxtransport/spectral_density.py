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
import functools
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._validation import as_float_array, check_finite, check_positive, is_concrete


class AbstractSpectralDensity(eqx.Module):
    """Base class: a scalar spectral density g(omega) >= 0 (energy units, ħ = 1).

    Subclasses implement ``__call__(omega)`` (vectorised over ``omega``; also for complex
    omega where the density is analytic). Densities that are finite sums of Lorentzians
    also implement ``lorentzian_terms()`` so the exact ODE closure applies directly; every
    other density declares its ``support()`` (and, if infinite, ``effective_support()``),
    its non-smooth points (``breakpoints()``, ``singular_points()``), and gets a numerical
    memory kernel and Kramers–Kronig self-energy from this base class (subclasses override
    them with closed forms where known). The ``Continuum`` method then fits the memory
    kernel on the requested time window by a sum of exponentials (``jt.fit_kernel``) and
    uses the exact g(ω) in every occupation-weighted frequency integral.
    """

    # Gauss–Legendre order per panel of the numerical kernels (panels end at breakpoints)
    quadrature_order: ClassVar[int] = 24

    @abc.abstractmethod
    def __call__(self, omega: ArrayLike) -> Array: ...

    def lorentzian_terms(self) -> tuple[Lorentzian, ...]:
        """The Lorentzian terms of this density, if it is a finite sum of Lorentzians."""
        raise NotImplementedError(
            f"{type(self).__name__} is not a sum of Lorentzians."
        )

    @property
    def is_pole_sum(self) -> bool:
        """True when the density is a finite sum of Lorentzian poles (exact closure)."""
        try:
            self.lorentzian_terms()
        except NotImplementedError:
            return False
        return True

    def scale(self) -> Array:
        """A characteristic frequency scale (used to choose default grids)."""
        return jnp.asarray(1.0)

    def center(self) -> Array:
        """A characteristic frequency around which the weight is concentrated."""
        return jnp.asarray(0.0)

    def support(self) -> tuple[float, float]:
        """Exact support (lo, hi) of g: g(ω) = 0 outside (ends may be ±inf). Host floats."""
        return (-math.inf, math.inf)

    def effective_support(self) -> tuple[float, float]:
        """Finite interval outside which g < 1e-16 × its peak (default: the support)."""
        lo, hi = self.support()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(
                f"{type(self).__name__} has infinite support {(lo, hi)} and does not define "
                "effective_support(); numerical kernels need a finite frequency range."
            )
        return lo, hi

    def breakpoints(self) -> tuple[float, ...]:
        """Points where g is not analytic (quadrature panels end there)."""
        return tuple(x for x in self.support() if math.isfinite(x))

    def singular_points(self) -> tuple[float, ...]:
        """Breakpoints near which g behaves like |ω − b|^s with non-integer s (quadrature
        panels are graded geometrically towards them)."""
        return ()

    def total_weight(self) -> float:
        """∫ g dω (host float; numerical unless overridden)."""
        x, w = density_rule(self)
        return float(np.sum(w * np.asarray(self(jnp.asarray(x)))))

    def kernel(self, tau, energy: bool = False) -> np.ndarray:
        """Memory kernel k(τ) = ∫dω/2π g(ω) e^{−iωτ} (``energy=True``: ∫dω/2π ω g e^{−iωτ})
        at host times ``tau`` (numpy, complex). Numerical quadrature unless overridden."""
        return self.kernels(tau)[1 if energy else 0]

    def kernels(self, tau) -> tuple[np.ndarray, np.ndarray]:
        """(k(τ), k^E(τ)) in one quadrature pass (host numpy)."""
        tau = np.atleast_1d(np.asarray(tau, float))
        x, w = density_rule(self, float(np.max(np.abs(tau))))
        gw = w * np.asarray(self(jnp.asarray(x))) / (2 * math.pi)
        keep = np.abs(gw) > 1e-18 * np.sum(np.abs(gw))
        x, gw = x[keep], gw[keep]
        rhs = np.stack([gw, gw * x], axis=1)
        chunk = max(1, 2_000_000 // max(x.size, 1))  # bounded memory
        out = []
        for i in range(0, tau.size, chunk):
            ph = np.outer(tau[i:i + chunk], x)
            out.append(np.cos(ph) @ rhs - 1j * (np.sin(ph) @ rhs))
        out = np.concatenate(out)
        return out[:, 0], out[:, 1]

    def fit_hint(self) -> str:
        """Extra advice appended to a failed kernel fit's error (density-specific)."""
        return ""

    def self_energy(self, omega) -> Array:
        """Retarded self-energy per unit |v|²: Σ(ω) = ∫dω'/2π g(ω')/(ω − ω' + i0)
        = Λ(ω) − i g(ω)/2 for real ω (Λ by Kramers–Kronig, numerically with the singular
        part subtracted: Λ = [∫(g(ω')−g(ω))/(ω−ω') dω' + g(ω) ln|(ω−lo)/(ω−hi)|]/2π)."""
        if self.is_pole_sum:
            return sum(lor.self_energy(omega) for lor in self.lorentzian_terms())
        omega = jnp.asarray(omega, jnp.float64)
        lo, hi = self.effective_support()
        x, w = density_rule(self)
        x, w = jnp.asarray(x), jnp.asarray(w)
        gx = self(x)
        go = self(omega)
        d = omega[..., None] - x
        safe = jnp.where(d == 0, 1.0, d)
        integrand = jnp.where(d == 0, 0.0, (gx - go[..., None]) / safe)
        log = jnp.log(jnp.abs(jnp.where(omega == lo, lo + 1e-300, omega) - lo)) - jnp.log(
            jnp.abs(jnp.where(omega == hi, hi + 1e-300, omega) - hi))
        lam = (jnp.sum(w * integrand, axis=-1) + go * log) / (2 * math.pi)
        return lam - 0.5j * go

    def __add__(self, other: AbstractSpectralDensity) -> SumDensity:
        if not isinstance(other, AbstractSpectralDensity):
            return NotImplemented
        return SumDensity((self, other))


def density_rule(dens: AbstractSpectralDensity, tau_max: float = 0.0, q: int | None = None,
                 levels: int = 14):
    """Composite Gauss–Legendre rule (host numpy nodes, weights) on a density's effective
    support: panels end at its breakpoints, are graded geometrically (ratio 1/4, ``levels``
    levels) towards its singular points, and are narrow enough for e^{−iωτ} up to
    ``tau_max`` and for the density's own scale."""
    lo, hi = dens.effective_support()
    width = min(0.5 * float(dens.scale()), 0.5 * (hi - lo))
    if tau_max > 0:
        width = min(width, 24.0 / tau_max)
    edges = panel_edges(lo, hi, width, dens.breakpoints(), dens.singular_points(), levels)
    if tau_max > 0:  # far from the weight, panels may grow up to the oscillation limit
        c, osc = float(dens.center()), 24.0 / tau_max
        fixed = np.asarray([*dens.breakpoints(), *dens.singular_points()], float)
        sing = np.asarray(dens.singular_points(), float)
        merged = [edges[0]]
        for e in edges[1:]:
            keep = (e == edges[-1] or np.any(np.abs(e - fixed) < 1e-12)
                    or np.any(np.abs(e - sing) <= width))  # the graded zones stay
            if not keep and e - merged[-1] < min(osc, max(width, 0.25 * abs(merged[-1] - c))):
                continue
            merged.append(e)
        edges = np.asarray(merged)
    return gauss_rule(edges, q or dens.quadrature_order)


def gauss_rule(edges, q: int):
    """Composite Gauss–Legendre rule, ``q`` nodes per panel between consecutive ``edges``:
    host numpy (nodes, weights)."""
    edges = np.asarray(edges, float)
    x, w = _legendre(q)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def panel_edges(lo, hi, width, breakpoints=(), singular=(), levels=14):
    """Panel edges on [lo, hi]: uniform panels of at most ``width`` between the breakpoints,
    geometrically graded (ratio 1/4) towards each singular point."""
    cuts = sorted({lo, hi, *(b for b in (*breakpoints, *singular) if lo < b < hi)})
    sing = [s for s in singular if lo <= s <= hi]
    edges = [lo]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        g = min(width, 0.5 * (b - a))  # the graded zone next to a singular end
        near = lambda p: any(abs(p - x) < 1e-14 * max(1.0, abs(x)) for x in sing)
        grade_a = [a + g * 0.25**k for k in range(levels + 1)] if near(a) else [a]
        grade_b = [b - g * 0.25**k for k in range(levels + 1)] if near(b) else [b]
        inner_a, inner_b = max(grade_a), min(grade_b)
        npan = max(1, int(math.ceil((inner_b - inner_a) / width)))
        edges += grade_a + list(np.linspace(inner_a, inner_b, npan + 1)) + grade_b + [b]
    edges = np.unique(np.asarray(edges))
    return np.asarray(edges)


@functools.lru_cache(maxsize=8)
def _legendre(q):
    return np.polynomial.legendre.leggauss(q)


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
        return jnp.min(jnp.stack([t.scale() for t in self.terms]))

    def center(self):
        return jnp.mean(jnp.stack([t.center() for t in self.terms]))

    def support(self):
        sup = [t.support() for t in self.terms]
        return (min(a for a, _ in sup), max(b for _, b in sup))

    def effective_support(self):
        sup = [t.effective_support() for t in self.terms]
        return (min(a for a, _ in sup), max(b for _, b in sup))

    def breakpoints(self):
        return tuple(sorted({b for t in self.terms for b in t.breakpoints()}))

    def singular_points(self):
        return tuple(sorted({b for t in self.terms for b in t.singular_points()}))

    def kernels(self, tau):
        ks = [t.kernels(tau) for t in self.terms]
        return sum(k for k, _ in ks), sum(k for _, k in ks)

    def self_energy(self, omega):
        return sum(t.self_energy(omega) for t in self.terms)


def LorentzianSum(gammas, widths, centers) -> SumDensity:
    """Convenience constructor: Σ_i γ_i W_i² / ((ω − c_i)² + W_i²)."""
    gammas, widths, centers = (jnp.atleast_1d(jnp.asarray(x)) for x in (gammas, widths, centers))
    if not (gammas.shape == widths.shape == centers.shape):
        raise ValueError(
            "LorentzianSum needs gammas, widths and centers of equal length, got "
            f"{gammas.shape}, {widths.shape}, {centers.shape}."
        )
    return SumDensity(tuple(Lorentzian(g, w, c) for g, w, c in zip(gammas, widths, centers)))


# ----------------------------------------------------------------------------------------
# non-pole densities (Continuum: kernel fit; Discretised: directly)
# ----------------------------------------------------------------------------------------
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


class Tabulated(AbstractSpectralDensity):
    r"""A spectral density given by samples g_k ≥ 0 on a strictly increasing grid ω_k
    (user data), interpolated by a natural cubic spline and zero outside [ω_0, ω_N].

    - ``omega``: grid (static, host values); ``values``: samples (array leaf; gradients reach
      them).

    ``interpolation_error()`` estimates the spline's error (max |spline − spline of every
    other sample| at the dropped samples / 15, the h⁴ Richardson factor). The density is
    discontinuous at the grid ends unless the end samples vanish; the missing weight of a
    truncated tail is the user's to judge.
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
