r"""Gaussian states in covariance form (conventions: ``jaxtransport.general.model``).

* Bosons: covariance V_kl = ½⟨{r_k, r_l}⟩ − d_k d_l (real symmetric) and displacement
  d = ⟨r⟩; physical iff V + iΩ/2 ≥ 0 (uncertainty principle).
* Fermions: Majorana covariance Γ_kl = (i/2)⟨[r_k, r_l]⟩ (real antisymmetric, {r_k, r_l} =
  δ_kl); physical iff the eigenvalues of iΓ lie in [−½, ½]; pure iff (2Γ)² = −1.

Number-conserving link: with the Nambu correlation C_N[i, j] = ⟨ψ_j† ψ_i⟩ of
ψ = (a, a†) = T r, C_N = T (X_nc^T) T† where ⟨r_k r_l⟩ = X_nc,kl: fermions
⟨r r^T⟩ = ½ − iΓ, bosons ⟨r r^T⟩ = V + dd^T + iΩ/2. For a number-conserving state
C_N = [[C, 0], [0, 1 ∓ C^T]] with C_ij = ⟨a_j† a_i⟩ (upper sign fermions).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validation import is_concrete
from ..reservoir import check_statistics
from ..state import GaussianState
from .model import nambu_transform, symplectic_form


class CovarianceState(eqx.Module):
    """A Gaussian state of n modes in covariance form.

    **Arguments:** ``covariance`` (2n×2n real: V for bosons, Γ for fermions; leading batch
    axes allowed), ``statistics``, ``mean`` (bosons only: displacement d = ⟨r⟩, shape
    (..., 2n); default 0), ``atol`` (tolerance of the physicality checks).

    Raises ``ValueError`` if the matrix has the wrong symmetry, violates the uncertainty
    principle V + iΩ/2 ≥ 0 (bosons) or |eig(iΓ)| ≤ ½ (fermions), or a fermionic state is
    given a displacement.
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

