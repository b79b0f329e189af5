r"""The spectral-density protocol: ``AbstractSpectralDensity`` and its quadrature rule.

Convention: a reservoir term with coupling vector v contributes
:math:`\Gamma(\omega) = g(\omega)\, v v^\dagger`, where
:math:`\Gamma_{ij}(\omega) = 2\pi \sum_k V_{k,i} V_{k,j}^* \delta(\omega-\epsilon_k)`.
A single level coupled with |v| = 1 to a flat density g = Γ decays as e^{-Γ t}.

Densities that are sums of Lorentzians ("poles") close exactly in the ``Continuum`` method;
every density can be used with ``Discretised``.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._quadrature import gauss_rule, panel_edges


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

    def lorentzian_terms(self) -> tuple:
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
    ``tau_max`` and for the density's own scale.

    Units: the nodes in the units of ω (energy, ħ = 1), the weights likewise."""
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


class SumDensity(AbstractSpectralDensity):
    """Sum of spectral densities, g = Σ_i g_i (e.g. a sum of Lorentzians).

    Units ħ = 1: g in the units of h, like its terms."""

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
