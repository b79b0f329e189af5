r"""Discretised reservoirs: finite-mode baths, exact unitary single-particle evolution.

Each reservoir term (g_j, v_j) becomes N modes on a uniform grid of spacing Δω over
[c_j − B, c_j + B] (midpoints; the grids of different terms are shifted by fractions of Δω
so that no exact degeneracies appear), with couplings V_k = sqrt(g_j(ω_k) Δω / 2π) v_j.
The full single-particle Hamiltonian H (size D = n + Σ N) is diagonalised once and rows of
U(t) = e^{−iHt} are formed as (P V) e^{−iΛt} V† for a few "probe" rows P (system rows and
the coupling rows of each reservoir). The derivative of e^{−iHt} w.r.t. H uses the
Daleckii–Krein formula with a sinc divided difference, finite at degenerate spectra.

Exact for the finite bath; it differs from the continuum by (i) recurrences: at t ≥ 2π/Δω
the discrete bath returns excitations — requested times beyond that raise an error — and
(ii) the weight of g outside the band, reported and warned about.
"""

from __future__ import annotations

import math
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._quadrature import gauss_rule, legendre, panel_edges
from .._validation import check_times, is_concrete
from ..densities import density_rule
from ..drive import refuse_drive
from .base import Response, flatten_terms, stack_reservoir_arrays
from .currents import build_discretised_currents, probe_evolution
from .mode_kernels import full_hamiltonian, time_kernels

_GOLDEN = 0.6180339887498949


class BathGrid(eqx.Module):
    """The finite modes of one density term of a reservoir (host arrays): mode energies
    ``nodes`` and quadrature ``spacing`` (V_k = sqrt(g(ω_k) spacing_k / 2π) v), the spacing
    ``dw`` that sets the recurrence time 2π/dw, the ``reservoir`` index, the ``density``
    and coupling ``vector`` of the term, and the ``band`` (lo, hi) covered. Unpacks as the
    former tuple (nodes, dw, reservoir, density, vector, band, spacing)."""

    nodes: np.ndarray
    dw: float
    reservoir: int
    density: object
    vector: object
    band: tuple
    spacing: np.ndarray

    def __iter__(self):
        return iter((self.nodes, self.dw, self.reservoir, self.density, self.vector,
                     self.band, self.spacing))


class BathModes(eqx.Module):
    """All finite bath modes of a model: energies ε_k (Kb,), amplitudes a_k and the term
    vectors (V_k = a_k v_{term[k]}), the term and reservoir (``owner``) of each mode, and per
    reservoir the padded mode indices ``index`` and ``mask`` (M, K). Unpacks as the former
    tuple (energies, amplitudes, vectors, term, owner, index, mask)."""

    energies: object
    amplitudes: object
    vectors: list
    term: np.ndarray
    owner: np.ndarray
    index: np.ndarray
    mask: np.ndarray

    def __iter__(self):
        return iter((self.energies, self.amplitudes, self.vectors, self.term, self.owner,
                     self.index, self.mask))


class Discretised(eqx.Module):
    """Finite-mode reservoirs (second, independent exact method).

    **Arguments:**

    - ``n_modes``: modes per reservoir term (default 1000).
    - ``band``: half-width B of the discretised band around each density's centre (energy
      units; default 25 × the density's scale, e.g. its Lorentzian width).
    - ``grid_scale``: None for a uniform grid; a scale s0 for ω = c + s0 sinh(u) with u
      uniform (spacing ≈ constant within s0 of the centre, growing outside): reaches far
      into heavy (Lorentzian) tails with few modes. Recurrences are checked with the
      smallest spacing.
    - ``check_recurrence``: set False only for deliberately tiny baths (e.g. exact
      diagonalisation cross-checks), where recurrences are part of the physics.
    - ``band_warning``: warn when more than this fraction of a term's spectral weight lies
      outside the band (default 1e-3); more than 10× this raises.
    - ``correlation_dt``: also store the per-mode kernels of dC/dt
      (``Response.correlation_kernel_dt``; default False), as ``jt.Continuum`` does: needed by
      ``master_equation.effective_generator_from_response`` for the gain/loss rates Γ±.
      Memory: as much again as ``correlation_kernel``.
    - ``drive_step``: longest Magnus substep for a driven model (default 0.02, inverse
      energy units; see ``response/driven_discretised.py``).

    Raises ``ValueError`` when the requested times reach the recurrence time 2π/Δω.
    """

    n_modes: int = eqx.field(default=1000, static=True)
    band: float | None = eqx.field(default=None, static=True)
    band_warning: float = eqx.field(default=1e-3, static=True)
    grid_scale: float | None = eqx.field(default=None, static=True)
    check_recurrence: bool = eqx.field(default=True, static=True)
    correlation_dt: bool = eqx.field(default=False, static=True)
    drive_step: float = eqx.field(default=0.02, static=True)

    def __check_init__(self):
        if not (isinstance(self.n_modes, int | np.integer) and self.n_modes >= 2):
            raise ValueError(f"Discretised n_modes must be an integer >= 2, got {self.n_modes}.")
        if self.band is not None and not (np.isfinite(self.band) and self.band > 0):
            raise ValueError(f"Discretised band must be a finite number > 0, got {self.band}.")

    def grid(self, model):
        """Per density term of every reservoir its ``BathGrid`` (host-side layout)."""
        out = []
        for j, (dens, v, r) in enumerate(flatten_terms(model)):
            if self.band is not None:
                band = float(self.band)
            elif is_concrete(dens.scale()):
                band = 25.0 * float(dens.scale())
            else:
                raise ValueError("Discretised needs an explicit band= when tracing the model.")
            c = float(dens.center()) if is_concrete(dens.center()) else 0.0
            shift = ((j * _GOLDEN) % 1.0 - 0.5) * 0.5
            k = np.arange(self.n_modes) + 0.5 + shift
            sup = dens.support()
            if not dens.is_pole_sum and self.grid_scale is None:
                # non-pole densities: composite Gauss–Legendre modes (q = 16 per panel) on
                # the support, V_k = sqrt(g(ω_k) w_k / 2π): spectrally accurate; a panel of
                # width h resolves e^{iωt} (and shows no recurrence) for t < 0.75 q / h
                lo_s, hi_s = dens.effective_support()
                lo_b = lo_s if np.isfinite(sup[0]) else max(lo_s, c - band)
                hi_b = min(hi_s, c + band) if self.band is not None else hi_s
                q = min(16, self.n_modes)
                h = (hi_b - lo_b) / max(1, self.n_modes // q)
                bps = dens.breakpoints() if len(dens.breakpoints()) <= 16 else ()
                edges = panel_edges(lo_b, hi_b, h, bps, dens.singular_points(), levels=6)
                nodes, spacing = gauss_rule(edges, q)
                dw = 2 * math.pi / (0.75 * q / float(np.max(np.diff(edges))))
                out.append(BathGrid(nodes, dw, r, dens, v, (lo_b, hi_b), spacing))
                continue
            if self.grid_scale is None:  # uniform
                dw = 2.0 * band / self.n_modes
                nodes = c - band + dw * k
                spacing = np.full(self.n_modes, dw)
            else:  # ω = c + s sinh(u), u uniform: fine near c, graded outwards
                s0 = float(self.grid_scale)
                umax = math.asinh(band / s0)
                du = 2 * umax / self.n_modes
                u = -umax + du * k
                nodes = c + s0 * np.sinh(u)
                spacing = s0 * np.cosh(u) * du
                dw = float(spacing.min())
            out.append(BathGrid(nodes, dw, r, dens, v, (c - band, c + band), spacing))
        return out

    def check_grid(self, model, times, grid):
        """Raise if the finite bath recurs within ``times`` or the band misses too much
        spectral weight (warn above ``band_warning``)."""
        tmax = float(times[-1])
        for _nodes, dw, r, dens, _, (lo, hi), _sp in grid:
            t_rec = 2 * math.pi / dw
            if self.check_recurrence and tmax >= t_rec:
                raise ValueError(
                    f"Discretised(n_modes={self.n_modes}, band={0.5 * (hi - lo):g}) has mode "
                    f"spacing {dw:.4g}: the finite bath recurs at t = 2π/Δω = {t_rec:.4g}, but "
                    f"times reach {tmax:g}. Increase n_modes or reduce band."
                )
            if not is_concrete(*jax.tree_util.tree_leaves(dens)):
                continue
            frac = _weight_outside(dens, lo, hi)
            if frac > 10 * self.band_warning:
                raise ValueError(
                    f"Discretised band [{lo:g}, {hi:g}] misses a fraction {frac:.3g} of "
                    f"reservoir {r}'s spectral weight (> {10 * self.band_warning:g}): the "
                    "transient would be wrong. Increase band (and n_modes)."
                )
            if frac > self.band_warning:
                warnings.warn(
                    f"Discretised band [{lo:g}, {hi:g}] misses a fraction {frac:.3g} of "
                    f"reservoir {r}'s spectral weight; short-time and energy observables "
                    "carry an error of that relative order.",
                    stacklevel=3,
                )

    def bath_modes(self, model, times) -> BathModes:
        """The finite baths as ``BathModes``. Checks recurrences and band truncation."""
        grid = self.grid(model)
        self.check_grid(model, times, grid)
        nres = model.n_reservoirs
        eps, amps, term, owner = [], [], [], []
        for j, (nodes, _dw, r, dens, _v, _, spacing) in enumerate(grid):
            amps.append(jnp.sqrt(dens(jnp.asarray(nodes)) * jnp.asarray(spacing) / (2 * math.pi)))
            eps.append(jnp.asarray(nodes))
            term.append(np.full(len(nodes), j))
            owner.append(np.full(len(nodes), r))
        owner = np.concatenate(owner)
        kmax = max(int(np.sum(owner == r)) for r in range(nres))
        idx = np.zeros((nres, kmax), dtype=int)
        mask = np.zeros((nres, kmax))
        for r in range(nres):
            ks = np.nonzero(owner == r)[0]
            idx[r, : len(ks)] = ks
            mask[r, : len(ks)] = 1.0
        vecs = [v for *_, v, _, _ in grid]
        return BathModes(jnp.concatenate(eps), jnp.concatenate(amps), vecs,
                         np.concatenate(term), owner, idx, mask)

    def response(self, model, times) -> Response:
        if model.drive is not None:  # time-ordered evolution (driven_discretised.py)
            from .driven_discretised import driven_response

            return driven_response(self, model, times)
        times = check_times(times)
        nres = model.n_reservoirs
        eps, amps, vecs, term, owner, idx, mask = self.bath_modes(model, times)
        coup = amps[:, None] * jnp.stack(vecs)[term]  # V_{k,i}: (Kb, n)
        arrays = discretised_arrays(
            model.hamiltonian, eps, coup, jnp.asarray(times),
            owner=tuple(int(o) for o in owner), nres=nres, correlation_dt=self.correlation_dt,
        )
        return mode_response(model, times, eps, idx, mask, arrays, self.correlation_dt)

    def current_response(self, model, times):
        """Currents-only stage 1 (``jt.response(..., observables="currents")``): evolves a few
        probe rows per bath term instead of all n system rows (see ``response/currents.py``)."""
        refuse_drive(model, "jt.Discretised")
        return build_discretised_currents(self, model, check_times(times))


def mode_response(model, times, eps, idx, mask, arrays, correlation_dt) -> Response:
    """The node-based ``Response`` of finite modes ``eps``
    (per reservoir the padded mode indices ``idx`` and ``mask``) from the per-mode kernels
    ``arrays`` of ``discretised_arrays``."""
    n, nres = model.n_modes, model.n_reservoirs
    c_q, x_q, xd_q, sd_q, g, gd, mk, mkd, *cd_q = arrays
    idx_j = jnp.asarray(idx)
    take = lambda a: a[idx_j]  # (Kb, ...) -> (M, K, ...)
    temp, mu = stack_reservoir_arrays(model)
    nt = len(times)
    return Response(
        times=jnp.asarray(times),
        hamiltonian=model.hamiltonian,
        temperature=temp,
        chemical_potential=mu,
        propagator=g,
        propagator_dt=gd,
        current_state=mk,
        current_state_dt=mkd,
        nodes=jnp.where(jnp.asarray(mask) > 0, eps[idx_j], 0.0),
        weights=jnp.asarray(mask),
        correlation_kernel=take(c_q),
        current_kernel=take(x_q),
        current_kernel_dt=take(xd_q),
        scalar_kernel_dt=take(sd_q).real,
        correlation_offset=jnp.zeros((nt, n, n), complex),
        current_offset=jnp.zeros((nt, 2, nres), complex),
        current_offset_dt=jnp.zeros((nt, 2, nres), complex),
        scalar_offset_dt=jnp.zeros((nt, 2)),
        # bosons: every mode must lie above μ (checked in stage 2)
        window=jnp.asarray([float(np.min(np.asarray(eps))) if model.statistics == "boson"
                            else -np.inf, np.inf]),
        error_estimate=jnp.asarray(jnp.nan),
        method="discretised",
        statistics=model.statistics,
        correlation_kernel_dt=take(cd_q[0]) if correlation_dt else None,
        correlation_offset_dt=jnp.zeros((nt, n, n), complex) if correlation_dt else None,
    )


def _weight_outside(dens, lo, hi) -> float:
    """Fraction of ∫g dω outside [lo, hi]: Gauss–Legendre in θ with ω = c + s tan θ, over the
    whole line and over the band (the map concentrates nodes where the weight is)."""
    if not dens.is_pole_sum:
        xs, ws = density_rule(dens)
        gw = ws * np.asarray(dens(jnp.asarray(xs)))
        total = float(np.sum(gw))
        inside = float(np.sum(gw[(xs >= lo) & (xs <= hi)]))
        return float(max(0.0, 1.0 - inside / total)) if total > 0 else 0.0
    x, w = legendre(800)
    c, s = float(dens.center()), float(dens.scale())

    def integral(th_lo, th_hi):
        th = 0.5 * (th_hi - th_lo) * x + 0.5 * (th_hi + th_lo)
        om = c + s * np.tan(th)
        vals = np.asarray(dens(jnp.asarray(om))) * s / np.cos(th) ** 2
        return 0.5 * (th_hi - th_lo) * np.sum(w * vals)

    total = integral(-0.5 * math.pi, 0.5 * math.pi)
    inside = integral(math.atan((lo - c) / s), math.atan((hi - c) / s))
    return float(max(0.0, 1.0 - inside / total)) if total > 0 else 0.0


@eqx.filter_jit
def discretised_arrays(h, eps, coup, times, *, owner, nres, correlation_dt=False, basis=None):
    """Kernels per initial single-particle vector q: the bath modes (default), or with
    ``basis`` (D, D) the columns of ``basis`` (all D returned; correlated initial states)."""
    n = h.shape[0]
    d = n + eps.shape[0]
    hmat = full_hamiltonian(h, eps, coup)
    first = n if basis is None else 0
    owner_np = np.asarray(owner)
    # probes: system rows; per reservoir H_{S,α}, H_{S,α} ε, H_{S,α} ε² (embedded in D)
    rows = [jnp.eye(n, d, dtype=complex)]
    for p in range(3):
        for r in range(nres):
            sel = jnp.asarray((owner_np == r).astype(float))
            pr = jnp.zeros((n, d), complex).at[:, n:].set(coup.T * (sel * eps**p)[None, :])
            rows.append(pr)
    probes = jnp.concatenate(rows)  # (n(1+3M), D)
    up = probe_evolution(hmat, probes, times)  # (T, r, D)
    if basis is not None:
        up = up @ basis
    us = up[:, :n]  # U_S(t)
    pu = up[:, n:].reshape(up.shape[0], 3, nres, n, d)  # P_{α,p} U
    h_sa_h_as = jnp.stack(
        [
            jnp.stack(
                [
                    (coup.T * (jnp.asarray((owner_np == r).astype(float)) * eps**p)[None, :])
                    @ coup.conj()
                    for r in range(nres)
                ]
            )
            for p in range(2)
        ]
    )  # (2, M, n, n): H_{Sα} ε^p H_{αS}

    def per_time(args):
        us_t, pu_t = args
        # dU_S/dt = −i (h U_S + Σ_α P_α U);  d(P_{α,p}U)/dt = −i (P_{α,p+1} U + H_Sα ε^p H_αS U_S)
        dus = -1j * (h @ us_t + pu_t[0].sum(0))
        dpu = -1j * (pu_t[1:] + jnp.einsum("xaij,jq->xaiq", h_sa_h_as, us_t))
        return time_kernels(us_t, dus, pu_t[:2], dpu, h, first, correlation_dt)

    xq, xdq, corr, sd, g, gd, mk, mkd, *dcorr = jax.lax.map(per_time, (us, pu))
    mv = lambda a: jnp.moveaxis(a, 1, 0)  # (T, Kb, ...) -> (Kb, T, ...)
    return (mv(corr), mv(xq), mv(xdq), mv(sd), g, gd, mk, mkd, *(mv(d) for d in dcorr))
