r"""Thermodynamics of the exact transient: entropy, entropy production, first law, conductances.

Conventions (docs/theory.md): ħ = k_B = 1; every current and heat is **out of** reservoir α
(J^Q_α > 0 when heat leaves α); Q_α(t) = ∫_0^t J^Q_α is the heat out of α since the coupling
was switched on at t = 0; C_ij = <a_j† a_i>.

- ``gaussian_entropy``: von Neumann entropy of a Gaussian state (fermions or bosons).
- ``entropy_production``: Σ(t) = S(t) − S(0) − Σ_α Q_α(t)/T_α ≥ 0 (product initial state).
- ``correlated_entropy_production``: Σ(t) + D_0 ≥ 0 for a correlated initial state.
- ``energy_balance``: first-law bookkeeping (system, coupling and reservoir energies).
- ``conductance_g1`` … ``conductance_g5``, ``conductances``: the candidate heat conductances.
- ``linear_response_conductance``: Landauer steady-state linear-response thermal conductance.
- ``negative_windows``: time windows where a quantity (e.g. a conductance) is negative.
- ``uphill_rate``, ``uphill_margin``, ``uphill_flow``, ``uphill_heat``, ``UphillFlow``: genuine
  uphill (cold-to-hot) heat flow, defined once in ``jaxtransport.uphill`` (re-exported here;
  its docs relate it to G1–G5).

Which candidates depend on the initial system state C0 (docs/theory.md): every first moment is
affine in C0, so G4 (a difference at equal C0) and G3 at fixed C0 do not; G1, G2, G5 do, and G3
does when the initial state is itself prepared at the differentiated temperature.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._quadrature import gauss_rule
from ._validation import reservoir_values
from .reservoir import check_statistics, occupation
from .solution import Solution, integrate_heat
from .state import GaussianState, gaussian_entropy  # noqa: F401 (public here too)
from .uphill import (  # noqa: F401  (re-exported: the uphill measure belongs here)
    UphillFlow,
    uphill_flow,
    uphill_heat,
    uphill_margin,
    uphill_rate,
)


def _check_starts_at_zero(sol: Solution):
    t = np.asarray(sol.times) if not isinstance(sol.times, jax.core.Tracer) else None
    if t is not None and t[0] != 0.0:
        raise ValueError(
            f"the time grid must start at t = 0 (the coupling switch-on, where the state is a "
            f"product); it starts at {t[0]:g}."
        )


def entropy_production(solution: Solution, statistics: str | None = None) -> Array:
    r"""Entropy production Σ(t) = S(ρ_S(t)) − S(ρ_S(0)) − Σ_α Q_α(t)/T_α (nats), shape (..., T).

    Q_α is the heat **out of** α (``solution.integrated_heat``), so −Σ_α Q_α/T_α is the entropy
    change of the reservoirs. For a product initial state with thermal reservoirs Σ(t) ≥ 0 is
    the second law (Esposito–Lindenberg–Van den Broeck 2010); Σ(0) = 0.

    Accuracy: Q_α comes from integrating J^Q_α on the solution's time grid (fourth order except
    on the first interval, where J^Q ~ t ln t; see ``Solution.integrated_heat``). Use a grid
    graded towards t = 0 (e.g. ``t_max * linspace(0, 1, N)**3``) when Σ at short times matters;
    the grid must start at t = 0.
    ``statistics`` defaults to the solution's (``solution.statistics``); passing the other
    one is an error.

    Units: nats (k_B = 1; dimensionless).
    """
    _check_starts_at_zero(solution)
    if statistics is None:
        statistics = solution.statistics
    elif check_statistics(statistics) != solution.statistics:
        raise ValueError(f"statistics={statistics!r} but the solution is of a "
                         f"{solution.statistics}ic model.")
    s = gaussian_entropy(solution.correlation, statistics)  # (..., T)
    q = solution.integrated_heat  # (..., T, M)
    beta = 1.0 / solution.temperature[..., None, :]
    return s - s[..., :1] - jnp.sum(beta * q, axis=-1)


def correlated_entropy_production(solution: Solution, initial_information,
                                  statistics: str | None = None) -> Array:
    r"""Entropy production from a correlated initial state (``jt.StationaryState``), nats:

    Σ_c(t) = Σ(t) + D_0,   D_0 = D(ρ(0) ‖ ρ_S(0) ⊗ Π_α ρ_α^G) ≥ 0,

    with Σ(t) of ``entropy_production`` and ρ_α^G the Gibbs state of reservoir α alone at
    (T_α, μ_α). D_0 is the initial system–reservoir mutual information plus the reservoirs'
    initial deviation from Gibbs (``StationaryState.initial_information``). Unitarity gives
    Σ_c(t) = I_SR(t) + D(ρ_R(t) ‖ Π ρ_α^G) ≥ 0, so Σ(t) may be transiently negative, but never
    below −D_0 (docs/theory.md, "Correlated initial states: derivation and bookkeeping").
    For a product initial state D_0 = 0 and Σ_c = Σ.

    Units: nats (k_B = 1; dimensionless); heat counted out of each reservoir."""
    return entropy_production(solution, statistics) + jnp.asarray(initial_information)[..., None]


# ---------------------------------------------------------------------------------------------
# first law
class EnergyBalance(eqx.Module):
    """First-law bookkeeping along the transient (energies relative to t = 0). Units: energy
    (ħ = k_B = 1).

    Shapes (..., T) or (..., T, M). All reservoir quantities are changes of the reservoir
    itself (``reservoir_energy_change`` = Δ<H_α> = −∫J^E_α), heats are **out of** α.

    - ``system_energy_change``: Δ<H_S>(t).
    - ``coupling_energy``: <H_I^α>(t) (zero at t = 0: the coupling is switched on then).
    - ``reservoir_energy_change``: Δ<H_α>(t) = −∫_0^t J^E_α.
    - ``reservoir_particle_change``: Δ<N_α>(t) = −∫_0^t J^N_α.
    - ``heat``: Q_α(t) = −Δ<H_α> + μ_α Δ<N_α> (out of α).
    - ``chemical_work``: −Σ_α μ_α Δ<N_α> (the energy taken from the reservoirs that is not
      heat: Σ_α Q_α = −Σ_α Δ<H_α> − chemical_work).
    - ``residual``: ΔE_S + Σ_α <H_I^α> + Σ_α Δ<H_α> (zero by energy conservation; its size is
      the time-quadrature error of the integrated currents).
    """

    system_energy_change: Array
    coupling_energy: Array
    reservoir_energy_change: Array
    reservoir_particle_change: Array
    heat: Array
    chemical_work: Array
    residual: Array


def energy_balance(solution: Solution) -> EnergyBalance:
    r"""First-law bookkeeping ΔE_S + Σ_α <H_I^α> + Σ_α Δ<H_α> = 0 for a ``Solution``.

    Q_α is integrated with the fourth-order rule of ``Solution.integrated_heat``; Δ<N_α> with
    the trapezoid rule (dJ^N/dt is not stored), so at μ_α ≠ 0 the reservoir energies
    Δ<H_α> = −Q_α + μ_α Δ<N_α> are second order in the time step. The grid must start at 0.

    Units ħ = k_B = 1: every entry is an energy (units of h); heat is out of each reservoir.
    Returns an ``EnergyBalance``; raises ``ValueError`` when the grid does not start at 0.
    """
    _check_starts_at_zero(solution)
    sol = solution
    times = sol.times
    e_s = sol.system_energy
    zero = jnp.zeros_like(sol.particle_current)
    dn = -integrate_heat(times, sol.particle_current, zero)
    # Q: fourth order (stored derivative); ΔE_α = −Q_α + μ_α ΔN_α
    q = sol.integrated_heat
    mu = sol.chemical_potential[..., None, :]
    de = -q + mu * dn
    residual = (e_s - e_s[..., :1]) + jnp.sum(sol.coupling_energy, -1) + jnp.sum(de, -1)
    return EnergyBalance(
        system_energy_change=e_s - e_s[..., :1],
        coupling_energy=sol.coupling_energy,
        reservoir_energy_change=de,
        reservoir_particle_change=dn,
        heat=q,
        chemical_work=-jnp.sum(mu * dn, -1),
        residual=residual,
    )


# ---------------------------------------------------------------------------------------------
# conductances
def _check_pair(hot: int, cold: int | None, m: int):
    for name, k in (("hot", hot), ("cold", cold)):
        if k is None:
            continue
        if not (isinstance(k, int | np.integer) and 0 <= k < m):
            raise ValueError(f"{name} must be a reservoir index in [0, {m - 1}], got {k!r}.")
    if cold is not None and hot == cold:
        raise ValueError(f"hot and cold must be different reservoirs, got both = {hot}.")


def _delta_t(temperature, hot, cold):
    dt = temperature[..., hot] - temperature[..., cold]
    if not isinstance(dt, jax.core.Tracer) and np.any(np.asarray(dt) == 0):
        raise ValueError(
            "the conductance needs T_hot != T_cold (it divides by ΔT = T_hot − T_cold); "
            "use conductance_g3 or linear_response_conductance for ΔT → 0."
        )
    return dt


def conductance_g1(solution: Solution, hot: int = 0, cold: int = 1) -> Array:
    r"""G1(t) = J^Q_hot(t) / (T_hot − T_cold), shape (..., T). Depends on the initial state C0.

    J^Q_hot is the heat current out of the hot reservoir (energy units / time; ħ = k_B = 1)."""
    _check_pair(hot, cold, solution.heat_current.shape[-1])
    dt = _delta_t(solution.temperature, hot, cold)
    return solution.heat_current[..., hot] / dt[..., None]


def conductance_g2(solution: Solution, hot: int = 0, cold: int = 1) -> Array:
    r"""G2(t) = [J^Q_hot(t) − J^Q_cold(t)] / (2 (T_hot − T_cold)), shape (..., T).

    Symmetrised: heat out of hot minus heat out of cold (= heat into cold). Depends on C0.
    Units: 1/ħ (energy/(time·temperature), ħ = k_B = 1)."""
    _check_pair(hot, cold, solution.heat_current.shape[-1])
    dt = _delta_t(solution.temperature, hot, cold)
    j = solution.heat_current
    return (j[..., hot] - j[..., cold]) / (2 * dt[..., None])


def conductance_g5(solution: Solution, hot: int = 0, cold: int = 1) -> Array:
    r"""G5(t) = Q_hot(t) / (t (T_hot − T_cold)): the time-averaged conductance, shape (..., T).

    Q_hot = ∫_0^t J^Q_hot (heat out of hot). At t = 0 the limit J^Q_hot(0)/ΔT is returned.
    Depends on C0. The grid must start at t = 0. Units: 1/ħ (ħ = k_B = 1)."""
    _check_starts_at_zero(solution)
    _check_pair(hot, cold, solution.heat_current.shape[-1])
    dt = _delta_t(solution.temperature, hot, cold)
    t = solution.times
    q = solution.integrated_heat[..., hot]
    avg = jnp.where(t > 0, q / jnp.where(t > 0, t, 1.0), solution.heat_current[..., hot])
    return avg / dt[..., None]


def thermal_preparation(
    hamiltonian, chemical_potential=0.0, statistics: str = "fermion"
) -> Callable[[Array], Array]:
    r"""A preparation T ↦ C0(T) = f(h; T, μ): the isolated system's Gibbs state at temperature T.

    Pass it as ``preparation`` to ``conductance_g3``/``conductances`` to differentiate through
    the initial state as well ("system prepared at T_hot"). Units: temperatures and h in
    energy units (ħ = k_B = 1); C0 is dimensionless."""
    h = jnp.asarray(hamiltonian)
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise ValueError(f"hamiltonian must be a square (n, n) matrix, got shape {h.shape}.")
    statistics = check_statistics(statistics)
    e, u = jnp.linalg.eigh(h)  # h is fixed: no eigenvector gradient is ever needed

    def prepare(temperature):
        n = occupation(e, temperature, chemical_potential, statistics)
        return (u * n) @ u.conj().T

    return prepare


def _as_correlation(state):
    return state.correlation if isinstance(state, GaussianState) else jnp.asarray(state)


def conductance_g3(
    response,
    state=None,
    temperature=None,
    chemical_potential=None,
    hot: int = 0,
    preparation: Callable | None = None,
) -> Array:
    r"""G3(t) = ∂J^Q_hot(t)/∂T_hot by forward-mode autodiff through stage 2, shape (T,).

    - With ``state`` (a ``GaussianState`` or C0 array, (n, n)) the initial state is held fixed:
      since J is affine in C0 and the C0 part does not depend on T, G3 is then the same for
      every C0.
    - With ``preparation`` (a callable T_hot ↦ C0, e.g. ``thermal_preparation(h)``) the
      initial state is prepared at the hot temperature and differentiated too: G3 then
      depends on the preparation.

    ``temperature``/``chemical_potential``: shape (M,) (default: the response's own values).
    Units: 1/ħ (ħ = k_B = 1); J^Q_hot is the heat current out of the hot reservoir.
    """
    if (state is None) == (preparation is None):
        raise ValueError("give exactly one of state= (held fixed) or preparation= (T ↦ C0).")
    m = response.n_reservoirs
    _check_pair(hot, None, m)
    temp, mu = reservoir_values(response.temperature, response.chemical_potential,
                                temperature, chemical_potential)
    if temp.shape != (m,) or mu.shape != (m,):
        raise ValueError(
            f"temperature and chemical_potential must have shape ({m},) here (vmap for "
            f"batches), got {temp.shape} and {mu.shape}."
        )
    fixed = None if state is None else _as_correlation(state)

    def current(th):
        c0 = preparation(th) if preparation is not None else fixed
        return response.evaluate(c0, temp.at[hot].set(th), mu).heat_current[..., hot]

    return jax.jacfwd(current)(temp[hot])


def conductance_g4(
    response, temperature=None, chemical_potential=None, hot: int = 0, cold: int = 1,
    state=None,
) -> Array:
    r"""G4(t) = [J^Q_hot(t; T_hot) − J^Q_hot(t; T_hot = T_cold)] / (T_hot − T_cold), shape (T,).

    The subtracted conductance: the reference transient at ΔT = 0 (same C0) is removed, so G4
    does not depend on the initial state (the C0 part cancels exactly). ``state`` (default: the
    empty state) is only used to evaluate both terms. Units: 1/ħ (energy/(time·temperature),
    ħ = k_B = 1); J^Q_hot is the heat current out of the hot reservoir."""
    m = response.n_reservoirs
    _check_pair(hot, cold, m)
    temp, mu = reservoir_values(response.temperature, response.chemical_potential,
                                temperature, chemical_potential)
    dt = _delta_t(temp, hot, cold)
    c0 = jnp.zeros((response.n_modes,) * 2) if state is None else _as_correlation(state)
    ref = temp.at[hot].set(temp[cold])
    j = response.evaluate(c0, jnp.stack([temp, ref]), jnp.stack([mu, mu])).heat_current
    return (j[0, :, hot] - j[1, :, hot]) / dt


class Conductances(eqx.Module):
    """The five candidate heat conductances on the response's time grid (each shape (T,)).

    ``g1`` J_h/ΔT, ``g2`` (J_h − J_c)/(2ΔT), ``g3`` ∂J_h/∂T_h (fixed C0, or the preparation if
    one was given), ``g4`` subtracted, ``g5`` Q_h/(tΔT). Units: energy/(time·temperature) = 1/ħ.
    Heat currents J_h, J_c and heat Q_h are out of the hot/cold reservoir.
    """

    times: Array
    g1: Array
    g2: Array
    g3: Array
    g4: Array
    g5: Array


def conductances(
    response, state, temperature=None, chemical_potential=None, hot: int = 0, cold: int = 1,
    preparation: Callable | None = None,
) -> Conductances:
    r"""All candidate conductances G1–G5 for one (C0, T, μ) (see the individual functions).

    ``state`` is the initial C0 used by G1, G2, G5; G3 uses ``preparation`` (T_hot ↦ C0) when
    given, else ``state`` held fixed. When ``preparation`` is given, ``state`` may be None and
    is then ``preparation(T_hot)``.

    Units ħ = k_B = 1: every conductance is in 1/time (energy per time per temperature, units of
    h); heat is counted out of each reservoir. Returns a ``Conductances``."""
    temp, mu = reservoir_values(response.temperature, response.chemical_potential,
                                temperature, chemical_potential)
    if state is None:
        if preparation is None:
            raise ValueError("give state= (the initial C0) or preparation= (T_hot ↦ C0).")
        state = preparation(temp[hot])
    sol = response.evaluate(state, temp, mu)
    g3 = (
        conductance_g3(response, preparation=preparation, temperature=temp,
                       chemical_potential=mu, hot=hot)
        if preparation is not None
        else conductance_g3(response, state, temp, mu, hot=hot)
    )
    return Conductances(
        times=response.times,
        g1=conductance_g1(sol, hot, cold),
        g2=conductance_g2(sol, hot, cold),
        g3=g3,
        g4=conductance_g4(response, temp, mu, hot, cold),
        g5=conductance_g5(sol, hot, cold),
    )


def linear_response_conductance(
    model, temperature, chemical_potential=0.0, hot: int = 0, *, panels_per_temperature=4,
    nodes_per_panel: int = 16,
) -> Array:
    r"""Steady-state linear-response thermal conductance from Landauer–Büttiker/Caroli.

    All reservoirs at temperature T and chemical potential μ; the heat current out of ``hot``
    responds to a small rise of T_hot as

        κ = ∂J^Q_hot/∂T_hot = ∫ dω/2π (ω − μ)²/T · (−∂f/∂ω) · Σ_{β≠hot} T_hot,β(ω),

    T_αβ = Tr[Γ_α G^R Γ_β G^A] (``jt.transmission``), −∂f/∂ω = f(1−f)/T (fermions). Units 1/ħ
    (k_B = 1). Composite Gauss–Legendre over μ ± 40 T (the integrand decays as e^{−|ω−μ|/T}).
    This is the ΔT → 0, t → ∞ limit of G3 and G4.
    """
    if model.statistics != "fermion":
        raise ValueError("linear_response_conductance supports statistics='fermion' only.")
    _check_pair(hot, None, model.n_reservoirs)
    t = float(temperature)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}.")
    mu = float(chemical_potential)
    lo, hi = mu - 40 * t, mu + 40 * t
    npan = max(8, int(math.ceil(80 * panels_per_temperature)))
    nodes, wts = gauss_rule(np.linspace(lo, hi, npan + 1), nodes_per_panel)
    wts = wts / (2 * math.pi)
    om = jnp.asarray(nodes)
    from .steady_state import transmission

    tr = jax.vmap(lambda o: transmission(model, o))(om)  # (K, M, M)
    others = jnp.sum(tr[:, hot, :], axis=-1) - tr[:, hot, hot]
    f = occupation(om, t, mu, "fermion")
    integrand = (om - mu) ** 2 / t * f * (1 - f) / t * others
    return jnp.sum(jnp.asarray(wts) * integrand)


def negative_windows(times, values, tolerance: float = 0.0) -> list[tuple[float, float]]:
    r"""Time windows where ``values`` < −``tolerance`` (e.g. a conductance or a heat current).

    ``times`` (T,) increasing, ``values`` (T,) real. Window edges are located by linear
    interpolation of the zero crossings of ``values + tolerance``; a window still open at the
    last time ends at ``times[-1]``. Returns a list of (start, end) pairs (host-side numpy),
    in the units of ``times`` (ħ/energy; ħ = k_B = 1). For a heat current out of the reservoir,
    a window is where heat flows into it (not necessarily uphill: see ``uphill_flow``).
    """
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.ndim != 1 or v.shape != t.shape:
        raise ValueError(
            f"times and values must be 1-D of equal length, got {t.shape} and {v.shape} "
            "(index a batch before calling)."
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (no NaN or inf).")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing.")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}.")
    y = v + tolerance
    neg = y < 0
    out = []
    k = 0
    while k < t.size:
        if not neg[k]:
            k += 1
            continue
        start = t[k] if k == 0 else t[k - 1] + (t[k] - t[k - 1]) * y[k - 1] / (y[k - 1] - y[k])
        j = k
        while j + 1 < t.size and neg[j + 1]:
            j += 1
        end = t[j] if j + 1 == t.size else t[j] + (t[j + 1] - t[j]) * y[j] / (y[j] - y[j + 1])
        out.append((float(start), float(end)))
        k = j + 1
    return out
