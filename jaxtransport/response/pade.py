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

Its system block is C(t); the currents follow from two more blocks (X^N_α = Σ_{j∈α} −i ⟨ξ_j(t)
a(t)†⟩ v_j − Σ_{p∈α} ⟨y_p a†⟩ v_p, with ξ_j the filter output; the energy amplitude weights
each filter mode by −iν̄_q and the pole rows by iλ_p, docs/theory.md, "Methods"). The
eigenvectors of L are explicit from those of L_c (T-independent, stage 1): filter mode q has
eigenvalue μ_q = −ν̄_q and eigenvector (−R diag(1/(ℓ − μ_q)) R⁻¹ B e_q, e_q). Every output is a
sum of e^{(Λ_k + Λ̄_l)t} terms: a few small GEMMs per configuration, differentiable in C0, T,
μ, h and couplings, with no frequency quadrature.

**Accuracy.** Only the Padé truncation is approximate. ``error_estimate`` is the largest
difference to the same calculation with N − max(2, N/4) poles (occupations, correlations,
particle/energy current amplitudes and coupling energies), plus a rounding bound of the final
sums (which grows where a closure eigenvalue or a lead pole nearly coincides with a Padé pole,
e.g. W = ξ_i T). Occupations and particle currents converge fastest; the coupling energy
converges like (ξ_N T)^{-2} ~ N^{-4} (a short-time effect of f_N → 1/2 at |x| ≫ ξ_N).
By default N is chosen for ``tolerance`` at the model's own (T, μ): an a priori first N; every
concrete evaluate checks the estimate at its own (T, μ) and raises N, and a compiled (batched
or jitted) evaluate first raises it until the estimate of the reservoir part meets the
tolerance at the model's (T, μ) (``settled``), so that it compiles once.

Scope: fermionic, number-conserving ``jt.Model`` with pole-sum densities only (everything
else: ``jt.Continuum`` / ``jt.Discretised``), full observables (no ``observables="currents"``).
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._validation import check_times, is_concrete, to_jax
from ..drive import refuse_drive
from ..solution import Solution
from .base import AbstractResponse, flatten_terms, stack_reservoir_arrays
from .closure import closure_generator
from .eig import eig
from .pade_kernels import (  # noqa: F401  (N_MAX .. pole_scale: public here too)
    EPS,
    N_MAX,
    PadeUnsuitable,
    bath_one,
    checked_temperature,
    default_n,
    pade_fermi,  # noqa: F401  (public here too)
    pade_pole_data,
    pade_poles,
    pole_scale,
    raised_n,
    readout,
    single_thread_blas,
    state_modal,
    truncation,
)


class Pade(eqx.Module):
    """Method: Padé pole expansion of the Fermi functions + exact pole closure, closed form
    in time (see the module docstring). ``n_pade``: number of Padé poles per reservoir (default:
    chosen for ``tolerance``, absolute, in occupations, currents and coupling energies, at the
    model's own T and μ). Use ``jt.response(model, times, method=jt.Pade())``; the result's
    ``evaluate(state, temperature, chemical_potential)`` takes any (C0, T, μ) and reports its
    ``error_estimate`` for those values. ``estimate=False`` skips the second, lower-order
    evaluation behind the estimate (half the work; ``error_estimate`` is then NaN): for inner
    loops such as an optimiser's steps, whose result is re-checked with the estimate.

    **Driven models** (``jt.Model(..., drive=jt.Drive(...))``): the same finite linear system
    with a time-dependent generator, propagated in time (``response/driven_pade.py``); the
    response gives a ``jt.DrivenSolution``. ``drive_step``: largest time step (default: chosen
    on concrete values, halved until the step-doubling estimate meets ``tolerance``; fixed
    steps and ``n_pade`` are needed under ``jax.grad``/``jit`` of the model). ``strict``: a
    missed tolerance raises (``PadeUnsuitable``, a ``ValueError``) instead of warning
    (``jt.ToleranceWarning``).

    Units ħ = k_B = 1: ``tolerance`` in the units of the observables it bounds (currents out of
    each reservoir in energy per time, coupling energies in energy, occupations dimensionless)."""

    n_pade: int | None = None
    tolerance: float = 1e-8
    estimate: bool = True
    drive_step: float | None = None
    strict: bool = False

    def __check_init__(self):
        if self.n_pade is not None and (int(self.n_pade) != self.n_pade or self.n_pade < 2):
            raise ValueError(f"n_pade must be an integer >= 2 (or None), got {self.n_pade!r}.")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"tolerance must be finite and > 0, got {self.tolerance!r}.")
        if self.drive_step is not None and not (0 < self.drive_step < math.inf):
            raise ValueError(f"drive_step must be > 0 and finite (or None), got "
                             f"{self.drive_step!r}.")

    def response(self, model, times) -> PadeResponse:
        check_pole_sum_model(model)
        times = check_times(times)
        if getattr(model, "drive", None) is not None:  # time-dependent generator
            from .driven_pade import driven_pade_response

            return driven_pade_response(self, model, times)
        concrete = is_concrete(*jax.tree_util.tree_leaves(model))
        if self.n_pade is not None:
            return _build(model, times, int(self.n_pade), _stage1(model, check_eig=concrete),
                          estimate=self.estimate)
        if not concrete:
            raise ValueError("jt.Pade() chooses its number of poles from concrete model values; "
                             "under tracing pass jt.Pade(n_pade=...) explicitly.")
        stage1 = _stage1(model, check_eig=True)
        temp, _ = stack_reservoir_arrays(model)
        n = default_n(self.tolerance, pole_scale(stage1[0]), float(np.min(np.asarray(temp))))
        # the estimate is checked (and N raised) by every concrete evaluate, at its own (T, μ);
        # a compiled (batched or jitted) evaluate first settles N (``compiled_variant``)
        return _build(model, times, n, stage1, tolerance=self.tolerance)

    def current_response(self, model, times):
        refuse_drive(model, "jt.Pade")
        raise ValueError("jt.Pade() has no currents-only mode (its Response is already small); "
                         "use observables='all'.")


def pade_for_models(method: Pade, models, temperature_min: float) -> Pade:
    """``method`` with a fixed pole count valid for every model of ``models`` down to
    ``temperature_min`` (the a-priori rule of ``default_n`` at the largest lead tails): for
    batches of models built under ``jax.vmap``, where N cannot be chosen per model."""
    if method.n_pade is not None:
        return method
    for m in models:
        check_pole_sum_model(m)
    scale = max(pole_scale(pade_pole_data(m)) for m in models)
    return Pade(n_pade=default_n(method.tolerance, scale, temperature_min),
                tolerance=method.tolerance)


def check_pole_sum_model(model, subject="jt.Pade()",
                         alternative="jt.Continuum or jt.Discretised"):
    """Refuse anything but a fermionic, number-conserving ``jt.Model`` with pole-sum leads.

    ``subject`` names the caller in the message and ``alternative`` what to use instead.
    Shared by ``jt.Pade`` and the continuum counting statistics (both expand the Fermi
    functions in poles and close the leads' pole sums exactly)."""
    from ..model import Model

    if not isinstance(model, Model):
        raise ValueError(f"{subject} solves number-conserving jt.Model systems; for "
                         f"{type(model).__name__} use {alternative}.")
    if model.statistics != "fermion":
        raise ValueError(f"{subject} expands Fermi functions: fermionic models only (bosonic "
                         f"densities are not pole sums). Use {alternative}.")
    for dens, _, _ in flatten_terms(model):
        if not dens.is_pole_sum:
            raise ValueError(
                f"{subject} needs pole-sum spectral densities, i.e. sums of poles (Lorentzian, "
                f"sums of Lorentzians, CutoffLorentzian); {type(dens).__name__} is not. Use "
                f"{alternative}.")


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
    with single_thread_blas():
        out = _eigen_parts(np, closure_generator(np, *args), np.linalg.eig)
    return to_jax(tuple(out))


def _stage1(model, check_eig):
    """Pole data and the closure eigendecomposition (independent of T, μ and N)."""
    pd = pade_pole_data(model)
    args = (model.hamiltonian, pd["vec"], pd["kappa"], pd["lam"])
    eigen = _closure_eigen_numpy if is_concrete(*args) else _closure_eigen
    ell, rr, rinv, cond = eigen(*args)
    if check_eig:
        bad = float(cond) * EPS
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
    return dict(to_jax(dict(xi=xi, eta=eta, xi_lo=xi_lo, eta_lo=eta_lo)), n_pade=n_pade)


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


class PadeResponse(AbstractResponse):
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

    def runs_eagerly(self, state, temperature, chemical_potential) -> bool:
        """One concrete configuration outside any transformation: the terms run in NumPy, so
        that a single transient needs no compilation at all."""
        leaves = [state, temperature, chemical_potential, *jax.tree_util.tree_leaves(self)]
        return (state.ndim == 2 and temperature.ndim == 1 and chemical_potential.ndim == 1
                and is_concrete(*leaves))

    checked_temperature = checked_temperature

    # stage-2 terms: (C(t), X, dX/dt, scalar d/dt, Padé-truncation estimate, rounding bound)
    def state_terms(self, state):
        """The C0 part (..., n, n): the closure modes alone (no Padé poles involved)."""
        xp = np if is_concrete(state, *jax.tree_util.tree_leaves(self)) else jnp
        arr = self._arrays(xp)
        y, ydt, bound = state_modal(xp, arr, xp.asarray(state, complex), self.n_modes,
                                     2 * len(self.term_res))
        return (*readout(xp, self, arr, y, ydt), 0.0 * bound, bound)

    def bath_terms(self, temperature, chemical_potential):
        """The lead part at (T, μ) (..., M): with N and with fewer Padé poles (the
        difference is the truncation estimate)."""
        temp, mu = temperature, chemical_potential
        if temp.ndim == 1 and mu.ndim == 1 and is_concrete(
                temp, mu, *jax.tree_util.tree_leaves(self)):
            arr = self._arrays(np)
            t, u = np.asarray(temp, float), np.asarray(mu, float)
            with single_thread_blas():
                hi = bath_one(np, self, arr, t, u, np.asarray(self.xi), np.asarray(self.eta))
                if not self.estimate:
                    return (*hi[:4], np.nan, hi[4])
                lo = bath_one(np, self, arr, t, u, np.asarray(self.xi_lo),
                              np.asarray(self.eta_lo))
            return (*hi[:4], truncation(np, hi, lo), hi[4])
        m_res = self.n_reservoirs
        batch = jnp.broadcast_shapes(temp.shape[:-1], mu.shape[:-1])
        tb = jnp.broadcast_to(temp, batch + (m_res,)).reshape(-1, m_res)
        mb = jnp.broadcast_to(mu, batch + (m_res,)).reshape(-1, m_res)
        arr = self._arrays(jnp)
        xis = jnp.stack([self.xi, self.xi_lo])
        etas = jnp.stack([self.eta, self.eta_lo])

        def one(t, u):
            if not self.estimate:
                hi = bath_one(jnp, self, arr, t, u, self.xi, self.eta)
                return (*hi[:4], jnp.asarray(jnp.nan), hi[4])
            both = jax.vmap(lambda x_, e_: bath_one(jnp, self, arr, t, u, x_, e_))(xis, etas)
            hi = tuple(b[0] for b in both)
            lo = tuple(b[1] for b in both)
            return (*hi[:4], truncation(jnp, hi, lo), hi[4])

        out = jax.vmap(one)(tb, mb)
        return tuple(x.reshape(batch + x.shape[1:]) for x in out)

    def offset_terms(self):
        return (0.0,) * 6

    def assemble(self, terms, temperature, chemical_potential) -> Solution:
        corr, amp, amp_dt, sdt, trunc, bound = terms
        xp = np if isinstance(corr, np.ndarray) else jnp
        batch = corr.shape[:-3]
        mres = self.n_reservoirs
        sol = Solution.from_amplitudes(
            times=self.times, hamiltonian=self.hamiltonian, correlation=corr, amplitude=amp,
            amplitude_dt=amp_dt, scalar_dt=sdt,
            temperature=xp.broadcast_to(temperature, batch + (mres,)),
            chemical_potential=xp.broadcast_to(chemical_potential, batch + (mres,)),
            error_estimate=xp.broadcast_to(xp.maximum(trunc, bound), batch),
            statistics="fermion",
        )
        return to_jax(sol)

    def refine(self, solution, state, temperature, chemical_potential):
        """When N was chosen for a tolerance (``jt.Pade(tolerance=...)``, no ``n_pade``), the
        error estimate at the requested (T, μ) is checked: for concrete inputs N is raised
        (by 25 %, up to 400) until it meets the tolerance — e.g. at a temperature below the
        model's — and under jit/vmap/grad a runtime error says to build with a larger
        ``n_pade``. With a user-fixed ``n_pade`` the estimate is reported, not enforced."""
        if self.tolerance is None:
            return solution
        if not is_concrete(solution.error_estimate):
            # on every output, so that the check survives dead-code elimination
            return eqx.error_if(
                solution, jnp.any(solution.error_estimate > self.tolerance),
                "jt.Pade: the error estimate exceeds the tolerance at these temperatures/"
                "chemical potentials (the pole count was chosen for the model's own T and μ). "
                "Evaluate outside jit (N is then raised automatically) or build the response "
                "with a larger jt.Pade(n_pade=...).")
        err = float(jnp.max(solution.error_estimate))
        if err <= self.tolerance:
            return solution
        if self.n_pade >= N_MAX:
            raise PadeUnsuitable(
                f"jt.Pade could not reach tolerance {self.tolerance:g} at these "
                f"temperatures/chemical potentials with {self.n_pade} poles (estimate "
                f"{err:.2g}); use jt.Continuum.")
        finer = self.with_n_pade(raised_n(self.n_pade))
        return finer.evaluate(state, temperature, chemical_potential)

    def compiled_variant(self) -> PadeResponse:
        """Before a compiled stage 2: N settled at the model's own (T, μ) (``settled``), so
        that the program is compiled once, at its final N (a single concrete configuration
        runs in NumPy and raises N there at no compilation cost)."""
        if is_concrete(*jax.tree_util.tree_leaves(self)):
            return self.settled()
        return self

    def settled(self) -> PadeResponse:
        """This response with N raised (by 25 %, up to 400) until the Padé-truncation
        estimate of the reservoir part at the model's own (T, μ) meets the tolerance. That
        part does not depend on C0 and runs in NumPy (no compilation), so that the first
        batched or jitted evaluate compiles once, at its final N, instead of once per
        refinement. Unchanged when N is fixed by the user or the estimate is off."""
        if self.tolerance is None or not self.estimate:
            return self
        resp = self
        with jax.ensure_compile_time_eval():  # concrete, also inside a jit trace
            while resp.n_pade < N_MAX:
                terms = resp.bath_terms(self.temperature, self.chemical_potential)
                if max(float(terms[4]), float(terms[5])) <= self.tolerance:
                    break
                resp = resp.with_n_pade(raised_n(resp.n_pade))
        return resp

    def with_n_pade(self, n_pade: int) -> PadeResponse:
        """The same stage 1 with ``n_pade`` Padé poles (the closure eigendecomposition does
        not depend on N, so this costs nothing)."""
        return dataclasses.replace(self, **_pade_sets(int(n_pade)))

    def _arrays(self, xp):
        names = ("times", "hamiltonian", "ell", "rr", "rinv", "vec", "kappa", "lam", "tvec",
                 "eig_condition")
        return {k: xp.asarray(getattr(self, k)) for k in names}


