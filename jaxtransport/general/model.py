r"""General quadratic open systems (pairing, squeezing, position–position coupling).

Conventions (ħ = k_B = 1; physics.md §1, §8)
------------------------------------------
Every mode j has two Hermitian quadratures, x_j = (a_j + a_j†)/√2, p_j = −i(a_j − a_j†)/√2,
ordered r = (x_1..x_n, p_1..p_n); a_j = (x_j + i p_j)/√2.

* **Bosons**: [r_k, r_l] = iΩ_kl, Ω = [[0, 1],[−1, 0]] (n×n blocks). The Hamiltonian is
  H = ½ r^T G r + E_0 with a real symmetric G ("quadrature Hamiltonian matrix"); squeezing
  terms are the parts of G not of the number-conserving form. Heisenberg: dr/dt = ΩG r.
* **Fermions** (Majorana form): {r_k, r_l} = δ_kl (so r_k are Majoranas normalised to r_k² =
  ½). H = (i/2) Σ_kl G_kl r_k r_l + E_0 with a real antisymmetric G. Heisenberg: dr/dt = G r.

Both cases: dr/dt = K r with a real K (``generator``), and a real covariance X evolving as
X(t) = S X(0) S^T, S = e^{Kt}:

* bosons X = V, V_kl = ½⟨{r_k, r_l}⟩ − ⟨r_k⟩⟨r_l⟩ (vacuum V = 1/2);
* fermions X = Γ, Γ_kl = (i/2)⟨[r_k, r_l]⟩ (vacuum Γ = −½ [[0, 1],[−1, 0]]).

A quadratic observable with real matrix Q of the same symmetry as G has
⟨½ r^T Q r⟩_sym = ½ Σ_kl Q_kl X_kl (bosons: plus ½ d^T Q d for a displacement d;
fermions: the observable (i/2) Σ Q_kl r_k r_l). In particular ⟨H⟩ = ½ Σ G_kl X_kl + E_0.

Number-conserving/BdG input. For h (Hermitian) and pairing Δ (fermions: antisymmetric, bosons:
symmetric), H = Σ h_ij a_i† a_j + ½ Σ_ij (Δ_ij a_i† a_j† + h.c.) is converted exactly,
including the constant E_0 (so ⟨H⟩ in the vacuum is 0, as for the number-conserving engine).

Reservoirs
----------
* ``jt.Reservoir`` (exchange / tunnelling coupling, the engine's convention): bath modes c_k at
  ω_k, H_I = Σ_k,i (V_k,i a_i† c_k + h.c.), Γ(ω) = 2π Σ_k V_k V_k† δ(ω − ω_k) = g(ω) v v†.
  Fermions: any real-axis density; bosons: the density must vanish for ω ≤ μ.
* ``PositionReservoir`` (bosons; Caldeira–Leggett): bath oscillators with dimensionless
  quadratures (q_k, π_k), H_B = Σ ω_k (q_k² + π_k²)/2, H_I = X Σ_k g_k q_k with
  X = u · x (a real vector u over the system positions), spectral density
  J(ω) = (π/2) Σ_k g_k² δ(ω − ω_k) (ω > 0). The counter-term ΔH = λ_r X²,
  λ_r = (1/π)∫_0^∞ J(ω)/ω dω (the reorganisation energy), is added when
  ``counter_term=True`` (default); it makes H bounded below for any bath whenever the bare
  system is. The counter-term is counted as part of the coupling energy of that reservoir.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validation import as_float_array, check_finite, check_hermitian, check_positive, is_concrete
from ..model import Model, ReservoirSet
from ..reservoir import Reservoir, check_statistics
from ..spectral_density import AbstractSpectralDensity


# ------------------------------------------------------------------------------------------
# Nambu <-> quadrature transforms
# ------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------
# Drude–Lorentz density and position–position reservoirs
# ------------------------------------------------------------------------------------------
class DrudeLorentz(AbstractSpectralDensity):
    r"""Drude–Lorentz (Ohmic with Lorentzian cutoff) bath spectral density for bosons,

    J(ω) = 2 λ γ ω / (ω² + γ²) for ω > 0 (0 otherwise),

    - ``reorganisation`` (λ > 0): reorganisation energy, λ = (1/π)∫_0^∞ J(ω)/ω dω;
    - ``cutoff`` (γ > 0): Drude frequency (inverse memory time).

    With x–x coupling its friction kernel is η(τ) = 2λ e^{−γτ} and its response function
    χ(τ) = (2/π)∫_0^∞ J sin ωτ dω = 2λγ e^{−γτ} (τ > 0): a single exponential, so the
    ``GeneralContinuum`` closure needs one auxiliary variable per Drude term.
    Low-frequency (Ohmic) friction: J ≈ (2λ/γ) ω.
    """

    reorganisation: Array
    cutoff: Array

    def __init__(self, reorganisation: ArrayLike, cutoff: ArrayLike):
        self.reorganisation = as_float_array(reorganisation, "DrudeLorentz reorganisation", ndim=0)
        self.cutoff = as_float_array(cutoff, "DrudeLorentz cutoff", ndim=0)
        check_positive(self.reorganisation, "DrudeLorentz reorganisation")
        check_positive(self.cutoff, "DrudeLorentz cutoff")

    def __call__(self, omega):
        omega = jnp.asarray(omega)
        val = self.analytic(omega)
        return jnp.where(omega.real > 0, val, 0.0) if not jnp.iscomplexobj(omega) else val

    def analytic(self, omega):
        """2λγω/(ω² + γ²), the analytic continuation (also for complex ω)."""
        return 2 * self.reorganisation * self.cutoff * omega / (omega**2 + self.cutoff**2)

    def drude_terms(self):
        """((λ, γ),): the exponential terms of the response function."""
        return ((self.reorganisation, self.cutoff),)

    def reorganisation_energy(self):
        return self.reorganisation

    def scale(self):
        return self.cutoff

    def center(self):
        return jnp.asarray(0.0)


class CutoffDrudeLorentz(DrudeLorentz):
    r"""Drude–Lorentz density with a second, soft high-frequency cutoff Λ (bosons, ω > 0),

    J(ω) = 2 λ γ ω / (ω² + γ²) · Λ² / (ω² + Λ²),

    i.e. tails ∝ 1/ω³ instead of 1/ω, so ∫ωJ(ω)dω is finite: energy currents and coupling
    energies of a finite discretised bath converge (a plain Drude–Lorentz bath gives every
    high-frequency mode the same energy exchange, ωJ → 2λγ). Exactly two Drude terms
    (partial fractions, one with negative weight), so the ``GeneralContinuum`` closure stays
    exact: λ₁ = λΛ²/(Λ² − γ²) at γ and λ₂ = −λγΛ/(Λ² − γ²) at Λ; reorganisation energy
    (1/π)∫J/ω dω = λΛ/(Λ + γ). Requires Λ ≥ 1.5 γ (well separated poles).
    """

    high_cutoff: Array

    def __init__(self, reorganisation: ArrayLike, cutoff: ArrayLike, high_cutoff: ArrayLike):
        super().__init__(reorganisation, cutoff)
        self.high_cutoff = as_float_array(high_cutoff, "CutoffDrudeLorentz high_cutoff", ndim=0)
        check_positive(self.high_cutoff, "CutoffDrudeLorentz high_cutoff")
        if is_concrete(self.high_cutoff, self.cutoff) and not (
                float(self.high_cutoff) >= 1.5 * float(self.cutoff)):
            raise ValueError(
                f"CutoffDrudeLorentz needs high_cutoff >= 1.5 * cutoff (got high_cutoff = "
                f"{float(self.high_cutoff):g}, cutoff = {float(self.cutoff):g}).")

    def analytic(self, omega):
        """2λγω/(ω² + γ²) · Λ²/(ω² + Λ²) (also for complex ω)."""
        big = self.high_cutoff
        return super().analytic(omega) * big**2 / (omega**2 + big**2)

    def drude_terms(self):
        lam, gam, big = self.reorganisation, self.cutoff, self.high_cutoff
        den = big**2 - gam**2
        return ((lam * big**2 / den, gam), (-lam * gam * big / den, big))

    def reorganisation_energy(self):
        return self.reorganisation * self.high_cutoff / (self.high_cutoff + self.cutoff)


class PositionReservoir(eqx.Module):
    """A bosonic reservoir coupled through the system position X = u·x (Caldeira–Leggett).

    H_α = Σ_k ω_k (q_k² + π_k²)/2, H_I^α = X Σ_k g_k q_k, J(ω) = (π/2) Σ g_k² δ(ω − ω_k);
    with ``counter_term=True`` (default) the system also gets λ_r X², λ_r = (1/π)∫J/ω dω
    (counted in the coupling energy of this reservoir). Thermal at ``temperature``; the
    chemical potential is 0 (the bath's number is not conserved by H_I).

    **Arguments:** ``spectral_density`` (e.g. ``DrudeLorentz``; must vanish for ω ≤ 0),
    ``temperature`` (> 0), ``coupling`` (real vector u of length n), ``counter_term``.
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


# ------------------------------------------------------------------------------------------
# the model
# ------------------------------------------------------------------------------------------
class QuadraticModel(ReservoirSet):
    """A general quadratic system (quadrature/Majorana form) coupled to thermal reservoirs.

    **Arguments:**

    - ``hamiltonian``: real 2n×2n matrix G (bosons: symmetric, H = ½ r^T G r; fermions:
      antisymmetric, H = (i/2) r^T G r), r = (x_1..x_n, p_1..p_n). Build it from
      (h, Δ) with ``QuadraticModel.fermionic`` / ``.bosonic`` or pass it directly.
    - ``reservoirs``: ``jt.Reservoir`` (exchange coupling, vectors of length n) and, for
      bosons, ``PositionReservoir`` (x–x coupling).
    - ``statistics``: ``"fermion"`` or ``"boson"``.
    - ``energy_offset``: the constant E_0 in H_S (default 0).

    Raises ``ValueError`` for a matrix of the wrong symmetry, x–x reservoirs on fermions
    (mixed statistics), and bosonic models whose total Hamiltonian is not bounded below
    (the system matrix after counter-terms, minus the static bath renormalisation
    2λ_r u u^T per x–x reservoir and ∫Γ(ω)/(2πω)dω per exchange reservoir, must be positive
    definite; see ``stability_matrix``).
    """

    hamiltonian: Array
    reservoirs: tuple
    energy_offset: Array
    statistics: str = eqx.field(static=True)

    def __init__(self, hamiltonian: ArrayLike, reservoirs: Sequence, statistics: str = "fermion",
                 energy_offset: ArrayLike = 0.0):
        self.statistics = check_statistics(statistics)
        g = jnp.asarray(hamiltonian)
        if jnp.iscomplexobj(g):
            raise ValueError("QuadraticModel hamiltonian must be a real quadrature matrix "
                             "(use QuadraticModel.fermionic/.bosonic for (h, Δ) input).")
        g = g.astype(jnp.float64)
        if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] % 2:
            raise ValueError(f"QuadraticModel hamiltonian must be 2n×2n, got shape {g.shape}.")
        check_finite(g, "QuadraticModel hamiltonian")
        if is_concrete(g):
            a = np.asarray(g)
            sign = 1.0 if self.statistics == "boson" else -1.0
            err = np.max(np.abs(a - sign * a.T))
            kind = "symmetric" if sign > 0 else "antisymmetric"
            if err > 1e-10 * max(1.0, np.max(np.abs(a))):
                raise ValueError(f"the {self.statistics} quadrature Hamiltonian must be real "
                                 f"{kind} (max asymmetry {err:.3g}).")
        if isinstance(reservoirs, Reservoir | PositionReservoir):
            reservoirs = (reservoirs,)
        reservoirs = tuple(reservoirs)
        if not reservoirs:
            raise ValueError("QuadraticModel needs at least one reservoir.")
        n = g.shape[0] // 2
        for k, r in enumerate(reservoirs):
            if not isinstance(r, Reservoir | PositionReservoir):
                raise ValueError(f"reservoirs[{k}] must be a jt.Reservoir or "
                                 f"jt.PositionReservoir, got {type(r).__name__}.")
            if isinstance(r, PositionReservoir) and self.statistics != "boson":
                raise ValueError(
                    f"reservoirs[{k}] is a PositionReservoir (bosonic oscillator bath) but the "
                    "model is fermionic: mixed statistics are not allowed.")
            if r.n_modes != n:
                raise ValueError(f"reservoirs[{k}] couples to {r.n_modes} modes, the "
                                 f"hamiltonian has {n}.")
        self.hamiltonian = g
        self.reservoirs = reservoirs
        self.energy_offset = jnp.asarray(energy_offset, jnp.float64)
        if self.statistics == "boson":
            self._check_bounded_below()

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def fermionic(cls, hopping, reservoirs, pairing=None) -> QuadraticModel:
        """H_S = Σ h_ij a_i† a_j + ½ Σ_ij (Δ_ij a_i† a_j† + h.c.), Δ antisymmetric."""
        return cls._from_bdg(hopping, pairing, reservoirs, "fermion")

    @classmethod
    def bosonic(cls, hopping, reservoirs, squeezing=None) -> QuadraticModel:
        """H_S = Σ h_ij a_i† a_j + ½ Σ_ij (S_ij a_i† a_j† + h.c.), S symmetric (squeezing)."""
        return cls._from_bdg(hopping, squeezing, reservoirs, "boson")

    @classmethod
    def _from_bdg(cls, hopping, pairing, reservoirs, statistics):
        h = jnp.asarray(hopping)
        h = h.reshape(1, 1) if h.ndim == 0 else h
        check_hermitian(h, "hopping matrix h")
        if pairing is not None:
            d = jnp.asarray(pairing)
            d = d.reshape(1, 1) if d.ndim == 0 else d
            if d.shape != h.shape:
                raise ValueError(f"pairing/squeezing must be {h.shape}, got {d.shape}.")
            check_finite(d, "pairing/squeezing matrix")
            sign = -1.0 if statistics == "fermion" else 1.0
            if is_concrete(d) and not np.allclose(np.asarray(d), sign * np.asarray(d).T,
                                                  atol=1e-12):
                kind = "antisymmetric" if sign < 0 else "symmetric"
                raise ValueError(f"the {statistics} pairing matrix must be {kind} "
                                 f"(Δ_ij a_i†a_j† {'=-' if sign < 0 else '='} Δ_ji a_j†a_i†).")
            pairing = d
        g, e0 = quadrature_hamiltonian(h, pairing, statistics)
        return cls(g, reservoirs, statistics, energy_offset=e0)

    @classmethod
    def from_model(cls, model: Model) -> QuadraticModel:
        """The same (number-conserving) model in the general formalism."""
        return cls._from_bdg(model.hamiltonian, None, model.reservoirs, model.statistics)

    # -- structure -------------------------------------------------------------------------
    @property
    def n_modes(self) -> int:
        return int(self.hamiltonian.shape[0] // 2)

    def form(self) -> np.ndarray:
        """E with dr/dt = E G r: Ω (bosons) or the identity (fermions)."""
        n = self.n_modes
        return symplectic_form(n) if self.statistics == "boson" else np.eye(2 * n)

    def position_vector(self, k: int) -> Array:
        """(u, 0) ∈ R^{2n}: X_k = u·x of an x–x reservoir."""
        return jnp.concatenate([self.reservoirs[k].coupling, jnp.zeros(self.n_modes)])

    def counter_term_matrix(self) -> Array:
        """ΔG_k = 2 λ_r u u^T (x block) per reservoir (zero without counter-term), (M, 2n, 2n)."""
        out = []
        for k, r in enumerate(self.reservoirs):
            if isinstance(r, PositionReservoir) and r.counter_term:
                e = self.position_vector(k)
                out.append(2.0 * r.reorganisation_energy() * jnp.outer(e, e))
            else:
                out.append(jnp.zeros_like(self.hamiltonian))
        return jnp.stack(out)

    def dressed_hamiltonian(self) -> Array:
        """G + Σ_k ΔG_k (the system matrix the dynamics uses)."""
        return self.hamiltonian + jnp.sum(self.counter_term_matrix(), axis=0)

    def stability_matrix(self) -> Array:
        """Bosons: G + ΔG − Σ (static bath renormalisation); must be positive definite for
        H_total to be bounded below (completing the square in every bath mode)."""
        g = self.dressed_hamiltonian()
        for k, r in enumerate(self.reservoirs):
            if isinstance(r, PositionReservoir):
                e = self.position_vector(k)
                g = g - 2.0 * _reorganisation(r.spectral_density) * jnp.outer(e, e)
            else:
                hs = 0.0
                for dens, v in r.terms:
                    hs = hs + _static_weight(dens) * jnp.outer(v, v.conj())
                g = g - quadrature_hamiltonian(hs, None, "boson")[0]
        return g

    def _check_bounded_below(self):
        if not is_concrete(*jax.tree_util.tree_leaves(self)):
            return
        for k, r in enumerate(self.reservoirs):
            if isinstance(r, Reservoir):
                for dens, _ in r.terms:
                    probe = jnp.asarray([-5.0, -1.0, -1e-3, 0.0]) + r.chemical_potential
                    w = np.asarray(dens(probe))
                    if np.any(w > 0):
                        raise ValueError(
                            f"reservoirs[{k}]: a bosonic exchange reservoir needs a spectral "
                            "density that vanishes for ω ≤ μ (the Bose function diverges); "
                            "a Lorentzian on the whole real axis is not a valid bosonic bath.")
        ev_s = np.linalg.eigvalsh(np.asarray(self.dressed_hamiltonian()))
        if ev_s.min() <= 0:
            raise ValueError(
                "bosonic system Hamiltonian (after counter-terms) is not bounded below: the "
                f"quadrature matrix has eigenvalue {ev_s.min():.4g} <= 0.")
        ev = np.linalg.eigvalsh(np.asarray(self.stability_matrix()))
        if ev.min() <= 0:
            raise ValueError(
                "total Hamiltonian is not bounded below: the system matrix minus the static "
                f"bath renormalisation has eigenvalue {ev.min():.4g} <= 0 (add the "
                "counter-term, or weaken the coupling).")


def _reorganisation(dens):
    if hasattr(dens, "reorganisation_energy"):
        return dens.reorganisation_energy()
    return _static_integral(dens, lambda w: dens(w) / w / np.pi)


def _static_weight(dens):
    """∫ dω/2π g(ω)/ω (positive frequencies) for a bosonic exchange bath."""
    return _static_integral(dens, lambda w: dens(w) / w / (2 * np.pi))


def _static_integral(dens, f):
    """∫_0^∞ f(ω) dω with ω = s·u/(1−u) Gauss–Legendre (host side; for validation only)."""
    x, w = np.polynomial.legendre.leggauss(400)
    u = 0.5 * (x + 1)
    s = float(dens.scale()) + abs(float(dens.center()))
    om = s * u / (1 - u)
    return float(np.sum(0.5 * w * np.asarray(f(jnp.asarray(om))) * s / (1 - u) ** 2))
