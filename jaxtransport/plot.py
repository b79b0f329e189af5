"""Matplotlib plots for notebooks, experiments and the CLI (imported lazily; the core never
imports this module).

Conventions: ħ = k_B = 1; every current is **out of** its reservoir, so a negative heat current
out of the hot reservoir (J^Q_hot < 0) is heat flowing into it, out of the cold one: a reversal.
Every shading has a legend entry saying what it marks: red = genuine uphill flow (heat out of
the colder AND into the hotter reservoir at once, ``jt.thermodynamics.uphill_flow``), grey =
J^Q_hot < 0 only (e.g. a system discharging into both reservoirs: not uphill)."""

from __future__ import annotations

import numpy as np


def reversal_windows(times, current, threshold=0.0):
    """Time intervals [(t_start, t_end), ...] where ``current`` < ``threshold``.

    Interval edges are the linearly interpolated crossings of ``threshold`` between grid
    points (the first/last grid time where the current is already below it at the ends)."""
    times, current = np.asarray(times, float), np.asarray(current, float) - threshold
    if times.shape != current.shape or times.ndim != 1:
        raise ValueError(
            f"times and current must be 1-D of equal length, got {times.shape}, {current.shape}."
        )

    def crossing(k):  # sign change between k-1 and k
        c0, c1 = current[k - 1], current[k]
        return float(times[k - 1] + (times[k] - times[k - 1]) * c0 / (c0 - c1))

    neg = current < 0
    out, start = [], None
    for k, flag in enumerate(neg):
        if flag and start is None:
            start = float(times[0]) if k == 0 else crossing(k)
        if not flag and start is not None:
            out.append((start, crossing(k)))
            start = None
    if start is not None:
        out.append((start, float(times[-1])))
    return out


def plot_currents(sol, ax=None, reservoir_names=None, field="heat_current", hot=0, title=None):
    """Currents per reservoir vs time. Heat currents: labelled shading of the genuine uphill
    windows (red) and of J^Q_hot < 0 without uphill flow (grey), hot/cold from the
    temperatures (see ``plot_uphill``); other fields: ``field`` < 0 of reservoir ``hot``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    t = np.asarray(sol.times)
    cur = np.asarray(getattr(sol, field))
    names = reservoir_names or [f"reservoir {k}" for k in range(cur.shape[-1])]
    for k in range(cur.shape[-1]):
        ax.plot(t, cur[:, k], label=f"{names[k]}")
    temperature = getattr(sol, "temperature", None)
    if field == "heat_current" and cur.shape[-1] >= 2 and temperature is not None:
        _uphill_shading(ax, t, cur, np.asarray(temperature, float))
    else:
        shade_windows(ax, reversal_windows(t, cur[:, hot]), f"{names[hot]}: {field} < 0",
                      alpha=0.12)
    ax.axhline(0.0, color="k", lw=0.6)
    label = {"heat_current": "heat current $J^Q_\\alpha$", "energy_current": "energy current",
             "particle_current": "particle current"}.get(field, field)
    ax.set_xlabel("time $t$  [$\\hbar$/energy]")
    ax.set_ylabel(f"{label} out of reservoir  [energy/$\\hbar$]")
    ax.set_title(title or "currents out of each reservoir", fontsize=9)
    ax.legend(fontsize=8)
    return ax


UPHILL_LABEL = "genuine uphill: heat out of cold AND into hot"
HOT_ONLY_LABEL = "$J^Q_{hot}<0$ only (not uphill)"


def shade_windows(ax, windows, label, color="tab:red", alpha=0.15, hatch=None):
    """Shade time windows [(a, b), ...] with one legend entry ``label`` (none if no window)."""
    for k, (a, b) in enumerate(windows):
        ax.axvspan(a, b, color=color, alpha=alpha, lw=0, hatch=hatch,
                   label=label if k == 0 else None)


def _uphill_shading(ax, t, jq, temperature):
    """Labelled shading: genuine uphill windows (red) and J^Q_hot < 0 without uphill flow
    (grey). Returns the UphillFlow."""
    from .uphill import uphill_flow

    flow = uphill_flow(times=t, heat_current=jq, temperature=temperature)
    hot_neg = reversal_windows(t, jq[:, flow.hot])
    up = flow.windows

    def minus(a, b):  # parts of [a, b] outside every uphill window
        parts, lo = [], a
        for u0, u1 in up:
            if u1 <= lo or u0 >= b:
                continue
            if u0 > lo:
                parts.append((lo, u0))
            lo = max(lo, u1)
        if lo < b:
            parts.append((lo, b))
        return parts

    tiny = 1e-6 * (t[-1] - t[0])  # slivers between the two kinds of edge (tolerance)
    only = [w for a, b in hot_neg for w in minus(a, b) if w[1] - w[0] > tiny]
    shade_windows(ax, only, HOT_ONLY_LABEL, color="0.5", alpha=0.18)
    shade_windows(ax, up, UPHILL_LABEL, color="tab:red", alpha=0.22)
    return flow


def plot_uphill(sol, ax=None, reservoir_names=None, title=None, rate=True):
    """Heat currents out of each reservoir with labelled shading: red where heat moves
    genuinely uphill (out of the colder and into the hotter reservoir at once,
    ``jt.thermodynamics.uphill_flow``), grey where only J^Q_hot < 0 (the hotter reservoir
    takes up heat but so does the colder one). ``rate``: also draw r(t). One transient."""
    ax = _axes(ax)
    t = np.asarray(sol.times, float)
    jq = np.asarray(sol.heat_current, float)
    temp = np.asarray(sol.temperature, float)
    names = reservoir_names or [f"reservoir {k}" for k in range(jq.shape[-1])]
    for k in range(jq.shape[-1]):
        ax.plot(t, jq[:, k], label=f"$J^Q$ out of {names[k]} (T={temp[k]:g})")
    flow = _uphill_shading(ax, t, jq, temp)
    if rate:
        ax.plot(t, flow.rate, "k--", lw=1.0, label="uphill rate $r(t)$")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("time $t$  [$\\hbar$/energy]")
    ax.set_ylabel("heat current out of reservoir  [energy/$\\hbar$]")
    ax.set_title(title or f"$Q_{{up}}$ = {flow.heat:.4g}", fontsize=9)
    ax.legend(fontsize=7)
    return ax


def plot_energy_bookkeeping(sol, balance=None, ax=None, flow=None, reservoir_names=None,
                            title=None):
    """Where the energy comes from: ΔE_S (system), Σ_α <H_I^α> (coupling), heat into each
    reservoir (−Q_α), the heat moved uphill ∫r dt, with the uphill windows shaded (labelled).
    ``balance``: ``jt.energy_balance(sol)`` (computed if None). One transient; energies."""
    from .thermodynamics import energy_balance
    from .uphill import uphill_flow

    ax = _axes(ax)
    bal = energy_balance(sol) if balance is None else balance
    flow = uphill_flow(sol) if flow is None else flow
    t = np.asarray(sol.times, float)
    q = np.asarray(bal.heat, float)
    names = reservoir_names or [f"reservoir {k}" for k in range(q.shape[-1])]
    ax.plot(t, np.asarray(bal.system_energy_change), label="system energy change $\\Delta E_S$")
    ax.plot(t, np.sum(np.asarray(bal.coupling_energy), -1),
            label="coupling energy $\\sum_\\alpha\\langle H_I^\\alpha\\rangle$")
    for k in range(q.shape[-1]):
        ax.plot(t, -q[:, k], label=f"heat into {names[k]} $-Q_{{{names[k]}}}$")
    ax.plot(t, flow.cumulative, "k--", lw=1.2, label="heat moved uphill $\\int r\\,dt$")
    shade_windows(ax, flow.windows, UPHILL_LABEL, color="tab:red", alpha=0.22)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("time $t$  [$\\hbar$/energy]")
    ax.set_ylabel("energy since $t=0$  [energy]")
    ax.set_title(title or "energy bookkeeping (first law)", fontsize=9)
    ax.legend(fontsize=7)
    return ax


# ---------------------------------------------------------------------------------------------
# summaries of a reversal (numpy, host side)
def reversal_measures(times, current):
    r"""Depth and duration of the reversal of a heat current (out of the hot reservoir).

    ``current`` (..., T) on ``times`` (T,). Returns ``(depth, duration)``, each (...):

    - depth = max(0, −min_t J(t)): the largest heat current flowing *into* the reservoir
      (energy/ħ; 0 when the current never turns negative);
    - duration = ∫ 1[J(t) < 0] dt, the total length of the windows where J < 0 (crossings
      linearly interpolated between grid points, as in ``reversal_windows``).
    """
    t = np.asarray(times, float)
    j = np.asarray(current, float)
    if t.ndim != 1 or j.shape[-1] != t.size:
        raise ValueError(f"current must be (..., {t.size}) for {t.size} times, got {j.shape}.")
    flat = j.reshape(-1, t.size)
    depth = np.maximum(0.0, -flat.min(axis=-1))
    duration = np.array([sum(b - a for a, b in reversal_windows(t, row)) for row in flat])
    return depth.reshape(j.shape[:-1]), duration.reshape(j.shape[:-1])


# ---------------------------------------------------------------------------------------------
# figures
def _axes(ax, figsize=(6.4, 4.0)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_traces(times, traces, ax=None, ylabel="", shade=None, title=None, styles=None,
                xlabel="time $t$  [$\\hbar$/energy]"):
    """Several curves against time (``traces``: {label: (T,) array}); the windows where the
    curve named ``shade`` is negative are shaded (e.g. a conductance G1 or a GKSL rate).
    ``styles``: optional {label: matplotlib format string or dict of line properties}."""
    ax = _axes(ax)
    t = np.asarray(times, float)
    styles = styles or {}
    for name, y in traces.items():
        st = styles.get(name, {})
        kw = st if isinstance(st, dict) else {}
        fmt = st if isinstance(st, str) else "-"
        ax.plot(t, np.asarray(y, float), fmt, label=name, **kw)
    if shade is not None:
        shade_windows(ax, reversal_windows(t, np.asarray(traces[shade], float)),
                      f"{shade} < 0", alpha=0.12)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return ax


def _edges(c, log):
    """Cell edges around grid points ``c`` (geometric midpoints on a log axis)."""
    if c.size == 1:
        return np.array([c[0] * 0.9, c[0] * 1.1]) if log else np.array([c[0] - 0.5, c[0] + 0.5])
    g = np.log(c) if log else c
    mid = 0.5 * (g[1:] + g[:-1])
    e = np.concatenate([[2 * g[0] - mid[0]], mid, [2 * g[-1] - mid[-1]]])
    return np.exp(e) if log else e


def plot_map(x, y, values, ax=None, xlabel="", ylabel="", label="", zero=None, cmap="viridis",
             title=None, diverging=False, xlog=False, ylog=False):
    """A 2-D parameter map ``values`` (len(y), len(x)) with a colour bar, and the zero contour of
    ``zero`` (same shape; default ``values`` itself) drawn in black: the boundary of the region
    where a reversal exists (or where a difference changes sign). ``diverging=True`` centres a
    red/blue colour map on 0; ``xlog``/``ylog`` use logarithmic axes (grid points must be
    > 0)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    ax = _axes(ax, (5.2, 4.0))
    x, y, v = np.asarray(x, float), np.asarray(y, float), np.asarray(values, float)
    if v.shape != (y.size, x.size):
        raise ValueError(f"values must have shape (len(y), len(x)) = {(y.size, x.size)}, "
                         f"got {v.shape}.")
    norm = None
    if diverging:
        lim = max(float(np.nanmax(np.abs(v))), 1e-300)
        norm, cmap = TwoSlopeNorm(0.0, -lim, lim), "RdBu_r"
    mesh = ax.pcolormesh(_edges(x, xlog), _edges(y, ylog), v, shading="flat", cmap=cmap,
                         norm=norm)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    plt.colorbar(mesh, ax=ax, label=label)
    z = v if zero is None else np.asarray(zero, float)
    if x.size > 1 and y.size > 1 and np.nanmin(z) < 0 < np.nanmax(z):
        ax.contour(x, y, z, levels=[0.0], colors="k", linewidths=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_cumulants(times, cumulants, axes=None, rates=None, quantity="Q_{hot}", title=None,
                   label="exact (finite modes)"):
    r"""Cumulants κ_1 … κ_n of a transferred quantity vs time, one panel per order.

    ``cumulants`` (T, n) (κ_1 = mean, κ_2 = variance, …; heat out of the reservoir, energy
    units to the power n). ``rates`` (n,), optional: long-time rates dκ_n/dt (e.g.
    Levitov–Lesovik), drawn as dashed lines of that slope through the last point. Call again
    with the same ``axes`` (and another ``label``) to overlay several preparations."""
    import matplotlib.pyplot as plt

    t = np.asarray(times, float)
    k = np.asarray(cumulants, float)
    if k.ndim != 2 or k.shape[0] != t.size:
        raise ValueError(f"cumulants must be (T, n) with T = {t.size}, got {k.shape}.")
    n = k.shape[1]
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.0), squeeze=False)
        axes = axes[0]
    for m in range(n):
        ax = axes[m]
        ax.plot(t, k[:, m], label=label)
        if rates is not None:
            r = float(np.asarray(rates)[m])
            ax.plot(t, k[-1, m] + r * (t - t[-1]), "--", color="0.4", lw=1,
                    label="long-time rate")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xlabel("time $t$  [$\\hbar$/energy]")
        unit = "energy" if m == 0 else f"energy$^{m + 1}$"
        ax.set_ylabel(f"$\\kappa_{m + 1}[{quantity}]$  [{unit}]")
    axes[0].legend(fontsize=7)
    if title:
        axes[0].figure.suptitle(title, fontsize=9)
    return axes


def save_figure(fig, stem, dpi=150):
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` (parents created); returns both
    paths."""
    from pathlib import Path

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(out[0], dpi=dpi, bbox_inches="tight")
    fig.savefig(out[1], bbox_inches="tight")
    return out


def reversal_map(model_fn, values, times, state, temperature=None, method=None, hot=0):
    r"""Depth and duration of the hot reservoir's heat-current reversal over a parameter that
    changes the model (stage 1 once per value) × a batch of stage-2 inputs.

    ``model_fn(v)`` builds the model for each v in ``values``; ``state`` (..., n, n) and
    ``temperature`` (..., M) (default: the model's) broadcast as in ``Response.evaluate``.
    Returns ``(depth, duration)`` of shape (len(values), ...) (see ``reversal_measures``:
    depth = max(0, −min_t J^Q_hot) in energy/ħ, duration = time with J^Q_hot < 0 in ħ/energy).
    """
    import jaxtransport as jt

    depth, duration = [], []
    for v in values:
        sol = jt.response(model_fn(v), times, method).evaluate(state, temperature)
        d, t = reversal_measures(times, np.asarray(sol.heat_current)[..., hot])
        depth.append(d)
        duration.append(t)
    return np.stack(depth), np.stack(duration)
