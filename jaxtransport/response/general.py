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

Stage 2 is assembled from additive terms (``state_terms`` + ``bath_terms`` + ``offset_terms``
→ ``assemble``), each (covariance, amplitude X, dX/dt, system energy [value, d/dt], mean)
with the engine's amplitude convention (J^N = 2 Re X^N, J^E = 2 Re X^E, ⟨H_I⟩ = −2 Im X^N),
so ``jt.response.base``'s term functions, the optimiser and the sweeps use a
``GeneralResponse`` unchanged (they pass number-conserving C0, converted affinely).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._validation import check_stage2
from ..nambu import covariance_from_correlation, nambu_correlation, nambu_transform
from ..solution import AbstractSolution
from ..state import CovarianceState, GaussianState, covariance_entropy
from .base import EDGE_TOL, AbstractNodeResponse


class GeneralSolution(AbstractSolution):
    """Observables of a general quadratic model (shapes (..., T, ...); see module doc): the
    currents of ``jt.AbstractSolution`` plus the covariance, mean and system energy.

    Units ħ = k_B = 1: currents out of each reservoir (particles per time; energy and heat in
    energy per time), coupling and system energies in the units of h, covariances dimensionless."""

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
    # the method that computed it (set by jt.solve; None from a response's evaluate)
    method: str | None = eqx.field(static=True, default=None)

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

    @property
    def occupation(self) -> Array:
        """Mode occupations ⟨a_i† a_i⟩(t) (bosons: including |⟨a_i⟩|²), shape (..., T, n)."""
        n = self.covariance.shape[-1] // 2
        return jnp.diagonal(self.nambu_correlation()[..., :n, :n], axis1=-2, axis2=-1).real

    def nambu_correlation(self) -> Array:
        """``C_N[i, j](t) = ⟨ψ_j† ψ_i⟩``, ψ = (a, a†); its upper-left n×n block is the engine's
        C_ij = ⟨a_j† a_i⟩."""
        return nambu_correlation(self.covariance, self.mean, self.statistics)


class GeneralResponse(AbstractNodeResponse):
    """Stage-1 kernels of a general quadratic model (create with ``jt.response(model, times)``).

    Shapes: T times, 2n quadratures, M reservoirs, K nodes per reservoir, P = 3M + 1 scalars.

    Units ħ = k_B = 1: times in 1/h; its ``evaluate`` gives currents out of each reservoir
    (energy per time) and dimensionless covariances.
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
    edge_tolerance: float = eqx.field(default=EDGE_TOL, static=True)
    # ((T_min, T_max), (mu_min, mu_max)) of the quadrature (Continuum); stage 2 refuses T < T_min
    planned_range: tuple | None = eqx.field(default=None, static=True)

    @property
    def n_modes(self) -> int:
        return int(self.propagator.shape[-1] // 2)

    def checked_temperature(self, temperature, chemical_potential):
        """The checks of every node response, and μ = 0 at position (x–x) reservoirs."""
        temp = super().checked_temperature(temperature, chemical_potential)
        if all(self.number_conserving):
            return temp
        xx = ~jnp.asarray(self.number_conserving)
        return eqx.error_if(
            temp, jnp.any(jnp.where(xx, jnp.asarray(chemical_potential) != 0, False)),
            "position (x–x) reservoirs have chemical potential 0 (the bath number is not "
            "conserved by the coupling): pass chemical_potential 0 for them.")

    def check_inputs(self, prepared, temperature, chemical_potential, *, validate, raw):
        """As every response; a raw correlation array C (..., n, n) is checked as a C0 (and
        converted after the check), a covariance or state object is not."""
        arr = None if isinstance(raw, GaussianState | CovarianceState) else jnp.asarray(raw)
        corr = arr is not None and arr.shape[-2:] == (self.n_modes, self.n_modes)
        c0, temp = check_stage2(self, arr if corr else prepared[0], temperature,
                                chemical_potential, validate=validate, checked_state=not corr)
        if corr:  # the checked correlation (under tracing it carries the runtime check)
            prepared = self.initial_covariance(c0)
        return prepared, temp

    def initial_state(self, state):
        """(X0, d0) of the initial ``state``: a ``CovarianceState``, a covariance array
        (..., 2n, 2n), or a number-conserving state (``jt.GaussianState`` or a correlation
        array C_ij = ⟨a_j† a_i⟩ of shape (..., n, n), as the optimiser and sweeps pass)."""
        if isinstance(state, GaussianState):
            state = CovarianceState.from_gaussian_state(state)
        if isinstance(state, CovarianceState):
            if state.statistics != self.statistics:
                raise ValueError(f"mixed statistics: a {state.statistics} state for a "
                                 f"{self.statistics} model.")
            return state.covariance, state.mean
        return self.initial_covariance(state)

    # -- stage-2 building blocks (the interface of jt.response.base used by the sweeps) ----
    def initial_covariance(self, state):
        """(X0, d0) of a covariance array (..., 2n, 2n) (zero displacement) or of a
        number-conserving correlation array C (..., n, n) (real-linear in C; traceable)."""
        a = jnp.asarray(state)
        n = self.n_modes
        if a.shape[-2:] == (n, n):
            x0 = covariance_from_correlation(a, self.statistics)
        elif a.shape[-2:] == (2 * n, 2 * n):
            x0 = a.astype(jnp.float64)
        else:
            raise ValueError(f"initial state must be a covariance (..., {2 * n}, {2 * n}) or "
                             f"a correlation matrix (..., {n}, {n}), got shape {a.shape}.")
        return x0, jnp.zeros(x0.shape[:-1])

    def state_terms(self, state):
        """Initial-state part of the stage-2 terms (covariance, amplitude, amplitude_dt,
        system energy [value, d/dt], mean) for (X0, d0) (``initial_state``) or a covariance
        or correlation array (``initial_covariance``, zero displacement). The amplitudes
        follow the engine's convention (``jt.response.base``): J^N_α = 2 Re X^N_α,
        J^E_α = 2 Re X^E_α, ⟨H_I^α⟩ = −2 Im X^N_α."""
        x0, d0 = state if isinstance(state, tuple) else self.initial_covariance(state)
        s = self.propagator
        sig = x0 + d0[..., :, None] * d0[..., None, :]
        cov = jnp.einsum("tij,...jk,tlk->...til", s, x0, s)
        mean_t = jnp.einsum("tij,...j->...ti", s, d0)
        sc = jnp.einsum("txpij,...ij->...txp", self.state_kernel, sig)
        return (cov, *self._amplitudes(sc), mean_t)

    def node_terms(self, weighted_occupations, reservoirs=None):
        wf = weighted_occupations
        sel = slice(None) if reservoirs is None else slice(*reservoirs)
        cov = jnp.einsum("...bk,bktij->...tij", wf, self.bath_covariance[sel])
        sc = jnp.einsum("...bk,bktxp->...txp", wf, self.bath_scalar[sel])
        return (cov, *self._amplitudes(sc), jnp.zeros(cov.shape[:-1]))

    def offset_terms(self):
        """The T-, μ- and state-independent terms."""
        cov = self.offset_covariance
        return (cov, *self._amplitudes(self.offset_scalar), jnp.zeros(cov.shape[:-1]))

    def _amplitudes(self, sc):
        """Scalars (..., T, 2, P) -> (X, dX/dt) (..., T, 2, M) complex and the system energy
        (..., T, 2) [⟨H_S⟩ − E_0, d/dt]."""
        m = self.n_reservoirs

        def amp(v):
            xn = -0.5 * (v[..., :m] + 1j * v[..., 2 * m:3 * m])  # −d⟨N⟩/dt = 2 Re X^N
            xe = -0.5 * v[..., m:2 * m] + 0j
            return jnp.stack([xn, xe], axis=-2)

        val, der = sc[..., 0, :], sc[..., 1, :]
        return amp(val), amp(der), jnp.stack([val[..., 3 * m], der[..., 3 * m]], -1)

    def assemble(self, terms, temp, mu) -> GeneralSolution:
        """A ``GeneralSolution`` from summed terms (see ``state_terms``)."""
        cov, x, xd, es, mean = terms
        mask = jnp.asarray(self.number_conserving)
        jn, jnd = 2 * x[..., 0, :].real, 2 * xd[..., 0, :].real
        je, jed = 2 * x[..., 1, :].real, 2 * xd[..., 1, :].real
        mu_t = jnp.where(mask, mu, 0.0)[..., None, :]
        jn0, jnd0 = jnp.where(mask, jn, 0.0), jnp.where(mask, jnd, 0.0)
        return GeneralSolution(
            times=self.times,
            covariance=cov,
            mean=mean,
            particle_current=jnp.where(mask, jn, jnp.nan),
            energy_current=je,
            heat_current=je - mu_t * jn0,
            heat_current_derivative=jed - mu_t * jnd0,
            coupling_energy=-2 * x[..., 0, :].imag,
            coupling_energy_derivative=-2 * xd[..., 0, :].imag,
            system_energy=es[..., 0] + self.energy_offset,
            system_energy_derivative=es[..., 1],
            temperature=temp,
            chemical_potential=mu,
            error_estimate=self.error_estimate,
            statistics=self.statistics,
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
    ``jt.GaussianState``, a covariance array (2n, 2n) or a correlation array (n, n))."""
    if not isinstance(state, GaussianState | CovarianceState) and np.shape(state)[-2:] == (n, n):
        state = GaussianState(state, statistics)
    if isinstance(state, GaussianState):
        state = CovarianceState.from_gaussian_state(state)
    if isinstance(state, CovarianceState):
        if state.statistics != statistics:
            raise ValueError(f"mixed statistics: a {state.statistics} state for a {statistics} "
                             "model.")
        return state
    return CovarianceState(state, statistics)


def nambu_fields(model, times, er, state_kernel, bath, offset) -> dict:
    """The ``GeneralResponse`` fields of a fermionic model from the doubled model's response
    ``er`` and the mapped kernels: ``bath`` = (covariance, scalars) per particle and hole
    node, ``offset`` = (covariance, scalars). Hole nodes are mirrored (ω → −ω, weight −w)
    with their f-independent part moved to the offset."""
    m, w = model.n_reservoirs, er.weights
    (bc, bs), (oc, os_) = bath, offset
    t = jnp.asarray(nambu_transform(model.n_modes))
    lo, hi = float(er.window[0]), float(er.window[1])
    return dict(
        times=jnp.asarray(times),
        propagator=jnp.real(t.conj().T @ er.propagator @ t),
        state_kernel=state_kernel,
        nodes=jnp.concatenate([er.nodes[:m], -er.nodes[m:]], axis=1),
        weights=jnp.concatenate([w[:m], -w[m:]], axis=1),
        bath_covariance=jnp.concatenate([bc[:m], bc[m:]], axis=1),
        bath_scalar=jnp.concatenate([bs[:m], bs[m:]], axis=1),
        offset_covariance=oc + jnp.einsum("bk,bktij->tij", w[m:], bc[m:]),
        offset_scalar=os_ + jnp.einsum("bk,bktxp->txp", w[m:], bs[m:]),
        temperature=model.temperatures,
        chemical_potential=model.chemical_potentials,
        energy_offset=model.energy_offset,
        window=jnp.asarray([max(lo, -hi), min(hi, -lo)]),
        error_estimate=er.error_estimate,
        statistics="fermion",
        number_conserving=(True,) * m,
        method="continuum",
        edge_tolerance=er.edge_tolerance,
        planned_range=er.planned_range,
    )
