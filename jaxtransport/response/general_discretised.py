r"""Finite-mode (discretised) reservoirs for general quadratic models: exact evolution of the
full system + bath covariance, X(t) = S X(0) S^T with S = e^{Kt} (docs/theory.md,
"Beyond number conservation").

Discretisation (``jt.Discretised`` settings: n_modes, band, grid_scale, checks):

* exchange reservoirs on fermions use exactly the engine's grid (``jt.Discretised.grid``):
  modes ω_k with V_k = sqrt(g(ω_k) Δω_k / 2π) v, so number-conserving models reproduce the
  engine's discretised results;
* bosonic reservoirs (exchange or x–x) use a grid on (0, B] (uniform, or ω = s0 sinh(u)
  with ``grid_scale``), g_k = sqrt(2 J(ω_k) Δω_k / π) for x–x coupling. The counter-term of
  a discretised x–x bath is its own Σ_k g_k²/(2ω_k) (so H is bounded below exactly, and
  the missing far tail of the band adiabatically cancels against its missing counter-term).

Each bath mode k has quadratures (q_k, π_k) and Hamiltonian ω_k (q² + π²)/2 (bosons) or
i ω_k q π = ω_k(c†c − ½) (fermions); its thermal covariance is ``mode_blocks`` (linear in f).
S(t) is obtained from one Hermitian eigendecomposition: fermions iG = UλU†,
S = U e^{−iλt} U†; bosons (G > 0 required: bounded below) S = G^{−1/2} e^{Bt} G^{1/2} with
B = G^{1/2} Ω G^{1/2} real antisymmetric. Only the rows of S needed by the observables are
formed ("probes"). Recurrences: times ≥ 2π/Δω_min raise ``ValueError`` unless
``check_recurrence=False``.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._quadrature import tail_rule
from .._validation import check_times
from ..nambu import exchange_block, symplectic_form
from ..reservoir import PositionReservoir
from .general import GeneralResponse, mode_blocks

_GOLDEN = 0.6180339887498949


def _positive_grid(method, dens, j):
    """Midpoint nodes and spacings on (0, B_j] for bosonic densities. Midpoints keep the rule
    second order at ω = 0 (where J/ω of the counter-term is finite); different terms get
    bands B_j = B(1 + 0.05·frac(jφ)) so that their modes are not degenerate."""
    band = float(method.band) if method.band is not None else 25.0 * float(dens.scale())
    band *= 1.0 + 0.05 * ((j * _GOLDEN) % 1.0)
    k = np.arange(method.n_modes) + 0.5
    if method.grid_scale is None:
        dw = band / method.n_modes
        return dw * k, np.full(method.n_modes, dw), band
    s0 = float(method.grid_scale)
    du = math.asinh(band / s0) / method.n_modes
    return s0 * np.sinh(du * k), s0 * np.cosh(du * k) * du, band


def bath_modes(model, method, times):
    """Per reservoir term: (reservoir index, nodes, 2n×2 coupling blocks (K, 2n, 2), x–x?)."""
    n = model.n_modes
    tmax = float(times[-1])
    out = []
    if model.statistics == "fermion":
        grid = method.grid(model)
        method.check_grid(model, times, grid)
        for nodes, _dw, r, dens, v, _, spacing in grid:
            amp = np.sqrt(np.asarray(dens(jnp.asarray(nodes))) * spacing / (2 * math.pi))
            blocks = jax.vmap(lambda a, v=v: exchange_block(a * v, "fermion"))(jnp.asarray(amp))
            out.append((r, nodes, blocks, False))
        return out
    for j, (r, res) in enumerate(enumerate(model.reservoirs)):
        for dens, v in res.terms:
            nodes, spacing, band = _positive_grid(method, dens, j)
            dw = float(spacing.min())
            if method.check_recurrence and tmax >= 2 * math.pi / dw:
                raise ValueError(
                    f"Discretised(n_modes={method.n_modes}, band={band:g}) has mode spacing "
                    f"{dw:.4g}: the finite bath recurs at t = 2π/Δω = {2 * math.pi / dw:.4g}, "
                    f"but times reach {tmax:g}. Increase n_modes or reduce band.")
            g = np.asarray(dens(jnp.asarray(nodes)))
            if isinstance(res, PositionReservoir):
                amp = np.sqrt(2.0 * g * spacing / math.pi)
                e = np.concatenate([np.asarray(v), np.zeros(n)])
                blocks = jnp.asarray(amp[:, None, None] * np.stack(
                    [e, np.zeros(2 * n)], axis=1)[None])
                _warn_band(dens, band, res)
            else:
                amp = np.sqrt(g * spacing / (2 * math.pi))
                blocks = jax.vmap(lambda a, v=v: exchange_block(a * v, "boson"))(jnp.asarray(amp))
            out.append((r, nodes, blocks, isinstance(res, PositionReservoir)))
    return out


def _warn_band(dens, band, res):
    """Warn when the band misses > 1e-3 of the reorganisation energy (1/π)∫J/ω."""
    if not hasattr(dens, "reorganisation_energy"):
        return
    om, w = tail_rule(band)  # [band, ∞)
    tail = np.sum(w * np.asarray(dens(jnp.asarray(om))) / om) / np.pi
    frac = tail / float(dens.reorganisation_energy())
    if frac > 1e-3:
        warnings.warn(f"Discretised band {band:g} misses a fraction {frac:.3g} of the "
                      "reservoir's reorganisation energy; transient energy currents carry an "
                      "error of that relative order.", stacklevel=4)


def discretised_response(model, times, method) -> GeneralResponse:
    """Stage 1 on finite reservoirs (see module docstring; a driven model:
    ``response/driven_general.py``)."""
    times = check_times(times)
    if model.drive is not None:  # dispatched in response/api.py (no import cycle)
        raise ValueError("discretised_response takes an undriven model; a driven "
                         "jt.QuadraticModel goes through jt.response / jt.solve "
                         "(response/driven_general.py).")
    lay = mode_layout(model, method, times)
    arrays = _arrays(model.hamiltonian, lay.counter_terms, jnp.asarray(lay.nodes), lay.blocks,
                     jnp.asarray(times), owner=tuple(int(o) for o in lay.owner),
                     nres=model.n_reservoirs, statistics=model.statistics)
    return layout_response(GeneralResponse, model, times, lay, arrays)


class ModeLayout(NamedTuple):
    """The finite baths of a general model: per bath mode its ``owner`` reservoir, ``nodes``
    ω_k, coupling ``blocks`` (Kb, 2n, 2), whether it is x–x coupled (``xx``); the discrete
    ``counter_terms`` (M, 2n, 2n); per reservoir the padded mode indices ``idx`` and ``mask``."""

    owner: np.ndarray
    nodes: np.ndarray
    blocks: jax.Array
    xx: np.ndarray
    counter_terms: jax.Array
    idx: np.ndarray
    mask: np.ndarray


def mode_layout(model, method, times) -> ModeLayout:
    """The ``ModeLayout`` of ``model``'s reservoirs under ``method`` (checks recurrences)."""
    m = model.n_reservoirs
    terms = bath_modes(model, method, times)
    owner = np.concatenate([np.full(len(t[1]), t[0]) for t in terms])
    nodes = np.concatenate([t[1] for t in terms])
    blocks = jnp.concatenate([t[2] for t in terms])  # (Kb, 2n, 2)
    xx = np.concatenate([np.full(len(t[1]), t[3]) for t in terms])
    # discrete counter-terms (x–x reservoirs with counter_term=True)
    dg = []
    for r, res in enumerate(model.reservoirs):
        sel = (owner == r) & xx
        if isinstance(res, PositionReservoir) and res.counter_term:
            e = model.position_vector(r)
            lam = _discrete_reorganisation(blocks[sel], nodes[sel], e)
            dg.append(2.0 * lam * jnp.outer(e, e))
        else:
            dg.append(jnp.zeros_like(model.hamiltonian))
    kmax = max(int(np.sum(owner == r)) for r in range(m))
    idx = np.zeros((m, kmax), int)
    mask = np.zeros((m, kmax))
    for r in range(m):
        ks = np.nonzero(owner == r)[0]
        idx[r, : len(ks)] = ks
        mask[r, : len(ks)] = 1.0
    return ModeLayout(owner, nodes, blocks, xx, jnp.stack(dg), idx, mask)


def layout_response(cls, model, times, lay: ModeLayout, arrays, **extra):
    """A ``GeneralResponse`` (or subclass ``cls`` with ``extra`` fields) from the kernels
    ``arrays`` = (propagator, state kernel, bath covariance [b0, b1], bath scalars [b0, b1])
    per bath mode of ``lay``."""
    prop, sk, bc, bs = arrays
    take = lambda a: a[jnp.asarray(lay.idx)]
    stat = model.statistics
    pad = 1.0 + float(np.max(np.abs(np.asarray(model.chemical_potentials))))
    return cls(
        times=jnp.asarray(times),
        propagator=prop,
        state_kernel=sk,
        nodes=jnp.where(jnp.asarray(lay.mask) > 0, jnp.asarray(lay.nodes)[lay.idx], pad),
        weights=jnp.asarray(lay.mask),
        bath_covariance=take(bc[1]),
        bath_scalar=take(bs[1]),
        offset_covariance=jnp.sum(bc[0], axis=0),
        offset_scalar=jnp.sum(bs[0], axis=0),
        temperature=model.temperatures,
        chemical_potential=model.chemical_potentials,
        energy_offset=model.energy_offset,
        # bosons: no bath weight below the lowest mode (μ must stay below it)
        window=jnp.asarray([float(np.min(lay.nodes)) if stat == "boson" else -np.inf,
                            np.inf]),
        error_estimate=jnp.asarray(jnp.nan),
        statistics=stat,
        number_conserving=tuple(not isinstance(r, PositionReservoir) for r in model.reservoirs),
        method="discretised",
        **extra,
    )


def _discrete_reorganisation(blocks, nodes, e):
    """Σ_k g_k²/(2ω_k) of an x–x term: g_k = (block_k column q)·e/|e|²."""
    g = blocks[:, :, 0] @ e / (e @ e)
    return jnp.sum(g**2 / (2 * jnp.asarray(nodes)))


@jax.jit
def _probe_rows(rows, lmat, u, lam, rmat, times):
    """rows @ e^{Kt} for all t (real), with e^{Kt} = L U e^{−iλt} U† R."""
    pu = rows @ lmat @ u
    ud = u.conj().T @ rmat

    def one(t):
        return ((pu * jnp.exp(-1j * t * lam)[None, :]) @ ud).real

    return jax.lax.map(one, times)


def _arrays(gs, dg, nodes, blocks, times, *, owner, nres, statistics):
    n2 = gs.shape[0]
    d = n2 + 2 * nodes.shape[0]
    boson = statistics == "boson"
    gfull = full_matrix(gs + jnp.sum(dg, 0), nodes, blocks, boson)
    if boson:
        om = full_form(n2, nodes.shape[0])
        kmat = om @ gfull
        ev, w = jnp.linalg.eigh(gfull)
        gh = (w * jnp.sqrt(ev)) @ w.T
        ghi = (w / jnp.sqrt(ev)) @ w.T
        lam, u = jnp.linalg.eigh(1j * (gh @ om @ gh))
        lmat, rmat = ghi, gh
    else:
        kmat = gfull
        lam, u = jnp.linalg.eigh(1j * gfull)
        lmat = rmat = jnp.eye(d)
    aps = observable_rows(gfull, kmat, gs, dg, owner_onehot(owner, nres, n2), statistics)
    npp = aps.shape[0]
    es = jnp.eye(n2, d)
    rows = jnp.concatenate([es, es @ kmat, aps.reshape(-1, d), (aps @ kmat).reshape(-1, d)])
    y = _probe_rows(rows, lmat, u, lam, rmat, times)  # (T, r, D)
    ys, ysd = y[:, :n2], y[:, n2:2 * n2]
    yp = y[:, 2 * n2: 2 * n2 + npp * n2].reshape(-1, npp, n2, d)
    ypd = y[:, 2 * n2 + npp * n2:].reshape(-1, npp, n2, d)
    return kernels_from_rows(ys, ysd, yp, ypd, statistics)


def full_form(n2, kb):
    """The commutator form of system + bath quadratures (bosons): Ω ⊕ [[0, 1], [−1, 0]]^⊕Kb."""
    return jnp.asarray(np.block([
        [symplectic_form(n2 // 2), np.zeros((n2, 2 * kb))],
        [np.zeros((2 * kb, n2)), np.kron(np.eye(kb), [[0, 1], [-1, 0]])]]))


def full_matrix(gsys, nodes, blocks, boson):
    """The quadrature Hamiltonian matrix of system (``gsys``, 2n×2n) + bath modes at
    frequencies ``nodes`` with coupling ``blocks`` (Kb, 2n, 2)."""
    n2, kb = gsys.shape[0], nodes.shape[0]
    j2 = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
    gfull = jnp.zeros((n2 + 2 * kb,) * 2)
    gfull = gfull.at[:n2, :n2].set(gsys)
    mode = (jnp.eye(2) if boson else j2)[None] * nodes[:, None, None]  # (Kb, 2, 2)
    gfull = gfull.at[n2:, n2:].set(_block_diag(mode))
    cpl = jnp.transpose(blocks, (1, 0, 2)).reshape(n2, 2 * kb)  # (2n, 2Kb)
    gfull = gfull.at[:n2, n2:].set(cpl)
    return gfull.at[n2:, :n2].set(cpl.T if boson else -cpl.T)


def owner_onehot(owner, nres, n2):
    """(M, D) indicator of each reservoir's bath quadratures."""
    owner = np.asarray(owner)
    onehot = np.zeros((nres, n2 + 2 * owner.size))
    for r in range(nres):
        sel = np.nonzero(owner == r)[0]
        onehot[r, n2 + 2 * sel] = 1.0
        onehot[r, n2 + 2 * sel + 1] = 1.0
    return jnp.asarray(onehot)


def observable_rows(gfull, kmat, gs, dg, onehot, statistics):
    """(P, 2n, D) row blocks A_p of the scalars (``jt.response.general``): each is
    Σ_{i∈S, d} X_id A_p[i, d] of the full covariance X. Per reservoir d⟨N_α⟩/dt, d⟨H_α⟩/dt
    (K_{αS}^T Q_αα), ⟨H_I^α⟩ (coupling block + counter-term ``dg[α]``), then ⟨H_S⟩ − E_0."""
    n2, d = gs.shape[0], gfull.shape[0]
    kb = (d - n2) // 2
    es = jnp.eye(n2, d)
    j2 = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
    if statistics == "boson":
        gn = jnp.eye(d).at[:n2, :n2].set(0.0)
    else:
        gn = _block_diag(jnp.broadcast_to(j2, (kb, 2, 2)), pad=n2)
    ks = kmat[:, :n2]  # K_{·S}
    a_n, a_e, a_i = [], [], []
    for r in range(onehot.shape[0]):
        pr = onehot[r]
        # Q = K_{αS}^T G_αα (2n × D restricted to α's columns)
        a_n.append((ks * pr[:, None]).T @ (gn * pr[:, None] * pr[None, :]))
        a_e.append((ks * pr[:, None]).T @ (gfull * pr[:, None] * pr[None, :]))
        a_i.append(gfull[:n2] * pr[None, :] + 0.5 * dg[r] @ es)
    return jnp.stack(a_n + a_e + a_i + [0.5 * gs @ es])


def kernels_from_rows(ys, ysd, yp, ypd, statistics):
    """Stage-1 arrays (propagator, state kernel, bath covariance [b0, b1], bath scalars
    [b0, b1]) from the system rows Y_S = E_S S(t) (T, 2n, D), the scalar rows Y_p = A_p S(t)
    (T, P, 2n, D) and their time derivatives."""
    n2, d = ys.shape[1], ys.shape[2]
    kb = (d - n2) // 2
    prop = ys[:, :, :n2]
    # state kernels M_ab = Σ_i Y_S[i,a] Y_p[i,b] and the derivative
    st = jnp.einsum("tia,tpib->tpab", ys[:, :, :n2], yp[:, :, :, :n2])
    std = (jnp.einsum("tia,tpib->tpab", ysd[:, :, :n2], yp[:, :, :, :n2])
           + jnp.einsum("tia,tpib->tpab", ys[:, :, :n2], ypd[:, :, :, :n2]))
    sk = jnp.stack([st, std], axis=1)
    # bath modes: columns (q_k, π_k)
    ysb = ys[:, :, n2:].reshape(ys.shape[0], n2, kb, 2)
    ysdb = ysd[:, :, n2:].reshape(ys.shape[0], n2, kb, 2)
    ypb = yp[..., n2:].reshape(*yp.shape[:3], kb, 2)
    ypdb = ypd[..., n2:].reshape(*yp.shape[:3], kb, 2)
    b0, b1 = mode_blocks(statistics)
    bc, bs = [], []
    for b in (b0, b1):
        b = jnp.asarray(b)
        bc.append(jnp.einsum("tikx,xy,tjky->ktij", ysb, b, ysb))
        val = jnp.einsum("tikx,xy,tpiky->ktp", ysb, b, ypb)
        der = (jnp.einsum("tikx,xy,tpiky->ktp", ysdb, b, ypb)
               + jnp.einsum("tikx,xy,tpiky->ktp", ysb, b, ypdb))
        bs.append(jnp.stack([val, der], axis=2))
    return prop, sk, bc, bs


def _block_diag(blocks, pad=0):
    """Block-diagonal (pad + 2K)² matrix with 2×2 blocks after a zero pad×pad corner."""
    kb = blocks.shape[0]
    eye = jnp.eye(kb)
    bd = jnp.einsum("kl,kxy->kxly", eye, blocks).reshape(2 * kb, 2 * kb)
    if pad:
        bd = jnp.zeros((pad + 2 * kb,) * 2).at[pad:, pad:].set(bd)
    return bd
