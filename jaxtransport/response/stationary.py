r"""Stage 1 for correlated initial states: the exact stationary state of a pre-quench model.

Derivation: docs/theory.md, "Correlated initial states: derivation and bookkeeping". In
short, every single-particle scattering state of ``premodel`` (one per reservoir mode ω of
term j) is, in the frame rotating with e^{−iωt}, the stationary solution of the pole closure

    dẽ/dt = (L + iω) ẽ − i d_j,   ẽ = (system amplitude; y_1..y_P),  d_j = (v_j; 0),

i.e. ẽ = R(ω) = i (L₀ + iω)^{-1} d⁰_j for the premodel (generator L₀, vectors v⁰_j). From
t = 0 the same equation runs with the model's L₁ and d¹_j, so

    ẽ_j(ω, t) = R₁(ω) + e^{iωt} e^{L₁ t} (R₀(ω) − R₁(ω)),   R_x = i (L_x + iω)^{-1} d^x_j.

The state is Σ_j ∫dω/2π f_{β(j)}(ω) g_j(ω) |ψ_j(ω,t)><ψ_j(ω,t)|: every first moment is a linear
functional of the occupations with no C0 part, evaluated with the same quadrature (window,
filled offset, exact complex-ray tail) as the product-state ``Continuum``.

For ``Discretised`` (finite modes) the initial state is the Gibbs state of the premodel's full
single-particle Hamiltonian H⁰ at the common (T, μ) of all reservoirs: C_tot(0) = f(H⁰) =
Σ_q f(λ_q) φ_q φ_q†, evolved exactly with the model's H¹ (nodes = the eigenvalues λ_q).
"""

from __future__ import annotations

import dataclasses
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_times, is_concrete
from ..drive import refuse_drive
from .base import Response, stack_reservoir_arrays
from .closure import pole_data
from .continuum import Continuum
from .continuum_kernels import (
    build_response,
    frequency_classes,
    observables_of_amplitudes,
    ray_integral,
    with_scalars,
)
from .discretised import Discretised, discretised_arrays
from .expm import expm
from .mode_kernels import full_hamiltonian


class StationaryResponse(Response):
    """Stage-1 result for a correlated initial state (``jt.StationaryState``): the same
    kernels and ``Solution`` as ``jt.Response``, with no C0 part. ``evaluate(state, T, μ)``
    takes the ``jt.StationaryState`` it was built for (or None). With ``joint_equilibrium``
    (finite modes: a Gibbs state of the whole) all reservoirs must share T and μ. Units
    ħ = k_B = 1; currents out of each reservoir (as ``jt.Response``)."""

    joint_equilibrium: bool = eqx.field(default=False, static=True)

    def initial_state(self, state):
        if state is not None and not getattr(state, "is_stationary_state", False):
            raise ValueError(
                "this Response was built for a correlated initial state (jt.StationaryState); "
                "evaluate it with that state (or None). For product initial states build "
                "jt.response(model, times, method) without initial=."
            )
        return jnp.zeros((self.n_modes, self.n_modes))  # no C0 part

    def checked_temperature(self, temperature, chemical_potential):
        temp = super().checked_temperature(temperature, chemical_potential)
        if not self.joint_equilibrium:
            return temp
        return eqx.error_if(
            temp,
            jnp.any(jnp.ptp(temp, axis=-1) > 0)
            | jnp.any(jnp.ptp(chemical_potential, axis=-1) > 0),
            "jt.Discretised with jt.StationaryState starts from the joint Gibbs state of "
            "the premodel's finite single-particle Hamiltonian: every reservoir must have "
            "the same temperature and chemical potential. For a non-equilibrium "
            "stationary state use jt.Continuum.",
        )


def _as_stationary(resp, **extra):
    return StationaryResponse(**{f.name: getattr(resp, f.name)
                                 for f in dataclasses.fields(Response)}, **extra)


# ----------------------------------------------------------------------------------------
# continuum
# ----------------------------------------------------------------------------------------
def _drive(pl):
    """(m, J): the source columns d_j = (v_j; 0) of every term j."""
    p, j = pl.vec.shape[1], pl.tvec.shape[1]
    return jnp.concatenate([pl.tvec, jnp.zeros((p, j), complex)])


def _amplitudes(pl, e):
    """(av, zv) of ``observables_of_amplitudes`` from the rotating-frame closure state
    ẽ (m, J): av = i ẽ_S (the product-state convention A v_j), zv = i y / κ."""
    n = pl.vec.shape[0]
    return 1j * e[:n], 1j * e[n:] / pl.kappa[:, None]


def _resolvent_drive(lmat, omega, d):
    return 1j * jnp.linalg.solve(lmat + 1j * omega * jnp.eye(lmat.shape[0]), d)


def _node(pl, l0, d0, omega, deltas, inv):
    """Kernels at one real frequency for all times (corr, amp, amp_dt, scalar_dt), per β."""
    l1 = pl.generator()
    m = l1.shape[0]
    nj = pl.tvec.shape[1]
    gen = jnp.block([[l1 + 1j * omega * jnp.eye(m), -1j * _drive(pl)],
                     [jnp.zeros((nj, m + nj), complex)]])
    s0 = jnp.concatenate([_resolvent_drive(l0, omega, d0), jnp.eye(nj, dtype=complex)])
    props = jax.vmap(lambda d: expm(gen * d))(jnp.asarray(deltas))

    def step(s, k):
        s = props[k] @ s
        return s, s

    _, s_all = jax.lax.scan(step, s0, jnp.asarray(inv))

    def obs(s):
        av, zv = _amplitudes(pl, s[:m])
        return with_scalars(pl, *observables_of_amplitudes(pl, omega, av, zv, av.conj().T))

    def one(s):
        (c, x, sc), (_, xd, scd) = jax.jvp(obs, (s,), (gen @ s,))
        return c, x, xd, scd

    return tuple(jnp.moveaxis(a, 1, 0) for a in jax.vmap(one)(s_all))


def _tail_integrand(pl, l0, d0, omega, et):
    """``obs(fl, fr)`` of ``continuum_kernels.frequency_classes`` on a complex ray at the
    time with e^{L₁t} = ``et`` (summed over β)."""
    l1 = pl.generator()
    d1 = _drive(pl)
    wc = jnp.conj(omega)
    r1, r1c = _resolvent_drive(l1, omega, d1), _resolvent_drive(l1, wc, d1)
    pp = et @ (_resolvent_drive(l0, omega, d0) - r1)  # multiplies e^{iωt}
    ppc = et @ (_resolvent_drive(l0, wc, d0) - r1c)  # its continuation (e^{−iωt})
    n = pl.vec.shape[0]

    def obs(fl, fr):
        av, zv = _amplitudes(pl, fl * pp + r1)
        vda = -1j * (fr * ppc + r1c)[:n].conj().T
        c, x = observables_of_amplitudes(pl, omega, av, zv, vda, complex_plane=True)
        return tuple(o.sum(0) for o in with_scalars(pl, c, x))

    return obs


def _tail(pl, l0, d0, a, s_nodes, s_weights, times):
    l1 = pl.generator()

    def at_time(t):
        def integrand(t_, et_):
            def f(w, up):
                return frequency_classes(_tail_integrand(pl, l0, d0, w, et_), w, t_, up)

            return ray_integral(f, a, s_nodes, s_weights)

        et = expm(l1 * t)
        (c, x, sc), (_, xd, scd) = jax.jvp(integrand, (t, et), (jnp.ones_like(t), l1 @ et))
        return c, x, xd, scd

    return jax.lax.map(at_time, jnp.asarray(times))


@eqx.filter_jit
def _arrays(pre, pl, times, deltas, inv, wn, on, ow, sn, sw, a, *, node_batch,
            correlation_dt=False):
    """``continuum._build_arrays`` for the stationary state of the premodel closure ``pre``."""
    del correlation_dt
    l0 = pre.generator()
    d0 = _drive(pre)
    n = pl.vec.shape[0]
    nres = pl.onehot.shape[0]
    nt = times.shape[0]

    def kernels(nodes):
        return jax.lax.map(lambda w: _node(pl, l0, d0, w, deltas, inv), nodes,
                           batch_size=node_batch)

    c_k, x_k, xd_k, sd_k = kernels(wn)  # (K, M, T, ...)
    off = [jnp.zeros((nt, n, n), complex), jnp.zeros((nt, 2, nres), complex),
           jnp.zeros((nt, 2, nres), complex), jnp.zeros((nt, 2), complex)]
    if on.shape[0] > 0:
        off = [o + jnp.einsum("k,kb...->...", ow, k) for o, k in zip(off, kernels(on),
                                                                      strict=True)]
    if sn.shape[0] > 0:
        off = [o + k for o, k in zip(off, _tail(pl, l0, d0, a, sn, sw, times), strict=True)]
    mv = lambda x: jnp.moveaxis(x, 0, 1)  # (K, M, ...) -> (M, K, ...)
    zg = jnp.zeros((nt, n, n), complex)
    zx = jnp.zeros((nt, 2, nres, n, n), complex)
    return dict(
        propagator=zg, propagator_dt=zg, current_state=zx, current_state_dt=zx,
        correlation_kernel=mv(c_k), current_kernel=mv(x_k), current_kernel_dt=mv(xd_k),
        scalar_kernel_dt=mv(sd_k).real, correlation_offset=off[0], current_offset=off[1],
        current_offset_dt=off[2], scalar_offset_dt=off[3].real,
    )


def _merged_base_plan(method, premodel):
    """The product-state plan of the model, widened by the premodel's: the tail's start a
    left of both closures' poles, panels refined near both sets of resonances."""

    def base(model, times, fits):
        p1 = method.base_plan(model, times, fits)
        p0 = method.base_plan(premodel, times, fits)
        return dict(a=min(p1["a"], p0["a"]), w_lo=min(p1["w_lo"], p0["w_lo"]),
                    w_hi=max(p1["w_hi"], p0["w_hi"]), width=min(p1["width"], p0["width"]),
                    s_first=min(p1["s_first"], p0["s_first"]),
                    s_far=max(p1["s_far"], p0["s_far"]),
                    poles=tuple(sorted(set(p1["poles"]) | set(p0["poles"]))),
                    region=p1["region"])

    return base


def _check_continuum(premodel, model):
    for k, res in enumerate(model.reservoirs):
        for dens, _ in res.terms:
            if not dens.is_pole_sum:
                raise ValueError(
                    f"jt.StationaryState with jt.Continuum needs pole-sum spectral densities "
                    f"(Lorentzian sums): reservoir {k} has {type(dens).__name__}, whose fitted "
                    "memory kernel is valid only on [0, t_max], not over the infinite past of a "
                    "stationary state. Use jt.Discretised (joint equilibrium) for it."
                )
    pre = pole_data(premodel)
    if is_concrete(*jax.tree_util.tree_leaves(pre)):
        ev = np.linalg.eigvals(np.asarray(pre.generator()))
        scale = max(1.0, float(np.max(np.abs(ev))))
        if np.max(ev.real) > -1e-9 * scale:
            raise ValueError(
                "the premodel has a bound state (a system mode no reservoir reaches, or one "
                f"that does not decay: closure eigenvalue with real part {np.max(ev.real):.3g}); "
                "its stationary state depends on the state it started from and is not unique. "
                "Couple every system mode to a reservoir in the premodel."
            )
    return pre


def continuum_response(method: Continuum, premodel, model, times) -> StationaryResponse:
    refuse_drive(model, "jt.StationaryState (correlated start)")
    times = check_times(times)
    pre = _check_continuum(premodel, model)
    build = functools.partial(build_response, arrays=functools.partial(_arrays, pre))
    if method.plan is None:
        _, resp = method.resolve_response(model, times, build, base_plan=_merged_base_plan(method,
                                                                                  premodel))
    else:
        err = jnp.nan if method.error_estimate_ is None else method.error_estimate_
        resp = build(model, times, method.plan, method.node_batch, tolerance=method.tolerance)
        resp = eqx.tree_at(lambda r: r.error_estimate, resp, jnp.asarray(err, jnp.float64))
    return _as_stationary(resp)


def resolve_continuum(method: Continuum, premodel, model, times) -> Continuum:
    """The quadrature plan for the stationary start fixed on concrete values (for traced
    models / premodels, e.g. gradients with respect to premodel parameters)."""
    refuse_drive(model, "jt.StationaryState (correlated start)")
    times = check_times(times)
    pre = _check_continuum(premodel, model)
    build = functools.partial(build_response, arrays=functools.partial(_arrays, pre))
    return method.resolve_response(model, times, build,
                           base_plan=_merged_base_plan(method, premodel))[0]


# ----------------------------------------------------------------------------------------
# finite modes: joint Gibbs state of the premodel's full single-particle Hamiltonian
# ----------------------------------------------------------------------------------------
def finite_modes(method: Discretised, model, times):
    """(eps, coupling rows V_k (Kb, n), owner) of the finite baths of ``model``."""
    eps, amps, vecs, term, owner, _, _ = method.bath_modes(model, times)
    coup = amps[:, None] * jnp.stack(vecs)[term]
    return eps, coup, owner  # real when the couplings are (full_hamiltonian: real eigh)


def discretised_response(method: Discretised, premodel, model, times) -> StationaryResponse:
    times = check_times(times)
    eps, coup1, owner = finite_modes(method, model, times)
    _, coup0, _ = finite_modes(method, premodel, times)
    lam0, phi0 = jnp.linalg.eigh(full_hamiltonian(premodel.hamiltonian, eps, coup0))
    if premodel.statistics == "boson" and is_concrete(lam0):
        mu = float(np.max(np.asarray(model.chemical_potentials)))
        if float(np.min(np.asarray(lam0))) <= mu:
            raise ValueError(
                f"the premodel's finite single-particle Hamiltonian has an eigenvalue "
                f"{float(np.min(np.asarray(lam0))):.6g} <= μ = {mu:g}: no bosonic Gibbs state."
            )
    nres = model.n_reservoirs
    c_q, x_q, xd_q, sd_q, *_ = discretised_arrays(
        model.hamiltonian, eps, coup1, jnp.asarray(times),
        owner=tuple(int(o) for o in owner), nres=nres, basis=phi0,
    )
    n, nt, d = model.n_modes, len(times), lam0.shape[0]
    rep = lambda a: jnp.broadcast_to(a[None], (nres,) + a.shape)  # (D, ...) -> (M, D, ...)
    temp, mu = stack_reservoir_arrays(model)
    zg = jnp.zeros((nt, n, n), complex)
    zx = jnp.zeros((nt, 2, nres), complex)
    return StationaryResponse(
        times=jnp.asarray(times), hamiltonian=model.hamiltonian, temperature=temp,
        chemical_potential=mu, propagator=zg, propagator_dt=zg,
        current_state=jnp.zeros((nt, 2, nres, n, n), complex),
        current_state_dt=jnp.zeros((nt, 2, nres, n, n), complex),
        nodes=rep(lam0), weights=jnp.zeros((nres, d)).at[0].set(1.0),
        correlation_kernel=rep(c_q), current_kernel=rep(x_q), current_kernel_dt=rep(xd_q),
        scalar_kernel_dt=rep(sd_q).real, correlation_offset=zg, current_offset=zx,
        current_offset_dt=zx, scalar_offset_dt=jnp.zeros((nt, 2)),
        window=jnp.stack([jnp.min(lam0) if model.statistics == "boson" else -jnp.inf,
                          jnp.inf]), error_estimate=jnp.asarray(jnp.nan),
        method="discretised", statistics=model.statistics, joint_equilibrium=True,
    )
