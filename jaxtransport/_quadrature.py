"""Quadrature rules shared by the methods (host NumPy nodes and weights): composite
Gauss–Legendre panels, panel layouts (uniform, graded towards singular points, refined near
poles), rays to infinity and the half line."""

from __future__ import annotations

import functools
import math

import numpy as np


@functools.lru_cache(maxsize=16)
def legendre(q: int):
    """Gauss–Legendre nodes and weights on [−1, 1] (a bounded cache of read-only arrays: they
    depend on q only)."""
    x, w = np.polynomial.legendre.leggauss(q)
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


def gauss_rule(edges, q: int):
    """Composite Gauss–Legendre rule, ``q`` nodes per panel between consecutive ``edges``:
    host numpy (nodes, weights).

    Units: nodes and weights in the units of the interval (energy, ħ = 1)."""
    edges = np.asarray(edges, float)
    x, w = legendre(q)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def panel_edges(lo, hi, width, breakpoints=(), singular=(), levels=14):
    """Panel edges on [lo, hi]: uniform panels of at most ``width`` between the breakpoints,
    geometrically graded (ratio 1/4) towards each singular point.

    Units: the edges in the units of ω (energy, ħ = 1)."""
    cuts = sorted({lo, hi, *(b for b in (*breakpoints, *singular) if lo < b < hi)})
    sing = [s for s in singular if lo <= s <= hi]
    edges = [lo]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        g = min(width, 0.5 * (b - a))  # the graded zone next to a singular end
        near = lambda p: any(abs(p - x) < 1e-14 * max(1.0, abs(x)) for x in sing)
        grade_a = [a + g * 0.25**k for k in range(levels + 1)] if near(a) else [a]
        grade_b = [b - g * 0.25**k for k in range(levels + 1)] if near(b) else [b]
        inner_a, inner_b = max(grade_a), min(grade_b)
        npan = max(1, int(math.ceil((inner_b - inner_a) / width)))
        edges += grade_a + list(np.linspace(inner_a, inner_b, npan + 1)) + grade_b + [b]
    edges = np.unique(np.asarray(edges))
    return np.asarray(edges)


def pole_panel_edges(lo, hi, width, poles=(), factor=1.0, cuts=(), singular=(), levels=14):
    """Panel edges on [lo, hi]: width ``factor·width``, refined near each pole (c, s) to
    ``factor·4s`` and growing as ``factor·|ω − c|/2`` away from it (the integrand is smooth
    on the scale of the distance to its nearest pole); panels also end at the ``cuts``
    (support ends and breakpoints of the densities) and are graded geometrically (ratio
    1/4) towards ``singular`` points (|ω − b|^s edges)."""
    inner = sorted({lo, hi, *(c for c in (*cuts, *singular) if lo < c < hi)})
    if len(inner) > 2:
        edges = np.unique(np.concatenate([
            pole_panel_edges(x0, x1, width, poles, factor)
            for x0, x1 in zip(inner[:-1], inner[1:], strict=True)]))
    elif not poles:
        npan = max(1, int(math.ceil((hi - lo) / (factor * width))))
        edges = np.linspace(lo, hi, npan + 1)
    else:
        cs = np.array([c for c, _ in poles])
        ss = np.array([sc for _, sc in poles])

        def local(x):
            return factor * min(width, float(np.min(np.maximum(4.0 * ss, 0.5 * np.abs(x - cs)))))

        out = [lo]
        while out[-1] < hi:
            e = out[-1]
            w = local(e)
            w = min(w, local(min(e + w, hi)))
            out.append(min(e + w, hi))
        if len(out) > 2 and out[-1] - out[-2] < 0.25 * (out[-2] - out[-3]):
            out.pop(-2)  # no sliver panel at the end
        edges = np.asarray(out)
    for b in singular:  # geometric grading inside the panels adjacent to b
        k = np.searchsorted(edges, b)
        extra = []
        if k < len(edges) and abs(edges[k] - b) < 1e-12 * max(1.0, abs(b)):
            if k + 1 < len(edges):
                extra += [b + (edges[k + 1] - b) * 0.25**i for i in range(1, levels + 1)]
            if k > 0:
                extra += [b - (b - edges[k - 1]) * 0.25**i for i in range(1, levels + 1)]
        edges = np.unique(np.concatenate([edges, extra]))
    return edges


def gauss_panels(lo, hi, width, q, poles=(), factor=1.0, cuts=(), singular=()):
    """``gauss_rule`` on the panels of ``pole_panel_edges``."""
    return gauss_rule(pole_panel_edges(lo, hi, width, poles, factor, cuts, singular), q)


def ray_rule(s_first, s_far, q):
    """Gauss rule on s ∈ [0, ∞): geometric panels up to s_far, then s = s_far/u."""
    x, w = legendre(q)
    edges = [0.0, s_first]
    while edges[-1] < s_far:
        edges.append(edges[-1] * 2.0)
    nodes, weights = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        nodes.append(0.5 * (hi + lo) + 0.5 * (hi - lo) * x)
        weights.append(0.5 * (hi - lo) * w)
    u = 0.5 * (1 + x)  # u ∈ (0, 1): s = S/u, ds = S/u² du
    big = edges[-1]
    nodes.append(big / u)
    weights.append(0.5 * w * big / u**2)
    return np.concatenate(nodes), np.concatenate(weights)


def half_line_rule(scale: float, q: int = 400):
    """Gauss–Legendre rule for ∫_0^∞ dω with ω = s·u/(1 − u), u ∈ (0, 1) (host side)."""
    x, w = legendre(q)
    u = 0.5 * (x + 1)
    return scale * u / (1 - u), 0.5 * w * scale / (1 - u) ** 2


def tail_rule(start: float, q: int = 200):
    """Gauss–Legendre rule for ∫_start^∞ dω with ω = start/u, u ∈ (0, 1) (host side)."""
    x, w = legendre(q)
    u = 0.5 * (x + 1)
    return start / u, 0.5 * w * start / u**2
