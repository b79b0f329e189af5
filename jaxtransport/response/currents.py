r"""Currents-only stage 1 for large systems: ``jt.response(model, times, observables="currents")``.

The full ``Response`` stores everything C(t) needs: the propagator G(t) and per-node
correlation kernels, O(T n²) and O(M K T n²) numbers. For a chain of a few hundred sites that
is terabytes. The currents J^N_α, J^E_α, J^Q_α and the coupling energies <H_I^α> need much
less, because every reservoir couples through a few vectors v_j (Γ_α = Σ_j g_j v_j v_j†):

* **state part** (affine in C0): X^x_α(t) = Σ_r c[x, α, r] · ρ_r(t)ᵀ C0 σ_r(t), a sum of R
  rank-one bilinear forms (R = number of poles or bath terms), stored as (T, R, n) vectors;
* **bath part**: per frequency node only (T, 2, M) amplitudes, as in the full Response.

Memory is O(T R n + M K T M) instead of O(M K T n²), and evaluation costs O(T R n²) per C0.

**Continuum** (pole sums, including fitted kernels): with the eigendecomposition
L = R diag(ℓ) R⁻¹ of the closure generator (``continuum.py``), every quantity is closed form:

* v_l† G(t) = (v_l† R_top) diag(e^{ℓt}) R⁻¹_left, y_p(t) likewise from the pole rows;
* α_lj(ω, t) = v_l† A(ω,t) v_j = Σ_k (v_l† R)_k (R⁻¹ v_j)_k φ_k, φ_k = (e^{(ℓ_k+iω)t} − 1)/(ℓ_k+iω)
  (a Taylor series where |(ℓ_k + iω) t| < 10⁻³);
* the memory-kernel convolution z_p(ω,t) = ∫_0^t e^{−(λ_p−iω)(t−s)} v_p† A(ω,s) ds needs no
  integration: κ_p z_p v_j = (κ_p α_pj − e^{iωt} y_p(t) v_j)/(λ_p − iω) (differentiate both sides;
  Re λ_p > 0, so the denominator never vanishes on the real axis).

The frequency quadrature (window nodes, the f = 1 offset nodes and the exact complex tail rays)
and its adaptive refinement and error estimate are those of ``Continuum``. The eigenvectors are
checked against the matrix exponential at t_max; a generator too close to an exceptional point
(ill-conditioned eigenvectors) raises instead of returning inaccurate currents.

**Discretised**: the rows v_j† U_S(t) and the coupling rows Σ_k V_k ε_k^p U_k(t) of the finite-mode
propagator (a few probes instead of n system rows).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._validation import is_concrete
from ..solution import AbstractSolution, current_fields
from .base import EDGE_TOL, AbstractNodeResponse, node_contraction, stack_reservoir_arrays
from .closure import pole_data
from .continuum_kernels import frequency_classes, ray_rule
from .eig import eig
from .expm import expm
from .plan import edge_tolerance, padded_rules

_TWO_PI = 2.0 * math.pi


class CurrentSolution(AbstractSolution):
    """Currents and coupling energies of one (or a batch of) evaluation(s) of a
    ``CurrentResponse``. Same fields, units and sign conventions as ``jt.Solution``
    (currents **out of** each reservoir, shapes (..., time, reservoir)); no correlation
    matrix (use the full ``Response`` for C(t), occupations and system energies)."""

    times: Array
    particle_current: Array
    energy_current: Array
    heat_current: Array
    coupling_energy: Array
    coupling_energy_derivative: Array
    heat_current_derivative: Array
    temperature: Array
    chemical_potential: Array
    error_estimate: Array
    statistics: str = eqx.field(static=True, default="fermion")
    # the method that computed it (set by jt.solve; None from a response's evaluate)
    method: str | None = eqx.field(static=True, default=None)


class CurrentResponse(AbstractNodeResponse):
    """Stage-1 result for currents only (see the module docstring). Evaluate with
    ``.evaluate(state, temperature, chemical_potential)`` -> ``CurrentSolution``; vmappable and
    differentiable in C0, T and μ like ``Response.evaluate``.

    Shapes: T times, n modes, M reservoirs, K nodes per reservoir, R rank-one state terms.

    Units ħ = k_B = 1: the currents it evaluates are out of each reservoir (particles per time;
    energy and heat in energy per time, in the units of h)."""

    times: Float[Array, " T"]
    temperature: Float[Array, " M"]
    chemical_potential: Float[Array, " M"]
    # state part: X[t, x, α] = Σ_r coef[x, α, r] rows[t, r] · C0 · cols[t, r]
    state_coef: Array  # (2, M, R)
    state_rows: Array  # (T, R, n)
    state_cols: Array  # (T, R, n)
    state_rows_dt: Array
    state_cols_dt: Array
    nodes: Float[Array, "M K"]
    weights: Float[Array, "M K"]
    current_kernel: Array  # (M, K, T, 2, M)
    current_kernel_dt: Array
    current_offset: Array  # (T, 2, M)
    current_offset_dt: Array
    window: Float[Array, " 2"]
    error_estimate: Array
    method: str = eqx.field(static=True)
    statistics: str = eqx.field(static=True)
    edge_tolerance: float = eqx.field(default=EDGE_TOL, static=True)
    planned_range: tuple | None = eqx.field(default=None, static=True)  # as Response's

    @property
    def n_modes(self) -> int:
        return int(self.state_rows.shape[-1])

    # stage-2 terms: tuples (∅, X, dX/dt, ∅) with empty (..., T, 0) placeholders where the
    # full Response has C(t) and the scalar derivatives, so that terms add like the full
    # Response's (evaluate -> CurrentSolution)
    def state_terms(self, c0):
        c0 = jnp.asarray(c0).astype(jnp.complex128)
        x = _bilinear(self.state_coef, self.state_rows, self.state_cols, c0)
        xd = (_bilinear(self.state_coef, self.state_rows_dt, self.state_cols, c0)
              + _bilinear(self.state_coef, self.state_rows, self.state_cols_dt, c0))
        return _padded(x, xd)

    def node_terms(self, weighted_occupations, reservoirs=None):
        sel = slice(None) if reservoirs is None else slice(*reservoirs)
        wf = weighted_occupations
        return _padded(node_contraction(wf, self.current_kernel[sel]),
                       node_contraction(wf, self.current_kernel_dt[sel]))

    def offset_terms(self):
        return _padded(self.current_offset, self.current_offset_dt)

    def assemble(self, terms, temp, mu) -> CurrentSolution:
        _, x, xd, _ = terms
        return CurrentSolution(
            times=self.times, **current_fields(x, xd, mu), temperature=temp,
            chemical_potential=mu, error_estimate=self.error_estimate, statistics=self.statistics,
        )


def _padded(x, xd):
    empty = jnp.zeros(x.shape[:-2] + (0,))
    return empty, x, xd, empty


def _bilinear(coef, rows, cols, c0):
    """Σ_r coef[x, α, r] rows[t, r] · C0 · cols[t, r] -> (..., T, 2, M)."""
    s = jnp.einsum("tri,...ij,trj->...tr", rows, c0, cols)
    return jnp.einsum("xar,...tr->...txa", coef, s)


# ----------------------------------------------------------------------------------------
# Continuum: eigendecomposition of the closure generator
# ----------------------------------------------------------------------------------------
class _Eigen(eqx.Module):
    """Closed-form time dependence of the closure: ℓ (m,), and coefficient tensors. Poles share
    the vector of their term, so left vectors are the J term vectors (pole p uses term j(p))."""

    ell: Array  # (m,) eigenvalues of L
    coef: Array  # (m, J, J): (v_l† R_top)_k (R⁻¹ v_j)_k
    coef_y: Array  # (m, P, J): (e_{n+p}ᵀ R)_k (R⁻¹ v_j)_k  (y_p(t) v_j)
    rows_g: Array  # (P, m): v_p† R_top
    rows_y: Array  # (P, m): e_{n+p}ᵀ R
    rinv: Array  # (m, n): R⁻¹[:, :n]


def _eigen(pl) -> _Eigen:
    lmat = pl.generator()
    n = pl.vec.shape[0]
    ell, rr = eig(lmat)  # with a JVP: gradients in h and couplings
    rinv = jnp.linalg.inv(rr)
    bl = pl.tvec.conj().T @ rr[:n]  # (J, m)
    by = rr[n:]  # (P, m)
    cr = rinv[:, :n] @ pl.tvec  # (m, J)
    return _Eigen(ell=ell, coef=bl.T[:, :, None] * cr[:, None, :],
                  coef_y=by.T[:, :, None] * cr[:, None, :], rows_g=pl.vec.conj().T @ rr[:n],
                  rows_y=by, rinv=rinv[:, :n])


def _amplitude(pl, omega, abar_terms, abar_poles, kz):
    """Current amplitudes (M_β, 2, M_α) at one frequency and time from ᾱ_jj = v_j† Ā v_j (J,),
    ᾱ_pj = v_j† Ā v_p (P, J) and κ_p z_p v_j (P, J) (same algebra as continuum._observables,
    restricted to traces)."""
    g = pl.density(omega, jnp.iscomplexobj(omega))
    t1 = g * abar_terms
    w = jnp.stack([jnp.ones_like(omega), omega]).astype(jnp.complex128)
    d1 = w[:, None] * (pl.tonehot @ t1)[None, :]  # (2, M)
    zt = g[None, :] * kz * abar_poles  # (P, J)
    kx = jnp.stack([jnp.ones_like(pl.kappa), pl.k_energy]).astype(jnp.complex128)
    x2 = jnp.einsum("ap,xp,pj,bj->bxa", pl.onehot, kx, zt, pl.tonehot)
    m = pl.onehot.shape[0]
    return jnp.eye(m)[:, None, :] * d1[None, :, :] - x2


def _pole_rows(pl, x):
    """(…, J, J) quantities of the term vectors -> the (…, P, J) rows of the poles."""
    return x[..., jnp.asarray(pl.pole_term, dtype=int), :]


def _real_node(pl, eg, et, gt, yv, times, omega):
    """Amplitudes and their time derivatives (T, M, 2, M) at a real frequency, for all times,
    from e^{ℓt} (T, m), v_l† G(t) v_j (T, J, J) and y_p(t) v_j (T, P, J).

    α = Σ_k coef_k φ_k with φ_k = (e^{μ_k t} − 1)/μ_k, μ_k = ℓ_k + iω: the rounding error of
    the two parts is ~ε|coef_k|/|μ_k|, small because a mode's weight in coef
    vanishes with its damping (its overlap with the couplings), which bounds |μ_k| below;
    μ_k = 0 exactly (a dark mode) uses the limit φ = t. dα/dt = e^{iωt} v_l† G(t) v_j."""
    mu = eg.ell + 1j * omega
    tiny = jnp.abs(mu) < 1e-12
    inv = jnp.where(tiny, 0.0, 1.0 / jnp.where(tiny, 1.0, mu))
    ph = jnp.exp(1j * omega * times)
    j = eg.coef.shape[1]
    flat = eg.coef.reshape(-1, j * j)
    cm = inv[:, None] * flat
    # α = e^{iωt} Σ_k e^{ℓ_k t} coef_k/μ_k − Σ_k coef_k/μ_k (+ t coef_k where μ_k = 0): one
    # GEMM of e^{ℓt} (T, m) with the Cauchy-weighted coefficients (batched over nodes by vmap)
    alpha = (ph[:, None] * (et @ cm) - cm.sum(0)[None, :]
             + times[:, None] * (tiny.astype(flat.dtype) @ flat)[None, :]).reshape(-1, j, j)
    alpha_dt = ph[:, None, None] * gt
    nu = pl.lam - 1j * omega
    kap = pl.kappa[:, None]
    kz = (kap * _pole_rows(pl, alpha) - ph[:, None, None] * yv) / nu[:, None]
    kz_dt = kap * _pole_rows(pl, alpha) - nu[:, None] * kz  # κż = κα − ν κz

    def amp(ab, kz_):
        return _amplitude(pl, omega, jnp.diagonal(ab), _pole_rows(pl, ab), kz_)

    return jax.vmap(lambda a_, k_, ad, kd: jax.jvp(amp, (a_, k_), (ad, kd)))(
        alpha.conj(), kz, alpha_dt.conj(), kz_dt)


def _ray_node(pl, eg, et, gt, yv, yv_dt, times, omega, up):
    """Integrand on a complex ray (cf. continuum._tail_integrand), with its time derivative,
    for all times: split into e^{+iωt}, e^{−iωt} and non-oscillating classes
    (``continuum_kernels.frequency_classes``; ``up`` a traced bool), Ā the analytic
    continuation of A†. d/dt Σ coef e^{ℓt}/μ = v† G v − iω Σ coef e^{ℓt}/μ."""
    j = eg.coef.shape[1]
    flat = eg.coef.reshape(-1, j * j)
    mu = eg.ell + 1j * omega
    muc = eg.ell + 1j * jnp.conj(omega)
    a_p = (et @ (flat / mu[:, None])).reshape(-1, j, j)  # × e^{iωt}
    a_p_dt = gt - 1j * omega * a_p
    a_0 = ((-1.0 / mu) @ flat).reshape(j, j)
    ab_m = (et @ (flat / muc[:, None])).reshape(-1, j, j).conj()  # × e^{−iωt}
    ab_m_dt = gt.conj() + 1j * omega * ab_m
    ab_0 = ((-1.0 / muc) @ flat).reshape(j, j).conj()
    nu = (pl.lam - 1j * omega)[:, None]
    kap = pl.kappa[:, None]
    kz_0 = kap * _pole_rows(pl, a_0) / nu

    def integrand(t, ap, abm, yv_t):
        kz_p = (kap * _pole_rows(pl, ap) - yv_t) / nu

        def obs(fl, fr):
            ab = fr * abm + ab_0
            return _amplitude(pl, omega, jnp.diagonal(ab), _pole_rows(pl, ab), fl * kz_p + kz_0)

        return frequency_classes(obs, omega, t, up)

    return jax.vmap(lambda *a: jax.jvp(integrand, a[:4], a[4:]))(
        times, a_p, ab_m, yv, jnp.ones_like(times), a_p_dt, ab_m_dt, yv_dt)


@eqx.filter_jit
def _continuum_current_arrays(pl, times, wn, on, ow, sn, sw, a, *, node_batch):
    eg = _eigen(pl)
    # state part: rows y_p(t), cols conj(v_p† G(t)) and derivatives (E' = L E)
    et = jnp.exp(times[:, None] * eg.ell[None, :])  # (T, m)
    rows = jnp.einsum("pk,tk,ki->tpi", eg.rows_y, et, eg.rinv)
    rows_dt = jnp.einsum("pk,tk,ki->tpi", eg.rows_y, et * eg.ell, eg.rinv)
    vg = jnp.einsum("pk,tk,ki->tpi", eg.rows_g, et, eg.rinv)
    vg_dt = jnp.einsum("pk,tk,ki->tpi", eg.rows_g, et * eg.ell, eg.rinv)
    kx = jnp.stack([jnp.ones_like(pl.kappa), pl.k_energy]).astype(jnp.complex128)
    coef = -pl.onehot[None].astype(complex) * kx[:, None, :]  # (2, M, P)

    yv = jnp.einsum("tk,kpj->tpj", et, eg.coef_y)  # y_p(t) v_j
    yv_dt = jnp.einsum("tk,kpj->tpj", et * eg.ell, eg.coef_y)
    gt = jnp.einsum("tk,klj->tlj", et, eg.coef)  # v_l† G(t) v_j
    args = (pl, eg, et, gt, yv, times)
    # nodes per batch (one GEMM e^{ℓt} @ (m, batch·J²)): intermediates ~ batch·T·P·J
    batch = max(1, min(256, int(4e6) // (times.shape[0] * max(8, yv.shape[1] * yv.shape[2]))))

    def kernels(nodes):
        return jax.lax.map(lambda w: _real_node(*args, w), nodes, batch_size=batch)

    x_k, xd_k = kernels(wn)  # (K, T, M, 2, M)
    nt, nres = times.shape[0], pl.onehot.shape[0]
    off = jnp.zeros((nt, 2, nres), complex)
    off_d = jnp.zeros_like(off)
    if on.shape[0] > 0:
        ox, oxd = kernels(on)
        off += jnp.einsum("k,ktbxa->txa", ow, ox)
        off_d += jnp.einsum("k,ktbxa->txa", ow, oxd)
    if sn.shape[0] > 0:
        # both rays a ± is in one map (one copy of the integrand in the program)
        omegas, up, wts = ray_rule(a, sn, sw)
        u, ud = jax.lax.map(
            lambda args_: _ray_node(pl, eg, et, gt, yv, yv_dt, times, *args_),
            (omegas, up), batch_size=batch)
        off += jnp.tensordot(wts, u, 1).sum(1)
        off_d += jnp.tensordot(wts, ud, 1).sum(1)
    # check the eigen-representation against the matrix exponential at t_max
    lmat = pl.generator()
    n = pl.vec.shape[0]
    ex = expm(lmat * times[-1])[:, :n]
    ref = jnp.concatenate([pl.vec.conj().T @ ex[:n], ex[n:]])
    got = jnp.concatenate([vg[-1], rows[-1]])
    eig_err = jnp.max(jnp.abs(got - ref)) / jnp.maximum(jnp.max(jnp.abs(ref)), 1e-300)
    mv = lambda x: jnp.moveaxis(x, 2, 0)  # (K, T, M, ...) -> (M, K, T, ...)
    return dict(
        state_coef=coef, state_rows=rows, state_cols=vg.conj(), state_rows_dt=rows_dt,
        state_cols_dt=vg_dt.conj(), current_kernel=mv(x_k), current_kernel_dt=mv(xd_k),
        current_offset=off, current_offset_dt=off_d,
    ), eig_err


def build_continuum_currents(model, times, plan, node_batch, sizes=None, tolerance=1e-8):
    """``CurrentResponse`` arrays for one Continuum ``QuadraturePlan`` (cf.
    ``continuum_kernels.build_response``)."""
    wn, ww, on, ow, sn, sw = padded_rules(plan, node_batch, sizes)
    arrays, eig_err = _continuum_current_arrays(
        pole_data(model, plan.fits),
        *(jnp.asarray(x) for x in (times, wn, on, ow / _TWO_PI, sn, sw)), jnp.asarray(plan.a),
        node_batch=node_batch,
    )
    # (under tracing, e.g. jax.grad in h, the check runs on the concrete primal model only)
    if is_concrete(eig_err) and not float(eig_err) < min(1e-8, 1e-2 * tolerance):
        raise ValueError(
            "observables='currents' uses the eigendecomposition of the closure generator, but "
            f"its eigenvectors are ill-conditioned here (relative error {float(eig_err):.2g} at "
            f"t_max against the matrix exponential, tolerance {tolerance:g}: the model is close "
            "to an "
            "exceptional point). Use the full Response (observables='all') or jt.Discretised."
        )
    temp, mu = stack_reservoir_arrays(model)
    nres = model.n_reservoirs
    return CurrentResponse(
        times=jnp.asarray(times), temperature=temp, chemical_potential=mu,
        nodes=jnp.broadcast_to(jnp.asarray(wn), (nres, len(wn))),
        weights=jnp.broadcast_to(jnp.asarray(ww / _TWO_PI), (nres, len(wn))),
        window=jnp.asarray([plan.w_lo, plan.w_hi]), error_estimate=jnp.asarray(jnp.nan),
        method="continuum", statistics=model.statistics,
        edge_tolerance=edge_tolerance(tolerance), **arrays,
    )


# ----------------------------------------------------------------------------------------
# Discretised: a few probe rows of the finite-mode propagator
# ----------------------------------------------------------------------------------------
@jax.custom_jvp
def probe_evolution(hmat, probes, times):
    """probes @ exp(−i H t) for every t: shape (T, r, D)."""
    lam, vec = jnp.linalg.eigh(hmat)
    ph = jnp.exp(-1j * times[:, None] * lam[None, :])  # (T, D)
    pe = (probes @ vec)[None] * ph[:, None, :]
    if not jnp.iscomplexobj(vec):  # real H: real eigh (~5x faster) and two real GEMMs
        return (jnp.einsum("trd,ed->tre", pe.real, vec)
                + 1j * jnp.einsum("trd,ed->tre", pe.imag, vec))
    return jnp.einsum("trd,ed->tre", pe, vec.conj())


@probe_evolution.defjvp
def probe_evolution_jvp(primals, tangents):
    """Daleckii–Krein derivative of e^{−iHt}, finite at degenerate spectra.

    In the eigenbasis, d e^{−iHt} = V (Φ(t) ∘ X) V†, X = V† dH V and
    Φ_ij = (e^{−iλ_i t} − e^{−iλ_j t})/(λ_i − λ_j). For separated pairs Φ∘X splits into
    diagonal phases times the constant Q = X/(λ_i − λ_j); for (near-)degenerate pairs
    (|λ_i − λ_j| t_max < 1e-4) Φ_ij = −it e^{−iλ_i t}(1 + O((Δλ t)²) ≤ 1e-9). Everything is then a
    batched product over times without a per-time D×D matrix (no eigh gradient, no NaN)."""
    hmat, probes, times = primals
    dh, dp, dt = tangents
    lam, vec = jnp.linalg.eigh(hmat)
    vd = vec.conj().T
    pv = probes @ vec
    x = vd @ dh @ vec
    dpv = dp @ vec
    diff = lam[:, None] - lam[None, :]
    tmax = jnp.maximum(jnp.max(jnp.abs(times)), 1e-12)
    deg = jnp.abs(diff) * tmax < 1e-4
    q = jnp.where(deg, 0.0, x / jnp.where(deg, 1.0, diff))
    xdeg = jnp.where(deg, x, 0.0)
    ph = jnp.exp(-1j * times[:, None] * lam[None, :])  # (T, D)
    pe = pv[None] * ph[:, None, :]  # (T, r, D)
    out_e = pe  # primal in the eigenbasis
    tan_e = (
        jnp.einsum("tri,ij->trj", pe, q)
        - (pv @ q)[None] * ph[:, None, :]
        - 1j * times[:, None, None] * jnp.einsum("tri,ij->trj", pe, xdeg)
        + dpv[None] * ph[:, None, :]
        - 1j * dt[:, None, None] * pe * lam[None, None, :]
    )
    to_site = lambda y: jnp.einsum("trd,ed->tre", y, vec.conj())
    return to_site(out_e), to_site(tan_e)


@eqx.filter_jit
def _discretised_current_arrays(h, eps, amps, vecs, term, owner_onehot, times):
    """Probe rows s_j = v_j† (system part) and r^p_j = Σ_{k∈j} a_k ε_k^p e_k (p = 0, 1) of
    U(t) = e^{−iHt}, and their time derivatives (probes @ (−iH)).

    With V_k = a_k v_{j(k)}: the amplitude of bath mode q is X^x_α(q) = −i Σ_{j∈α}
    conj(S_j(q)) ρ^x_j(q), S_j = s_j U, ρ^x_j = r^x_j U, and the state part is
    X^x_α = −i Σ_{j∈α} ρ^x_j|_S · C0 · conj(S_j|_S)."""
    n, kb = h.shape[0], eps.shape[0]
    nt = vecs.shape[0]
    d = n + kb
    coup = amps[:, None] * vecs[term]  # (Kb, n)
    hmat = jnp.zeros((d, d), h.dtype)  # real when h and the couplings are (faster eigh)
    hmat = hmat.at[:n, :n].set(h)
    hmat = hmat.at[n:, n:].set(jnp.diag(eps.astype(h.dtype)))
    hmat = hmat.at[:n, n:].set(coup.T)
    hmat = hmat.at[n:, :n].set(coup.conj())
    sel = jax.nn.one_hot(term, nt, dtype=jnp.float64).T  # (J, Kb)
    s_rows = jnp.concatenate([vecs.conj(), jnp.zeros((nt, kb), complex)], axis=1)
    r_rows = [jnp.concatenate([jnp.zeros((nt, n), complex), sel * amps * eps**p], axis=1)
              for p in range(2)]
    probes = jnp.concatenate([s_rows, *r_rows])  # (3J, D)
    probes = jnp.concatenate([probes, -1j * probes @ hmat])  # and d/dt
    up = probe_evolution(hmat, probes, times)  # (T, 6J, D)
    s, rho = up[:, :nt], up[:, nt:3 * nt].reshape(-1, 2, nt, d)
    ds, drho = up[:, 3 * nt:4 * nt], up[:, 4 * nt:].reshape(-1, 2, nt, d)
    oh = owner_onehot.astype(complex)  # (M, J)
    amp = lambda s_, r_: -1j * jnp.einsum("aj,tjq,txjq->qtxa", oh, s_.conj(), r_)[n:]
    x = amp(s, rho)
    xd = amp(ds, rho) + amp(s, drho)
    # state part: r = (x, j) pairs
    m = oh.shape[0]
    coef = -1j * jnp.einsum("xy,aj->xayj", jnp.eye(2), oh).reshape(2, m, 2 * nt)
    rows = rho[..., :n].reshape(-1, 2 * nt, n)
    rows_dt = drho[..., :n].reshape(-1, 2 * nt, n)
    cols = jnp.concatenate([s[..., :n].conj()] * 2, axis=1)
    cols_dt = jnp.concatenate([ds[..., :n].conj()] * 2, axis=1)
    return x, xd, dict(state_coef=coef, state_rows=rows, state_cols=cols,
                       state_rows_dt=rows_dt, state_cols_dt=cols_dt)


def build_discretised_currents(method, model, times) -> CurrentResponse:
    eps, amps, vecs, term, owner, idx, mask = method.bath_modes(model, times)
    nres = model.n_reservoirs
    owner_of_term = np.array([owner[np.nonzero(term == j)[0][0]] for j in range(len(vecs))])
    h = np.asarray(model.hamiltonian) if is_concrete(model.hamiltonian) else None
    real = h is not None and not np.any(np.imag(h)) and all(
        is_concrete(v) and not np.any(np.imag(np.asarray(v))) for v in vecs)
    dtype = jnp.float64 if real else jnp.complex128
    x, xd, state = _discretised_current_arrays(
        model.hamiltonian.astype(dtype), eps, amps,
        jnp.stack([jnp.asarray(v).astype(dtype) for v in vecs]), jnp.asarray(term),
        jax.nn.one_hot(jnp.asarray(owner_of_term), nres, dtype=jnp.float64).T,
        jnp.asarray(times),
    )
    idx_j = jnp.asarray(idx)
    temp, mu = stack_reservoir_arrays(model)
    nt = len(times)
    return CurrentResponse(
        times=jnp.asarray(times), temperature=temp, chemical_potential=mu,
        nodes=jnp.where(jnp.asarray(mask) > 0, eps[idx_j], 0.0), weights=jnp.asarray(mask),
        current_kernel=x[idx_j], current_kernel_dt=xd[idx_j],
        current_offset=jnp.zeros((nt, 2, nres), complex),
        current_offset_dt=jnp.zeros((nt, 2, nres), complex),
        window=jnp.asarray([float(np.min(np.asarray(eps))) if model.statistics == "boson"
                            else -np.inf, np.inf]),
        error_estimate=jnp.asarray(jnp.nan), method="discretised",
        statistics=model.statistics, **state,
    )
