"""Matplotlib plots (imported lazily; the core never imports this module)."""

from __future__ import annotations

import numpy as np


def reversal_windows(times, current, threshold=0.0):
    """Time intervals [(t_start, t_end), ...] where ``current`` < ``threshold``."""
    times, current = np.asarray(times), np.asarray(current)
    neg = current < threshold
    out, start = [], None
    for k, flag in enumerate(neg):
        if flag and start is None:
            start = times[k]
        if not flag and start is not None:
            out.append((float(start), float(times[k])))
            start = None
    if start is not None:
        out.append((float(start), float(times[-1])))
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
