r"""Steady state from Landauer–Büttiker / Caroli (exact at any coupling for quadratic models).

G^R(ω) = [ω − h − Σ^R(ω)]^{-1},  T_αβ(ω) = Tr[Γ_α G^R Γ_β G^A],
J^X_α = Σ_β ∫ dω/2π w_X(ω) T_αβ(ω) [f_α(ω) − f_β(ω)],  w_N = 1, w_E = ω   (out of α).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .reservoir import occupation
from .spectral_density import gauss_rule, panel_edges


class SteadyState(eqx.Module):
    """Steady-state currents out of each reservoir, shape (..., M)."""

    particle_current: Array
    energy_current: Array
    heat_current: Array
    error_estimate: Array


def self_energy(model, omega) -> Array:
    """Retarded self-energy Σ^R(ω) = Σ_α Σ^R_α(ω), shape (..., n, n)."""
    return sum(_reservoir_self_energy(r, omega) for r in model.reservoirs)


def _reservoir_self_energy(res, omega):
    out = 0.0
    for dens, v in res.terms:
        out = out + dens.self_energy(omega)[..., None, None] * jnp.outer(v, v.conj())
    return out


def transmission(model, omega) -> Array:
    """T_αβ(ω) = Tr[Γ_α G^R Γ_β G^A], shape (..., M, M)."""
    omega = jnp.asarray(omega, jnp.float64)
    n = model.n_modes
    sig = self_energy(model, omega)
    gr = jnp.linalg.inv(omega[..., None, None] * jnp.eye(n) - model.hamiltonian - sig)
    gam = jnp.stack([r.spectral_matrix(omega) for r in model.reservoirs], axis=-3)
    return jnp.einsum("...aij,...jk,...bkl,...il->...ab", gam, gr, gam, gr.conj()).real


class _FrequencyRule:
    """Composite Gauss–Legendre rule for ∫dω/2π over the window where the occupations of
    ``model``'s reservoirs differ (μ ± 40 T_max, cut to the union of the density supports),
    panels of width ``panel_width`` (default min(T_min, W_min/4, 1/4), W the Lorentzian widths
    and the scales of the other densities), graded towards breakpoints and singular points."""

    def __init__(self, model, temp, mu, panel_width=None):
        lo = float(mu.min() - 40 * temp.max())
        hi = float(mu.max() + 40 * temp.max())
        dens = [d for r in model.reservoirs for d, _ in r.terms]
        sups = [d.support() for d in dens]
        self.lo = max(lo, min(a for a, _ in sups))  # no weight below the supports (bosons: ≥ μ)
        self.hi = min(hi, max(b for _, b in sups))
        widths = [float(lor.width) for d in dens if d.is_pole_sum for lor in d.lorentzian_terms()]
        widths += [float(d.scale()) for d in dens if not d.is_pole_sum]
        self.panel_width = panel_width or min(float(temp.min()), 0.25 * min(widths), 0.25)
        self.cuts = tuple(b for d in dens if not d.is_pole_sum for b in
                          (d.breakpoints() if len(d.breakpoints()) <= 16 else d.support()))
        self.sing = tuple(b for d in dens for b in d.singular_points())

    def __call__(self, width, q):
        """(nodes, weights / 2π) for panels of ``width`` with ``q`` nodes each."""
        x, w = gauss_rule(panel_edges(self.lo, self.hi, width, self.cuts, self.sing), q)
        return jnp.asarray(x), jnp.asarray(w) / (2 * math.pi)


def frequency_rule(model, temp, mu, panel_width=None) -> _FrequencyRule:
    return _FrequencyRule(model, np.asarray(temp, float), np.asarray(mu, float), panel_width)


def steady_state(model, temperature=None, chemical_potential=None, *, panel_width=None,
                 nodes_per_panel=16) -> SteadyState:
    """Landauer–Büttiker/Caroli currents (out of each reservoir) for ``model``.

    ``temperature``/``chemical_potential`` (shape (M,)) override the model's values. The
    frequency integral uses composite Gauss–Legendre panels over the window where the
    occupations differ; ``error_estimate`` compares with a half-resolution rule.
    """
    temp = model.temperatures if temperature is None else jnp.asarray(temperature, jnp.float64)
    mu = model.chemical_potentials if chemical_potential is None else jnp.asarray(
        chemical_potential, jnp.float64)
    t_np, mu_np = np.asarray(temp), np.asarray(mu)
    if np.any(~(t_np > 0)):
        raise ValueError(f"temperatures must be > 0, got {t_np}.")
    rule = frequency_rule(model, t_np, mu_np, panel_width)

    def integrate(width, q):
        nodes, wts = rule(width, q)
        tr = jax.vmap(lambda om: transmission(model, om))(nodes)  # (K, M, M)
        f = occupation(nodes[:, None], temp[None, :], mu[None, :], model.statistics)  # (K, M)
        df = f[:, :, None] - f[:, None, :]
        jn = jnp.einsum("k,kab,kab->a", wts, tr, df)
        je = jnp.einsum("k,k,kab,kab->a", wts, nodes, tr, df)
        return jn, je

    pw = rule.panel_width
    jn, je = integrate(pw, nodes_per_panel)
    jn2, je2 = integrate(2 * pw, nodes_per_panel)
    err = jnp.maximum(jnp.max(jnp.abs(jn - jn2)), jnp.max(jnp.abs(je - je2)))
    return SteadyState(
        particle_current=jn, energy_current=je, heat_current=je - mu * jn, error_estimate=err
    )
