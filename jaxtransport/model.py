"""The open quadratic system: system Hamiltonian + reservoirs + particle statistics."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._validation import check_hermitian
from .reservoir import Reservoir, check_statistics


class Model(eqx.Module):
    """A number-conserving quadratic system coupled to thermal reservoirs.

    H = Σ_ij h_ij a_i† a_j + Σ_α H_α + Σ_α (Σ_k,i V_αk,i a_i† c_αk + h.c.).

    **Arguments:**

    - ``hamiltonian``: Hermitian n×n single-particle matrix h (energy units, ħ = 1).
    - ``reservoirs``: sequence of ``jt.Reservoir`` (any number ≥ 1), coupling vectors of length n.
    - ``statistics``: ``"fermion"`` (default) or ``"boson"`` (static).
    """

    hamiltonian: Array
    reservoirs: tuple[Reservoir, ...]
    statistics: str = eqx.field(static=True)

    def __init__(
        self,
        hamiltonian: ArrayLike,
        reservoirs: Sequence[Reservoir],
        statistics: str = "fermion",
    ):
        h = jnp.asarray(hamiltonian)
        h = h.astype(jnp.complex128 if jnp.iscomplexobj(h) else jnp.float64)
        if h.ndim == 0:
            h = h.reshape(1, 1)
        check_hermitian(h, "Model hamiltonian")
        if isinstance(reservoirs, Reservoir):
            reservoirs = (reservoirs,)
        reservoirs = tuple(reservoirs)
        if not reservoirs:
            raise ValueError("Model needs at least one reservoir.")
        for k, r in enumerate(reservoirs):
            if not isinstance(r, Reservoir):
                raise ValueError(f"reservoirs[{k}] must be a jt.Reservoir, got {type(r).__name__}.")
            if r.n_modes != h.shape[0]:
                raise ValueError(
                    f"reservoirs[{k}] coupling vector has length {r.n_modes}, but the "
                    f"hamiltonian has {h.shape[0]} modes; they must match."
                )
        self.hamiltonian = h
        self.reservoirs = reservoirs
        self.statistics = check_statistics(statistics)
        if self.statistics == "boson":
            raise ValueError(
                "statistics='boson' is not available yet (tracked as a separate issue); "
                "use statistics='fermion'."
            )

    @property
    def n_modes(self) -> int:
        return int(self.hamiltonian.shape[0])

    @property
    def n_reservoirs(self) -> int:
        return len(self.reservoirs)

    @property
    def temperatures(self) -> Array:
        return jnp.stack([r.temperature for r in self.reservoirs])

    @property
    def chemical_potentials(self) -> Array:
        return jnp.stack([r.chemical_potential for r in self.reservoirs])

    def spectral_matrix(self, omega) -> Array:
        """Σ_α Γ_α(ω), shape (..., n, n)."""
        return sum(r.spectral_matrix(omega) for r in self.reservoirs)
