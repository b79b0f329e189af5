r"""Nambu and quadrature (Majorana) forms of quadratic Hamiltonians and Gaussian states.

Every mode j has two Hermitian quadratures, x_j = (a_j + a_j†)/√2, p_j = −i(a_j − a_j†)/√2,
ordered r = (x_1..x_n, p_1..p_n); ψ = (a_1..a_n, a_1†..a_n†) = T r. Bosons: [r_k, r_l] = iΩ_kl;
fermions (Majoranas): {r_k, r_l} = δ_kl. Conventions of the covariances: ``jt.CovarianceState``;
of the Hamiltonians: ``jt.QuadraticModel``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


def nambu_transform(n: int) -> np.ndarray:
    """T with ψ = (a_1..a_n, a_1†..a_n†) = T r: T = [[1, i], [1, −i]]/√2 (n×n blocks)."""
    e = np.eye(n)
    return np.block([[e, 1j * e], [e, -1j * e]]) / np.sqrt(2.0)


def symplectic_form(n: int) -> np.ndarray:
    """Ω = [[0, 1], [−1, 0]] (n×n blocks): [r_k, r_l] = iΩ_kl for bosons."""
    e = np.eye(n)
    z = np.zeros((n, n))
    return np.block([[z, e], [-e, z]])


def bdg_matrix(hopping, pairing, statistics):
    """Nambu matrix 𝓗 with H = ½ ψ†𝓗ψ + const: fermions [[h, Δ], [−Δ*, −h^T]],
    bosons [[h, Δ], [Δ*, h^T]]."""
    h = jnp.asarray(hopping, jnp.complex128)
    d = jnp.zeros_like(h) if pairing is None else jnp.asarray(pairing, jnp.complex128)
    s = -1.0 if statistics == "fermion" else 1.0
    return jnp.block([[h, d], [s * d.conj(), s * h.T]])


def quadrature_hamiltonian(hopping, pairing=None, statistics="fermion"):
    """(G, E_0) of H = Σ h_ij a_i† a_j + ½Σ(Δ_ij a_i† a_j† + h.c.) in quadrature form.

    With M = T†𝓗T: fermions G = Im M (antisymmetric), E_0 = ½ Tr h; bosons G = Re M,
    E_0 = −½ Tr h − ¼ Σ_kl (Im M)_kl Ω_kl (so the vacuum energy is 0 in both cases)."""
    h = jnp.asarray(hopping, jnp.complex128)
    n = h.shape[0]
    t = jnp.asarray(nambu_transform(n))
    m = t.conj().T @ bdg_matrix(h, pairing, statistics) @ t
    if statistics == "fermion":
        return m.imag, 0.5 * jnp.trace(h).real
    om = jnp.asarray(symplectic_form(n))
    return m.real, -0.5 * jnp.trace(h).real - 0.25 * jnp.sum(m.imag * om)


def exchange_block(v, statistics):
    """Real coupling block B (2n × 2) of H_I = v·a† c + h.c. for one bath mode c with
    quadratures (q, π): bosons H_I = ½ Σ (B_kj r_k s_j + B_kj s_j r_k) = Σ B_kj r_k s_j;
    fermions H_I = i Σ B_kj r_k s_j (s = (q, π)).

    Derived from a = (x + ip)/√2: bosons v a†c + h.c. = Σ_i [Re v_i (x_i q + p_i π) +
    Im v_i (p_i q − x_i π)]; fermions v a†c + h.c. = i Σ_i [Re v_i (x_i π − p_i q) +
    Im v_i (x_i q + p_i π)]."""
    v = jnp.asarray(v, jnp.complex128)
    vr, vi = v.real, v.imag
    if statistics == "boson":
        xcol = jnp.stack([vr, -vi], axis=1)  # x_i couples to (q, π)
        pcol = jnp.stack([vi, vr], axis=1)
    else:
        xcol = jnp.stack([vi, vr], axis=1)
        pcol = jnp.stack([-vr, vi], axis=1)
    return jnp.concatenate([xcol, pcol], axis=0)


def covariance_from_nambu(nambu, statistics) -> Array:
    """Covariance (V or Γ, real) of C_N[i, j] = ⟨ψ_j† ψ_i⟩ (..., 2n, 2n): with
    W = (T† C_N T)^T = ⟨r r^T⟩, fermions Γ = Re[i(W − ½)], bosons V = Re W (zero mean).
    Real-linear (affine) in C_N, no checks: usable under jit/grad."""
    c = jnp.asarray(nambu, jnp.complex128)
    n = c.shape[-1] // 2
    t = jnp.asarray(nambu_transform(n))
    w = jnp.swapaxes(t.conj().T @ c @ t, -1, -2)  # ⟨r r^T⟩
    if statistics == "fermion":
        return (1j * (w - 0.5 * jnp.eye(2 * n))).real  # ⟨rr^T⟩ = ½ − iΓ
    return w.real


def covariance_from_correlation(correlation, statistics) -> Array:
    """Covariance of a number-conserving state with C_ij = ⟨a_j† a_i⟩ (..., n, n):
    C_N = [[C, 0], [0, 1 ∓ C^T]] (upper sign fermions), then ``covariance_from_nambu``.
    Real-linear (affine) in C, no checks (the optimiser and sweeps pass traced C)."""
    c = jnp.asarray(correlation, jnp.complex128)
    n = c.shape[-1]
    z = jnp.zeros_like(c)
    sign = -1.0 if statistics == "fermion" else 1.0
    lower = jnp.eye(n) + sign * jnp.swapaxes(c, -1, -2)
    cn = jnp.concatenate([jnp.concatenate([c, z], -1), jnp.concatenate([z, lower], -1)], -2)
    return covariance_from_nambu(cn, statistics)


def nambu_correlation(covariance, mean, statistics) -> Array:
    """C_N[i, j] = ⟨ψ_j† ψ_i⟩ from a covariance (..., 2n, 2n) (and bosonic mean)."""
    n = covariance.shape[-1] // 2
    t = jnp.asarray(nambu_transform(n))
    if statistics == "fermion":
        w = 0.5 * jnp.eye(2 * n) - 1j * covariance
    else:
        w = (covariance + mean[..., :, None] * mean[..., None, :]
             + 0.5j * jnp.asarray(symplectic_form(n)))
    return t @ jnp.swapaxes(w, -1, -2) @ t.conj().T
