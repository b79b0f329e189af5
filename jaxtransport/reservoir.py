r"""Thermal reservoirs (one family, two couplings) and occupation functions.

A reservoir α is a free Gaussian bath, initially thermal at temperature T_α and chemical
potential μ_α. ``Reservoir``: exchange (tunnelling) coupling Σ_k (V_k·a† c_k + h.c.), with
:math:`\Gamma_\alpha(\omega) = \sum_j g_j(\omega)\, v_j v_j^\dagger` (any model).
``PositionReservoir``: bosonic oscillators coupled through the system position u·x
(Caldeira–Leggett; ``jt.QuadraticModel`` only), μ = 0.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._validation import as_float_array, check_finite, check_positive, is_concrete
from .densities import AbstractSpectralDensity

STATISTICS = ("fermion", "boson")


def check_statistics(statistics: str) -> str:
    if statistics not in STATISTICS:
        raise ValueError(f"statistics must be one of {STATISTICS}, got {statistics!r}.")
    return statistics


@functools.partial(jax.jit, static_argnames="statistics")  # one compiled program per shape,
def occupation(omega, temperature, chemical_potential, statistics: str = "fermion"):  # not 6
    """Fermi (1/(e^x + 1)) or Bose (1/(e^x − 1)) function, x = (ω − μ)/T.

    Units ħ = k_B = 1: ω, μ and T in the same energy units; the occupation is dimensionless.

    Examples:
        >>> import jaxtransport as jt
        >>> float(jt.occupation(0.0, 1.0, 0.0))              # Fermi function at ω = μ
        0.5
        >>> round(float(jt.occupation(1.0, 1.0, 0.0, "boson")), 6)
        0.581977
    """
    x = (omega - chemical_potential) / temperature
    if statistics == "fermion":
        # numerically stable logistic
        return 0.5 * (1.0 - jnp.tanh(0.5 * x))
    return 1.0 / jnp.expm1(x)


class AbstractReservoir(eqx.Module):
    """A thermal reservoir: ``temperature``, ``chemical_potential`` (array leaves), its
    density ``terms`` ((g_j, v_j), ...) and the number of system modes it couples to.
    Concrete kinds: ``Reservoir`` (exchange coupling) and ``PositionReservoir`` (x–x).

    Units ħ = k_B = 1: temperature, chemical potential and spectral densities in the units of h."""

    temperature: eqx.AbstractVar[Array]
    chemical_potential: eqx.AbstractVar[Array]
    terms: eqx.AbstractVar[tuple]

    @property
    @abc.abstractmethod
    def n_modes(self) -> int:
        """Number of system modes the coupling vectors run over."""


class Reservoir(AbstractReservoir):
    """A thermal reservoir with exchange (tunnelling) coupling.

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


class PositionReservoir(AbstractReservoir):
    """A bosonic reservoir coupled through the system position X = u·x (Caldeira–Leggett).

    H_α = Σ_k ω_k (q_k² + π_k²)/2, H_I^α = X Σ_k g_k q_k, J(ω) = (π/2) Σ g_k² δ(ω − ω_k);
    with ``counter_term=True`` (default) the system also gets λ_r X², λ_r = (1/π)∫J/ω dω
    (counted in the coupling energy of this reservoir). Thermal at ``temperature``; the
    chemical potential is 0 (the bath's number is not conserved by H_I).

    **Arguments:** ``spectral_density`` (e.g. ``DrudeLorentz``; must vanish for ω ≤ 0),
    ``temperature`` (> 0), ``coupling`` (real vector u of length n), ``counter_term``.

    Units ħ = k_B = 1: ``temperature``, J(ω) and λ_r in the units of h; ``coupling`` u
    multiplies the dimensionless position quadratures.
    """

    spectral_density: AbstractSpectralDensity
    coupling: Array
    temperature: Array
    chemical_potential: Array
    counter_term: bool = eqx.field(static=True)

    def __init__(self, spectral_density, temperature: ArrayLike = 1.0,
                 coupling: ArrayLike | None = None, *, counter_term: bool = True):
        if not isinstance(spectral_density, AbstractSpectralDensity):
            raise ValueError("PositionReservoir spectral_density must be a spectral density "
                             f"(e.g. jt.DrudeLorentz), got {type(spectral_density).__name__}.")
        if coupling is None:
            raise ValueError("PositionReservoir needs coupling=u (a real vector over the "
                             "system positions).")
        u = jnp.asarray(coupling)
        if jnp.iscomplexobj(u):
            raise ValueError("PositionReservoir coupling must be real (X = u·x is Hermitian).")
        u = u.astype(jnp.float64)
        if u.ndim != 1 or u.shape[0] == 0:
            raise ValueError(f"PositionReservoir coupling must be a 1-D vector, got {u.shape}.")
        check_finite(u, "PositionReservoir coupling")
        if is_concrete(*jax.tree_util.tree_leaves(spectral_density)):
            neg = np.asarray(spectral_density(jnp.asarray([-1.0, -1e-3, 0.0])))
            if np.any(neg != 0):
                raise ValueError("PositionReservoir spectral density must vanish for ω ≤ 0 "
                                 "(bath oscillators have positive frequencies).")
        self.spectral_density = spectral_density
        self.coupling = u
        self.temperature = as_float_array(temperature, "temperature", ndim=0)
        check_positive(self.temperature, "PositionReservoir temperature")
        self.chemical_potential = jnp.asarray(0.0)
        self.counter_term = bool(counter_term)

    @property
    def n_modes(self) -> int:
        return int(self.coupling.shape[0])

    @property
    def terms(self):
        return ((self.spectral_density, self.coupling),)

    def reorganisation_energy(self):
        d = self.spectral_density
        if hasattr(d, "reorganisation_energy"):
            return d.reorganisation_energy()
        raise ValueError(f"{type(d).__name__} has no closed-form reorganisation energy; "
                         "give counter_term=False or use DrudeLorentz.")
