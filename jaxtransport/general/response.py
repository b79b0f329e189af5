r"""Two-stage response of a general quadratic model and its observables.

Stage 1 (``GeneralResponse``, independent of T, μ and the initial state) stores, for the
system covariance X_S(t) and the scalars listed below,

    O(t) = Σ_ab M^O_ab(t) Σ0_ab + Σ_β Σ_k w_βk f_β(ω_βk) L^O_βk(t) + offset^O(t),

with Σ0 = X0 + d0 d0^T (bosons; d0 the displacement) or Γ0 (fermions), f_β the Fermi/Bose
function of reservoir β at its nodes ω_βk. Stage 2 (``evaluate``) contracts: affine in the
initial covariance, linear in the occupation functions (batched, jit/vmap/grad-able).

Scalars, per reservoir α (index order of ``SCALARS``): d⟨N_α⟩/dt, d⟨H_α⟩/dt, ⟨H_I^α⟩
(coupling energy, counter-term included for x–x reservoirs), then ⟨H_S⟩ − E_0 (one value);
each with its time derivative. Currents are OUT of each reservoir:
J^N_α = −d⟨N_α⟩/dt, J^E_α = −d⟨H_α⟩/dt, J^Q_α = J^E_α − μ_α J^N_α (ħ = k_B = 1).
For x–x (position-coupled) reservoirs the bath number is not conserved by H_I and μ = 0:
their particle current is reported as NaN and J^Q = J^E.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._validation import reservoir_values
from ..reservoir import occupation
from ..solution import Solution
from .model import symplectic_form
from .state import CovarianceState, nambu_correlation


class GeneralSolution(eqx.Module):
    """Observables of a general quadratic model (shapes (..., T, ...); see module doc)."""

    times: Array
    covariance: Array  # (..., T, 2n, 2n) V(t) or Γ(t)
    mean: Array  # (..., T, 2n) ⟨r⟩(t) (zero for fermions)
    particle_current: Array  # (..., T, M) out of α (NaN for x–x reservoirs)
    energy_current: Array  # (..., T, M)
    heat_current: Array  # (..., T, M)
    heat_current_derivative: Array
    coupling_energy: Array  # (..., T, M) ⟨H_I^α⟩ (+ counter-term)
    coupling_energy_derivative: Array
    system_energy: Array  # (..., T) ⟨H_S⟩ (bare system Hamiltonian incl. E_0)
    system_energy_derivative: Array
    temperature: Array
    chemical_potential: Array
    error_estimate: Array
    statistics: str = eqx.field(static=True)

    @property
    def integrated_heat(self) -> Array:
        """Q_α(t) = ∫_0^t J^Q_α (same corrected trapezoid rule as ``jt.Solution``)."""
        return Solution.integrated_heat.fget(self)

    @property
    def symmetric_heat_current(self) -> Array:
        return self.heat_current - 0.5 * self.coupling_energy_derivative

    @property
    def entropy(self) -> Array:
        """Von Neumann entropy of the system's Gaussian state (nats), shape (..., T)."""
        return covariance_entropy(self.covariance, self.statistics)

    @property
    def entropy_production(self) -> Array:
        """Σ(t) = S(t) − S(0) − Σ_α Q_α(t)/T_α ≥ 0 (grid must start at t = 0)."""
        s = self.entropy
        beta = 1.0 / self.temperature[..., None, :]
        return s - s[..., :1] - jnp.sum(beta * self.integrated_heat, axis=-1)

    def nambu_correlation(self) -> Array:
        """C_N[i, j](t) = ⟨ψ_j† ψ_i⟩, ψ = (a, a†); its upper-left n×n block is the engine's
        C_ij = ⟨a_j† a_i⟩."""
        return nambu_correlation(self.covariance, self.mean, self.statistics)


def _xlogx(x):
    safe = jnp.where(x > 0, x, 1.0)
    return jnp.where(x > 0, x * jnp.log(safe), 0.0)


def covariance_entropy(covariance, statistics: str) -> Array:
    r"""Gaussian von Neumann entropy from the covariance (nats).

    Fermions: ±ν_k eigenvalues of iΓ (0 ≤ ν ≤ ½): S = Σ_k h(½ + ν_k), h(p) = −p ln p −
    (1−p) ln(1−p). Bosons: symplectic eigenvalues ν_k ≥ ½ (|eig(iΩV)|):
    S = Σ_k [(ν + ½) ln(ν + ½) − (ν − ½) ln(ν − ½)]. Each pair ±ν is counted once (½ sum)."""
    x = jnp.asarray(covariance)
    n = x.shape[-1] // 2
    if statistics == "fermion":
        nu = jnp.linalg.eigvalsh(1j * x)
        p = jnp.clip(0.5 + nu, 0.0, 1.0)
        return -0.5 * jnp.sum(_xlogx(p) + _xlogx(1.0 - p), axis=-1)
    om = jnp.asarray(symplectic_form(n))
    nu = jnp.abs(jnp.linalg.eigvals(1j * om @ x).real)
    nu = jnp.maximum(nu, 0.5)
    return 0.5 * jnp.sum(_xlogx(nu + 0.5) - _xlogx(nu - 0.5), axis=-1)


class GeneralResponse(eqx.Module):
    """Stage-1 kernels of a general quadratic model (create with ``general_response``).

    Shapes: T times, 2n quadratures, M reservoirs, K nodes per reservoir, P = 3M + 1 scalars.
    """

    times: Array
    propagator: Array  # (T, 2n, 2n) S_SS(t): mean(t) = S d0, X_S ⊃ S X0 S^T
    state_kernel: Array  # (T, 2, P, 2n, 2n) [value, d/dt]
    nodes: Array  # (M, K)
    weights: Array  # (M, K)
    bath_covariance: Array  # (M, K, T, 2n, 2n)
    bath_scalar: Array  # (M, K, T, 2, P)
    offset_covariance: Array  # (T, 2n, 2n)
    offset_scalar: Array  # (T, 2, P)
    temperature: Array  # (M,) the model's (defaults)
    chemical_potential: Array
    energy_offset: Array
    window: Array  # (2,) fermions: f ≥ 1 − tol at window[0]; both: f ≤ tol at window[1]
    error_estimate: Array
    statistics: str = eqx.field(static=True)
    number_conserving: tuple = eqx.field(static=True)  # per reservoir: particle current defined
    method: str = eqx.field(static=True)
    edge_tolerance: float = eqx.field(default=1e-11, static=True)

    @property
    def n_modes(self) -> int:
        return int(self.propagator.shape[-1] // 2)

    @property
    def n_reservoirs(self) -> int:
        return int(self.temperature.shape[0])

    def evaluate(self, state, temperature=None, chemical_potential=None) -> GeneralSolution:
        """Observables for the initial ``state`` (``CovarianceState``, or a covariance array
        (..., 2n, 2n)) and reservoir temperatures/chemical potentials (..., M) (default: the
        model's). Raises under jit if an occupation is not negligible at the top of the
        stored frequency window (Continuum) or a temperature is not positive."""
        if isinstance(state, CovarianceState):
            if state.statistics != self.statistics:
                raise ValueError(f"mixed statistics: a {state.statistics} state for a "
                                 f"{self.statistics} model.")
            x0, d0 = state.covariance, state.mean
        else:
            x0 = jnp.asarray(state, jnp.float64)
            d0 = jnp.zeros(x0.shape[:-1])
        if x0.shape[-2:] != (2 * self.n_modes,) * 2:
            raise ValueError(f"initial covariance must be (..., {2 * self.n_modes}, "
                             f"{2 * self.n_modes}), got {x0.shape}.")
        temp, mu = reservoir_values(self.temperature, self.chemical_potential,
                                    temperature, chemical_potential)
        for name, x in (("temperature", temp), ("chemical_potential", mu)):
            if x.ndim == 0 or x.shape[-1] != self.n_reservoirs:
                raise ValueError(f"{name} must have shape (..., {self.n_reservoirs}), got "
                                 f"{x.shape}.")
        return _evaluate(self, x0, d0, temp, mu)


@eqx.filter_jit
def _evaluate(resp: GeneralResponse, x0, d0, temp, mu):
    f_top = occupation(resp.window[1], temp, mu, resp.statistics)
    bad = jnp.any(~(temp > 0)) | jnp.any(jnp.abs(f_top) > resp.edge_tolerance)
    if resp.statistics == "fermion":
        f_lo = occupation(resp.window[0], temp, mu, resp.statistics)
        bad = bad | jnp.any(f_lo < 1 - resp.edge_tolerance)
    temp = eqx.error_if(temp, bad, "temperature <= 0, or occupations not negligible at the top "
                        "or bottom of the stored frequency window (rebuild the Response with a "
                        "larger "
                        "temperature_range).")
    f = occupation(resp.nodes, temp[..., None], mu[..., None], resp.statistics)
    wf = jnp.where(resp.weights != 0, resp.weights * f, 0.0)  # (..., M, K)
    s = resp.propagator
    sig = x0 + d0[..., :, None] * d0[..., None, :]
    cov = jnp.einsum("tij,...jk,tlk->...til", s, x0, s)
    cov = cov + jnp.einsum("...bk,bktij->...tij", wf, resp.bath_covariance) + resp.offset_covariance
    mean = jnp.einsum("tij,...j->...ti", s, d0)
    sc = jnp.einsum("txpij,...ij->...txp", resp.state_kernel, sig)
    sc = sc + jnp.einsum("...bk,bktxp->...txp", wf, resp.bath_scalar) + resp.offset_scalar
    m = resp.n_reservoirs
    val, der = sc[..., 0, :], sc[..., 1, :]
    mask = jnp.asarray(resp.number_conserving)
    jn, jnd = -val[..., :m], -der[..., :m]
    je, jed = -val[..., m:2 * m], -der[..., m:2 * m]
    mu_t = jnp.where(mask, mu, 0.0)[..., None, :]
    return GeneralSolution(
        times=resp.times,
        covariance=cov,
        mean=mean,
        particle_current=jnp.where(mask, jn, jnp.nan),
        energy_current=je,
        heat_current=je - mu_t * jnp.where(mask, jn, 0.0),
        heat_current_derivative=jed - mu_t * jnp.where(mask, jnd, 0.0),
        coupling_energy=val[..., 2 * m:3 * m],
        coupling_energy_derivative=der[..., 2 * m:3 * m],
        system_energy=val[..., 3 * m] + resp.energy_offset,
        system_energy_derivative=der[..., 3 * m],
        temperature=temp,
        chemical_potential=mu,
        error_estimate=resp.error_estimate,
        statistics=resp.statistics,
    )


def mode_blocks(statistics):
    """(b0, b1) with the thermal covariance of one bath mode (q, π) = b0 + f·b1: bosons
    V = (f + ½) 1; fermions Γ = (f − ½) [[0, 1], [−1, 0]]."""
    if statistics == "boson":
        return 0.5 * np.eye(2), np.eye(2)
    j2 = np.array([[0.0, 1.0], [-1.0, 0.0]])
    return -0.5 * j2, j2


def state_from(state, statistics, n):
    """Covariance state of an evaluate/solve argument (``CovarianceState``,
    ``jt.GaussianState`` or a covariance array)."""
    from ..state import GaussianState

    if isinstance(state, GaussianState):
        state = CovarianceState.from_gaussian_state(state)
    if isinstance(state, CovarianceState):
        if state.statistics != statistics:
            raise ValueError(f"mixed statistics: a {state.statistics} state for a {statistics} "
                             "model.")
        return state
    return CovarianceState(state, statistics)



def general_response(model, times, method=None) -> GeneralResponse:
    """Stage 1 for a ``QuadraticModel``: ``method`` is ``jt.Discretised(...)`` (finite
    reservoirs, exact) or ``None``/``jt.Continuum(...)``/``GeneralContinuum(...)`` (exact
    continuum closure: Lorentzian-pole exchange reservoirs for fermions, Drude–Lorentz x–x
    reservoirs for bosons). Independent of T, μ and the initial state."""
    from ..response.continuum import Continuum
    from ..response.discretised import Discretised
    from .continuum import GeneralContinuum
    from .discretised import discretised_response

    if isinstance(method, Discretised):
        return discretised_response(model, times, method)
    if method is None or isinstance(method, Continuum):
        method = GeneralContinuum(engine=method)
    if not isinstance(method, GeneralContinuum):
        raise ValueError(f"unknown method {method!r}: use jt.Discretised(...) or "
                         "jt.GeneralContinuum(...).")
    return method.response(model, times)


def solve_general(model, state, times, method=None) -> GeneralSolution:
    """One call: ``general_response(model, times, method).evaluate(state)`` at the model's T
    and μ. ``state``: ``CovarianceState``, ``jt.GaussianState`` (number-conserving) or a
    covariance array."""
    resp = general_response(model, times, method)
    return resp.evaluate(state_from(state, model.statistics, model.n_modes))
