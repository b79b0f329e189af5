r"""The driven continuum for fermionic ``jt.QuadraticModel`` (BdG systems with exchange leads):
Nambu doubling onto the driven number-conserving continuum (``response/driven.py``).

As for the undriven general continuum (``general_continuum``), ψ = (a, a†) obeys
dψ/dt = −i𝓗(t)ψ with 𝓗(t) = i T G_S(t) T† (every drive term maps as G does), and each lead α
appears as a particle and a hole reservoir. The drive of the doubled model:

* terms: i T V_k T† with the same amplitudes f_k;
* coupling modulation s_α(t) on both copies of α;
* bias: Δ_α(t) on the particle copy and −Δ_α(t) on the hole copy (the hole modes c_k† have
  energies −ω_k − Δ_α(t)), so the hole copy's coupling-gauge phase is +φ_α.

The doubled model's ``DrivenResponse`` is mapped, term by term (all maps are linear in its
stage-2 terms), onto a ``DrivenGeneralResponse``: with the physical current amplitudes
x_p = χ_p x̂_p of each copy (χ = s e^{∓iφ}) J^N_α = ½(J^N_p − J^N_h), J^E_α = ½(J^E_p + J^E_h)
(each with its Δ J^N), ⟨H_I^α⟩ = ½(I_p + I_h), P^c_α = ½(P^c_p + P^c_h), ⟨H_S⟩ − E_0 = ½ Tr[𝓗 C_N],
P = ½ Tr[∂_t𝓗 C_N] and Γ = Re[i (T† C_N T)^T]; the constant ½ of C_N(0) = ½ + i T Γ0 T† goes to
the offset and the hole nodes are mirrored (ω → −ω, weight −w, their f-independent part moved
to the offset), as in the undriven map. Stage 2 is that of ``DrivenGeneralResponse``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..drive import AbstractAmplitude, Drive
from ..nambu import nambu_transform
from .driven_general import DrivenGeneralResponse
from .general import nambu_fields


class _Negated(AbstractAmplitude):
    """−f(t) of an amplitude f (the bias of a hole copy)."""

    inner: AbstractAmplitude

    def __call__(self, t):
        return -self.inner(t)

    def integral(self, t):
        return -self.inner.integral(t)

    def breakpoints(self):
        return self.inner.breakpoints()


def doubled_drive(model) -> Drive:
    """The drive of ``model.nambu_doubled()`` (module docstring): reservoirs 0..M−1 are the
    particle copies, M..2M−1 the hole copies."""
    drive, m = model.drive, model.n_reservoirs
    t = jnp.asarray(nambu_transform(model.n_modes))
    terms = []
    for v, f in zip(drive.matrices, drive.amplitudes, strict=True):
        hv = 1j * t @ v @ t.conj().T
        terms.append((0.5 * (hv + hv.conj().T), f))
    coupling, bias = {}, {}
    for k in range(m):
        if drive.coupling[k] is not None:
            coupling[k] = coupling[m + k] = drive.coupling[k]
        if drive.bias[k] is not None:
            bias[k], bias[m + k] = drive.bias[k], _Negated(drive.bias[k])
    return Drive(terms, coupling=coupling, bias=bias)


def driven_nambu_response(model, times, engine) -> DrivenGeneralResponse:
    """Stage 1 of ``jt.Continuum`` (``engine``) for a driven fermionic ``jt.QuadraticModel``
    (module docstring)."""
    nm = model.nambu_doubled()
    er = engine.response(nm, times)  # a DrivenResponse
    n, m = model.n_modes, model.n_reservoirs
    t = jnp.asarray(nambu_transform(n))
    gam = lambda c: jnp.real(1j * jnp.swapaxes(t.conj().T @ c @ t, -1, -2))  # Γ = Λ(C_N)
    hs, hr, hrr = er.hamiltonian_terms()
    chi, chi_dt, rot, pot, s_dt = er.reservoir_terms()
    tj = jnp.asarray(times)
    s_ddt = jax.vmap(jax.jacfwd(nm.drive.coupling_rate))(tj)
    pot_dt = jax.vmap(jax.jacfwd(nm.drive.potential))(tj)
    p, h = slice(0, m), slice(m, 2 * m)

    def mapped(corr, corr_dt, xh, xhd):
        """DrivenResponse terms (..., T, ...) -> (Γ, scalars (..., T, 2, 4M + 2))."""
        x = chi[:, None, :] * xh
        xd = chi_dt[:, None, :] * xh + chi[:, None, :] * xhd
        jn, jnd = 2 * x[..., 0, :].real, 2 * xd[..., 0, :].real
        je = 2 * x[..., 1, :].real + pot * jn
        jed = 2 * xd[..., 1, :].real + pot * jnd + pot_dt * jn
        ci, cid = -2 * x[..., 0, :].imag, -2 * xd[..., 0, :].imag
        rx = rot * xh[..., 0, :]
        pc = s_dt * (-2 * rx.imag)
        pcd = s_ddt * (-2 * rx.imag) + s_dt * (
            -2 * (rot * (xhd[..., 0, :] - 1j * pot * xh[..., 0, :])).imag)
        tr = lambda a, b: 0.5 * jnp.einsum("tij,...tji->...t", a, b).real

        def phys(jn_, je_, ci_, pc_):
            return [-0.5 * (jn_[..., p] - jn_[..., h]), -0.5 * (je_[..., p] + je_[..., h]),
                    0.5 * (ci_[..., p] + ci_[..., h]), 0.5 * (pc_[..., p] + pc_[..., h])]

        dn, de, hi, pcv = phys(jn, je, ci, pc)
        dnd, ded, hid, pcdv = phys(jnd, jed, cid, pcd)
        val = [dn, de, hi, tr(hs, corr)[..., None], tr(hr, corr)[..., None], pcv]
        der = [dnd, ded, hid, (tr(hr, corr) + tr(hs, corr_dt))[..., None],
               (tr(hrr, corr) + tr(hr, corr_dt))[..., None], pcdv]
        return gam(corr), jnp.stack([jnp.concatenate(val, -1), jnp.concatenate(der, -1)], -2)

    n2 = 2 * n
    sk = jax.jacfwd(lambda g0: mapped(*er.state_terms(1j * t @ g0 @ t.conj().T))[1])(
        jnp.zeros((n2, n2)))  # (T, 2, P, 2n, 2n)
    half = er.state_terms(0.5 * jnp.eye(n2, dtype=complex))
    oc, os_ = mapped(*(a + b for a, b in zip(er.offset_terms(), half, strict=True)))
    bc, bs = mapped(er.correlation_kernel, er.correlation_kernel_dt, er.current_kernel,
                    er.current_kernel_dt)
    return DrivenGeneralResponse(
        **nambu_fields(model, times, er, sk, (bc, bs), (oc, os_)),
        instantaneous_hamiltonian=jax.vmap(
            lambda s: model.drive.hamiltonian(model.hamiltonian, s))(tj),
        potential=pot[:, :m],
        potential_rate=pot_dt[:, :m],
    )

