"""Gaussian initial states of the system, C_ij = <a_j† a_i>."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._validation import check_correlation, check_hermitian, check_positive, is_concrete
from .reservoir import check_statistics, occupation


class GaussianState(eqx.Module):
    """A Gaussian (quasi-free) state given by its correlation matrix C0[i, j] = <a_j† a_i>.

    Fermions need 0 ≤ C0 ≤ 1 (eigenvalues are occupations of natural orbitals); bosons C0 ≥ 0.
    ``correlation`` may carry leading batch axes (..., n, n) for vmapped evaluation.
    """

    correlation: Array
    statistics: str = eqx.field(static=True)

    def __init__(self, correlation: ArrayLike, statistics: str = "fermion", *, atol: float = 1e-10):
        c = jnp.asarray(correlation)
        c = c.astype(jnp.complex128 if jnp.iscomplexobj(c) else jnp.float64)
        self.statistics = check_statistics(statistics)
        if c.ndim < 2 or c.shape[-1] != c.shape[-2]:
            raise ValueError(f"correlation must be (..., n, n) square, got shape {c.shape}.")
        if is_concrete(c):
            check_correlation(c, self.statistics, atol=atol, name="GaussianState correlation")
        self.correlation = c

    @property
    def n_modes(self) -> int:
        return int(self.correlation.shape[-1])

    @classmethod
    def from_occupations(
        cls, occupations: ArrayLike, basis: ArrayLike | None = None, statistics: str = "fermion"
    ) -> GaussianState:
        """C0 = U diag(n) U†: occupation numbers ``n`` of the orbitals given by the columns of
        the unitary ``basis`` U (default: the site basis)."""
        n = jnp.asarray(occupations, dtype=jnp.float64)
        if n.ndim != 1:
            raise ValueError(f"occupations must be a 1-D vector, got shape {n.shape}.")
        if basis is None:
            return cls(jnp.diag(n), statistics)
        u = jnp.asarray(basis)
        if u.shape != (n.shape[0], n.shape[0]):
            raise ValueError(f"basis must be {n.shape[0]}x{n.shape[0]}, got {u.shape}.")
        if is_concrete(u) and not np.allclose(
            np.asarray(u).conj().T @ np.asarray(u), np.eye(n.shape[0]), atol=1e-10
        ):
            raise ValueError("basis must be unitary (its columns orthonormal orbitals).")
        return cls((u * n) @ u.conj().T, statistics)

    @classmethod
    def thermal(
        cls,
        hamiltonian: ArrayLike,
        temperature: ArrayLike,
        chemical_potential: ArrayLike = 0.0,
        statistics: str = "fermion",
    ) -> GaussianState:
        """Gibbs state of the *isolated* system h at (T, μ): C0 = f(h) (Fermi/Bose function)."""
        h = jnp.asarray(hamiltonian)
        check_hermitian(h, "thermal hamiltonian")
        check_positive(temperature, "thermal temperature")
        e, u = jnp.linalg.eigh(h)
        n = occupation(e, temperature, chemical_potential, statistics)
        return cls((u * n) @ u.conj().T, statistics)
