"""The open quadratic system: system Hamiltonian + reservoirs + particle statistics."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._validation import check_hermitian, is_concrete
from .reservoir import Reservoir, check_statistics


class ReservoirSet(eqx.Module):
    """Properties of a model's ``reservoirs`` tuple, shared by ``jt.Model`` and
    ``jt.QuadraticModel`` (subclasses define the ``reservoirs`` field)."""

    @property
    def n_reservoirs(self) -> int:
        return len(self.reservoirs)

    @property
    def temperatures(self) -> Array:
        """(M,) reservoir temperatures (k_B = 1, energy units)."""
        return jnp.stack([r.temperature for r in self.reservoirs])

    @property
    def chemical_potentials(self) -> Array:
        """(M,) reservoir chemical potentials (x–x reservoirs: 0)."""
        return jnp.stack([r.chemical_potential for r in self.reservoirs])

    @property
    def reservoir_names(self) -> list[str]:
        """Labels of the reservoirs (dimensionless): each ``Reservoir(..., name=...)``, else
        ``"r<index>"``; distinct names required."""
        names = [getattr(r, "name", None) or f"r{k}" for k, r in enumerate(self.reservoirs)]
        if len(set(names)) != len(names):
            raise ValueError(f"reservoir names must be distinct, got {names}.")
        return names


class Model(ReservoirSet):
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
            _check_bosonic(self)

    @property
    def n_modes(self) -> int:
        return int(self.hamiltonian.shape[0])

    def spectral_matrix(self, omega) -> Array:
        """Σ_α Γ_α(ω), shape (..., n, n)."""
        return sum(r.spectral_matrix(omega) for r in self.reservoirs)


def _check_bosonic(model: Model) -> None:
    """Bosons: no spectral weight at ω ≤ μ_α, and no bound state of the total Hamiltonian
    below the highest chemical potential (else the Bose occupations diverge)."""
    leaves = jax.tree_util.tree_leaves(model)
    if not is_concrete(*leaves):
        return
    for k, res in enumerate(model.reservoirs):
        mu = float(res.chemical_potential)
        for dens, _ in res.terms:
            lo = dens.support()[0]
            if not lo >= mu:
                raise ValueError(
                    f"bosonic reservoir {k}: its {type(dens).__name__} density has spectral "
                    f"weight at ω ≤ μ = {mu:g} (support starts at {lo:g}); the Bose function "
                    "diverges there. Bosonic densities must vanish for ω ≤ μ (e.g. jt.Ohmic, "
                    "jt.Drude, jt.FlatBand above μ); a Lorentzian on the whole real axis is "
                    "not a valid bosonic density."
                )
    # H_tot has an eigenvalue below μ_max iff h + Σ(μ_max) has one (ω − h − Σ(ω) increases
    # with ω below the bands): the "reservoir-induced shift" Σ(μ) = ∫dω/2π Γ(ω)/(μ − ω) ≤ 0
    mu_max = float(np.max(np.asarray(model.chemical_potentials)))
    shift = sum(
        np.real(np.asarray(dens.self_energy(jnp.asarray(mu_max)))) * np.outer(
            np.asarray(v), np.asarray(v).conj())
        for res in model.reservoirs for dens, v in res.terms
    )
    heff = np.asarray(model.hamiltonian) + shift
    low = float(np.min(np.linalg.eigvalsh(0.5 * (heff + heff.conj().T))))
    if low < mu_max - 1e-12 * max(1.0, abs(mu_max)):
        raise ValueError(
            f"bosonic model not bounded below: the system Hamiltonian plus the reservoir-"
            f"induced shift Σ(μ) has an eigenvalue {low:.6g} below the highest chemical "
            f"potential μ = {mu_max:g}, i.e. the total Hamiltonian has a bound state below μ "
            "and Bose occupations diverge. Raise the system frequencies or weaken the coupling."
        )
