"""Matplotlib plots for notebooks, experiments and the CLI (imported lazily; the core never
imports this module).

Conventions: ħ = k_B = 1; every current is **out of** its reservoir, so a negative heat current
out of the hot reservoir (J^Q_hot < 0) is heat flowing into it, out of the cold one: a reversal.
Shaded time windows mark where the shaded quantity is negative."""

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
    """Currents per reservoir vs time; windows where heat flows *into* the hot reservoir
    (J^Q out of hot < 0, i.e. out of the cold one into the hot one) shaded."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    t = np.asarray(sol.times)
    cur = np.asarray(getattr(sol, field))
    names = reservoir_names or [f"reservoir {k}" for k in range(cur.shape[-1])]
    for k in range(cur.shape[-1]):
        ax.plot(t, cur[:, k], label=f"{names[k]}")
    for a, b in reversal_windows(t, cur[:, hot]):
        ax.axvspan(a, b, color="tab:red", alpha=0.12, lw=0)
    ax.axhline(0.0, color="k", lw=0.6)
    label = {"heat_current": "heat current $J^Q_\\alpha$", "energy_current": "energy current",
             "particle_current": "particle current"}.get(field, field)
    ax.set_xlabel("time $t$  [$\\hbar$/energy]")
    ax.set_ylabel(f"{label} out of reservoir  [energy/$\\hbar$]")
    ax.set_title(title or "currents out of each reservoir (shaded: heat flows into the hot one)",
                 fontsize=9)
    ax.legend(fontsize=8)
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
        for a, b in reversal_windows(t, np.asarray(traces[shade], float)):
            ax.axvspan(a, b, color="tab:red", alpha=0.12, lw=0)
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
