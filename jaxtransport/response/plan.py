"""The Continuum's quadrature plan: where its frequency nodes lie, as a named Module, and the
padded Gauss rules it gives (shared by the full and the currents-only Continuum)."""

from __future__ import annotations

import math

import equinox as eqx
import numpy as np

from .._quadrature import gauss_panels, ray_rule
from .base import flatten_terms


class QuadraturePlan(eqx.Module):
    """Where the Continuum's frequency nodes lie (host floats, fixed on concrete values):

    - ``a``: start of the complex tail rays (left of every pole and support);
    - ``w_lo``, ``w_hi``: the stored window (occupations 1 below, 0 above);
    - ``width``: the largest panel; ``s_first``, ``s_far``: the rays' first panel and far end;
    - ``q``: Gauss–Legendre nodes per panel; ``factor``: panel-width factor (refinement);
    - ``poles``: (centre, scale) of the near-axis poles the panels resolve;
    - ``region``: (node_lo, node_hi, cuts, singular points) of the non-pole densities;
    - ``fits``: per density term a ``FittedKernel`` (non-pole densities) or None.

    All values are static (hashable host numbers), so a resolved ``jt.Continuum`` holding a
    plan is itself hashable and holds no arrays.
    """

    a: float = eqx.field(static=True)
    w_lo: float = eqx.field(static=True)
    w_hi: float = eqx.field(static=True)
    width: float = eqx.field(static=True)
    s_first: float = eqx.field(static=True)
    s_far: float = eqx.field(static=True)
    q: int = eqx.field(static=True)
    poles: tuple = eqx.field(static=True)
    factor: float = eqx.field(static=True)
    region: tuple = eqx.field(static=True)
    fits: tuple = eqx.field(static=True)


def window_cut(tolerance):
    """Half width of the stored frequency window in units of T_max: beyond it |f − θ| <
    e^{−x} ≈ tolerance × e^{−5} (between 12 and 30)."""
    return float(min(30.0, max(12.0, math.log(1.0 / tolerance) + 5.0)))


def edge_tolerance(tolerance):
    """How far from 0/1 the occupations may be at the window edges in stage 2 (a little
    looser than at the planned T_max, so that range passes with a margin)."""
    return float(math.exp(-(window_cut(tolerance) - 0.5)))


def default_order(tolerance):
    """Gauss–Legendre nodes per panel for a tolerance."""
    return 10 if tolerance >= 1e-6 else 12 if tolerance >= 1e-9 else 16


def pad_rule(nodes, weights, size, fill):
    """Pad a rule with zero-weight nodes at ``fill`` to ``size`` (shares compiled programs)."""
    extra = size - len(nodes)
    return (np.concatenate([nodes, np.full(extra, fill)]),
            np.concatenate([weights, np.zeros(extra)]))


def plan_rules(plan: QuadraturePlan):
    """(window, offset, ray) Gauss rules (nodes, weights) of a plan, unpadded."""
    a, w_lo, w_hi, width = plan.a, plan.w_lo, plan.w_hi, plan.width
    q, poles, factor, fits = plan.q, plan.poles, plan.factor, plan.fits
    node_lo, node_hi, cuts, sing = plan.region
    lo, hi = max(w_lo, node_lo), min(w_hi, node_hi)
    if not lo < hi:  # the supports lie outside the window: a token panel (zero density)
        lo, hi = w_lo, w_lo + width
    wn, ww = gauss_panels(lo, hi, width, q, poles, factor, cuts, sing)
    on, ow = (gauss_panels(a, w_lo, width, q, poles, factor, cuts, sing) if w_lo > a
              else (np.zeros(0), np.zeros(0)))
    if any(f is None for f in fits):  # pole-sum densities extend to −∞: complex rays
        sn, sw = ray_rule(plan.s_first, plan.s_far, q)
    else:
        sn, sw = np.zeros(0), np.zeros(0)
    return wn, ww, on, ow, sn, sw


def fit_error(model, fits):
    """First-order bound on the currents' error from the kernel fits: 2 Σ_j |v_j|² (∫|Δk| +
    ∫|Δk^E|) (J = 2 Re X, and X ∋ ∫K(t−s)G(s)ds with |G| ≤ 1)."""
    return float(sum(2.0 * float(np.sum(np.abs(np.asarray(v)) ** 2)) * (f.error + f.error_energy)
                     for (_, v, _), f in zip(flatten_terms(model), fits, strict=True)
                     if f is not None))


def round_up(k, b):
    """k rounded up to a multiple of b (at least b)."""
    return max(b, -(-k // b) * b)


def rule_sizes(plan: QuadraturePlan, node_batch):
    """Padded node counts (window, offset, ray) of a plan."""
    wn, _, on, _, sn, _ = plan_rules(plan)
    return padded_sizes(wn, on, sn, node_batch)


def padded_sizes(wn, on, sn, node_batch):
    """Node counts of the rules padded to whole batches."""
    return (round_up(len(wn), node_batch), len(on) and round_up(len(on), node_batch),
            len(sn) and round_up(len(sn), 16))


def padded_rules(plan: QuadraturePlan, node_batch, sizes=None):
    """The plan's (window, offset, ray) rules padded with zero-weight nodes to ``sizes``
    (default: whole batches), so that rules of different orders share compiled programs."""
    wn, ww, on, ow, sn, sw = plan_rules(plan)
    if sizes is None:
        sizes = padded_sizes(wn, on, sn, node_batch)
    wn, ww = pad_rule(wn, ww, sizes[0], plan.w_hi)
    on, ow = pad_rule(on, ow, sizes[1], plan.a)
    sn, sw = pad_rule(sn, sw, sizes[2], 1.0)
    return wn, ww, on, ow, sn, sw
