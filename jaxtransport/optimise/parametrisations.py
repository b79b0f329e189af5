r"""Physical parametrisations of initial states: unconstrained parameters → valid C0.

Every parametrisation maps a pytree of *unconstrained real* parameters to a correlation
matrix C0[i, j] = <a_j† a_i> that is a valid Gaussian state for every parameter value
(fermions 0 ≤ C0 ≤ 1, bosons C0 ≥ 0), smoothly, so ``jax.grad`` and optax apply directly.

Orbitals are U = exp(A) with A anti-Hermitian, A = (X − Xᵀ)/2 + i (Y + Yᵀ)/2 built from two
real n×n matrices (``jax.scipy.linalg.expm`` — no eigenvectors on the differentiable path).

- ``FermionicGaussian``: C0 = U diag(ν) U†, ν_k = sin²θ_k ∈ [0, 1] (reaches 0 and 1 at finite
  θ, so projectors — the optima of linear objectives — are interior stationary points). At
  fixed particle number Tr C0 = N the occupations are ν_k = σ(θ_k + s) (σ the logistic
  function); at fixed energy Tr[h C0] = E the state is a generalised Gibbs state
  C0 = [1 + e^{K + s h}]^{-1} with K Hermitian. In both cases the scalar s is solved so the
  constraint holds exactly (a monotone 1-D root, reachable for every parameter value;
  gradient by the implicit function theorem).
- ``SlaterDeterminant``: pure state of N particles, C0 = U_N U_N† (first N columns of U).
- ``ThermalState``: C0 = f(h; T, μ) (Fermi or Bose function of h) at a trainable T ∈ (T_lo,
  T_hi) (and optionally μ ∈ (μ_lo, μ_hi)), computed as a matrix function (no eigh gradients).
- ``BosonicGaussian``: C0 = L L† (L lower triangular, positive diagonal), or
  C0 = U diag(n) U† with Bose occupations n_k = 1/(e^{x_k} − 1), x_k > 0, for bosonic models (C0 is
  unbounded: a linear objective needs a bounded family or a penalty to have an optimum).

Units: energies (h, E, T, μ) in the units of the Hamiltonian, ħ = k_B = 1.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from .._validation import check_hermitian
from ..reservoir import check_statistics
from ..state import GaussianState


def _unitary(gen):
    """U = exp(A), A = (X − Xᵀ)/2 + i (Y + Yᵀ)/2 anti-Hermitian, gen = (X, Y) of shape (2, n, n)."""
    x, y = gen[0], gen[1]
    a = 0.5 * (x - x.T) + 0.5j * (y + y.T)
    return jsl.expm(a)


def _check_n(n_modes):
    if not (isinstance(n_modes, int | np.integer) and n_modes >= 1):
        raise ValueError(f"n_modes must be an integer >= 1, got {n_modes!r}.")
    return int(n_modes)


def _check_bounds(bounds, name, *, positive=False):
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi) of numbers, got {bounds!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with lo < hi, got ({lo}, {hi}).")
    if positive and lo <= 0:
        raise ValueError(f"{name} must lie in (0, inf) (lo > 0), got ({lo}, {hi}).")
    return lo, hi


def bounded(u, lo, hi):
    """Smooth map of an unconstrained u onto the open interval (lo, hi): lo + (hi−lo) σ(u).

    Units: those of lo and hi."""
    return lo + (hi - lo) * jax.nn.sigmoid(u)


def parse_bounds(b, where):
    """(lo, hi) as floats from a pair, finite with lo < hi (``ValueError`` naming ``where``).

    Units: those of the bounds."""
    try:
        lo, hi = (float(x) for x in b)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be None or a pair (lo, hi), got {b!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{where} bounds must be finite with lo < hi, got ({lo}, {hi}).")
    return lo, hi


def unbounded(x, lo, hi):
    """Inverse of ``bounded`` (x must lie strictly inside (lo, hi)).

    Units: u is dimensionless; x, lo and hi share their units."""
    p = (np.asarray(x, np.float64) - lo) / (hi - lo)
    return np.log(p) - np.log1p(-p)


class AbstractParametrisation(eqx.Module):
    """Unconstrained parameters (a pytree of real arrays) → valid Gaussian initial state.

    Subclasses implement ``init(key)`` (random parameters, a fixed distribution) and
    ``correlation(params)`` (C0, shape (n, n), complex128). ``state(params)`` wraps C0 in a
    ``jt.GaussianState``.

    Units: C0 (C_ij = <a_j† a_i>) is dimensionless; the parameters are dimensionless."""

    n_modes: int = eqx.field(static=True)

    statistics = "fermion"

    def init(self, key):  # pragma: no cover - abstract
        raise NotImplementedError

    def correlation(self, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self, params) -> GaussianState:
        return GaussianState(self.correlation(params), self.statistics)

    def constraint_violation(self, params):
        """|constraint − target| (0 for unconstrained parametrisations)."""
        return jnp.zeros((), jnp.float64)

    def describe(self) -> str:
        return type(self).__name__


def _solve_shift(theta, w, target, bracket):
    """s with Σ_k w_k σ(θ_k + s w_k) = target (monotone in s); exact first-order gradient.

    Bisection (no gradient) then one differentiable Newton step from the converged s*, so
    ds/dθ = −F_θ/F_s (implicit function theorem). s is clipped to ±bracket if the target is
    not reachable (then ``constraint_violation`` is > 0)."""
    th, ww = jax.lax.stop_gradient(theta), jax.lax.stop_gradient(w)

    def f(s, th_, ww_):
        return jnp.sum(ww_ * jax.nn.sigmoid(th_ + s * ww_)) - target

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        up = f(mid, th, ww) < 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 200, body, (-bracket, bracket))
    s0 = jax.lax.stop_gradient(0.5 * (lo + hi))
    sig = jax.nn.sigmoid(theta + s0 * w)
    fs = jnp.sum(w**2 * sig * (1 - sig))
    fval = jnp.sum(w * sig) - target
    s = s0 - fval / jnp.where(fs > 0, fs, 1.0)
    return jnp.clip(s, -bracket, bracket)


def _fermi(e):
    return 0.5 * (1.0 - jnp.tanh(0.5 * e))


@jax.custom_jvp
def _fermi_matrix(x):
    """[1 + e^X]^{-1} for Hermitian X (any norm; spectral form, stable where the occupations
    saturate). Its derivative uses divided differences of the Fermi function (Daleckii–Krein),
    so it is finite and exact at degenerate spectra too (no 1/(e_i − e_j) of eigenvectors)."""
    e, v = jnp.linalg.eigh(x)
    return (v * _fermi(e)) @ v.conj().T


@_fermi_matrix.defjvp
def _fermi_matrix_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    e, v = jnp.linalg.eigh(x)
    f = _fermi(e)
    de = e[:, None] - e[None, :]
    df = f[:, None] - f[None, :]
    mid = _fermi(0.5 * (e[:, None] + e[None, :]))
    close = jnp.abs(de) < 1e-6 * jnp.maximum(1.0, jnp.abs(e[:, None]))
    # f' = −f(1 − f); at (nearly) equal eigenvalues the divided difference → f'(midpoint)
    dd = jnp.where(close, -mid * (1 - mid), df / jnp.where(close, 1.0, de))
    dxt = v.conj().T @ dx @ v
    return (v * f) @ v.conj().T, v @ (dd * dxt) @ v.conj().T


class FermionicGaussian(AbstractParametrisation):
    """All fermionic Gaussian states C0 = U diag(ν) U† (optionally at fixed N or fixed energy).

    **Arguments:**

    - ``n_modes``: number of system modes n.
    - ``particle_number``: if given, Tr C0 = N exactly, 0 < N < n (the "arrangement" at fixed
      particle number).
    - ``energy``: if given (with ``hamiltonian``), Tr[h C0] = E exactly (energy units), E
      strictly between the sums of the negative and of the positive eigenvalues of h.
    - ``hamiltonian``: Hermitian h (needed for ``energy``).

    Parameters (real, unconstrained): ``{"generator": (2, n, n), "occupation": (n,)}``;
    occupations ν = sin²θ, or ν = σ(θ + s) at fixed N. At fixed energy: ``{"modular": (2, n,
    n)}``, C0 = [1 + e^{K + s h}]^{-1} with K = (X + Xᵀ)/2 + i (Y − Yᵀ)/2 (all full-rank
    states; s(K) solved: Tr[h C0(s)] decreases monotonically from E_max to E_min).
    """

    particle_number: float | None = eqx.field(default=None, static=True)
    energy: float | None = eqx.field(default=None, static=True)
    hamiltonian: jax.Array | None = None

    def __init__(self, n_modes, *, particle_number=None, energy=None, hamiltonian=None):
        self.n_modes = _check_n(n_modes)
        if particle_number is not None and energy is not None:
            raise ValueError(
                "FermionicGaussian: give at most one constraint (particle_number or energy), "
                "not both."
            )
        if particle_number is not None:
            particle_number = float(particle_number)
            if not (0 < particle_number < self.n_modes):
                raise ValueError(
                    f"particle_number must satisfy 0 < N < n_modes = {self.n_modes} (N = 0 or n "
                    f"is the unique empty/full state), got {particle_number}."
                )
        self.particle_number = particle_number
        if hamiltonian is not None:
            h = jnp.asarray(hamiltonian)
            h = h.astype(jnp.complex128)
            if h.shape != (self.n_modes, self.n_modes):
                raise ValueError(
                    f"hamiltonian must be {self.n_modes}x{self.n_modes}, got shape {h.shape}."
                )
            check_hermitian(h, "FermionicGaussian hamiltonian")
            hamiltonian = h
        if energy is not None:
            if hamiltonian is None:
                raise ValueError("FermionicGaussian(energy=...) needs hamiltonian=h.")
            energy = float(energy)
            ev = np.linalg.eigvalsh(np.asarray(hamiltonian))
            e_lo, e_hi = ev[ev < 0].sum(), ev[ev > 0].sum()
            if not (e_lo < energy < e_hi):
                raise ValueError(
                    f"energy must lie strictly inside ({e_lo:.6g}, {e_hi:.6g}) (sums of the "
                    f"negative/positive eigenvalues of h: the range of Tr[h C0]), got {energy}."
                )
        self.energy = energy
        self.hamiltonian = hamiltonian

    def init(self, key):
        k1, k2 = jax.random.split(key)
        gen = jax.random.normal(k1, (2, self.n_modes, self.n_modes), jnp.float64)
        if self.energy is not None:
            return {"modular": 1.5 * gen}
        if self.particle_number is None:
            occ = jax.random.uniform(k2, (self.n_modes,), jnp.float64, 0.05, 0.5 * np.pi - 0.05)
        else:
            occ = jax.random.normal(k2, (self.n_modes,), jnp.float64)
        return {"generator": gen, "occupation": occ}

    def occupations(self, params, u=None):
        """Natural-orbital occupations ν (n,) in [0, 1]."""
        if self.energy is not None:
            return jnp.linalg.eigvalsh(self.correlation(params))
        th = params["occupation"]
        if self.particle_number is None:
            return jnp.sin(th) ** 2
        w = jnp.ones(self.n_modes)
        s = _solve_shift(th, w, self.particle_number, 700.0)
        return jax.nn.sigmoid(th + s * w)

    def _gibbs(self, params):
        x, y = params["modular"][0], params["modular"][1]
        k = 0.5 * (x + x.T) + 0.5j * (y - y.T)
        h = self.hamiltonian
        bracket = 600.0 / jnp.linalg.norm(h, 2)
        kk = jax.lax.stop_gradient(k)

        def energy_fast(s):  # no gradient: eigen-decomposition, stable for any s
            e, v = jnp.linalg.eigh(kk + s * h)
            f = 0.5 * (1.0 - jnp.tanh(0.5 * e))
            return jnp.einsum("ij,jk,k,ik->", h, v, f, v.conj()).real

        def body(_, lohi):
            lo, hi = lohi
            mid = 0.5 * (lo + hi)
            up = energy_fast(mid) > self.energy  # energy decreases with s
            return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

        lo, hi = jax.lax.fori_loop(0, 200, body, (-bracket, bracket))
        s0 = jax.lax.stop_gradient(0.5 * (lo + hi))

        def energy(s):
            return jnp.trace(h @ _fermi_matrix(k + s * h)).real

        e0, de = jax.jvp(energy, (s0,), (jnp.ones_like(s0),))
        s = s0 - (e0 - self.energy) / jnp.where(de < 0, de, -1.0)
        return _fermi_matrix(k + jnp.clip(s, -bracket, bracket) * h)

    def correlation(self, params):
        if self.energy is not None:
            return self._gibbs(params)
        u = _unitary(params["generator"])
        nu = self.occupations(params, u)
        return (u * nu) @ u.conj().T

    def constraint_violation(self, params):
        c = self.correlation(params)
        if self.particle_number is not None:
            return jnp.abs(jnp.trace(c).real - self.particle_number)
        if self.energy is not None:
            return jnp.abs(jnp.trace(self.hamiltonian @ c).real - self.energy)
        return jnp.zeros((), jnp.float64)

    def describe(self):
        if self.particle_number is not None:
            return (f"FermionicGaussian(n_modes={self.n_modes}, "
                    f"particle_number={self.particle_number})")
        if self.energy is not None:
            return f"FermionicGaussian(n_modes={self.n_modes}, energy={self.energy})"
        return f"FermionicGaussian(n_modes={self.n_modes})"


class SlaterDeterminant(AbstractParametrisation):
    """Pure fermionic Gaussian states of exactly N particles: C0 = Σ_{k<N} u_k u_k† (a rank-N
    projector; u_k the first N columns of U = exp(A)). Parameters: ``{"generator": (2, n, n)}``.

    Units: C0 (C_ij = <a_j† a_i>) is dimensionless."""

    n_particles: int = eqx.field(static=True)

    def __init__(self, n_modes, n_particles):
        self.n_modes = _check_n(n_modes)
        if not (isinstance(n_particles, int | np.integer) and 0 <= n_particles <= self.n_modes):
            raise ValueError(
                f"n_particles must be an integer in [0, n_modes = {self.n_modes}], got "
                f"{n_particles!r}."
            )
        self.n_particles = int(n_particles)

    def init(self, key):
        return {"generator": jax.random.normal(key, (2, self.n_modes, self.n_modes), jnp.float64)}

    def correlation(self, params):
        u = _unitary(params["generator"])[:, : self.n_particles]
        return u @ u.conj().T

    def constraint_violation(self, params):
        return jnp.abs(jnp.trace(self.correlation(params)).real - self.n_particles)

    def describe(self):
        return f"SlaterDeterminant(n_modes={self.n_modes}, n_particles={self.n_particles})"


class ThermalState(AbstractParametrisation):
    """Gibbs state of the isolated system h at a trainable temperature (and chemical potential):
    C0 = [e^{(h−μ)/T} + 1]^{-1} (fermions) or [e^{(h−μ)/T} − 1]^{-1} (bosons), a matrix
    function (fermions: spectral form with a divided-difference derivative; bosons: ``expm`` +
    linear solve), differentiable at degenerate spectra.

    **Arguments:**

    - ``hamiltonian``: Hermitian h (energy units), fixed.
    - ``temperature``: bounds (T_lo, T_hi), 0 < T_lo < T_hi; T = T_lo + (T_hi−T_lo) σ(u).
    - ``chemical_potential``: a fixed number, or bounds (μ_lo, μ_hi) to train it too.
    - ``statistics``: "fermion" or "boson" (bosons need h − μ_hi > 0).

    Parameters: ``{"temperature": (), "chemical_potential": ()}`` (the latter only if trained).
    """

    hamiltonian: jax.Array
    temperature_bounds: tuple[float, float] = eqx.field(static=True)
    chemical_potential_bounds: tuple[float, float] | None = eqx.field(static=True)
    chemical_potential: float = eqx.field(static=True)
    statistics: str = eqx.field(static=True)

    def __init__(self, hamiltonian, temperature, chemical_potential=0.0, statistics="fermion"):
        h = jnp.asarray(hamiltonian).astype(jnp.complex128)
        if h.ndim != 2:
            raise ValueError(f"hamiltonian must be an n x n matrix, got shape {h.shape}.")
        check_hermitian(h, "ThermalState hamiltonian")
        self.hamiltonian = h
        self.n_modes = int(h.shape[0])
        self.statistics = check_statistics(statistics)
        self.temperature_bounds = _check_bounds(temperature, "ThermalState temperature bounds",
                                                positive=True)
        if np.ndim(chemical_potential) == 0:
            self.chemical_potential = float(chemical_potential)
            self.chemical_potential_bounds = None
        else:
            self.chemical_potential_bounds = _check_bounds(
                chemical_potential, "ThermalState chemical_potential bounds")
            self.chemical_potential = float(np.mean(self.chemical_potential_bounds))
        if self.statistics == "boson":
            mu_max = (self.chemical_potential if self.chemical_potential_bounds is None
                      else self.chemical_potential_bounds[1])
            e_min = float(np.linalg.eigvalsh(np.asarray(h)).min())
            if not e_min > mu_max:
                raise ValueError(
                    f"bosonic ThermalState needs h - mu > 0: lowest eigenvalue of h is "
                    f"{e_min:.6g}, largest chemical potential {mu_max:.6g}."
                )

    def init(self, key):
        k1, k2 = jax.random.split(key)
        p = {"temperature": jax.random.normal(k1, (), jnp.float64)}
        if self.chemical_potential_bounds is not None:
            p["chemical_potential"] = jax.random.normal(k2, (), jnp.float64)
        return p

    def temperature(self, params):
        return bounded(params["temperature"], *self.temperature_bounds)

    def mu(self, params):
        if self.chemical_potential_bounds is None:
            return jnp.asarray(self.chemical_potential, jnp.float64)
        return bounded(params["chemical_potential"], *self.chemical_potential_bounds)

    def correlation(self, params):
        n = self.n_modes
        eye = jnp.eye(n, dtype=jnp.complex128)
        x = (self.hamiltonian - self.mu(params) * eye) / self.temperature(params)
        if self.statistics == "fermion":
            return _fermi_matrix(x)
        c = jnp.linalg.solve(jsl.expm(x) - eye, eye)
        return 0.5 * (c + c.conj().T)

    def describe(self):
        return (f"ThermalState(T in {self.temperature_bounds}, mu="
                f"{self.chemical_potential_bounds or self.chemical_potential}, "
                f"{self.statistics})")


class BosonicGaussian(AbstractParametrisation):
    """Number-conserving bosonic Gaussian states, C0 = <a_j† a_i> ≥ 0.

    - ``form="cholesky"``: C0 = L L†, L lower triangular with diagonal softplus(d) > 0 and
      complex strictly-lower entries (every positive-definite C0 is reachable).
    - ``form="occupations"``: C0 = U diag(n) U†, Bose occupations n_k = 1/(e^{x_k} − 1) with
      x_k = softplus(θ_k) > 0 (x_k = ε_k/T_k: each natural mode thermal at its own ε/T).

    For bosonic ``Model``s. C0 is unbounded here, so an objective that is linear in C0 (a
    current at one time) has no finite optimum: add a penalty (e.g. on Tr C0) to the objective
    or use a bounded family such as ``ThermalState(..., statistics="boson")``.

    Units: C0 (C_ij = <a_j† a_i>) and the occupations n_k are dimensionless. The heat currents of
    the objectives it is optimised for are out of each reservoir.
    """

    form: str = eqx.field(static=True)

    statistics = "boson"

    def __init__(self, n_modes, form="cholesky"):
        self.n_modes = _check_n(n_modes)
        if form not in ("cholesky", "occupations"):
            raise ValueError(f"form must be 'cholesky' or 'occupations', got {form!r}.")
        self.form = form

    def init(self, key):
        k1, k2 = jax.random.split(key)
        n = self.n_modes
        if self.form == "cholesky":
            return {"cholesky": 0.5 * jax.random.normal(k1, (2, n, n), jnp.float64)}
        return {"generator": jax.random.normal(k1, (2, n, n), jnp.float64),
                "occupation": jax.random.normal(k2, (n,), jnp.float64)}

    def correlation(self, params):
        if self.form == "cholesky":
            x, y = params["cholesky"][0], params["cholesky"][1]
            low = jnp.tril(x, -1) + 1j * jnp.tril(y, -1)
            lmat = low + jnp.diag(jax.nn.softplus(jnp.diagonal(x))).astype(jnp.complex128)
            return lmat @ lmat.conj().T
        u = _unitary(params["generator"])
        occ = 1.0 / jnp.expm1(jax.nn.softplus(params["occupation"]))
        return (u * occ) @ u.conj().T

    def describe(self):
        return f"BosonicGaussian(n_modes={self.n_modes}, form={self.form!r})"


def random_states(key, n_modes, count, *, pure_fraction=0.5):
    """``count`` random fermionic Gaussian C0 (an independent baseline for optimisers).

    Orbitals are Haar-random unitaries (QR of a complex Gaussian matrix, phases fixed);
    a fraction ``pure_fraction`` of the states have occupations in {0, 1} (random Slater
    determinants of random N), the rest ν ~ U[0, 1].

    Units: C0 (C_ij = <a_j† a_i>) is dimensionless."""
    k = jax.random.split(key, 4)
    z = (jax.random.normal(k[0], (count, n_modes, n_modes))
         + 1j * jax.random.normal(k[1], (count, n_modes, n_modes)))
    q, r = jnp.linalg.qr(z)
    d = jnp.diagonal(r, axis1=-2, axis2=-1)
    q = q * (d / jnp.abs(d))[..., None, :]
    nu = jax.random.uniform(k[2], (count, n_modes), jnp.float64)
    pure = jnp.arange(count) < int(round(pure_fraction * count))
    nu = jnp.where(pure[:, None], jnp.round(jax.random.uniform(k[3], (count, n_modes))), nu)
    return (q * nu[..., None, :]) @ q.conj().swapaxes(-1, -2)


__all__ = [
    "AbstractParametrisation",
    "BosonicGaussian",
    "FermionicGaussian",
    "SlaterDeterminant",
    "ThermalState",
    "bounded",
    "random_states",
    "unbounded",
]
