r"""Exact steady-state currents of general quadratic models (ħ = k_B = 1; currents OUT of
each reservoir α).

**Bosons, x–x (Caldeira–Leggett) coupling to Drude–Lorentz baths — phonon transmission.**
Bath α couples through X_α = e_α·r, e_α = (u_α, 0), with H_I^α = X_α B_α,
B_α = Σ_k g_k q_k. Eliminating the bath (Fourier convention f(t) = ∫dω/2π e^{−iωt} f(ω)),
B_α(ω) = ξ_α(ω) − χ_α(ω) X_α(ω) with the free noise ξ_α and the retarded bath response

    χ_α(ω) = (2/π)∫_0^∞ dν J_α(ν) ν/(ν² − (ω + i0)²) = Σ_p 2λ_pγ_p/(γ_p − iω) (Drude),
    Im χ_α(ω) = J_α(ω) (ω > 0).

The system obeys dr/dt = ΩG′r + Σ_α Ωe_α B_α (G′ = G + counter-terms), so
X_α(ω) = Σ_β 𝒢_αβ(ω) ξ_β(ω) with the exact (dressed) position response

    𝒢_αβ(ω) = e_α^T [−iω − ΩG′ + Σ_γ χ_γ(ω) Ωe_γe_γ^T]^{−1} Ωe_β,

and (for the separable case G′ = K′ ⊕ 1: 𝒢 = −u_α^T D^{−1} u_β,
D = K′ − ω² − Σ_γ χ_γ u_γu_γ^T) the energy current out of bath α is the phonon
transmission (Landauer) formula

    J^E_α = Σ_β ∫_0^∞ dω/2π ω 𝒯_αβ(ω) [n_α(ω) − n_β(ω)],  𝒯_αβ = 4 J_α J_β |𝒢_αβ|²,

with n_α the Bose function at T_α (μ = 0: the bath's number is not conserved by H_I, so the
particle current is NaN and J^Q = J^E). ``general_steady_state`` also evaluates the direct
(non-transmission) form J^E_α = −∫_0^∞ dω/π ω [Im 𝒢_αα S_α + J_α Σ_β |𝒢_αβ|² S_β],
S_β = J_β coth(ω/2T_β) the symmetrised noise spectrum (from J^E_α = −d⟨H_α⟩/dt =
⟨X_α Ḃ_α⟩_sym, Ḃ_α = i[H_α, B_α], with X_α = Σ_β 𝒢_αβ ξ_β and B_α = ξ_α − χ_α X_α); their
difference is part of the error estimate, so a model for which the transmission form would
not hold is flagged.

**Fermions (BdG, exchange leads) — Nambu doubling.** The doubled number-conserving model
(``nambu_model``: particle copies at (T_α, μ_α), hole copies at (T_α, −μ_α), mirrored
densities) is solved with the engine's Landauer–Büttiker/Caroli ``jt.steady_state``; the
physical currents are J^N_α = ½(J^N_p − J^N_h), J^E_α = ½(J^E_p + J^E_h),
J^Q_α = J^E_α − μ_α J^N_α (the same combination as the continuum method). Andreev processes
(a particle from α returned as a hole into β) appear as particle → hole transmissions of the
doubled model.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..reservoir import occupation
from ..response.continuum import _gauss_panels
from .model import PositionReservoir, symplectic_form


class GeneralSteadyState(eqx.Module):
    """Steady-state currents out of each reservoir, shape (M,) (NaN particle currents for
    x–x reservoirs); ``error_estimate``: estimated absolute error of the currents."""

    particle_current: Array
    energy_current: Array
    heat_current: Array
    error_estimate: Array


def general_steady_state(model, temperature=None, chemical_potential=None, *,
                         nodes_per_panel: int = 16) -> GeneralSteadyState:
    """Exact steady-state currents of a ``QuadraticModel`` (see the module docstring).

    ``temperature``/``chemical_potential`` (shape (M,)) override the model's values (x–x
    reservoirs have μ = 0). Fermions: exchange leads of any density the engine's
    ``jt.steady_state`` accepts. Bosons: x–x reservoirs with ``jt.DrudeLorentz`` densities.
    Raises ``ValueError`` otherwise, or for a temperature ≤ 0.
    """
    temp = jnp.asarray(model.temperatures if temperature is None else temperature, jnp.float64)
    mu = jnp.asarray(model.chemical_potentials if chemical_potential is None
                     else chemical_potential, jnp.float64)
    m = model.n_reservoirs
    if temp.shape != (m,) or mu.shape != (m,):
        raise ValueError(f"temperature and chemical_potential must have shape ({m},).")
    if np.any(~(np.asarray(temp) > 0)):
        raise ValueError(f"temperatures must be > 0, got {np.asarray(temp)}.")
    if model.statistics == "fermion":
        return _nambu_steady(model, temp, mu, nodes_per_panel)
    return _phonon_steady(model, temp, mu, nodes_per_panel)


def _nambu_steady(model, temp, mu, q):
    from ..steady_state import steady_state
    from .continuum import nambu_model

    ss = steady_state(nambu_model(model), jnp.concatenate([temp, temp]),
                      jnp.concatenate([mu, -mu]), nodes_per_panel=q)
    m = model.n_reservoirs
    jn = 0.5 * (ss.particle_current[:m] - ss.particle_current[m:])
    je = 0.5 * (ss.energy_current[:m] + ss.energy_current[m:])
    return GeneralSteadyState(particle_current=jn, energy_current=je,
                              heat_current=je - mu * jn, error_estimate=ss.error_estimate)


def _drude_terms(model):
    out = []
    for k, r in enumerate(model.reservoirs):
        if not (isinstance(r, PositionReservoir) and hasattr(r.spectral_density, "drude_terms")):
            raise ValueError(
                f"reservoirs[{k}]: the bosonic steady state needs x–x reservoirs "
                "(jt.PositionReservoir) with Drude–Lorentz densities (jt.DrudeLorentz).")
        out.append(tuple((float(lam), float(gam)) for lam, gam in
                         r.spectral_density.drude_terms()))
    return out


def position_response(model, omega) -> tuple[Array, Array]:
    """(𝒢(ω), χ(ω)) of a bosonic x–x model with Drude baths at real frequencies ω (K,):
    𝒢 (K, M, M) the dressed position response (module docstring), χ (K, M) the bath response
    functions (Im χ_α = J_α for ω > 0)."""
    n = model.n_modes
    om = jnp.asarray(symplectic_form(n))
    terms = _drude_terms(model)
    e = jnp.stack([model.position_vector(a) for a in range(model.n_reservoirs)])  # (M, 2n)
    oe = e @ om.T  # rows Ω e_α
    k0 = om @ model.dressed_hamiltonian()
    omega = jnp.asarray(omega, jnp.float64)

    def one(w):
        chi = jnp.stack([sum(2 * lam * gam / (gam - 1j * w) for lam, gam in ts)
                         for ts in terms])
        a = (-1j * w * jnp.eye(2 * n) - k0
             + jnp.einsum("a,ai,aj->ij", chi, oe, e))
        return e @ jnp.linalg.solve(a, oe.T.astype(jnp.complex128)), chi

    return jax.vmap(one)(omega)


def _phonon_plan(model, temp):
    """Frequency window (0, ω_max] and the near-axis poles (centre, width) of the integrand
    (closed-loop eigenfrequencies of the system + Drude auxiliary variables)."""
    from .continuum import _drude_setup

    ev = np.linalg.eigvals(np.asarray(_drude_setup(model).lmat))
    nu, kap = np.abs(ev.imag), np.abs(ev.real)
    if np.any(ev.real >= 0):
        raise ValueError("the damped system is not stable (a closed-loop eigenvalue has "
                         "Re ≥ 0): no steady state.")
    t_max = float(np.max(np.asarray(temp)))
    w_max = max(45.0 * t_max, float(np.max(nu + 20.0 * kap)))
    poles = tuple(sorted({(float(c), float(s)) for c, s in zip(nu, kap, strict=True)}))
    width = min(0.5, 0.25 * float(np.min(np.asarray(temp))), 0.1 * w_max)
    return w_max, width, poles


def _phonon_currents(model, temp, nodes, weights):
    g, chi = position_response(model, nodes)  # (K, M, M), (K, M)
    jd = chi.imag  # J_α(ω) ≥ 0 for ω > 0
    n = occupation(nodes[:, None], temp[None, :], 0.0, "boson")  # (K, M)
    tr = 4.0 * jd[:, :, None] * jd[:, None, :] * jnp.abs(g) ** 2  # (K, M, M)
    dn = n[:, :, None] - n[:, None, :]
    w = weights * nodes / (2 * math.pi)
    landauer = jnp.einsum("k,kab,kab->a", w, tr, dn)
    s = jd * (2 * n + 1)  # S_β = J coth(ω/2T)
    gaa = jnp.diagonal(g, axis1=1, axis2=2)
    direct = -2 * jnp.einsum("k,ka->a", w, gaa.imag * s + jd * jnp.einsum(
        "kab,kb->ka", jnp.abs(g) ** 2, s))
    return landauer, direct


def _phonon_steady(model, temp, mu, q):
    w_max, width, poles = _phonon_plan(model, temp)
    x, wt = _gauss_panels(0.0, w_max, width, q, poles)
    jl, jd = _phonon_currents(model, temp, jnp.asarray(x), jnp.asarray(wt))
    x2, wt2 = _gauss_panels(0.0, w_max, width, q, poles, 2.0)
    jl2, _ = _phonon_currents(model, temp, jnp.asarray(x2), jnp.asarray(wt2))
    err = jnp.maximum(jnp.max(jnp.abs(jl - jl2)), jnp.max(jnp.abs(jl - jd)))
    nan = jnp.full(model.n_reservoirs, jnp.nan)
    return GeneralSteadyState(particle_current=nan, energy_current=jl, heat_current=jl,
                              error_estimate=err)
