r"""Genuine uphill heat flow: heat leaving colder reservoirs while heat enters hotter ones.

A heat current out of the hot reservoir that turns negative (J^Q_hot < 0) is **not** by itself
heat flowing against the temperature gradient: an initially filled system can dump heat into
*both* reservoirs at once (J^Q_hot < 0 and J^Q_cold < 0). The measure here counts only heat
that leaves the colder side and enters the hotter side **at the same time**.

Definition (currents J^Q_α out of reservoir α, ħ = k_B = 1):

- **Two reservoirs** (hot = the one with the higher temperature, per configuration):

      r(t) = max(0, min(−J^Q_hot(t), J^Q_cold(t)))

  the cold-to-hot transfer rate (energy/ħ): the part of the heat entering the hot reservoir
  that is matched by heat leaving the cold one. r > 0 exactly when J^Q_hot < 0 < J^Q_cold.

- **M reservoirs**: sort the reservoirs by temperature. Every temperature θ that is not the
  highest splits them into a cold group C_θ = {β : T_β ≤ θ} and a hot group
  H_θ = {α : T_α > θ}. Across that split heat moves uphill at the rate
  min(Σ_{β∈C_θ} J^Q_β, −Σ_{α∈H_θ} J^Q_α) (out of the cold group and into the hot group at
  once), and

      r(t) = max(0, max_θ min(Σ_{β∈C_θ} J^Q_β(t), −Σ_{α∈H_θ} J^Q_α(t))).

  For M = 2 this is the two-reservoir formula; reservoirs at equal temperature always stay in
  the same group, and with all temperatures equal r = 0 (there is no "uphill").
  ``uphill_margin`` is the signed quantity R(t) = max_θ min(...) (r = max(0, R)).

- **Heat moved uphill**: Q_up = ∫ r(t) dt; **uphill windows**: the time intervals where
  r(t) > tolerance. Between grid points the currents are interpolated linearly, and r, its
  windows and its integral are computed exactly for that interpolant (``uphill_flow``): all
  kinks of r (crossings of the group sums with each other and with 0) are located, so the
  window edges and Q_up are second-order accurate in the time step.

Relation to the conductances G1–G5 (``jaxtransport.thermodynamics``), two reservoirs,
ΔT = T_hot − T_cold > 0:

- r(t) > 0 implies G1(t) = J^Q_hot/ΔT ≤ −r(t)/ΔT < 0 and G2(t) = (J^Q_hot − J^Q_cold)/(2ΔT)
  ≤ −r(t)/ΔT < 0; the converse fails: G1 < 0 (or G2 < 0) while the cold reservoir also takes
  up heat is the "discharge into both leads" case, with r = 0.
- G3 (at fixed C0) and G4 do not depend on the initial state, whereas r does (every current is
  affine in C0): they are response coefficients, not a test of uphill flow.
- G5(t) = Q_hot(t)/(tΔT) is a running average of J^Q_hot: it can be negative without any
  uphill window and positive after one.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


# ---------------------------------------------------------------------------------------------
# the rate (JAX: any batch, jit/grad/vmap)
def _group_flows(heat_current, temperature, xp=jnp):
    """(cold_out, hot_in, valid): (..., T, S) heat out of the cold group and into the hot
    group for each split S (= each reservoir's temperature as a threshold θ). ``xp``: the
    array module (NumPy on the host side: no eager JAX operations to compile per shape)."""
    j = xp.asarray(heat_current)
    temp = xp.asarray(temperature)
    if j.ndim < 2 or temp.shape[-1:] != j.shape[-1:]:
        raise ValueError(
            f"heat_current must be (..., T, M) and temperature (..., M) with the same M, got "
            f"shapes {j.shape} and {temp.shape}."
        )
    # cold[..., s, β] = T_β ≤ θ_s with θ_s = T_s; split s is valid if some reservoir is hotter
    cold = temp[..., None, :] <= temp[..., :, None]  # (..., S, M)
    valid = xp.any(~cold, axis=-1)  # (..., S)
    cold = cold.astype(j.dtype)[..., None, :, :]  # (..., 1, S, M)
    jj = j[..., :, None, :]  # (..., T, 1, M)
    cold_out = xp.sum(cold * jj, axis=-1)
    hot_in = -xp.sum((1.0 - cold) * jj, axis=-1)
    return cold_out, hot_in, valid[..., None, :]


def _hard_margin(heat_current, temperature, xp=jnp):
    """R(t) = max_θ min(cold_out, hot_in) over the valid splits (−inf if none)."""
    a, b, valid = _group_flows(heat_current, temperature, xp)
    return xp.max(xp.where(valid, xp.minimum(a, b), -xp.inf), axis=-1)


def uphill_margin(heat_current, temperature, *, smoothing: float | None = None) -> Array:
    r"""Signed uphill margin R(t) = max_θ min(heat out of C_θ, heat into H_θ), shape (..., T).

    ``heat_current`` (..., T, M): J^Q out of each reservoir; ``temperature`` (..., M). R > 0
    exactly when heat moves uphill (module docs); −inf when all temperatures are equal.
    Units: energy/ħ (ħ = k_B = 1).
    ``smoothing`` τ (energy/ħ): soft min/max (log-sum-exp at temperature τ, within τ ln 2 of
    the min and τ ln M of the max) for gradients; invalid splits are dropped either way."""
    if smoothing is None:
        return _hard_margin(heat_current, temperature)
    a, b, valid = _group_flows(heat_current, temperature)
    tau = float(smoothing)
    smin = -tau * jnp.logaddexp(-a / tau, -b / tau)
    z = jnp.where(valid, smin / tau, -1e4)  # e^{-1e4} = 0: an invalid split never counts
    return tau * jax.nn.logsumexp(z, axis=-1)


def uphill_rate(heat_current, temperature, *, smoothing: float | None = None) -> Array:
    r"""Cold-to-hot transfer rate r(t) ≥ 0 (energy/ħ), shape (..., T) (module docs).

    Two reservoirs: r = max(0, min(−J^Q_hot, J^Q_cold)), hot/cold from ``temperature`` per
    configuration. ``smoothing`` τ: r ≈ τ softplus(R_τ/τ) with the soft margin R_τ (smooth
    everywhere, within τ (ln 2 + ln M) of the hard r; for gradient-based optimisation).
    Units: energy/ħ (ħ = k_B = 1); heat currents are out of each reservoir."""
    r = uphill_margin(heat_current, temperature, smoothing=smoothing)
    if smoothing is None:
        return jnp.maximum(r, 0.0)
    tau = float(smoothing)
    return tau * jax.nn.softplus(r / tau)


# ---------------------------------------------------------------------------------------------
# exact windows and integral for the piecewise-linear interpolant (host side, numpy)
def _refine(times, heat_current, temperature):
    """Breakpoints of R(t) for the linearly interpolated currents: (t_ref, R_ref), R linear
    between consecutive refined times (all pairwise crossings of {0, a_s, b_s} inserted)."""
    t = np.asarray(times, float)
    a, b, valid = _group_flows(np.asarray(heat_current, float), np.asarray(temperature, float),
                               np)
    keep = valid[0]
    if not np.any(keep):
        return t, np.full(t.shape, -np.inf)
    f = np.concatenate([np.zeros(t.shape + (1,)), a[:, keep], b[:, keep]], axis=1)  # (T, F)
    d0 = f[:-1, :, None] - f[:-1, None, :]  # (T-1, F, F) differences at interval starts
    d1 = f[1:, :, None] - f[1:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = d0 / (d0 - d1)
    s = np.where((s > 0) & (s < 1) & np.isfinite(s), s, np.nan).reshape(len(t) - 1, -1)
    s = np.sort(s, axis=1)  # NaN last
    dt = np.diff(t)
    ts = [t[:1]]
    for i in range(len(t) - 1):
        si = s[i][~np.isnan(s[i])]
        ts.append(t[i] + dt[i] * np.unique(si))
        ts.append(t[i + 1: i + 2])
    t_ref = np.concatenate(ts)
    j_ref = np.stack([np.interp(t_ref, t, np.asarray(heat_current, float)[:, k])
                      for k in range(np.shape(heat_current)[-1])], axis=-1)
    r_ref = _hard_margin(j_ref, np.asarray(temperature, float), np)
    return t_ref, r_ref


def _windows(t, y, tolerance):
    """Intervals where the piecewise-linear y(t) > tolerance (edges interpolated)."""
    pos = y > tolerance
    out, k = [], 0
    while k < t.size:
        if not pos[k]:
            k += 1
            continue
        if k == 0:
            start = t[0]
        else:
            start = t[k - 1] + (t[k] - t[k - 1]) * (tolerance - y[k - 1]) / (y[k] - y[k - 1])
        j = k
        while j + 1 < t.size and pos[j + 1]:
            j += 1
        if j + 1 == t.size:
            end = t[j]
        else:
            end = t[j] + (t[j + 1] - t[j]) * (y[j] - tolerance) / (y[j] - y[j + 1])
        out.append((float(start), float(end)))
        k = j + 1
    return out


@dataclasses.dataclass(frozen=True)
class UphillFlow:
    """Genuine uphill (cold-to-hot) heat flow along one transient (host-side numbers): heat out
    of the colder reservoir(s) and into the hotter one(s) at once. Units: ħ = k_B = 1.

    - ``times``, ``rate``: the grid and r(t) on it (energy/ħ).
    - ``heat``: Q_up = ∫ r dt over the whole grid (energy), exact for linearly interpolated
      currents.
    - ``cumulative``: ∫_0^t r on the grid (energy), shape (T,).
    - ``windows``: [(t_start, t_end), ...] where r > ``tolerance``; ``window_heat``: Q_up in
      each window; ``duration``: their total length (ħ/energy).
    - ``peak_rate``, ``peak_time``: max r and where it occurs (grid).
    - ``hot``, ``cold``: reservoir indices of the highest and lowest temperature.
    """

    times: np.ndarray
    rate: np.ndarray
    heat: float
    cumulative: np.ndarray
    windows: list
    window_heat: list
    duration: float
    peak_rate: float
    peak_time: float
    hot: int
    cold: int
    tolerance: float

    def summary(self, names=None) -> str:
        """One line: the windows and the heat moved uphill in them."""
        nm = names or [f"reservoir {self.hot}", f"reservoir {self.cold}"]
        if not self.windows:
            return (f"no genuine uphill window (heat out of {nm[1]} into {nm[0]} at the same "
                    "time): Q_up = 0")
        w = ", ".join(f"[{a:.3f}, {b:.3f}]" for a, b in self.windows)
        return (f"heat flows from {nm[1]} to {nm[0]} during t in {w}; heat moved uphill "
                f"Q_up = {self.heat:.6g} (peak rate {self.peak_rate:.6g} at t = "
                f"{self.peak_time:.4g})")


def uphill_flow(solution=None, *, times=None, heat_current=None, temperature=None,
                tolerance: float | None = None) -> UphillFlow:
    r"""Windows, rate and heat moved uphill for one transient (module docs for the definition).

    Give a ``Solution`` (or ``CurrentSolution``) without batch axes, or ``times`` (T,),
    ``heat_current`` (T, M) and ``temperature`` (M,). ``tolerance`` (energy/ħ, ≥ 0): windows
    are where r > tolerance (Q_up is always the full integral of r); default
    1e-10 · max_t,α |J^Q_α(t)|, so that round-off (e.g. r ~ 1e-17 at t = 0 when every current
    vanishes there) does not open a window. Units: ħ = k_B = 1 (rates energy/ħ, heats
    energy); heat currents are out of each reservoir."""
    if solution is not None:
        times, heat_current, temperature = (solution.times, solution.heat_current,
                                            solution.temperature)
    t = np.asarray(times, float)
    j = np.asarray(heat_current, float)
    temp = np.asarray(temperature, float)
    if t.ndim != 1 or j.shape[:1] != t.shape or j.ndim != 2 or temp.shape != j.shape[1:]:
        raise ValueError(
            f"uphill_flow needs one transient: times (T,), heat_current (T, M), temperature "
            f"(M,); got {t.shape}, {j.shape}, {temp.shape} (index a batch first)."
        )
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing.")
    if not (np.all(np.isfinite(j)) and np.all(np.isfinite(temp))):
        raise ValueError("heat_current and temperature must be finite.")
    if tolerance is None:
        tolerance = 1e-10 * float(np.max(np.abs(j), initial=0.0))
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}.")
    t_ref, r_ref = _refine(t, j, temp)
    pos = np.maximum(r_ref, 0.0)
    seg = 0.5 * np.diff(t_ref) * (pos[1:] + pos[:-1])
    cum_ref = np.concatenate([[0.0], np.cumsum(seg)])
    windows = _windows(t_ref, r_ref, tolerance)
    wheat = [float(np.interp(b, t_ref, cum_ref) - np.interp(a, t_ref, cum_ref))
             for a, b in windows]
    rate = np.maximum(_hard_margin(j, temp, np), 0.0)
    k = int(np.argmax(rate))
    return UphillFlow(
        times=t, rate=rate, heat=float(cum_ref[-1]), cumulative=np.interp(t, t_ref, cum_ref),
        windows=windows, window_heat=wheat, duration=float(sum(b - a for a, b in windows)),
        peak_rate=float(rate[k]), peak_time=float(t[k]), hot=int(np.argmax(temp)),
        cold=int(np.argmin(temp)), tolerance=float(tolerance),
    )


def uphill_heat(solution=None, *, times=None, heat_current=None, temperature=None) -> np.ndarray:
    r"""Q_up = ∫ r dt for every configuration of a (batched) transient, shape (...) (energy).

    Same arguments as ``uphill_flow`` but with any leading batch axes: heat_current
    (..., T, M) out of each reservoir, temperature (..., M) (broadcast). Units: energy
    (ħ = k_B = 1)."""
    if solution is not None:
        times, heat_current, temperature = (solution.times, solution.heat_current,
                                            solution.temperature)
    j = np.asarray(heat_current, float)
    temp = np.broadcast_to(np.asarray(temperature, float), j.shape[:-2] + j.shape[-1:])
    flat_j = j.reshape((-1,) + j.shape[-2:])
    flat_t = temp.reshape((-1, j.shape[-1]))
    out = [uphill_flow(times=times, heat_current=a, temperature=b).heat
           for a, b in zip(flat_j, flat_t, strict=True)]
    return np.asarray(out).reshape(j.shape[:-2])


__all__ = ["UphillFlow", "uphill_flow", "uphill_heat", "uphill_margin", "uphill_rate"]
