r"""Thermal reservoirs and occupation functions.

A reservoir α is a free Gaussian bath, initially thermal at temperature T_α and chemical
potential μ_α, coupled to the system through
:math:`\Gamma_\alpha(\omega) = \sum_j g_j(\omega)\, v_j v_j^\dagger`.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._validation import as_float_array, check_finite, check_positive
from .spectral_density import AbstractSpectralDensity

STATISTICS = ("fermion", "boson")


def check_statistics(statistics: str) -> str:
    if statistics not in STATISTICS:
        raise ValueError(f"statistics must be one of {STATISTICS}, got {statistics!r}.")
    return statistics


def occupation(omega, temperature, chemical_potential, statistics: str = "fermion"):
    """Fermi (1/(e^x + 1)) or Bose (1/(e^x − 1)) function, x = (ω − μ)/T."""
    x = (omega - chemical_potential) / temperature
    if statistics == "fermion":
        # numerically stable logistic
        return 0.5 * (1.0 - jnp.tanh(0.5 * x))
    return 1.0 / jnp.expm1(x)


class Reservoir(eqx.Module):
    """A thermal reservoir.

    **Arguments:**

    - ``spectral_density``: a spectral density g(ω) (e.g. ``jt.Lorentzian``), used with
      ``coupling`` (a vector over the system modes), giving Γ(ω) = g(ω) v v†; **or** omit
      ``coupling`` and pass ``terms=[(g_1, v_1), (g_2, v_2), ...]`` for Γ = Σ_j g_j v_j v_j†.
    - ``temperature``: T > 0 (energy units, k_B = 1).
    - ``chemical_potential``: μ (energy units), default 0.
    - ``coupling``: complex vector of length n (system modes), v_i = coupling to mode i.
    - ``name``: optional label (e.g. ``"hot"``), used as the reservoir coordinate of the
      outputs (``Model.reservoir_names``: sweep stores, the demo, ``jaxtransport optimise``).

    Temperatures, chemical potentials, couplings and spectral parameters are array leaves:
    changing their values never recompiles and ``jax.grad`` reaches them.
    """

    terms: tuple[tuple[AbstractSpectralDensity, Array], ...]
    temperature: Array
    chemical_potential: Array
    name: str | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        spectral_density: AbstractSpectralDensity | None = None,
        temperature: ArrayLike = 1.0,
        chemical_potential: ArrayLike = 0.0,
        coupling: ArrayLike | None = None,
        *,
        terms: Sequence[tuple[AbstractSpectralDensity, ArrayLike]] | None = None,
        name: str | None = None,
    ):
        if terms is None:
            if spectral_density is None or coupling is None:
                raise ValueError(
                    "Reservoir needs spectral_density and coupling (a vector over system "
                    "modes), or terms=[(density, vector), ...]."
                )
            terms = [(spectral_density, coupling)]
        elif spectral_density is not None or coupling is not None:
            raise ValueError("Give either (spectral_density, coupling) or terms=..., not both.")
        out = []
        for k, term in enumerate(terms):
            if len(term) != 2:
                raise ValueError(f"Reservoir term {k} must be a (density, vector) pair.")
            dens, vec = term
            if not isinstance(dens, AbstractSpectralDensity):
                raise ValueError(
                    f"Reservoir term {k}: spectral density must be an AbstractSpectralDensity "
                    f"(e.g. jt.Lorentzian), got {type(dens).__name__}."
                )
            v = jnp.asarray(vec)
            v = v.astype(jnp.complex128 if jnp.iscomplexobj(v) else jnp.float64)
            if v.ndim != 1 or v.shape[0] == 0:
                raise ValueError(
                    f"Reservoir coupling must be a non-empty 1-D vector over system modes, "
                    f"got shape {v.shape}."
                )
            check_finite(v, "Reservoir coupling")
            out.append((dens, v))
        if len({v.shape[0] for _, v in out}) != 1:
            raise ValueError("All coupling vectors of a reservoir must have the same length.")
        self.terms = tuple(out)
        self.temperature = as_float_array(temperature, "temperature", ndim=0)
        self.chemical_potential = as_float_array(chemical_potential, "chemical_potential", ndim=0)
        check_positive(self.temperature, "Reservoir temperature")
        check_finite(self.chemical_potential, "Reservoir chemical_potential")
        if name is not None and not (isinstance(name, str) and name.strip()):
            raise ValueError(f"Reservoir name must be a non-empty string (a label such as "
                             f"'hot'), got {name!r}.")
        self.name = name

    @property
    def n_modes(self) -> int:
        """Number of system modes the coupling vectors act on."""
        return int(self.terms[0][1].shape[0])

    def spectral_matrix(self, omega) -> Array:
        """Γ(ω) as an (..., n, n) matrix."""
        omega = jnp.asarray(omega)
        out = 0.0
        for dens, v in self.terms:
            out = out + dens(omega)[..., None, None] * jnp.outer(v, v.conj())
        return out
