r"""Gaussian states of the system and their von Neumann entropy.

* ``GaussianState``: number-conserving, by the correlation matrix C_ij = ⟨a_j† a_i⟩.
* ``CovarianceState``: any Gaussian state (pairing, squeezing, displacement), by its
  quadrature covariance. Bosons: V_kl = ½⟨{r_k, r_l}⟩ − d_k d_l (real symmetric) and
  displacement d = ⟨r⟩; physical iff V + iΩ/2 ≥ 0 (uncertainty principle). Fermions: Majorana
  covariance Γ_kl = (i/2)⟨[r_k, r_l]⟩ (real antisymmetric, {r_k, r_l} = δ_kl); physical iff the
  eigenvalues of iΓ lie in [−½, ½]; pure iff (2Γ)² = −1. Quadratures r = (x, p): ``nambu.py``.

Number-conserving link: with the Nambu correlation C_N[i, j] = ⟨ψ_j† ψ_i⟩ of
ψ = (a, a†) = T r, C_N = T (X_nc^T) T† where ⟨r_k r_l⟩ = X_nc,kl: fermions
⟨r r^T⟩ = ½ − iΓ, bosons ⟨r r^T⟩ = V + dd^T + iΩ/2. For a number-conserving state
C_N = [[C, 0], [0, 1 ∓ C^T]] with C_ij = ⟨a_j† a_i⟩ (upper sign fermions).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._validation import check_correlation, check_hermitian, check_positive, is_concrete
from .nambu import (
    covariance_from_correlation,
    covariance_from_nambu,
    nambu_correlation,
    symplectic_form,
)
from .reservoir import check_statistics, occupation


class AbstractState(eqx.Module):
    """A Gaussian state of n system modes (``statistics`` a static field). Concrete kinds:
    ``GaussianState`` (number-conserving, C_ij = ⟨a_j† a_i⟩) and ``CovarianceState`` (any
    Gaussian state: quadrature covariance and displacement).

    Units: correlation and covariance matrices are dimensionless (C_ij = <a_j† a_i>)."""

    @property
    @abc.abstractmethod
    def n_modes(self) -> int:
        """Number of system modes n."""


class GaussianState(AbstractState):
    """A Gaussian (quasi-free) state given by its correlation matrix C0[i, j] = <a_j† a_i>.

    Fermions need 0 ≤ C0 ≤ 1 (eigenvalues are occupations of natural orbitals); bosons C0 ≥ 0.
    ``correlation`` may carry leading batch axes (..., n, n) for vmapped evaluation.

    Units: C0 is dimensionless (occupations). Raises ``ValueError`` when C0 is not Hermitian or
    its eigenvalues leave [0, 1] (fermions) or [0, ∞) (bosons) by more than ``atol``.
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


class CovarianceState(AbstractState):
    """A Gaussian state of n modes in covariance form.

    **Arguments:** ``covariance`` (2n×2n real: V for bosons, Γ for fermions; leading batch
    axes allowed), ``statistics``, ``mean`` (bosons only: displacement d = ⟨r⟩, shape
    (..., 2n); default 0), ``atol`` (tolerance of the physicality checks).

    Raises ``ValueError`` if the matrix has the wrong symmetry, violates the uncertainty
    principle V + iΩ/2 ≥ 0 (bosons) or |eig(iΓ)| ≤ ½ (fermions), or a fermionic state is
    given a displacement.

    Units: the covariance (V or Γ) and the displacement of the dimensionless quadratures are
    dimensionless.
    """

    covariance: Array
    mean: Array
    statistics: str = eqx.field(static=True)

    def __init__(self, covariance: ArrayLike, statistics: str = "boson",
                 mean: ArrayLike | None = None, *, atol: float = 1e-10):
        self.statistics = check_statistics(statistics)
        x = jnp.asarray(covariance)
        if jnp.iscomplexobj(x):
            raise ValueError("covariance must be real (V or Γ are real matrices).")
        x = x.astype(jnp.float64)
        if x.ndim < 2 or x.shape[-1] != x.shape[-2] or x.shape[-1] % 2:
            raise ValueError(f"covariance must be (..., 2n, 2n), got shape {x.shape}.")
        n = x.shape[-1] // 2
        if mean is not None and self.statistics == "fermion":
            raise ValueError("fermionic Gaussian states have no displacement (mean must be "
                             "None): odd operators have zero expectation by parity.")
        d = jnp.zeros(x.shape[:-1]) if mean is None else jnp.asarray(mean, jnp.float64)
        if d.shape[-1] != 2 * n:
            raise ValueError(f"mean must have shape (..., {2 * n}), got {d.shape}.")
        if is_concrete(x):
            _check_physical(np.asarray(x), self.statistics, atol)
        self.covariance = x
        self.mean = d

    @property
    def n_modes(self) -> int:
        return int(self.covariance.shape[-1] // 2)

    def second_moment(self) -> Array:
        """X + d d^T (what quadratic observables contract with)."""
        return self.covariance + self.mean[..., :, None] * self.mean[..., None, :]

    # -- conversions -----------------------------------------------------------------------
    @classmethod
    def from_nambu(cls, nambu_correlation, statistics: str, *, atol: float = 1e-10):
        """From C_N[i, j] = ⟨ψ_j† ψ_i⟩, ψ = (a, a†) (2n×2n; zero displacement)."""
        return cls(covariance_from_nambu(nambu_correlation, statistics), statistics, atol=atol)

    def to_nambu(self) -> Array:
        """C_N[i, j] = ⟨ψ_j† ψ_i⟩ (includes the displacement for bosons)."""
        return nambu_correlation(self.covariance, self.mean, self.statistics)

    @classmethod
    def from_gaussian_state(cls, state: GaussianState | ArrayLike, statistics: str | None = None):
        """From a number-conserving ``jt.GaussianState`` (C_ij = ⟨a_j† a_i⟩)."""
        if isinstance(state, GaussianState):
            c, statistics = state.correlation, state.statistics
        else:
            c = jnp.asarray(state)
            statistics = statistics or "fermion"
        return cls(covariance_from_correlation(c, statistics), statistics)

    def to_gaussian_state(self, *, atol: float = 1e-10) -> GaussianState:
        """The ``jt.GaussianState`` (raises if the state has anomalous correlations ⟨aa⟩ or a
        displacement, i.e. is not number-conserving)."""
        cn = self.to_nambu()
        n = self.n_modes
        if is_concrete(cn):
            anomalous = float(np.max(np.abs(np.asarray(cn)[..., :n, n:]))) if n else 0.0
            if anomalous > atol:
                raise ValueError(f"state is not number-conserving (max |⟨a a⟩| = "
                                 f"{anomalous:.3g}); it has no jt.GaussianState form.")
        return GaussianState(cn[..., :n, :n], self.statistics, atol=max(atol, 1e-10))

    @classmethod
    def thermal(cls, hamiltonian, temperature, statistics: str) -> CovarianceState:
        """Gibbs state of the isolated system H = ½ r^T G r (bosons, G > 0) or (i/2) r^T G r
        (fermions) at temperature T (μ = 0): fermions Γ = (i/2) tanh(iG/2T); bosons
        V = G^{-1/2} F(iG^{1/2}ΩG^{1/2}) G^{-1/2}, F(z) = ½|z| coth(|z|/2T) (normal modes)."""
        g = np.asarray(hamiltonian, float)
        n = g.shape[0] // 2
        t = float(temperature)
        if statistics == "fermion":
            e, u = np.linalg.eigh(1j * g)
            x = (0.5j * (u * np.tanh(e / (2 * t))) @ u.conj().T).real
            return cls(x, "fermion")
        # bosons: Williamson via G^{1/2} Ω G^{1/2} (real antisymmetric)
        e, w = np.linalg.eigh(g)
        if e.min() <= 0:
            raise ValueError("thermal state needs a positive-definite bosonic Hamiltonian.")
        gh = (w * np.sqrt(e)) @ w.T
        ghi = (w / np.sqrt(e)) @ w.T
        om = symplectic_form(n)
        lam, u = np.linalg.eigh(1j * gh @ om @ gh)  # ±ω_k
        # V = G^{-1/2} F(iG^{1/2}ΩG^{1/2}) G^{-1/2} with F(z) = ½|z| coth(|z|/2T)
        f = 0.5 * np.abs(lam) / np.tanh(np.abs(lam) / (2 * t))
        v = ghi @ ((u * f) @ u.conj().T).real @ ghi
        return cls(0.5 * (v + v.T), "boson")


def _check_physical(x, statistics, atol):
    n = x.shape[-1] // 2
    flat = x.reshape((-1,) + x.shape[-2:])
    sign = 1.0 if statistics == "boson" else -1.0
    for m in flat:
        if not np.all(np.isfinite(m)):
            raise ValueError("covariance must be finite.")
        err = np.max(np.abs(m - sign * m.T))
        if err > atol * max(1.0, np.max(np.abs(m))):
            kind = "symmetric" if sign > 0 else "antisymmetric"
            raise ValueError(f"{statistics} covariance must be real {kind} "
                             f"(max asymmetry {err:.3g}).")
        if statistics == "boson":
            ev = np.linalg.eigvalsh(m + 0.5j * symplectic_form(n))
            if ev.min() < -atol:
                raise ValueError(
                    "bosonic covariance violates the uncertainty principle V + iΩ/2 ≥ 0 "
                    f"(smallest eigenvalue {ev.min():.4g}).")
        else:
            ev = np.linalg.eigvalsh(1j * m)
            if np.max(np.abs(ev)) > 0.5 + atol:
                raise ValueError(
                    "fermionic Majorana covariance must have eigenvalues of iΓ in [−½, ½] "
                    f"(Pauli principle); got max |eig| = {np.max(np.abs(ev)):.6g}.")


# ------------------------------------------------------------------------------------------
# the Gaussian von Neumann entropy
def xlogx(x):
    """x ln x with 0 ln 0 = 0 and a finite (zero) derivative at x = 0."""
    safe = jnp.where(x > 0, x, 1.0)
    return jnp.where(x > 0, x * jnp.log(safe), 0.0)


def gaussian_entropy(correlation, statistics: str = "fermion") -> Array:
    r"""Von Neumann entropy (in nats, k_B = 1) of a number-conserving Gaussian state.

    ``correlation``: C_ij = <a_j† a_i>, shape (..., n, n). With ν_k the eigenvalues of C:

    - fermions: S = −Σ_k [ν_k ln ν_k + (1 − ν_k) ln(1 − ν_k)]  (needs 0 ≤ ν ≤ 1),
    - bosons:   S = Σ_k [(ν_k + 1) ln(ν_k + 1) − ν_k ln ν_k]  (needs ν ≥ 0).

    Eigenvalues are clipped to the allowed range (round-off); the gradient only involves the
    eigenvalues, so it is finite at degenerate spectra. Returns shape (...).

    Units: nats (k_B = 1; dimensionless).
    """
    statistics = check_statistics(statistics)
    c = jnp.asarray(correlation)
    if c.ndim < 2 or c.shape[-1] != c.shape[-2]:
        raise ValueError(f"correlation must be (..., n, n) square, got shape {c.shape}.")
    c = 0.5 * (c + jnp.conj(jnp.swapaxes(c, -1, -2)))
    nu = jnp.linalg.eigvalsh(c)
    if statistics == "fermion":
        nu = jnp.clip(nu, 0.0, 1.0)
        return -jnp.sum(xlogx(nu) + xlogx(1.0 - nu), axis=-1)
    nu = jnp.clip(nu, 0.0, None)
    return jnp.sum(xlogx(nu + 1.0) - xlogx(nu), axis=-1)


def covariance_entropy(covariance, statistics: str) -> Array:
    r"""Gaussian von Neumann entropy from the covariance (nats).

    Fermions: ±ν_k eigenvalues of iΓ (0 ≤ ν ≤ ½): S = Σ_k h(½ + ν_k), h(p) = −p ln p −
    (1−p) ln(1−p). Bosons: symplectic eigenvalues ν_k ≥ ½ (|eig(iΩV)|):
    S = Σ_k [(ν + ½) ln(ν + ½) − (ν − ½) ln(ν − ½)]. Each pair ±ν is counted once (½ sum).

    Units: nats (k_B = 1; dimensionless)."""
    x = jnp.asarray(covariance)
    n = x.shape[-1] // 2
    if statistics == "fermion":
        nu = jnp.linalg.eigvalsh(1j * x)
        p = jnp.clip(0.5 + nu, 0.0, 1.0)
        return -0.5 * jnp.sum(xlogx(p) + xlogx(1.0 - p), axis=-1)
    om = jnp.asarray(symplectic_form(n))
    nu = jnp.abs(jnp.linalg.eigvals(1j * om @ x).real)
    nu = jnp.maximum(nu, 0.5)
    return 0.5 * jnp.sum(xlogx(nu + 0.5) - xlogx(nu - 0.5), axis=-1)
