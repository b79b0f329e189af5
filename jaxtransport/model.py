r"""The open quadratic system: system Hamiltonian + reservoirs + particle statistics.

One hierarchy: ``AbstractModel`` (a Hamiltonian, reservoirs, statistics) with two concrete
kinds, the number-conserving ``Model`` (H = Σ h_ij a_i† a_j, the n×n fast path) and the
general ``QuadraticModel`` (pairing, squeezing, position coupling; quadrature form).
Every entry point (``jt.response``, ``jt.solve``, ``jt.steady_state``) takes either.

QuadraticModel conventions (ħ = k_B = 1)
---------------------------------------
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

import abc
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._quadrature import half_line_rule
from ._validation import check_finite, check_hermitian, is_concrete, to_jax
from .densities import MirroredDensity
from .drive import Drive
from .nambu import nambu_transform, quadrature_hamiltonian, symplectic_form
from .reservoir import PositionReservoir, Reservoir, check_statistics


def _stack_values(xs) -> Array:
    """(M,) array of per-reservoir scalars: concrete values stacked in NumPy and transferred
    once (``jnp.stack`` dispatches M + 1 eager operations, ~0.3 ms of a default solve),
    traced ones with ``jnp.stack``."""
    if is_concrete(*xs):
        return to_jax(np.stack([np.asarray(x) for x in xs]))
    return jnp.stack(xs)


class AbstractModel(eqx.Module):
    """A quadratic system coupled to thermal reservoirs: a ``hamiltonian`` (the n×n h of
    ``Model`` or the 2n×2n quadrature matrix G of ``QuadraticModel``), a tuple of
    ``reservoirs`` and the particle ``statistics`` ("fermion" | "boson", a static field).

    Units ħ = k_B = 1: Hamiltonian matrices, temperatures and chemical potentials in one energy
    unit of the user's choice; times in its inverse."""

    hamiltonian: eqx.AbstractVar[Array]
    reservoirs: eqx.AbstractVar[tuple]

    @property
    @abc.abstractmethod
    def n_modes(self) -> int:
        """Number of system modes n."""

    @property
    def n_reservoirs(self) -> int:
        return len(self.reservoirs)

    @property
    def temperatures(self) -> Array:
        """(M,) reservoir temperatures (k_B = 1, energy units)."""
        return _stack_values([r.temperature for r in self.reservoirs])

    @property
    def chemical_potentials(self) -> Array:
        """(M,) reservoir chemical potentials (x–x reservoirs: 0)."""
        return _stack_values([r.chemical_potential for r in self.reservoirs])

    @property
    def reservoir_names(self) -> list[str]:
        """Labels of the reservoirs (dimensionless): each ``Reservoir(..., name=...)``, else
        ``"r<index>"``; distinct names required."""
        names = [getattr(r, "name", None) or f"r{k}" for k, r in enumerate(self.reservoirs)]
        if len(set(names)) != len(names):
            raise ValueError(f"reservoir names must be distinct, got {names}.")
        return names


class Model(AbstractModel):
    """A number-conserving quadratic system coupled to thermal reservoirs.

    H = Σ_ij h_ij a_i† a_j + Σ_α H_α + Σ_α (Σ_k,i V_αk,i a_i† c_αk + h.c.).

    **Arguments:**

    - ``hamiltonian``: Hermitian n×n single-particle matrix h (energy units, ħ = 1).
    - ``reservoirs``: sequence of ``jt.Reservoir`` (any number ≥ 1), coupling vectors of length n.
    - ``statistics``: ``"fermion"`` (default) or ``"boson"`` (static).
    - ``drive``: optional ``jt.Drive`` (time-dependent Hamiltonian terms, coupling modulation,
      reservoir bias; see ``jaxtransport.drive``). ``None`` (default): H_S = h for t > 0.
    """

    hamiltonian: Array
    reservoirs: tuple[Reservoir, ...]
    statistics: str = eqx.field(static=True)
    drive: Drive | None = None

    def __init__(
        self,
        hamiltonian: ArrayLike,
        reservoirs: Sequence[Reservoir],
        statistics: str = "fermion",
        drive: Drive | None = None,
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
        if drive is not None:
            if not isinstance(drive, Drive):
                raise ValueError(f"drive must be a jt.Drive, got {type(drive).__name__}.")
            drive = drive.resolved(self.reservoir_names, h.shape[0])
            for k, v in enumerate(drive.matrices):
                check_hermitian(v, f"Drive terms[{k}] matrix of a jt.Model")
        self.drive = drive
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


ReservoirSet = AbstractModel  # the former name of the shared base


class QuadraticModel(AbstractModel):
    """A general quadratic system (quadrature/Majorana form) coupled to thermal reservoirs.

    **Arguments:**

    - ``hamiltonian``: real 2n×2n matrix G (bosons: symmetric, H = ½ r^T G r; fermions:
      antisymmetric, H = (i/2) r^T G r), r = (x_1..x_n, p_1..p_n). Build it from
      (h, Δ) with ``QuadraticModel.fermionic`` / ``.bosonic`` or pass it directly.
    - ``reservoirs``: ``jt.Reservoir`` (exchange coupling, vectors of length n) and, for
      bosons, ``PositionReservoir`` (x–x coupling).
    - ``statistics``: ``"fermion"`` or ``"boson"``.
    - ``energy_offset``: the constant E_0 in H_S (default 0).
    - ``drive``: optional ``jt.Drive`` (``jaxtransport.drive``): terms (V_k, f_k) with V_k
      real 2n×2n quadrature matrices of the same symmetry as G (H_S(t) = ½ r^T (G + Σ f_k V_k)
      r + E_0 for bosons, (i/2) r^T (…) r + E_0 for fermions; from (h_k, Δ_k) with
      ``jt.nambu.quadrature_hamiltonian(h_k, Δ_k, statistics)[0]``, which drops the c-number
      ±½ Tr h_k); coupling modulation s_α(t) of any reservoir (an x–x reservoir's counter-term
      scales as s_α²); a bias Δ_α(t) only on exchange (``jt.Reservoir``) reservoirs. Solved by
      ``jt.Discretised`` (``response/driven_general.py``) and, fermions with exchange leads,
      by the continuum (``response/driven_general_continuum.py``).

    Raises ``ValueError`` for a matrix of the wrong symmetry, x–x reservoirs on fermions
    (mixed statistics), and bosonic models whose total Hamiltonian is not bounded below
    (the system matrix after counter-terms, minus the static bath renormalisation
    2λ_r u u^T per x–x reservoir and ∫Γ(ω)/(2πω)dω per exchange reservoir, must be positive
    definite; see ``stability_matrix``).

    Units ħ = 1: G and E_0 in energy (units of the user's choice, which every other energy, time
    and rate follows).
    """

    hamiltonian: Array
    reservoirs: tuple
    energy_offset: Array
    statistics: str = eqx.field(static=True)
    drive: Drive | None = None

    def __init__(self, hamiltonian: ArrayLike, reservoirs: Sequence, statistics: str = "fermion",
                 energy_offset: ArrayLike = 0.0, drive: Drive | None = None):
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
        self.drive = None if drive is None else _quadratic_drive(self, drive)
        if self.statistics == "boson":
            self._check_bounded_below()

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def fermionic(cls, hopping, reservoirs, pairing=None, drive=None) -> QuadraticModel:
        """H_S = Σ h_ij a_i† a_j + ½ Σ_ij (Δ_ij a_i† a_j† + h.c.), Δ antisymmetric (``drive``
        as for the constructor: quadrature-form terms)."""
        return cls._from_bdg(hopping, pairing, reservoirs, "fermion", drive)

    @classmethod
    def bosonic(cls, hopping, reservoirs, squeezing=None, drive=None) -> QuadraticModel:
        """H_S = Σ h_ij a_i† a_j + ½ Σ_ij (S_ij a_i† a_j† + h.c.), S symmetric (squeezing)."""
        return cls._from_bdg(hopping, squeezing, reservoirs, "boson", drive)

    @classmethod
    def _from_bdg(cls, hopping, pairing, reservoirs, statistics, drive=None):
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
        return cls(g, reservoirs, statistics, energy_offset=e0, drive=drive)

    @classmethod
    def from_model(cls, model: Model) -> QuadraticModel:
        """The same (number-conserving) model in the general formalism, its drive included
        (terms V_k in quadrature form; they must be traceless, as the quadrature form has no
        c-number part f_k(t) Tr V_k / 2)."""
        drive = model.drive
        if drive is not None and drive.matrices:
            mats = []
            for k, v in enumerate(drive.matrices):
                if is_concrete(v) and abs(complex(np.trace(np.asarray(v)))) > 1e-12:
                    raise ValueError(
                        f"QuadraticModel.from_model: drive terms[{k}] has trace "
                        f"{complex(np.trace(np.asarray(v))).real:.3g}; a quadrature-form term "
                        "carries no c-number f_k(t)·Tr V_k/2, so only traceless drive terms "
                        "convert exactly (move the trace into a separate energy shift).")
                mats.append(quadrature_hamiltonian(v, None, model.statistics)[0])
            drive = eqx.tree_at(lambda d: d.matrices, drive, tuple(mats))
        return cls._from_bdg(model.hamiltonian, None, model.reservoirs, model.statistics, drive)

    def nambu_doubled(self) -> Model:
        """The number-conserving ``Model`` of a fermionic model with exchange leads: 2n Nambu
        modes ψ = (a, a†), reservoirs (particle_0..particle_{M−1}, hole_0..hole_{M−1}); the
        hole copy of a lead has the mirrored density g(−ω), chemical potential −μ and vector
        −v*. Its currents give the physical ones as J^N = ½(J^N_p − J^N_h),
        J^E = ½(J^E_p + J^E_h). A drive is doubled too (``doubled_drive``)."""
        model = self
        n = model.n_modes
        t = jnp.asarray(nambu_transform(n))
        hn = 1j * t @ model.hamiltonian @ t.conj().T  # dψ/dt = T G T† ψ = −i 𝓗 ψ
        hn = 0.5 * (hn + hn.conj().T)
        z = jnp.zeros(n, jnp.complex128)
        parts, holes = [], []
        for r in model.reservoirs:
            if not isinstance(r, Reservoir):
                raise ValueError("fermionic continuum needs exchange (jt.Reservoir) leads.")
            parts.append(Reservoir(terms=[(d, jnp.concatenate([v.astype(complex), z]))
                                          for d, v in r.terms],
                                   temperature=r.temperature,
                                   chemical_potential=r.chemical_potential))
            holes.append(Reservoir(terms=[(MirroredDensity(d), jnp.concatenate(
                [z, -jnp.conj(v.astype(complex))])) for d, v in r.terms],
                temperature=r.temperature, chemical_potential=-r.chemical_potential))
        drive = None
        if model.drive is not None:  # particle and hole copies (driven_general_continuum)
            from .response.driven_general_continuum import doubled_drive

            drive = doubled_drive(model)
        return Model(hn, tuple(parts + holes), "fermion", drive=drive)

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


def _quadratic_drive(model: QuadraticModel, drive) -> Drive:
    """``drive`` resolved against a ``QuadraticModel``: real 2n×2n terms of G's symmetry,
    and a bias only on exchange reservoirs (``QuadraticModel``'s docstring)."""
    if not isinstance(drive, Drive):
        raise ValueError(f"drive must be a jt.Drive, got {type(drive).__name__}.")
    drive = drive.resolved(model.reservoir_names, model.hamiltonian.shape[0])
    boson = model.statistics == "boson"
    kind = "symmetric" if boson else "antisymmetric"
    for k, v in enumerate(drive.matrices):
        a = np.asarray(v) if is_concrete(v) else None
        bad = jnp.iscomplexobj(v) and (a is None or np.any(a.imag != 0))
        if a is not None and not bad:
            a = a.real
            err = np.max(np.abs(a - (1.0 if boson else -1.0) * a.T))
            bad = err > 1e-10 * max(1.0, np.max(np.abs(a)))
        if bad:
            raise ValueError(
                f"Drive terms[{k}] of a {model.statistics}ic jt.QuadraticModel must be a real "
                f"{kind} 2n×2n quadrature matrix (the convention of the model's hamiltonian G; "
                "from (h, Δ) use jt.nambu.quadrature_hamiltonian(h, Δ, statistics)[0]).")
    if drive.matrices:
        drive = eqx.tree_at(lambda d: d.matrices, drive,
                            tuple(jnp.real(v).astype(jnp.float64) for v in drive.matrices))
    for k, (res, amp) in enumerate(zip(model.reservoirs, drive.bias, strict=True)):
        if amp is not None and isinstance(res, PositionReservoir):
            raise ValueError(
                f"Drive bias on reservoir {model.reservoir_names[k]!r}: a bias Δ(t) N_α needs "
                "a reservoir whose particle number the coupling conserves (the bias is a "
                "potential on that number); a jt.PositionReservoir (x–x coupling, μ = 0) has "
                "none. Bias is allowed on exchange reservoirs (jt.Reservoir); modulate an x–x "
                "coupling with Drive(coupling=...) instead.")
    return drive


def _reorganisation(dens):
    if hasattr(dens, "reorganisation_energy"):
        return dens.reorganisation_energy()
    return _static_integral(dens, lambda w: dens(w) / w / np.pi)


def _static_weight(dens):
    """∫ dω/2π g(ω)/ω (positive frequencies) for a bosonic exchange bath."""
    return _static_integral(dens, lambda w: dens(w) / w / (2 * np.pi))


def _static_integral(dens, f):
    """∫_0^∞ f(ω) dω on the half-line Gauss–Legendre rule (host side; for validation only)."""
    om, w = half_line_rule(float(dens.scale()) + abs(float(dens.center())))
    return float(np.sum(w * np.asarray(f(jnp.asarray(om)))))
