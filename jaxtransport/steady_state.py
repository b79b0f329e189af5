r"""``jt.steady_state``: exact steady-state currents of any model (ħ = k_B = 1; currents OUT of
each reservoir α), at any coupling strength.

**Number-conserving models — Landauer–Büttiker / Caroli.**
G^R(ω) = [ω − h − Σ^R(ω)]^{-1},  T_αβ(ω) = Tr[Γ_α G^R Γ_β G^A],
J^X_α = Σ_β ∫ dω/2π w_X(ω) T_αβ(ω) [f_α(ω) − f_β(ω)],  w_N = 1, w_E = ω   (out of α).

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
particle current is NaN and J^Q = J^E). ``steady_state`` also evaluates the direct
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

Units ħ = k_B = 1: currents out of each reservoir (particles per time; energy and heat in energy
per time), ω in the units of h.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._quadrature import gauss_panels, gauss_rule, panel_edges
from .model import QuadraticModel
from .nambu import symplectic_form
from .reservoir import PositionReservoir, occupation
from .response.drude import drude_closure


class SteadyState(eqx.Module):
    """Steady-state currents out of each reservoir, shape (..., M) (NaN particle currents for
    x–x reservoirs); ``error_estimate``: estimated absolute error of the currents.

    Units ħ = k_B = 1: particle currents per time, energy and heat currents in energy per time
    (units of h²)."""

    particle_current: Array
    energy_current: Array
    heat_current: Array
    error_estimate: Array


def self_energy(model, omega) -> Array:
    """Retarded self-energy Σ^R(ω) = Σ_α Σ^R_α(ω), shape (..., n, n).

    Units ħ = 1: ω and Σ^R in the units of h."""
    return sum(_reservoir_self_energy(r, omega) for r in model.reservoirs)


def _reservoir_self_energy(res, omega):
    out = 0.0
    for dens, v in res.terms:
        out = out + dens.self_energy(omega)[..., None, None] * jnp.outer(v, v.conj())
    return out


def transmission(model, omega) -> Array:
    """T_αβ(ω) = Tr[Γ_α G^R Γ_β G^A], shape (..., M, M).

    Units: 𝒯 is dimensionless (Γ and G^R in inverse units cancel); ω in the units of h."""
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
    """Exact steady-state currents (out of each reservoir) of any model (module docstring).

    ``temperature``/``chemical_potential`` (shape (M,)) override the model's values (x–x
    reservoirs have μ = 0). ``jt.Model``: Landauer–Büttiker/Caroli, composite Gauss–Legendre
    panels over the window where the occupations differ. ``jt.QuadraticModel``: fermions with
    exchange leads (Nambu doubling), bosons with x–x reservoirs of Drude–Lorentz densities
    (phonon transmission); raises ``ValueError`` otherwise. ``error_estimate`` compares with a
    half-resolution rule. Raises ``ValueError`` for a temperature ≤ 0.

    Units ħ = k_B = 1: the currents of the returned ``SteadyState`` are out of each reservoir
    (particles per time; energy and heat in energy per time), temperatures and chemical
    potentials in the units of h. Raises ``ValueError`` for invalid temperatures or chemical
    potentials.

    Examples:
        A level between a hot and a cold lead: heat leaves the hot lead and enters the cold one,
        and the energy currents add up to zero:

        >>> import numpy as np, jaxtransport as jt
        >>> lead = jt.Lorentzian(gamma=0.5, width=2.0)
        >>> model = jt.Model([[0.5]], (jt.Reservoir(lead, temperature=1.5, coupling=[1.0]),
        ...                            jt.Reservoir(lead, temperature=0.5, coupling=[1.0])))
        >>> ss = jt.steady_state(model)
        >>> bool(ss.heat_current[0] > 0 > ss.heat_current[1])
        True
        >>> bool(abs(float(np.sum(ss.energy_current))) < 1e-10)
        True
    """
    if getattr(model, "drive", None) is not None:
        raise ValueError(
            f"jt.steady_state of a driven {type(model).__name__}: a time-dependent model has "
            "no stationary state. Pass the model without its drive (drive=None) for the "
            "steady state of the static Hamiltonian (e.g. the instantaneous one of an adiabatic "
            "drive), or jt.solve the driven model to long times (periodic drives: "
            "jt.cycle_thermodynamics).")
    if isinstance(model, QuadraticModel):
        return _quadratic_steady_state(model, temperature, chemical_potential,
                                       nodes_per_panel)
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


# ------------------------------------------------------------------------------------------
# general quadratic models
# ------------------------------------------------------------------------------------------
def _quadratic_steady_state(model, temperature, chemical_potential, nodes_per_panel):
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
    ss = steady_state(model.nambu_doubled(), jnp.concatenate([temp, temp]),
                      jnp.concatenate([mu, -mu]), nodes_per_panel=q)
    m = model.n_reservoirs
    jn = 0.5 * (ss.particle_current[:m] - ss.particle_current[m:])
    je = 0.5 * (ss.energy_current[:m] + ss.energy_current[m:])
    return SteadyState(particle_current=jn, energy_current=je,
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
    ev = np.linalg.eigvals(np.asarray(drude_closure(model).lmat))
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
    x, wt = gauss_panels(0.0, w_max, width, q, poles)
    jl, jd = _phonon_currents(model, temp, jnp.asarray(x), jnp.asarray(wt))
    x2, wt2 = gauss_panels(0.0, w_max, width, q, poles, 2.0)
    jl2, _ = _phonon_currents(model, temp, jnp.asarray(x2), jnp.asarray(wt2))
    err = jnp.maximum(jnp.max(jnp.abs(jl - jl2)), jnp.max(jnp.abs(jl - jd)))
    nan = jnp.full(model.n_reservoirs, jnp.nan)
    return SteadyState(particle_current=nan, energy_current=jl, heat_current=jl,
                              error_estimate=err)


GeneralSteadyState = SteadyState  # the former name of the QuadraticModel result


def general_steady_state(model, temperature=None, chemical_potential=None, *,
                         nodes_per_panel: int = 16) -> SteadyState:
    """Deprecated: ``jt.steady_state(model, ...)`` (it takes every model kind).

    Returns a ``GeneralSteadyState``: currents out of each reservoir (units ħ = k_B = 1:
    particles per time; energy and heat in energy per time)."""
    import warnings

    warnings.warn("jt.general_steady_state is deprecated: use jt.steady_state (it takes every "
                  "model kind).", DeprecationWarning, stacklevel=2)
    return steady_state(model, temperature, chemical_potential,
                        nodes_per_panel=nodes_per_panel)
