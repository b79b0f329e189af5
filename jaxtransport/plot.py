"""Matplotlib plots (imported lazily; the core never imports this module)."""

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
