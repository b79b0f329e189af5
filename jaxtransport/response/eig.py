"""Eigendecomposition of a non-normal matrix (the closure generators) with a JVP.

jax has no derivative for the eigenvectors of a non-symmetric matrix; the Padé method and the
currents-only Continuum both differentiate through one (gradients in h and couplings).
"""

import jax
import jax.numpy as jnp


@jax.custom_jvp
def eig(lmat):
    """Eigenvalues and right eigenvectors of a non-normal matrix, with the first-order
    perturbation JVP (jax has none for non-symmetric eigenvectors): dΛ = diag(R⁻¹ dL R),
    dR = R (F ∘ R⁻¹ dL R), F_ij = 1/(λ_j − λ_i) off the diagonal (0 for coincident λ: a
    degenerate pair, e.g. dark pseudomode combinations, is kept fixed). The callers use R only
    in products R (…) R⁻¹, invariant under rescaling the eigenvectors, so this gauge is enough."""
    ell, rr = jnp.linalg.eig(lmat)
    return ell, rr


@eig.defjvp
def _eig_jvp(primals, tangents):
    (lmat,), (dl,) = primals, tangents
    ell, rr = eig(lmat)
    proj = jnp.linalg.solve(rr, dl.astype(jnp.complex128) @ rr)
    diff = ell[None, :] - ell[:, None]
    near = jnp.abs(diff) <= 1e-12 * (1.0 + jnp.abs(ell)[None, :])
    fmat = jnp.where(near, 0.0, 1.0 / jnp.where(near, 1.0, diff))
    return (ell, rr), (jnp.diagonal(proj), rr @ (fmat * proj))
