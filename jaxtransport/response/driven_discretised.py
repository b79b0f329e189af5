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
a whole number of substeps, and the substeps are split at the drive's breakpoints,
``jt.Drive.breakpoints``, so that none straddles a kink of an amplitude, where the order
would drop to two). From the rows of U(t) the kernels are those of the undriven
method (``mode_kernels.time_kernels``): per mode q the correlation kernels (C and dC/dt) and
the current amplitudes X^N_α = −i Σ_{q∈α,i} H_iq(t) C_qi (X^E_α with a factor ε_q + Δ_α(t):
the energy leaving reservoir α through the coupling, ``jaxtransport.drive``), and the state
kernels (propagator G = U_SS). The result is the continuum's ``DrivenResponse`` (one driven
stage-2 protocol: ``evaluate`` gives a ``jt.DrivenSolution`` with power, work and the first-law
residual), its nodes the modes at their initial energies ε_q (the reservoirs are thermal at
t = 0), so stage 2 over (C0, T, μ) is unchanged. ``DrivenResponse`` stores the current
amplitudes in the coupling gauge, x̂_α = e^{iφ_α}(X̂^N_α, X̂^E_α − Δ_α X̂^N_α) without the factor
s_α (φ_α = ∫Δ_α; its ``assemble`` multiplies by χ_α = s_α e^{−iφ_α} and adds Δ_α J^N_α back): an
exact relabelling of the amplitudes computed here with the real energy shift.

Accuracy: the Magnus error is measured at O(τ⁴) (tests/test_drive_finite_modes.py); against
the continuum the finite bath adds the undriven method's discretisation error (band
truncation, mode spacing), which for Lorentzian leads dominates (heavy tails). Cost: one D×D
matrix exponential and product per substep (D = n + number of modes): baths of up to a few
hundred modes (checks of the continuum method).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_times
from .base import stack_reservoir_arrays
from .mode_kernels import full_hamiltonian, time_kernels

_SQRT3 = math.sqrt(3.0)


def driven_response(method, model, times):
    """Stage 1 of ``jt.Discretised`` for a driven model (module docstring): a
    ``DrivenResponse`` (the driven stage-2 protocol) with the modes as its nodes."""
    from .driven_response import DrivenResponse

    times = check_times(times)
    nres = model.n_reservoirs
    eps, amps, vecs, term, owner, idx, mask = method.bath_modes(model, times)
    coup = (amps[:, None] * jnp.stack(vecs)[term]).astype(complex)  # V_{q,i}: (Kb, n)
    grid, substeps = substep_grid(times, method.drive_step)
    sel = jnp.asarray(np.arange(nres)[:, None] == owner[None, :], dtype=jnp.float64)
    arrays = driven_arrays(jnp.asarray(model.hamiltonian).astype(complex), eps, coup, sel,
                           model.drive, jnp.asarray(grid), substeps=substeps)
    if times[0] > 0:  # the grid starts at the switch-on t = 0, not an output time
        arrays = [a[:, 1:] if k < 4 else a[1:] for k, a in enumerate(arrays)]
    c_q, cd_q, x_q, xd_q, g, gd, mk, mkd = arrays
    idx_j = jnp.asarray(idx)
    take = lambda a: a[idx_j]  # (Kb, ...) -> (M, K, ...)
    temp, mu = stack_reservoir_arrays(model)
    n, nt = model.n_modes, len(times)
    zeros = lambda *shape: jnp.zeros((nt, *shape), complex)
    return DrivenResponse(
        times=jnp.asarray(times), hamiltonian=model.hamiltonian, drive=model.drive,
        temperature=temp, chemical_potential=mu, propagator=g, propagator_dt=gd,
        current_state=mk, current_state_dt=mkd,
        nodes=jnp.where(jnp.asarray(mask) > 0, eps[idx_j], 0.0), weights=jnp.asarray(mask),
        correlation_kernel=take(c_q), correlation_kernel_dt=take(cd_q),
        current_kernel=take(x_q), current_kernel_dt=take(xd_q),
        correlation_offset=zeros(n, n), correlation_offset_dt=zeros(n, n),
        current_offset=zeros(2, nres), current_offset_dt=zeros(2, nres),
        # bosons: every mode must lie above μ (checked in stage 2)
        window=jnp.asarray([float(np.min(np.asarray(eps))) if model.statistics == "boson"
                            else -np.inf, np.inf]),
        error_estimate=jnp.asarray(jnp.nan), method="discretised",
        statistics=model.statistics,
    )


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
    """One fourth-order Magnus step of U from t to t + τ (dU/dt = −i H(t) U)."""
    return magnus_generator_step(lambda s: -1j * h_of_t(s), u, t, tau)


def magnus_generator_step(a_of_t, u, t, tau):
    """One fourth-order Magnus step of dU/dt = A(t) U from t to t + τ (any real or complex
    generator A; two Gauss–Legendre points, module docstring)."""
    a1 = a_of_t(t + tau * (0.5 - _SQRT3 / 6))
    a2 = a_of_t(t + tau * (0.5 + _SQRT3 / 6))
    omega = 0.5 * tau * (a1 + a2) + (_SQRT3 / 12) * tau**2 * (a2 @ a1 - a1 @ a2)
    return jax.scipy.linalg.expm(omega) @ u


def time_ordered(step, kernels, u0, grid, substeps, breaks=None):
    """``kernels(U(t), t)`` at every time of ``grid`` (starting at 0, where U = ``u0``), U
    advanced by ``substeps`` equal steps ``step(u, t, τ)`` per interval; the results stacked
    along a leading time axis. (The first time is an empty interval, so that ``kernels`` is
    traced once: its steps are exact identities.) ``breaks``: the drive's breakpoints
    (``jt.Drive.breakpoints``), at which the substeps of an interval are split (static count,
    traced values; those outside the interval give zero-length substeps, skipped)."""
    def interval(u, bounds):
        t0, t1 = bounds
        if breaks is None or breaks.shape[0] == 0:
            tau = (t1 - t0) / substeps
            u = jax.lax.fori_loop(0, substeps, lambda j, v: step(v, t0 + j * tau, tau), u)
            return u, kernels(u, t1)
        inner = t0 + (t1 - t0) * jnp.arange(1, substeps) / substeps
        pts = jnp.sort(jnp.concatenate([t0[None], inner, t1[None], jnp.clip(breaks, t0, t1)]))

        def sub(j, v):
            tau = pts[j + 1] - pts[j]
            return jax.lax.cond(tau > 0, lambda w: step(w, pts[j], tau), lambda w: w, v)

        u = jax.lax.fori_loop(0, pts.shape[0] - 1, sub, u)
        return u, kernels(u, t1)

    starts = jnp.concatenate([grid[:1], grid[:-1]])
    return jax.lax.scan(interval, u0, (starts, grid))[1]


@eqx.filter_jit
def driven_arrays(h, eps, coup, sel, drive, grid, *, substeps):
    """Per bath mode (Kb, T, ...) the kernels C, dC/dt, x̂, dx̂/dt and per time G, dG/dt and
    the state kernels of x̂, dx̂/dt (``DrivenResponse``'s layout and gauge) at every time of
    ``grid`` (which starts at 0), with ``substeps`` Magnus steps per interval."""
    n = h.shape[0]
    d = n + eps.shape[0]
    h_of_t = lambda t: driven_hamiltonian(h, eps, coup, sel, drive, t)

    def kernels(u, t):
        s = drive.coupling_scale(t)  # (M,)
        e = eps + drive.potential(t) @ sel  # mode energies at t
        de = jax.jvp(drive.potential, (t,), (jnp.ones_like(t),))[1]  # (M,) dΔ/dt
        hs = drive.hamiltonian(h, t)
        us, ub = u[:n], u[n:]
        # B_{α,p} = V_α^T diag(e^p) U_B (without s_α), p = 0, 1, 2
        b = jnp.stack([jnp.einsum("qi,aq,qz->aiz", coup, sel * e**p, ub) for p in range(3)])
        k = jnp.stack([jnp.einsum("qi,aq,qj->aij", coup, sel * e**p, coup.conj())
                       for p in range(2)])  # (2, M, n, n) V_α^T e^p V_α^*
        sa = s[None, :, None, None]
        # unscaled probe rows P̂_{α,p} U = B_{α,p} (p = 0, 1) and U̇_S = −i (H_S U_S + W U_B)
        dus = -1j * (hs @ us + (sa[0] * b[0]).sum(0))
        # d(B_p)/dt = p Δ̇ B_{p−1} + P̂_p U̇_B,  U̇_B = −i (W† U_S + diag(e) U_B)
        dpu = (jnp.stack([0 * b[0], de[:, None, None] * b[0]])
               - 1j * (sa * jnp.einsum("xaij,jz->xaiz", k, us) + b[1:]))
        xq, xdq, corr, _, g, gd, mk, mkd, dcorr = time_kernels(us, dus, b[:2], dpu, hs, n,
                                                                True)
        # to the coupling gauge of DrivenResponse (its assemble multiplies by χ_α = s_α e^{−iφ_α}
        # and adds Δ_α J^N_α to the energy current): x̂ = e^{iφ} (X̂^N, X̂^E − Δ X̂^N)
        pot, rot = drive.potential(t), jnp.exp(1j * drive.phase(t))

        def gauge(x, xd, ax):  # x[..., N/E, α] with the (N/E, α) axes at (ax, ax + 1)
            x, xd = jnp.moveaxis(x, (ax, ax + 1), (-2, -1)), jnp.moveaxis(xd, (ax, ax + 1),
                                                                            (-2, -1))
            y = jnp.stack([x[..., 0, :], x[..., 1, :] - pot * x[..., 0, :]], -2)
            yd = jnp.stack([xd[..., 0, :], xd[..., 1, :] - de * x[..., 0, :]
                            - pot * xd[..., 0, :]], -2)
            back = lambda a: jnp.moveaxis(rot * a, (-2, -1), (ax, ax + 1))
            return back(y), back(1j * pot * y + yd)

        xq, xdq = gauge(xq, xdq, 1)
        mk, mkd = gauge(mk, mkd, 0)
        return xq, xdq, corr, dcorr, g, gd, mk, mkd

    step = lambda u, t, tau: magnus_step(h_of_t, u, t, tau)
    out = time_ordered(step, kernels, jnp.eye(d, dtype=complex), grid, substeps,
                       drive.breakpoints())
    mv = lambda a: jnp.moveaxis(a, 1, 0)  # (T, Kb, ...) -> (Kb, T, ...)
    xq, xdq, corr, dcorr, g, gd, mk, mkd = out
    return mv(corr), mv(dcorr), mv(xq), mv(xdq), g, gd, mk, mkd
