r"""The driven continuum's response and solution: ``DrivenResponse`` (stage 2 of a model with
a ``jt.Drive``; kernels from ``response/driven.py``) and ``DrivenSolution`` (everything a
``jt.Solution`` has, plus the drive's power, work and the first-law residual).

Energy bookkeeping (module docstring of ``jaxtransport.drive`` for the conventions): the total
energy H_S(t) + Σ_α (H_α + H_I^α) changes only by the explicit time dependence, so

    d/dt (<H_S> + Σ_α <H_I^α>) = P + Σ_α P^c_α + Σ_α J^E_α,
    P(t) = <∂_t H_S(t)> = Tr[Ḣ_S(t) C(t)],   P^c_α = <∂_t H_I^α(t)> = (ṡ_α/s_α) <H_I^α>,

with J^E_α the energy current out of reservoir α. ``first_law_residual`` is the left side minus
the right side, each term from its own kernels (C and dC/dt, the coupling-energy derivative,
the reservoir energy currents): zero up to the method's error.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..solution import Solution, current_fields, integrate_heat
from .base import (
    EDGE_TOL,
    AbstractNodeResponse,
    node_contraction,
    propagated_state,
    stack_reservoir_arrays,
)
from .closure import pole_data
from .driven import aligned_grid, driven_arrays, generator, halved, propagator, step_grid
from .plan import QuadraturePlan, edge_tolerance, padded_rules

_TWO_PI = 2.0 * np.pi


class DrivenSolution(Solution):
    """Observables of a driven number-conserving model: every field of ``jt.Solution`` (same
    names, units and signs; ``system_energy`` is <H_S(t)> = Tr[H_S(t) C(t)] for the
    instantaneous Hamiltonian, ``system_energy_derivative`` its total time derivative), plus

    - ``instantaneous_hamiltonian``: H_S(t) = h + Σ_k f_k(t) V_k on the time grid (T, n, n);
    - ``power``: P(t) = <∂_t H_S(t)> = Tr[Ḣ_S(t) C(t)], the power the drive delivers to the
      system (energy per time; positive when the drive does work on it), (..., T);
    - ``work``: W(t) = ∫_{t_0}^t P dt' (energy; from the first grid time t_0), by the
      fourth-order corrected trapezoid rule with the exact dP/dt (as ``integrated_heat``),
      (..., T);
    - ``coupling_power``: P^c_α(t) = <∂_t H_I^α> = (ṡ_α/s_α) <H_I^α>, the power delivered by
      modulating the coupling to reservoir α (energy per time), (..., T, M) (zero without
      coupling modulation);
    - ``first_law_residual``: d/dt(<H_S> + Σ_α <H_I^α>) − P − Σ_α P^c_α − Σ_α J^E_α (energy
      per time), (..., T): zero for the exact dynamics, so a check of the accuracy.

    With a bias Δ_α(t), ``energy_current`` is the energy leaving reservoir α through the
    coupling with H_α(t) including Δ_α(t) and ``heat_current`` J^E_α − (μ_α + Δ_α(t)) J^N_α
    (``jaxtransport.drive``); the reservoirs' occupations are those of their unbiased mode
    energies, f_α(ε) (the thermal state at t = 0 when Δ_α(0) = 0).

    Units ħ = k_B = 1 (energies in the units of h, times in 1/h)."""

    instantaneous_hamiltonian: Array = eqx.field(kw_only=True)  # (T, n, n)
    power: Array = eqx.field(kw_only=True)  # (..., T)
    work: Array = eqx.field(kw_only=True)  # (..., T)
    coupling_power: Array = eqx.field(kw_only=True)  # (..., T, M)
    first_law_residual: Array = eqx.field(kw_only=True)  # (..., T)

    @property
    def system_energy(self) -> Array:
        """<H_S(t)> = Tr[H_S(t) C(t)] for the instantaneous Hamiltonian, shape (..., T)."""
        return jnp.einsum("tij,...tji->...t", self.instantaneous_hamiltonian,
                          self.correlation).real


class DrivenResponse(AbstractNodeResponse):
    """Stage-1 result of a driven model (``jt.response(driven_model, times)``): kernels of
    the time-ordered closure (``response/driven.py``) at the Continuum's frequency nodes, the
    same stage-2 protocol as ``Response``; ``evaluate`` gives a ``jt.DrivenSolution``.

    Shapes: T times, n modes, M reservoirs, K nodes per reservoir. Units ħ = k_B = 1."""

    times: Float[Array, " T"]
    hamiltonian: Array  # (n, n) the static part h
    drive: eqx.Module  # the model's jt.Drive (resolved)
    temperature: Float[Array, " M"]
    chemical_potential: Float[Array, " M"]
    propagator: Array  # (T, n, n) G(t, 0)
    propagator_dt: Array
    current_state: Array  # (T, 2, M, n, n)
    current_state_dt: Array
    nodes: Float[Array, "M K"]
    weights: Float[Array, "M K"]  # includes the 1/2π
    correlation_kernel: Array  # (M, K, T, n, n)
    correlation_kernel_dt: Array
    current_kernel: Array  # (M, K, T, 2, M)
    current_kernel_dt: Array
    correlation_offset: Array  # (T, n, n)
    correlation_offset_dt: Array
    current_offset: Array  # (T, 2, M)
    current_offset_dt: Array
    window: Float[Array, " 2"]
    error_estimate: Array
    method: str = eqx.field(static=True, default="continuum")
    statistics: str = eqx.field(static=True, default="fermion")
    edge_tolerance: float = eqx.field(default=EDGE_TOL, static=True)
    planned_range: tuple | None = eqx.field(default=None, static=True)

    def state_terms(self, state):
        """(C(t), dC/dt, X, dX/dt) of the initial correlation C0 (..., n, n)."""
        corr, gcg, x, xd = propagated_state(self, state)
        return corr, gcg + jnp.swapaxes(gcg, -1, -2).conj(), x, xd

    @property
    def n_modes(self) -> int:
        return int(self.propagator.shape[-1])

    def node_terms(self, weighted_occupations, reservoirs=None):
        sel = slice(None) if reservoirs is None else slice(*reservoirs)
        wf = weighted_occupations
        return tuple(node_contraction(wf, k[sel]) for k in (
            self.correlation_kernel, self.correlation_kernel_dt, self.current_kernel,
            self.current_kernel_dt))

    def offset_terms(self):
        return (self.correlation_offset, self.correlation_offset_dt, self.current_offset,
                self.current_offset_dt)

    def hamiltonian_terms(self):
        """H_S(t), dH_S/dt and d²H_S/dt² on the time grid, (T, n, n) each."""
        def at(t):
            def rate(s):
                return self.drive.hamiltonian_rate(s, self.hamiltonian).astype(jnp.complex128)

            hr, hrr = jax.jvp(rate, (t,), (jnp.ones_like(t),))
            return self.drive.hamiltonian(self.hamiltonian, t).astype(jnp.complex128), hr, hrr

        return jax.vmap(at)(self.times)

    def reservoir_terms(self):
        """χ_α(t) = s_α(t) e^{−iφ_α(t)}, dχ/dt, e^{−iφ_α(t)} (T, M) complex; Δ_α(t) and
        ds_α/dt (T, M)."""
        drive = self.drive

        def at(t):
            chi, chi_dt = jax.jvp(drive.coupling_factor, (t,), (jnp.ones_like(t),))
            return (chi, chi_dt, jnp.exp(-1j * drive.phase(t)), drive.potential(t),
                    drive.coupling_rate(t))

        return jax.vmap(at)(self.times)

    def assemble(self, terms, temperature, chemical_potential) -> DrivenSolution:
        corr, corr_dt, x_hat, xd_hat = terms
        hs, hr, hrr = self.hamiltonian_terms()
        chi, chi_dt, rot, pot, s_dt = self.reservoir_terms()
        # current amplitudes of reservoir α: χ_α(t) times the kernels' (module docstring of
        # response/driven.py); χ = 1 without coupling modulation or bias
        x = chi[:, None, :] * x_hat
        xd = chi_dt[:, None, :] * x_hat + chi[:, None, :] * xd_hat
        tr = lambda a, b: jnp.einsum("tij,...tji->...t", a, b).real
        power = tr(hr, corr)
        energy_dt = power + tr(hs, corr_dt)
        power_dt = tr(hrr, corr) + tr(hr, corr_dt)
        fields = current_fields(x, xd, chemical_potential)
        # the heat J^E − (μ + Δ) J^N is the gauge's ε-weighted current less μ J^N (as
        # current_fields gives it); the energy current adds Δ J^N (jaxtransport.drive)
        fields["energy_current"] = fields["energy_current"] + pot * fields["particle_current"]
        # ṡ_α/s_α <H_I^α> = ṡ_α (−2 Im e^{−iφ_α} X̂^N_α), finite where s_α = 0
        coupling_power = s_dt * (-2 * (rot * x_hat[..., 0, :]).imag)
        residual = (energy_dt + fields["coupling_energy_derivative"].sum(-1) - power
                    - coupling_power.sum(-1) - fields["energy_current"].sum(-1))
        work = integrate_heat(self.times, power[..., None], power_dt[..., None])[..., 0]
        return DrivenSolution(
            times=self.times, hamiltonian=self.hamiltonian, correlation=corr, **fields,
            system_energy_derivative=energy_dt,
            particle_number_derivative=jnp.einsum("...tii->...t", corr_dt).real,
            temperature=temperature, chemical_potential=chemical_potential,
            error_estimate=self.error_estimate, statistics=self.statistics,
            instantaneous_hamiltonian=hs, power=power, work=work,
            coupling_power=coupling_power, first_law_residual=residual,
        )


def driven_base_plan(method, model, times, fits) -> dict:
    """The undriven plan's layout with the tail rays moved left of the poles of the closure
    generator L(t) at every output time (its eigenvalues move with the drive)."""
    base = method.base_plan(model, times, fits)
    pl = pole_data(model, fits)
    lts = jax.vmap(lambda t: generator(pl, model.drive, t)[0])(jnp.asarray(times))
    ev = np.linalg.eigvals(np.asarray(lts))
    re_poles = -ev.imag.ravel()
    dist = max(float(np.max(np.abs(ev.real))), 1e-3)
    a = min(base["a"], float(re_poles.min()) - (0.5 * dist + 1.0))
    return dict(base, a=float(a), s_far=float(max(base["s_far"], 1e3 * (abs(a) + 1.0))))


def build_driven_response(model, times, plan: QuadraturePlan, node_batch, sizes=None,
                          tolerance=1e-8, *, max_step=0.05) -> DrivenResponse:
    """Stage-1 arrays of a driven model for one quadrature plan (the Continuum's ``build``
    signature). ``error_estimate`` holds the step-doubling estimate of the Magnus steps plus
    the tail model's remainder (the Continuum adds its quadrature estimate)."""
    times = np.asarray(times, float)
    grid = tuple(jnp.asarray(x) for x in step_grid(times, max_step))
    wn, ww, on, ow, sn, sw = padded_rules(plan, node_batch, sizes)
    arrays, step_err, rem = _driven_arrays_jit(
        pole_data(model, plan.fits), model.drive, jnp.asarray(times), grid,
        *(jnp.asarray(x) for x in (wn, on, ow / _TWO_PI, sn, sw)), jnp.asarray(plan.a),
        node_batch=node_batch)
    # remainder ~ |ω|^-4 beyond a: ∫_{-∞}^{a} ≈ |a| r(a) / 3 (over 2π); currents only
    own = step_err + abs(plan.a) * rem[1] / (3.0 * _TWO_PI)
    temp, mu = stack_reservoir_arrays(model)
    nres = model.n_reservoirs
    return DrivenResponse(
        times=jnp.asarray(times), hamiltonian=model.hamiltonian, drive=model.drive,
        temperature=temp, chemical_potential=mu,
        nodes=jnp.broadcast_to(jnp.asarray(wn), (nres, len(wn))),
        weights=jnp.broadcast_to(jnp.asarray(ww / _TWO_PI), (nres, len(wn))),
        window=jnp.asarray([plan.w_lo, plan.w_hi]), error_estimate=own,
        statistics=model.statistics, edge_tolerance=edge_tolerance(tolerance), **arrays)


_driven_arrays_jit = eqx.filter_jit(driven_arrays)


@eqx.filter_jit
def _step_error(pl, drive, times, grid):
    n = pl.vec.shape[0]
    grid = aligned_grid(grid, times, drive.breakpoints())
    fine, coarse = propagator(pl, drive, *halved(grid)), propagator(pl, drive, *grid)
    return jnp.max(jnp.abs(fine[:, :n] - coarse[:, :n]))


def choose_step(model, times, tolerance, fits=None, trial=0.1, pl=None) -> float:
    """The Magnus step for a driven model: the step-doubling error of G(t, 0) measured at a
    trial step (steps aligned with the drive's breakpoints) and scaled (fourth order) to a
    tenth of ``tolerance``, in [1e-3, 0.25]. ``pl``: the model's ``pole_data`` if at hand."""
    pl = pole_data(model, fits) if pl is None else pl
    grid = tuple(jnp.asarray(x) for x in step_grid(times, trial))
    err = float(_step_error(pl, model.drive, jnp.asarray(times), grid))
    step = trial if err == 0.0 else 0.9 * trial * (0.1 * tolerance / err) ** 0.25
    return float(min(max(step, 1e-3), 0.25))

