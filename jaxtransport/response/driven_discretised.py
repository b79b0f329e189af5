r"""Driven finite-mode reservoirs: time-ordered single-particle evolution (``jt.Discretised``
for a model with a ``jt.Drive``).

The reservoirs are discretised exactly as for the undriven ``jt.Discretised`` (same modes
ε_q, couplings V_q and node/weight layout). The full single-particle Hamiltonian of system
and modes is time dependent,

    H(t) = [[ h + Σ_k f_k(t) V_k ,  s_α(t) V_{αq}       ],
            [ s_α(t) V_{αq}†     ,  diag(ε_αq + Δ_α(t)) ]],

with the bias Δ_α(t) kept as a real shift of the mode energies (not moved into a phase of
the coupling as the continuum method does, so the two are independent checks of that
gauge). The propagator U(t) = T exp(−i ∫_0^t H) is built by the fourth-order Magnus
integrator with two Gauss–Legendre points per substep,

    U(t + τ) = exp(−i [τ/2 (H_1 + H_2) − i (√3/12) τ² [H_2, H_1]]) U(t),
    H_{1,2} = H(t + τ (1/2 ∓ √3/6)),

(``jax.scipy.linalg.expm``; exact for a constant H, global error O(τ⁴) otherwise; the
substep is ``Discretised.drive_step`` or less so that every interval of the time grid holds
a whole number of substeps). From the rows of U(t) the kernels are those of the undriven
method (``discretised.time_kernels``): per mode q the correlation and current kernels, and
the state kernels (propagator G = U_SS). The reservoir occupations enter at the initial mode
energies ε_q (the reservoirs are thermal at t = 0), so stage 2 over (C0, T, μ) is unchanged.

Currents are those of ``jaxtransport.drive``: J^N_α = −d<N_α>/dt and the energy leaving
reservoir α through the coupling J^E_α = −i<[H(t), H_α(t)]> with H_α(t) = Σ_q (ε_αq + Δ_α(t))
c†c, i.e. the amplitudes X^N_α = −i Σ_{q∈α,i} H_iq(t) C_qi, X^E_α with an extra factor
ε_q + Δ_α(t). The scalar kernel is the total derivative d/dt Tr[H_S(t) C(t)] (including
Tr[∂_t H_S C], the power the drive delivers to the system).

Cost: one D×D matrix exponential and product per substep (D = n + number of modes), so this
method is meant for baths of up to a few hundred modes (checks of the continuum method).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._validation import check_times
from .base import Response
from .discretised import full_hamiltonian, mode_response, time_kernels

_SQRT3 = math.sqrt(3.0)


def driven_response(method, model, times) -> Response:
    """Stage 1 of ``jt.Discretised`` for a driven model (module docstring)."""
    times = check_times(times)
    nres = model.n_reservoirs
    eps, amps, vecs, term, owner, idx, mask = method.bath_modes(model, times)
    coup = (amps[:, None] * jnp.stack(vecs)[term]).astype(complex)  # V_{q,i}: (Kb, n)
    grid, substeps = substep_grid(times, method.drive_step)
    sel = jnp.asarray(np.arange(nres)[:, None] == owner[None, :], dtype=jnp.float64)
    arrays = driven_arrays(
        jnp.asarray(model.hamiltonian).astype(complex), eps, coup, sel, model.drive,
        jnp.asarray(grid), substeps=substeps, correlation_dt=method.correlation_dt,
    )
    if times[0] > 0:  # the grid starts at the switch-on t = 0, not an output time
        arrays = [a[:, 1:] if k in (0, 1, 2, 3, 8) else a[1:] for k, a in enumerate(arrays)]
    tj = jnp.asarray(times)
    drive = model.drive
    hs = jax.vmap(lambda t: drive.hamiltonian(model.hamiltonian, t))(tj)
    return mode_response(
        model, times, eps, idx, mask, arrays, method.correlation_dt, cls=DrivenResponse,
        system_hamiltonian=hs,
        system_hamiltonian_rate=jax.vmap(lambda t: drive.hamiltonian_rate(t, hs[0]))(tj),
        potential=drive.potential(tj),
        potential_rate=jax.vmap(lambda t: jax.jvp(drive.potential, (t,),
                                                  (jnp.ones_like(t),))[1])(tj),
    )


class DrivenResponse(Response):
    """A ``Response`` of a driven model: the stage-2 protocol of ``Response`` (node kernels at
    the initial mode energies), with the time-dependent system Hamiltonian for the system
    energy derivative and the reservoir potentials for the heat current.

    Extra fields: ``system_hamiltonian`` H_S(t) and ``system_hamiltonian_rate`` ∂_t H_S(t),
    (T, n, n); ``potential`` Δ_α(t) and ``potential_rate`` (T, M). The evaluated
    ``system_energy_derivative`` is d/dt Tr[H_S(t) C(t)] (including the drive's power on the
    system) and ``heat_current`` J^E_α − (μ_α + Δ_α(t)) J^N_α (``jaxtransport.drive``).
    ``hamiltonian`` is the undriven h."""

    system_hamiltonian: Array = None  # (T, n, n)
    system_hamiltonian_rate: Array = None  # (T, n, n)
    potential: Array = None  # (T, M)
    potential_rate: Array = None  # (T, M)

    def state_terms(self, state):
        corr, x, xd, _ = super().state_terms(state)
        c0 = jnp.asarray(state).astype(jnp.complex128)
        g, gd = self.propagator, self.propagator_dt
        gcg = jnp.einsum("tij,...jk,tlk->...til", gd, c0, g.conj())
        energy = (2 * jnp.einsum("tij,...tji->...t", self.system_hamiltonian, gcg).real
                  + jnp.einsum("tij,...tji->...t", self.system_hamiltonian_rate, corr).real)
        return corr, x, xd, jnp.stack([energy, 2 * jnp.einsum("...tii->...t", gcg).real], -1)

    def assemble(self, terms, temperature, chemical_potential):
        sol = super().assemble(terms, temperature, chemical_potential)
        jn = sol.particle_current
        jnd = 2 * terms[2][..., 0, :].real  # dJ^N/dt
        heat = sol.heat_current - self.potential * jn
        heat_dt = sol.heat_current_derivative - self.potential_rate * jn - self.potential * jnd
        return eqx.tree_at(lambda s: (s.heat_current, s.heat_current_derivative), sol,
                           (heat, heat_dt))


def substep_grid(times, max_step):
    """(grid, m): the output times with t = 0 prepended when missing, and the number m of
    equal Magnus substeps per interval such that none is longer than ``max_step``."""
    grid = np.asarray(times, dtype=np.float64)
    if grid[0] > 0:
        grid = np.concatenate([[0.0], grid])
    if grid.size == 1:
        return grid, 1
    if not (np.isfinite(max_step) and max_step > 0):
        raise ValueError(f"Discretised drive_step must be a finite number > 0, got {max_step}.")
    return grid, max(1, math.ceil(float(np.max(np.diff(grid))) / max_step - 1e-9))


def driven_hamiltonian(h, eps, coup, sel, drive, t):
    """H(t) of system + modes (module docstring); ``sel`` (M, Kb) one-hot mode owners."""
    hs = drive.hamiltonian(h, t)
    s = drive.coupling_scale(t) @ sel  # (Kb,)
    shift = drive.potential(t) @ sel
    return full_hamiltonian(hs, eps + shift, coup * s[:, None])


def magnus_step(h_of_t, u, t, tau):
    """One fourth-order Magnus step of U from t to t + τ."""
    h1 = h_of_t(t + tau * (0.5 - _SQRT3 / 6))
    h2 = h_of_t(t + tau * (0.5 + _SQRT3 / 6))
    omega = 0.5 * tau * (h1 + h2) - 1j * (_SQRT3 / 12) * tau**2 * (h2 @ h1 - h1 @ h2)
    return jax.scipy.linalg.expm(-1j * omega) @ u


@eqx.filter_jit
def driven_arrays(h, eps, coup, sel, drive, grid, *, substeps, correlation_dt=False):
    """Kernels (as ``discretised_arrays``, bath modes as the initial vectors) at every time of
    ``grid`` (which starts at 0), with ``substeps`` Magnus steps per interval."""
    n = h.shape[0]
    d = n + eps.shape[0]
    h_of_t = lambda t: driven_hamiltonian(h, eps, coup, sel, drive, t)

    def kernels(u, t):
        s, ds = drive.coupling_scale(t), drive.coupling_rate(t)  # (M,)
        e = eps + drive.potential(t) @ sel  # mode energies at t
        de = jax.jvp(drive.potential, (t,), (jnp.ones_like(t),))[1]  # (M,) dΔ/dt
        hs = drive.hamiltonian(h, t)
        us, ub = u[:n], u[n:]
        # B_{α,p} = V_α^T diag(e^p) U_B (without s_α), p = 0, 1, 2
        b = jnp.stack([jnp.einsum("qi,aq,qz->aiz", coup, sel * e**p, ub) for p in range(3)])
        k = jnp.stack([jnp.einsum("qi,aq,qj->aij", coup, sel * e**p, coup.conj())
                       for p in range(2)])  # (2, M, n, n) V_α^T e^p V_α^*
        sa = s[None, :, None, None]
        pu = sa * b[:2]  # probe rows P_{α,p} U, P = s_α V_α^T e^p
        dus = -1j * (hs @ us + pu[0].sum(0))
        # d(P_p U)/dt = Ṗ_p U + P_p U̇,  U̇_B = −i (W† U_S + diag(e) U_B)
        dpu = (ds[None, :, None, None] * b[:2]
               + sa * jnp.stack([0 * b[0], de[:, None, None] * b[0]])
               - 1j * sa * (sa * jnp.einsum("xaij,jz->xaiz", k, us) + b[1:]))
        return time_kernels(us, dus, pu, dpu, hs, drive.hamiltonian_rate(t, hs), n,
                            correlation_dt)

    def interval(u, bounds):
        t0, t1 = bounds
        tau = (t1 - t0) / substeps
        u = jax.lax.fori_loop(0, substeps, lambda j, v: magnus_step(h_of_t, v, t0 + j * tau,
                                                                    tau), u)
        return u, kernels(u, t1)

    u0 = jnp.eye(d, dtype=complex)
    first = kernels(u0, grid[0])
    _, rest = jax.lax.scan(interval, u0, (grid[:-1], grid[1:]))
    out = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)
    mv = lambda a: jnp.moveaxis(a, 1, 0)  # (T, Kb, ...) -> (Kb, T, ...)
    xq, xdq, corr, sd, g, gd, mk, mkd, *dcorr = out
    return (mv(corr), mv(xq), mv(xdq), mv(sd), g, gd, mk, mkd, *(mv(c) for c in dcorr))
