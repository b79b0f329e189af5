r"""``jt.Pade()``: closed-form transients for Lorentzian (pole-sum) leads at given (T, μ).

The ``Continuum`` method keeps stage 1 independent of T and μ by storing kernels at ~10³
frequency nodes; one configuration then reads ~10⁸ bytes. When only a few configurations per
model are wanted (one transient, an optimiser at fixed temperatures), the T-dependence can be
put in closed form instead, as HEOM does: expand every Fermi function in its [N−1/N] Padé
approximant (Hu, Xu, Yan, J. Chem. Phys. 133, 101106 (2010)),

    f(ω) ≈ f_N(ω) = 1/2 − Σ_{i=1}^N η_i [1/(x − iξ_i) + 1/(x + iξ_i)],   x = (ω − μ)/T.

For a density term g_j(ω) v_j v_j† that is a sum of poles (``Lorentzian``, sums of them,
``CutoffLorentzian``: g_j = Σ_p iκ_p/(ω + iλ_p) − iκ̄_p/(ω − iλ̄_p)), the lesser function of the
bath, F_j(σ) = ∫dω/2π f_N g_j e^{iωσ}, is then a finite sum of exponentials for σ > 0 (residues
at the upper-half-plane poles iλ̄_p of g_j and μ + iTξ_i of f_N):

    F_j(σ) = Σ_q c_q e^{−ν_q σ},   ν_q ∈ {λ̄_p, Tξ_i − iμ},
    c_q = κ̄_p f_N(iλ̄_p)  (lead poles)   or   −iTη_i g_j(μ + iTξ_i)  (Padé poles).

**Exact finite-dimensional linear model.** C(t) = G C0 G† + ∫∫ G(τ) F(τ−τ') G(τ')† is the
second moment of a linear system driven by stationary coloured noise with correlation F. A
noise with exponential correlation is the output of a linear filter x' = diag(−ν̄_q) x + w
whose state starts in its stationary covariance Σ (Hermitian, row sums c̄_q; it need not be
positive: only second moments are used). Together with the exact pole closure of the memory
kernel (``continuum.py``: dG/dt = −ihG − Σ_p v_p y_p, dy_p/dt = κ_p v_p† G − λ_p y_p) this gives
one linear system ψ = (a, y, x) with generator L = [[L_c, B], [0, diag(−ν̄)]], B = −i v_j on the
filter of term j, and the Lyapunov solution

    C_ψ(t) = e^{Lt} C_ψ(0) e^{L†t} + ∫_0^t e^{Ls} Q e^{L†s} ds,   C_ψ(0) = C0 ⊕ 0 ⊕ Σ,
    Q = (ν̄_q + ν_q') Σ_qq'.

Its system block is C(t); the currents follow from two more blocks (X^N_α = Σ_{j∈α}
−i ⟨ξ_j(t) a(t)†⟩ v_j − Σ_{p∈α} ⟨y_p a†⟩ v_p, with ξ_j the filter output; the energy amplitude
weights each filter mode by −iν̄_q and the pole rows by iλ_p, physics.md §3). The eigenvectors
of L are explicit from those of L_c (T-independent, stage 1): filter mode q has eigenvalue
μ_q = −ν̄_q and eigenvector (−R diag(1/(ℓ − μ_q)) R⁻¹ B e_q, e_q). Every output is a sum of
e^{(Λ_k + Λ̄_l)t} terms: a few small GEMMs per configuration, differentiable in C0, T, μ, h and
couplings, with no frequency quadrature.

**Accuracy.** Only the Padé truncation is approximate. ``error_estimate`` is the largest
difference to the same calculation with N − max(2, N/4) poles (occupations, correlations,
particle/energy current amplitudes and coupling energies), plus a rounding bound of the final
sums (which grows where a closure eigenvalue or a lead pole nearly coincides with a Padé pole,
e.g. W = ξ_i T). Occupations and particle currents converge fastest; the coupling energy
converges like (ξ_N T)^{-2} ~ N^{-4} (a short-time effect of f_N → 1/2 at |x| ≫ ξ_N).
By default N is chosen for ``tolerance`` at the model's own (T, μ), checked there, and raised
until the estimate meets it.

Scope: fermionic, number-conserving ``jt.Model`` with pole-sum densities only (everything
else: ``jt.Continuum`` / ``jt.Discretised``), full observables (no ``observables="currents"``).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._validation import check_times, is_concrete
from ..solution import Solution
from .base import Stage2Base, flatten_terms, stack_reservoir_arrays
from .continuum import closure_generator
from .eig import eig

_EPS = float(np.finfo(np.float64).eps)


class PadeUnsuitable(ValueError):
    """jt.Pade cannot give this model its accuracy (ill-conditioned closure, or more than 400
    poles needed); the automatic method choice then falls back to jt.Continuum."""


def pade_poles(n: int) -> tuple[np.ndarray, np.ndarray]:
    """[N−1/N] Padé decomposition of the Fermi function: ξ_i, η_i (i = 1..N) with
    1/(1 + e^x) ≈ 1/2 − Σ_i 2η_i x/(x² + ξ_i²) (Hu, Xu, Yan 2010: ξ from the eigenvalues of a
    tridiagonal matrix with b_m = 2m − 1, η from the interlacing zeros). Cached per N (a
    bounded cache of read-only arrays: they depend on N only)."""
    return _pade_poles(int(n))


@functools.lru_cache(maxsize=64)
def _pade_poles(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n < 1:
        raise ValueError(f"the number of Padé poles must be >= 1, got {n}.")
    b = 2.0 * np.arange(1, 2 * n + 2) - 1.0

    def inverse_eigs(size, start):
        bb = b[start:start + size]
        off = 1.0 / np.sqrt(bb[:-1] * bb[1:])
        ev = np.linalg.eigvalsh(np.diag(off, 1) + np.diag(off, -1))
        return np.sort(2.0 / ev[ev > 1e-12])

    xi = inverse_eigs(2 * n, 0)
    zeta = inverse_eigs(2 * n - 1, 1) if n > 1 else np.zeros(0)
    eta = np.empty(n)
    for j in range(n):  # product of ratios: the plain products overflow for N ≳ 60
        others = np.delete(xi, j)
        eta[j] = 0.5 * n * b[n] * np.prod((zeta**2 - xi[j] ** 2) / (others**2 - xi[j] ** 2))
    xi.flags.writeable = False
    eta.flags.writeable = False
    return xi, eta


def pade_fermi(z, temperature, mu, xi, eta, xp=jnp):
    """f_N(z) at complex z (the Padé approximant used consistently everywhere)."""
    x = (z - mu) / temperature
    return 0.5 - xp.sum(eta * 2 * x[..., None] / (x[..., None] ** 2 + xi**2), axis=-1)


_N_MAX = 400


def _default_n(tolerance, scale, t_min):
    """A priori N: coupling-energy error ≈ 0.053 Σ_p γ_p W_p² / (ξ_N T)² (measured on the
    single level; the slowest observable; 0.08 here for margin), ξ_N ≈ 2.6 N². Every concrete
    ``PadeResponse.evaluate`` then checks the estimate at its own (T, μ) and raises N by 25 %
    until it meets the tolerance."""
    xi_needed = math.sqrt(0.08 * max(scale, 1e-300) / tolerance) / t_min
    return int(min(max(math.ceil(math.sqrt(xi_needed / 2.6)), 4), _N_MAX))


def _pole_scale(pole_data):
    """Σ_p 2|κ_p| Re λ_p (= Σ γ_p W_p² for Lorentzians): the size of the lead tails."""
    return float(np.sum(2 * np.abs(np.asarray(pole_data["kappa"]))
                        * np.asarray(pole_data["lam"]).real))


class Pade(eqx.Module):
    """Method: Padé pole expansion of the Fermi functions + exact pole closure, closed form
    in time (see the module docstring). ``n_pade``: number of Padé poles per reservoir (default:
    chosen for ``tolerance``, absolute, in occupations, currents and coupling energies, at the
    model's own T and μ). Use ``jt.response(model, times, method=jt.Pade())``; the result's
    ``evaluate(state, temperature, chemical_potential)`` takes any (C0, T, μ) and reports its
    ``error_estimate`` for those values. ``estimate=False`` skips the second, lower-order
    evaluation behind the estimate (half the work; ``error_estimate`` is then NaN): for inner
    loops such as an optimiser's steps, whose result is re-checked with the estimate."""

    n_pade: int | None = None
    tolerance: float = 1e-8
    estimate: bool = True

    def __check_init__(self):
        if self.n_pade is not None and (int(self.n_pade) != self.n_pade or self.n_pade < 2):
            raise ValueError(f"n_pade must be an integer >= 2 (or None), got {self.n_pade!r}.")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"tolerance must be finite and > 0, got {self.tolerance!r}.")

    def response(self, model, times) -> PadeResponse:
        _check_model(model)
        times = check_times(times)
        concrete = is_concrete(*jax.tree_util.tree_leaves(model))
        if self.n_pade is not None:
            return _build(model, times, int(self.n_pade), _stage1(model, check_eig=concrete),
                          estimate=self.estimate)
        if not concrete:
            raise ValueError("jt.Pade() chooses its number of poles from concrete model values; "
                             "under tracing pass jt.Pade(n_pade=...) explicitly.")
        stage1 = _stage1(model, check_eig=True)
        temp, _ = stack_reservoir_arrays(model)
        n = _default_n(self.tolerance, _pole_scale(stage1[0]), float(np.min(np.asarray(temp))))
        # the estimate is checked (and N raised) by every concrete evaluate, at its own (T, μ)
        return _build(model, times, n, stage1, tolerance=self.tolerance)

    def current_response(self, model, times):
        raise ValueError("jt.Pade() has no currents-only mode (its Response is already small); "
                         "use observables='all'.")


def pade_for_models(method: Pade, models, temperature_min: float) -> Pade:
    """``method`` with a fixed pole count valid for every model of ``models`` down to
    ``temperature_min`` (the a-priori rule of ``_default_n`` at the largest lead tails): for
    batches of models built under ``jax.vmap``, where N cannot be chosen per model."""
    if method.n_pade is not None:
        return method
    for m in models:
        _check_model(m)
    scale = max(_pole_scale(_pole_data(m)) for m in models)
    return Pade(n_pade=_default_n(method.tolerance, scale, temperature_min),
                tolerance=method.tolerance)


def _check_model(model):
    from ..model import Model

    if not isinstance(model, Model):
        raise ValueError("jt.Pade() solves number-conserving jt.Model systems; for "
                         f"{type(model).__name__} use jt.Continuum or jt.Discretised.")
    if model.statistics != "fermion":
        raise ValueError("jt.Pade() expands Fermi functions: fermionic models only (bosonic "
                         "densities are not pole sums). Use jt.Continuum or jt.Discretised.")
    for dens, _, _ in flatten_terms(model):
        if not dens.is_pole_sum:
            raise ValueError(
                f"jt.Pade() needs spectral densities that are sums of poles (Lorentzian, sums "
                f"of Lorentzians, CutoffLorentzian); {type(dens).__name__} is not. Use "
                "jt.Continuum (kernel fit) or jt.Discretised."
            )


def _pole_data(model):
    terms = flatten_terms(model)
    # NumPy for concrete values (no eager JAX operations to compile), jnp under tracing
    xp = np if is_concrete(*jax.tree_util.tree_leaves(model)) else jnp
    vec, kap, lam, pres, pterm = [], [], [], [], []
    for j, (dens, v, r) in enumerate(terms):
        for lor in dens.lorentzian_terms():
            gamma, width, center = (xp.asarray(x) for x in (lor.gamma, lor.width, lor.center_))
            vec.append(xp.asarray(v).astype(complex))
            kap.append(xp.asarray(0.5 * gamma * width).astype(complex))
            lam.append(xp.asarray(width + 1j * center).astype(complex))
            pres.append(r)
            pterm.append(j)
    out = dict(vec=xp.stack(vec, axis=1), kappa=xp.stack(kap), lam=xp.stack(lam),
               tvec=xp.stack([xp.asarray(v).astype(complex) for _, v, _ in terms], axis=1))
    out = {k: jnp.asarray(x) for k, x in out.items()}
    return dict(out, pole_res=tuple(pres), pole_term=tuple(pterm),
                term_res=tuple(r for _, _, r in terms))


def _eigen_parts(xp, lmat, eig):
    """(ℓ, R, R⁻¹, condition number ‖R‖∞‖R⁻¹‖∞) of the closure generator."""
    ell, rr = eig(lmat)
    rinv = xp.linalg.inv(rr)
    cond = xp.max(xp.sum(xp.abs(rr), 1)) * xp.max(xp.sum(xp.abs(rinv), 1))
    return ell, rr, rinv, cond


@eqx.filter_jit
def _closure_eigen(h, vec, kappa, lam):
    return _eigen_parts(jnp, closure_generator(jnp, h, vec, kappa, lam), eig)


def _closure_eigen_numpy(h, vec, kappa, lam):
    """Same as ``_closure_eigen`` for concrete values, without compiling anything."""
    args = (np.asarray(x, complex) for x in (h, vec, kappa, lam))
    with _single_thread_blas():
        out = _eigen_parts(np, closure_generator(np, *args), np.linalg.eig)
    return tuple(jnp.asarray(x) for x in out)


def _stage1(model, check_eig):
    """Pole data and the closure eigendecomposition (independent of T, μ and N)."""
    pd = _pole_data(model)
    args = (model.hamiltonian, pd["vec"], pd["kappa"], pd["lam"])
    eigen = _closure_eigen_numpy if is_concrete(*args) else _closure_eigen
    ell, rr, rinv, cond = eigen(*args)
    if check_eig:
        bad = float(cond) * _EPS
        if not (np.isfinite(bad) and bad < 1e-7):
            raise PadeUnsuitable(
                "jt.Pade() uses the eigendecomposition of the closure generator, which is "
                f"ill-conditioned here (condition number {float(cond):.2g}: the model is close "
                "to an exceptional point). Use jt.Continuum or jt.Discretised."
            )
    return pd, (ell, rr, rinv, cond)


def _pade_sets(n_pade):
    """The Padé constants for N and for the lower order of the error estimate, the latter
    padded to N with zero-weight poles (harmless filter modes), so that both sets run through
    one traced program."""
    n_lo = n_pade - max(2, n_pade // 4)
    xi, eta = pade_poles(n_pade)
    xi_lo, eta_lo = pade_poles(max(n_lo, 1))
    pad = n_pade - len(xi_lo)
    xi_lo = np.concatenate([xi_lo, xi[len(xi) - pad:]])
    eta_lo = np.concatenate([eta_lo, np.zeros(pad)])
    return dict(xi=jnp.asarray(xi), eta=jnp.asarray(eta), xi_lo=jnp.asarray(xi_lo),
                eta_lo=jnp.asarray(eta_lo), n_pade=n_pade)


def _build(model, times, n_pade, stage1, tolerance=None, estimate=True):
    pd, (ell, rr, rinv, cond) = stage1
    temp, mu = stack_reservoir_arrays(model)
    return PadeResponse(
        times=jnp.asarray(times), hamiltonian=jnp.asarray(model.hamiltonian),
        temperature=temp, chemical_potential=mu, ell=ell, rr=rr, rinv=rinv,
        vec=pd["vec"], kappa=pd["kappa"], lam=pd["lam"], tvec=pd["tvec"],
        eig_condition=cond, pole_res=pd["pole_res"], pole_term=pd["pole_term"],
        term_res=pd["term_res"], tolerance=tolerance, estimate=bool(estimate),
        **_pade_sets(n_pade),
    )


class PadeResponse(Stage2Base):
    """Stage-1 result of ``jt.Pade()``: the closure eigendecomposition (T-independent) and the
    Padé constants. ``evaluate(state, temperature, chemical_potential)`` -> ``jt.Solution``
    (same fields, units and signs as the Continuum's), vmappable and differentiable in C0, T,
    μ; cost O((n + P + J(N+1))² T n) per configuration."""

    times: Float[Array, " T"]
    hamiltonian: Array
    temperature: Float[Array, " M"]
    chemical_potential: Float[Array, " M"]
    ell: Array  # (m,) closure eigenvalues, m = n + P
    rr: Array  # (m, m) eigenvectors
    rinv: Array  # (m, m)
    vec: Array  # (n, P) pole vectors
    kappa: Array  # (P,)
    lam: Array  # (P,)
    tvec: Array  # (n, J) term vectors
    xi: Array
    eta: Array
    xi_lo: Array
    eta_lo: Array
    eig_condition: Array
    pole_res: tuple = eqx.field(static=True)
    pole_term: tuple = eqx.field(static=True)
    term_res: tuple = eqx.field(static=True)
    n_pade: int = eqx.field(static=True)
    statistics: str = eqx.field(static=True, default="fermion")
    # the tolerance N was chosen for (None: N fixed by the user, nothing is checked)
    tolerance: float | None = eqx.field(static=True, default=None)
    # False: no lower-order evaluation, error_estimate NaN (jt.Pade(estimate=False))
    estimate: bool = eqx.field(static=True, default=True)

    @property
    def n_modes(self) -> int:
        return int(self.hamiltonian.shape[0])

    @property
    def method(self) -> str:
        return "pade"

    def evaluate(self, state, temperature=None, chemical_potential=None, *,
                 validate=True) -> Solution:
        """Solution for initial state C0 (``GaussianState`` or (..., n, n)) and (..., M)
        temperatures / chemical potentials (default: the model's); checks as
        ``Response.evaluate`` (``validate=False`` skips the C0 check).

        When N was chosen for a tolerance (``jt.Pade(tolerance=...)``, no ``n_pade``), the
        error estimate at the requested (T, μ) is checked: for concrete inputs N is raised
        (by 25 %, up to 400) until it meets the tolerance — e.g. at a temperature below the
        model's — and under jit/vmap/grad a runtime error says to build with a larger
        ``n_pade``. With a user-fixed ``n_pade`` the estimate is reported, not enforced."""
        c0, temp, mu = self._stage2_inputs(state, temperature, chemical_potential, validate)
        leaves = [c0, temp, mu, *jax.tree_util.tree_leaves(self)]
        if not is_concrete(*leaves):
            return _evaluate(self, c0, temp, mu)
        resp = self
        while True:
            if c0.ndim == 2 and temp.ndim == 1 and mu.ndim == 1:
                # one concrete configuration outside any transformation: the same kernel in
                # NumPy, so that a single transient needs no compilation at all
                sol = _evaluate_numpy(resp, c0, temp, mu)
            else:
                sol = _evaluate(resp, c0, temp, mu)
            err = float(jnp.max(sol.error_estimate))
            if resp.tolerance is None or err <= resp.tolerance:
                return sol
            if resp.n_pade >= _N_MAX:
                raise PadeUnsuitable(
                    f"jt.Pade could not reach tolerance {resp.tolerance:g} at these "
                    f"temperatures/chemical potentials with {resp.n_pade} poles (estimate "
                    f"{err:.2g}); use jt.Continuum.")
            resp = resp.with_n_pade(min(int(math.ceil(1.25 * resp.n_pade)), _N_MAX))

    def with_n_pade(self, n_pade: int) -> PadeResponse:
        """The same stage 1 with ``n_pade`` Padé poles (the closure eigendecomposition does
        not depend on N, so this costs nothing)."""
        return dataclasses.replace(self, **_pade_sets(int(n_pade)))

    def _arrays(self, xp):
        names = ("times", "hamiltonian", "ell", "rr", "rinv", "vec", "kappa", "lam", "tvec",
                 "eig_condition")
        return {k: xp.asarray(getattr(self, k)) for k in names}


def _error(xp, hi, lo):
    """Padé-truncation estimate (N vs N_low) plus the rounding bound."""
    err = xp.maximum(xp.max(xp.abs(hi[0] - lo[0])), 2 * xp.max(xp.abs(hi[1] - lo[1])))
    return xp.maximum(err, hi[4])


def _solution(resp, corr, amp, amp_dt, sdt, temp, mu, err):
    return Solution.from_amplitudes(
        times=resp.times, hamiltonian=resp.hamiltonian, correlation=corr, amplitude=amp,
        amplitude_dt=amp_dt, scalar_dt=sdt, temperature=temp, chemical_potential=mu,
        error_estimate=err, statistics="fermion",
    )


@functools.cache
def _blas_controller():
    """One ``threadpoolctl`` controller (built once: it scans the loaded BLAS libraries)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _single_thread_blas():
    """The NumPy path multiplies small matrices: threaded BLAS only adds synchronisation
    (measured 6x slower on a loaded 2-core machine), so it runs on one BLAS thread."""
    return _blas_controller().limit(limits=1, user_api="blas")


def _evaluate_numpy(resp: PadeResponse, c0, temp, mu):
    with _single_thread_blas():
        return _evaluate_numpy_impl(resp, c0, temp, mu)


def _evaluate_numpy_impl(resp: PadeResponse, c0, temp, mu):
    temp, mu = np.asarray(temp, float), np.asarray(mu, float)
    if not (np.all(temp > 0) and np.all(np.isfinite(mu))):
        raise ValueError(f"temperature must be > 0 and chemical potentials finite, got "
                         f"T = {temp}, mu = {mu}.")
    arr = resp._arrays(np)
    c0 = np.asarray(c0, complex)
    hi = _solve_one(np, resp, arr, c0, temp, mu, np.asarray(resp.xi), np.asarray(resp.eta))
    if resp.estimate:
        lo = _solve_one(np, resp, arr, c0, temp, mu, np.asarray(resp.xi_lo),
                        np.asarray(resp.eta_lo))
        err = _error(np, hi, lo)
    else:
        err = np.nan
    sol = _solution(resp, *hi[:4], temp, mu, err)
    return jax.tree_util.tree_map(jnp.asarray, sol)


@eqx.filter_jit
def _evaluate(resp: PadeResponse, c0, temp, mu):
    temp = eqx.error_if(temp, jnp.any(~(temp > 0)) | jnp.any(~jnp.isfinite(mu)),
                        "temperature must be > 0 and chemical potentials finite")
    sol = _evaluate_batch(resp, c0, temp, mu)
    if resp.tolerance is None:
        return sol
    # on every output, so that the check survives dead-code elimination of unused fields
    return eqx.error_if(
        sol, jnp.any(sol.error_estimate > resp.tolerance),
        "jt.Pade: the error estimate exceeds the tolerance at these temperatures/chemical "
        "potentials (the pole count was chosen for the model's own T and μ). Evaluate "
        "outside jit (N is then raised automatically) or build the response with a larger "
        "jt.Pade(n_pade=...).")


def _evaluate_batch(resp: PadeResponse, c0, temp, mu):
    n = resp.n_modes
    batch = jnp.broadcast_shapes(c0.shape[:-2], temp.shape[:-1], mu.shape[:-1])
    m_res = resp.n_reservoirs
    c0b = jnp.broadcast_to(c0, batch + (n, n)).reshape(-1, n, n)
    tb = jnp.broadcast_to(temp, batch + (m_res,)).reshape(-1, m_res)
    mb = jnp.broadcast_to(mu, batch + (m_res,)).reshape(-1, m_res)
    arr = resp._arrays(jnp)
    xis = jnp.stack([resp.xi, resp.xi_lo])
    etas = jnp.stack([resp.eta, resp.eta_lo])

    def one(c, t, u):
        if not resp.estimate:
            hi = _solve_one(jnp, resp, arr, c, t, u, resp.xi, resp.eta)
            return (*hi[:4], jnp.asarray(jnp.nan))
        both = jax.vmap(lambda x_, e_: _solve_one(jnp, resp, arr, c, t, u, x_, e_))(xis, etas)
        hi = tuple(b[0] for b in both)
        lo = tuple(b[1] for b in both)
        return (*hi[:4], _error(jnp, hi, lo))

    corr, amp, amp_dt, sdt, err = jax.vmap(one)(c0b, tb, mb)
    nt = resp.times.shape[0]
    rs = lambda x, tail: x.reshape(batch + tail)  # noqa: E731
    return _solution(resp, rs(corr, (nt, n, n)), rs(amp, (nt, 2, m_res)),
                     rs(amp_dt, (nt, 2, m_res)), rs(sdt, (nt, 2)),
                     jnp.broadcast_to(temp, batch + (m_res,)),
                     jnp.broadcast_to(mu, batch + (m_res,)), rs(err, ()))


def _phi(xp, x, t, ext):
    """(e^{xt} − 1)/x from ``ext`` = e^{xt} (x (..., K), t (T,) -> (T, ..., K)), with a series
    where |xt| < 1e-2 (weakly damped modes; elsewhere the relative error is ≤ ε/|xt|)."""
    xt = x[None] * t.reshape((-1,) + (1,) * x.ndim)
    small = xp.abs(xt) < 1e-2
    xs = xp.where(small, 1.0, x)
    tt = t.reshape((-1,) + (1,) * x.ndim)
    series = tt * (1 + xt / 2 + xt**2 / 6 + xt**3 / 24 + xt**4 / 120)
    return xp.where(small, series, (ext - 1.0) / xs)


def _filter_exp(xp, times, muq, q_pole, r_of_q, mu):
    """e^{μ_q t} (T, Q): the Padé modes' exponents are −Tξ_i − iμ, so their phase is one
    per reservoir; only the few lead-pole modes need a complex exponential of their own."""
    poles = np.nonzero(q_pole >= 0)[0]
    phase_res = xp.exp(-1j * times[:, None] * mu[None, :])  # (T, M)
    phase_pole = xp.exp(1j * times[:, None] * muq[poles].imag[None, :])  # (T, P)
    col = np.asarray(r_of_q).copy()
    col[poles] = mu.shape[0] + np.arange(len(poles))
    phase = xp.concatenate([phase_res, phase_pole], axis=1)[:, col]
    return xp.exp(times[:, None] * muq.real[None, :]) * phase


def _solve_one(xp, resp: PadeResponse, arr, c0, temp, mu, xi, eta):
    """One configuration: (correlation (T,n,n), amplitude (T,2,M), its derivative, scalar_dt
    (T,2), rounding bound)."""
    times = arr["times"]
    n = resp.n_modes
    npol = arr["lam"].shape[0]
    m = n + npol
    nt = len(resp.term_res)
    npd = xi.shape[0]
    kap, lam = arr["kappa"], arr["lam"]
    # ---- filter modes: per term j, its own poles then its N Padé poles (static layout) ----
    q_term, q_pole, q_pade = [], [], []
    for j in range(nt):
        for p in range(npol):
            if resp.pole_term[p] == j:
                q_term.append(j), q_pole.append(p), q_pade.append(-1)
        for i in range(npd):
            q_term.append(j), q_pole.append(-1), q_pade.append(i)
    q_term, q_pole, q_pade = map(np.asarray, (q_term, q_pole, q_pade))
    nq = len(q_term)
    is_pole = xp.asarray(q_pole >= 0)
    r_of_q = np.asarray(resp.term_res)[q_term]
    tq, uq = temp[r_of_q], mu[r_of_q]
    pp = np.maximum(q_pole, 0)
    ii = np.maximum(q_pade, 0)
    # pole exponents: ν = λ̄_p, c = κ̄_p f_N(iλ̄_p)
    z_pole = 1j * lam[pp].conj()
    c_pole = kap[pp].conj() * pade_fermi(z_pole, tq, uq, xi, eta, xp)
    # Padé exponents: ν = Tξ_i − iμ, c = −iTη_i g_j(μ + iTξ_i)
    z_pd = uq + 1j * tq * xi[ii]
    term_of_pole = np.asarray(resp.pole_term)
    in_term = xp.asarray(term_of_pole[None, :] == q_term[:, None], float)  # (Q, P)
    g_parts = (1j * kap[None, :] / (z_pd[:, None] + 1j * lam[None, :])
               - 1j * kap.conj()[None, :] / (z_pd[:, None] - 1j * lam.conj()[None, :]))
    g_z = xp.sum(in_term * g_parts, axis=1)
    c_pd = -1j * tq * eta[ii] * g_z
    nu = xp.where(is_pole, lam[pp].conj(), tq * xi[ii] - 1j * uq)
    c = xp.where(is_pole, c_pole, c_pd)
    # model noise: rows sums r_q = c̄_q, filter eigenvalues μ_q = −ν̄_q
    r = c.conj()
    muq = -nu.conj()
    same = xp.asarray(q_term[:, None] == q_term[None, :], float)
    counts = xp.asarray(np.bincount(q_term, minlength=nt)[q_term], float)
    tot = xp.asarray(np.eye(nt)[q_term].T) @ r  # (J,) real up to rounding
    u = (r - tot.real[q_term] / (2 * counts)) / counts
    sig = same * (u[:, None] + u.conj()[None, :])
    qw = (nu.conj()[:, None] + nu[None, :]) * sig
    # ---- extended eigenvectors in the closure eigenbasis ----
    ell, rr, rinv = arr["ell"], arr["rr"], arr["rinv"]
    bmat = xp.concatenate([-1j * arr["tvec"][:, q_term], xp.zeros((npol, nq), complex)], 0)
    w = rinv @ bmat  # (m, Q)
    # filter mode q vs closure mode k: an exactly shared eigenvalue with no coupling (e.g. the
    # dark combination of two identical leads' pseudomodes, ℓ = −λ) needs no mixing; a coupled
    # one would be a Jordan block (secular t e^{ℓt} term), whose size enters the error bound
    gap = ell[:, None] - muq[None, :]
    tiny = xp.abs(gap) < 1e-9 * (1.0 + xp.abs(muq[None, :]))
    what = xp.where(tiny, 0.0, w / xp.where(tiny, 1.0, gap))
    jordan = xp.max(xp.where(tiny, xp.abs(w), 0.0))
    ufull = -rr @ what  # (m, Q): closure-part of the filter eigenvectors
    # Modal coordinates: closure modes c (eigenvalues ℓ), filter modes f (μ_q). In them
    # M(t) = S0 ∘ e^{(Λ_k+Λ̄_l)t} + SQ ∘ φ(Λ_k+Λ̄_l, t), C_ψ = R_ext M R_ext†. The filter–filter
    # block is stationary (M_ff = Σ for all t: Q_w/(μ_q + μ̄_q') = −Σ), so it only enters the
    # constant part; the closure–closure block uses the stable φ (weakly damped modes).
    c0pad = xp.pad(xp.asarray(c0, complex), ((0, npol), (0, npol)))
    s_cc = rinv @ c0pad @ rinv.conj().T + what @ sig @ what.conj().T
    s_cf = what @ sig  # S0[c, f]
    q_cc = what @ qw @ what.conj().T
    q_cf = what @ qw
    x_cf = ell[:, None] + muq.conj()[None, :]
    k_cf = s_cf + q_cf / x_cf  # coefficient of e^{ℓ_k t} e^{μ̄_q t}
    kd_cf = x_cf * s_cf + q_cf
    x_cc = ell[:, None] + ell.conj()[None, :]
    # constant parts: −SQ/x on mixed blocks, +Σ on the filter block
    const_cf = -q_cf / x_cf
    # readout rows (n sys, P pole rows, J filter outputs N, J filter outputs E) in modal coords
    onehot_q = xp.asarray(np.eye(nt)[q_term].T, complex)  # (J, Q)
    rows_c = xp.concatenate([rr, xp.zeros((2 * nt, m), complex)], axis=0)
    rows_f = xp.concatenate([ufull, onehot_q, onehot_q * (-1j * nu.conj())[None, :]], axis=0)
    cols_c = rr[:n].conj().T  # (m, n)
    cols_f = ufull[:n].conj().T  # (Q, n)
    const = (rows_c @ (const_cf @ cols_f) + rows_f @ (const_cf.conj().T @ cols_c)
             + rows_f @ (sig @ cols_f))
    ec = xp.exp(times[:, None] * ell[None, :])  # (T, m)
    ef = _filter_exp(xp, times, muq, q_pole, r_of_q, mu)  # (T, Q)
    ecc = ec[:, :, None] * ec.conj()[:, None, :]  # e^{(ℓ_k + ℓ̄_l)t}, (T, m, m)
    phi = _phi(xp, x_cc, times, ecc)
    m_cc = s_cc[None] * ecc + q_cc[None] * phi  # (T, m, m)
    md_cc = (x_cc * s_cc)[None] * ecc + q_cc[None] * ecc
    rr_rows = rows_c[:m]  # the other closure rows are zero

    def assemble(mcc, kcf):
        # closure rows: Σ_l M_cc(t) cols_c + e^{ℓ_k t} Σ_q kcf e^{μ̄_q t} cols_f (one GEMM
        # over the filter modes)
        w1 = (kcf.T[:, :, None] * cols_f[:, None, :]).reshape(nq, m * n)
        zc = mcc @ cols_c + ec[:, :, None] * (ef.conj() @ w1).reshape(-1, m, n)
        # filter rows: e^{μ_q t} Σ_k conj(kcf)_qk e^{ℓ̄_k t} cols_c (GEMMs over k, then q)
        v = (kcf.conj()[:, :, None] * cols_c[:, None, :]).reshape(m, nq * n)
        zf = ef[:, :, None] * (ec.conj() @ v).reshape(-1, nq, n)
        out_f = xp.moveaxis(xp.tensordot(zf, rows_f, axes=([1], [1])), 2, 1)  # (T, R, n)
        out_c = xp.moveaxis(xp.tensordot(zc, rr_rows, axes=([1], [1])), 2, 1)  # (T, m, n)
        return out_f + xp.concatenate([out_c, xp.zeros_like(out_f[:, m:])], axis=1)

    y = assemble(m_cc, k_cf) + const[None]
    ydt = assemble(md_cc, kd_cf)
    # rounding bound of the sums (|e^{Λt}| ≤ 1): large where modes nearly coincide
    a = xp.abs
    tmax = times[-1]
    bound = (a(rows_c) @ ((a(s_cc) + tmax * a(q_cc)) @ a(cols_c))
             + a(rows_c) @ (a(k_cf) @ a(cols_f)) + a(rows_f) @ (a(k_cf).T @ a(cols_c))
             + a(rows_c) @ (a(const_cf) @ a(cols_f)) + a(rows_f) @ (a(const_cf).T @ a(cols_c))
             + a(rows_f) @ (a(sig) @ a(cols_f)))
    bound = 8 * (m + nq) * _EPS * xp.max(bound) * (1.0 + 1e2 * _EPS * arr["eig_condition"])
    bound = bound + 1e3 * tmax * jordan * xp.max(a(sig)) * xp.max(a(rr)) ** 2
    corr = y[:, :n, :]
    cb = xp.einsum("tpi,ip->tp", y[:, n:m, :], arr["vec"])
    cbd = xp.einsum("tpi,ip->tp", ydt[:, n:m, :], arr["vec"])
    cxn = xp.einsum("tji,ij->tj", y[:, m:m + nt, :], arr["tvec"])
    cxe = xp.einsum("tji,ij->tj", y[:, m + nt:, :], arr["tvec"])
    cxnd = xp.einsum("tji,ij->tj", ydt[:, m:m + nt, :], arr["tvec"])
    cxed = xp.einsum("tji,ij->tj", ydt[:, m + nt:, :], arr["tvec"])
    mres = resp.n_reservoirs
    p1 = xp.asarray(np.eye(mres)[np.asarray(resp.pole_res)].T)  # (M, P)
    t1 = xp.asarray(np.eye(mres)[np.asarray(resp.term_res)].T)  # (M, J)

    def amplitude(cxn_, cxe_, cb_):
        xn = -1j * cxn_ @ t1.T - cb_ @ p1.T
        xe = -1j * cxe_ @ t1.T + (1j * lam[None, :] * cb_) @ p1.T
        return xp.stack([xn, xe], axis=1)  # (T, 2, M)

    amp = amplitude(cxn, cxe, cb)
    amp_dt = amplitude(cxnd, cxed, cbd)
    cdt = ydt[:, :n, :]
    h = arr["hamiltonian"]
    sdt = xp.stack([xp.einsum("ij,tji->t", h, cdt).real,
                     xp.trace(cdt, axis1=1, axis2=2).real], axis=1)
    return corr, amp, amp_dt, sdt, bound
