r"""Driven finite modes for a general quadratic model (``jt.Discretised`` on a
``jt.QuadraticModel`` with a ``jt.Drive``): time-ordered evolution of the full quadrature
(BdG) problem of system + bath modes.

The bath modes are those of the undriven method (``general_discretised.mode_layout``). The full
quadrature Hamiltonian matrix at time t is

    G(t) = [[ G_S + Σ_k f_k(t) V_k + Σ_α s_α(t)² ΔG_α ,  s_α(t) B_α              ],
            [ ± s_α(t) B_α^T                          ,  ⊕_q (ω_q + Δ_α(t)) b    ]]

with ΔG_α the discrete counter-term of an x–x reservoir (part of its coupling energy, so it
scales with s_α² as the coupling does with s_α), B_α the coupling blocks, b the mode block
(bosons 1, fermions [[0, 1], [−1, 0]]) and the bias Δ_α(t) (exchange reservoirs only) a real
shift of the mode energies. The generator K(t) = Ω G(t) (bosons) or G(t) (fermions) moves the
quadratures, dr/dt = K(t) r, so X(t) = S X(0) S^T with S = T exp ∫_0^t K, built by the
fourth-order Magnus integrator of ``driven_discretised`` with substeps of at most
``Discretised.drive_step`` (S stays symplectic / orthogonal up to rounding; exact for a
constant K).

Observables: every scalar of ``jt.response.general`` is Σ_{i∈S, d} X_id(t) A_p(t)[i, d] with
row blocks A_p(t) built from G(t) and K(t) (``general_discretised.observable_rows``): with
Y_p = A_p S it is contracted with X(0), and its total derivative uses (dA_p/dt) S + A_p K S.
Two scalars are added: the drive's power P = ⟨∂_t H_S⟩ (rows ½ ∂_t G_S) and per reservoir the
coupling power P^c_α = ⟨∂_t H_I^α⟩ (rows ∂_t A_{H_I^α}). With a bias, the energy current is the
energy leaving reservoir α through the coupling with H_α(t) including Δ_α(t), and the heat
current J^E_α − (μ_α + Δ_α(t)) J^N_α (``jaxtransport.drive``). Stage 2 is that of
``GeneralResponse`` (affine in the initial covariance, linear in the occupations at the
modes' initial energies); ``evaluate`` gives a ``DrivenGeneralSolution`` with the power, work
and first-law residual of ``jt.DrivenSolution``.

Cost: one D×D real matrix exponential per substep (D = 2n + 2 × number of modes).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..solution import integrate_heat
from .driven_discretised import magnus_generator_step, substep_grid, time_ordered
from .general import GeneralResponse, GeneralSolution
from .general_discretised import (
    full_form,
    full_matrix,
    kernels_from_rows,
    layout_response,
    mode_layout,
    observable_rows,
    owner_onehot,
)


class DrivenGeneralSolution(GeneralSolution):
    """Observables of a driven ``jt.QuadraticModel``: every field of ``jt.GeneralSolution``
    (``system_energy`` is ⟨H_S(t)⟩ for the instantaneous Hamiltonian, E_0 included;
    ``system_energy_derivative`` its total time derivative), plus as ``jt.DrivenSolution``:

    - ``instantaneous_hamiltonian``: G_S(t) = G + Σ_k f_k(t) V_k (T, 2n, 2n);
    - ``power``: P(t) = ⟨∂_t H_S(t)⟩ (energy per time; positive when the drive does work on
      the system), (..., T);
    - ``work``: W(t) = ∫_{t_0}^t P (fourth-order corrected trapezoid rule), (..., T);
    - ``coupling_power``: P^c_α = ⟨∂_t H_I^α(t)⟩ (..., T, M);
    - ``first_law_residual``: d/dt(⟨H_S⟩ + Σ_α ⟨H_I^α⟩) − P − Σ_α P^c_α − Σ_α J^E_α, (..., T).

    Currents are out of each reservoir; with a bias Δ_α(t) the energy current is the energy
    leaving reservoir α through the coupling (H_α(t) including Δ_α) and the heat current
    J^E_α − (μ_α + Δ_α(t)) J^N_α (``jaxtransport.drive``). Units ħ = k_B = 1 (energies in
    the units of G, times in their inverse)."""

    instantaneous_hamiltonian: Array = eqx.field(kw_only=True)
    power: Array = eqx.field(kw_only=True)
    work: Array = eqx.field(kw_only=True)
    coupling_power: Array = eqx.field(kw_only=True)
    first_law_residual: Array = eqx.field(kw_only=True)


class DrivenGeneralResponse(GeneralResponse):
    """Stage-1 kernels of a driven ``jt.QuadraticModel`` (``jt.response(model, times,
    jt.Discretised(...))``, or the continuum for fermions): a ``GeneralResponse`` with
    P = 4M + 2 scalars (the drive's power and the coupling powers added) and the drive's values
    on the time grid; ``evaluate`` gives a ``jt.DrivenGeneralSolution`` (currents out of each
    reservoir). Units ħ = k_B = 1: times in the inverse of G's energy unit."""

    instantaneous_hamiltonian: Array = eqx.field(kw_only=True)  # (T, 2n, 2n) bare G_S(t)
    potential: Array = eqx.field(kw_only=True)  # (T, M) Δ_α(t)
    potential_rate: Array = eqx.field(kw_only=True)  # (T, M) dΔ_α/dt

    def _amplitudes(self, sc):
        x, xd, _ = super()._amplitudes(sc)
        m = self.n_reservoirs
        # (..., T, 2 + M, 2): [⟨H_S⟩ − E_0, P, P^c_α] × [value, d/dt]
        return x, xd, jnp.stack([sc[..., 0, 3 * m:], sc[..., 1, 3 * m:]], -1)

    def assemble(self, terms, temperature, chemical_potential) -> DrivenGeneralSolution:
        cov, x, xd, extra, mean = terms
        sol = super().assemble((cov, x, xd, extra[..., 0, :], mean), temperature,
                               chemical_potential)
        mask = jnp.asarray(self.number_conserving)
        jn = jnp.where(mask, 2 * x[..., 0, :].real, 0.0)
        jnd = jnp.where(mask, 2 * xd[..., 0, :].real, 0.0)
        pot, pot_dt = self.potential, self.potential_rate
        power, power_dt = extra[..., 1, 0], extra[..., 1, 1]
        coupling_power = extra[..., 2:, 0]
        residual = (sol.system_energy_derivative + sol.coupling_energy_derivative.sum(-1)
                    - power - coupling_power.sum(-1) - sol.energy_current.sum(-1))
        fields = {f.name: getattr(sol, f.name) for f in dataclasses.fields(sol)}
        fields.update(heat_current=sol.heat_current - pot * jn,
                      heat_current_derivative=sol.heat_current_derivative - pot_dt * jn
                      - pot * jnd)
        return DrivenGeneralSolution(
            **fields, instantaneous_hamiltonian=self.instantaneous_hamiltonian, power=power,
            work=integrate_heat(self.times, power[..., None], power_dt[..., None])[..., 0],
            coupling_power=coupling_power, first_law_residual=residual)


def driven_general_response(model, times, method) -> DrivenGeneralResponse:
    """Stage 1 of ``jt.Discretised`` for a driven ``jt.QuadraticModel`` (module docstring)."""
    lay = mode_layout(model, method, times)
    grid, substeps = substep_grid(times, method.drive_step)
    out = _driven_arrays(model.hamiltonian, model.drive, lay.counter_terms,
                         jnp.asarray(lay.nodes), lay.blocks, jnp.asarray(grid),
                         owner=tuple(int(o) for o in lay.owner), nres=model.n_reservoirs,
                         statistics=model.statistics, substeps=substeps)
    if times[0] > 0:  # the grid starts at the switch-on t = 0, not an output time
        out = jax.tree_util.tree_map(lambda a: a[1:], out)
    prop, sk, bc, bs, ham, pot, pot_dt = out
    mv = lambda a: jnp.moveaxis(a, 0, 1)  # (T, Kb, ...) -> (Kb, T, ...)
    return layout_response(
        DrivenGeneralResponse, model, times, lay,
        (prop, sk, [mv(b) for b in bc], [mv(b) for b in bs]),
        instantaneous_hamiltonian=ham, potential=pot, potential_rate=pot_dt)


@eqx.filter_jit
def _driven_arrays(gs, drive, dg, nodes, blocks, grid, *, owner, nres, statistics, substeps):
    """Per output time of ``grid`` (leading axis): propagator, state kernel, bath covariance
    and scalar kernels per mode ([b0, b1] parts), G_S(t), Δ(t), dΔ/dt."""
    boson = statistics == "boson"
    n2, kb = gs.shape[0], nodes.shape[0]
    form = full_form(n2, kb) if boson else None
    onehot = owner_onehot(owner, nres, n2)
    own = np.asarray(owner)
    m = nres

    def matrices(t):
        s = drive.coupling_scale(t)  # (M,)
        g_s = drive.hamiltonian(gs, t)
        dg_t = (s**2)[:, None, None] * dg
        gfull = full_matrix(g_s + dg_t.sum(0), nodes + drive.potential(t)[own],
                            blocks * s[own][:, None, None], boson)
        return gfull, (form @ gfull if boson else gfull), g_s, dg_t

    def rows(t):
        gfull, kmat, g_s, dg_t = matrices(t)
        return observable_rows(gfull, kmat, g_s, dg_t, onehot, statistics)

    def ext_rows(t):  # the scalars' rows, then those of P (½ ∂_t G_S) and P^c_α (∂_t A_I)
        a, da = jax.jvp(rows, (t,), (jnp.ones_like(t),))
        return jnp.concatenate([a, da[3 * m:3 * m + 1], da[2 * m:3 * m]])

    def kernels(s_mat, t):
        _, kmat, g_s, _ = matrices(t)
        a, da = jax.jvp(ext_rows, (t,), (jnp.ones_like(t),))
        ks = kmat @ s_mat
        ys, ysd = s_mat[:n2], ks[:n2]
        yp, ypd = a @ s_mat, da @ s_mat + a @ ks
        prop, sk, bc, bs = kernels_from_rows(ys[None], ysd[None], yp[None], ypd[None],
                                             statistics)
        pot, pot_dt = jax.jvp(drive.potential, (t,), (jnp.ones_like(t),))
        return (prop[0], sk[0], [b[:, 0] for b in bc], [b[:, 0] for b in bs], g_s, pot,
                pot_dt)

    step = lambda u, t, tau: magnus_generator_step(lambda s: matrices(s)[1], u, t, tau)
    return time_ordered(step, kernels, jnp.eye(n2 + 2 * kb), grid, substeps,
                        drive.breakpoints())
