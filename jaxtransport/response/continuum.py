r"""Continuum reservoirs: exact ODE closure for Lorentzian (pole) spectral densities.

Maths. Each Lorentzian term p (reservoir r_p, vector v_p) has memory kernel
K_p(τ) = κ_p e^{−λ_p τ} v_p v_p†, κ_p = γ_p W_p / 2, λ_p = W_p + i c_p, and the energy kernel is
K^E_p = (c_p − i W_p) K_p. With y_p = v_p† Y_p the Dyson equation becomes the *linear*
constant-coefficient system E = (G; y_1..y_P), dE/dt = L E with

    L = [[−i h, −V], [diag(κ) V†, −diag(λ)]],   V = (v_1 … v_P),

so G(t) = [e^{Lt}]_{ss} exactly (matrix exponentials, no time stepping error).
The occupation-weighted frequency integrals need A(ω,t) = ∫_0^t G e^{iωτ} and
z_p(ω,t) = v_p† Z_p(ω,t), which obey another linear system (with L + iω), solved exactly per
frequency node. The frequency integral ∫dω f_β(ω) L_β(ω, t) is split into

* a stored window [w_lo, w_hi] (composite Gauss–Legendre, panels resolving e^{iωt}, the thermal
  width and the poles): evaluated in stage 2 with any f_β whose step lies inside the window;
* (−∞, w_lo], where every allowed f_β equals 1 (to e^{−x}, x = ln(1/tolerance) + 5, between
  12 and 30 thermal widths): T- and μ-independent, computed once.
  Its far part (−∞, a] is integrated *exactly* by splitting the integrand into e^{+iωt},
  e^{−iωt} and non-oscillating pieces (closed forms with the resolvent (L + iω)^{-1}) and
  rotating each onto a vertical ray where it decays (no poles lie left of a). This removes
  the slowly decaying, oscillating 1/ω² tail of the energy terms that defeats plain quadrature.

The achieved accuracy is estimated by repeating the quadrature at half resolution.
"""

from __future__ import annotations

import dataclasses
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_times, is_concrete, tolerance_missed
from ..pole_fit import fit_kernel
from .base import Response, flatten_terms
from .closure import FittedKernel, fingerprint, pole_data
from .continuum_kernels import build_response
from .currents import build_continuum_currents
from .driven_response import (
    build_driven_response,
    choose_step,
    driven_base_plan,
)
from .plan import QuadraturePlan, default_order, fit_error, rule_sizes, window_cut


class Continuum(eqx.Module):
    """Exact continuum reservoirs (default method).

    **Arguments:**

    - ``tolerance``: target absolute accuracy of currents and coupling energies (default
      1e-8). The quadrature is refined (up to ``max_refinements`` times) until the error
      estimate (difference to a half-resolution rule, at the model's own T and μ) is below it;
      the achieved estimate is stored as ``Response.error_estimate``.
    - ``temperature_range``: (T_min, T_max) for which stage 2 must be valid (default: the
      model's temperatures, ×[0.8, 1.25]). T_min sets the node density, T_max the window.
    - ``chemical_potential_range``: (μ_min, μ_max) (default: the model's values).
    - ``nodes_per_panel``: Gauss–Legendre order per panel (default from the tolerance: 10 for
      tolerance ≥ 1e-6, 12 down to 1e-9, 16 below).
    - ``node_batch``: frequency nodes processed at once (memory bound).
    - ``correlation_dt``: also store the kernels of dC/dt (``Response.correlation_kernel_dt``
      and ``correlation_offset_dt``; default False). They are the time derivatives of the
      correlation kernels, exact (forward-mode derivative of the same closed forms), and are
      what ``master_equation.effective_generator_from_response`` needs for the gain/loss
      rates Γ±. Memory: as much again as ``correlation_kernel`` (M·K·T·n² complex). Only for
      the full Response (``observables="currents"`` stores no correlation kernels).

    - ``drive_step``: largest time step of a driven model's propagation (fourth-order Magnus
      with an exponential Filon rule, ``response/driven.py``); default: chosen on concrete
      values so that the step-doubling estimate is a tenth of ``tolerance``.

    - ``max_refinements``: how often the panels may be halved to meet ``tolerance``;
      ``strict``: if the estimate still misses it, raise a ValueError instead of warning
      (``jt.ToleranceWarning``); both messages give the reached estimate.

    The error estimate covers the whole planned range: it is the largest over the model's
    own (T, μ) and the range's corners (T_min, T_max, μ_min, μ_max). Stage 2 raises if asked
    for a temperature below T_min or (T, μ) outside the stored window.

    Units ħ = k_B = 1: ``tolerance`` in the units of the observables it bounds (currents out of
    each reservoir in energy per time, coupling energies in energy); temperatures and chemical
    potentials in the units of h.
    """

    tolerance: float = eqx.field(default=1e-8, static=True)
    temperature_range: tuple[float, float] | None = eqx.field(default=None, static=True)
    chemical_potential_range: tuple[float, float] | None = eqx.field(default=None, static=True)
    nodes_per_panel: int | None = eqx.field(default=None, static=True)
    node_batch: int = eqx.field(default=64, static=True)
    correlation_dt: bool = eqx.field(default=False, static=True)
    max_refinements: int = eqx.field(default=2, static=True)
    strict: bool = eqx.field(default=False, static=True)
    drive_step: float | None = eqx.field(default=None, static=True)
    plan: QuadraturePlan | None = eqx.field(default=None, static=True)
    error_estimate_: float | None = eqx.field(default=None, static=True)
    planned_range_: tuple | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if not (self.tolerance > 0):
            raise ValueError(f"Continuum tolerance must be > 0, got {self.tolerance}.")
        if self.nodes_per_panel is not None and not (
            isinstance(self.nodes_per_panel, int) and self.nodes_per_panel >= 6
        ):
            raise ValueError(
                f"nodes_per_panel must be an integer >= 6 (or None for the default), got "
                f"{self.nodes_per_panel!r}."
            )
        if not (isinstance(self.max_refinements, int) and self.max_refinements >= 0):
            raise ValueError(f"max_refinements must be an integer >= 0, got "
                             f"{self.max_refinements!r}.")
        if self.temperature_range is not None:
            lo, hi = self.temperature_range
            if not (0 < lo <= hi and np.isfinite(hi)):
                raise ValueError(
                    f"temperature_range must be (T_min, T_max) with 0 < T_min <= T_max, got "
                    f"{self.temperature_range}."
                )
        if self.chemical_potential_range is not None:
            lo, hi = self.chemical_potential_range
            if not (lo <= hi and np.isfinite(lo) and np.isfinite(hi)):
                raise ValueError(
                    f"chemical_potential_range must be finite (mu_min, mu_max), got "
                    f"{self.chemical_potential_range}."
                )

    # -- planning (host, concrete values) ------------------------------------------------
    def _fits(self, model, times):
        """Kernel fits of the non-pole densities on [0, t_max] (None for pole sums)."""
        tmax = max(float(times[-1]), 1e-3)
        fit_tol = min(1e-7, 1e-2 * self.tolerance)
        out = []
        for dens, _, _ in flatten_terms(model):
            if dens.is_pole_sum:
                out.append(None)
                continue
            f = fit_kernel(dens, tmax, fit_tol)
            out.append(FittedKernel(kappa=tuple(complex(x) for x in np.asarray(f.kappa)),
                                    lam=tuple(complex(x) for x in np.asarray(f.lam)),
                                    error=float(f.error), error_energy=float(f.error_energy),
                                    fingerprint=fingerprint(dens)))
        return tuple(out)

    def _ranges(self, model, times):
        """(T_min, T_max, μ_min, μ_max, t_max) the plan is made for."""
        temps = np.asarray(model.temperatures)
        mus = np.asarray(model.chemical_potentials)
        t_lo, t_hi = self.temperature_range or (0.8 * temps.min(), 1.25 * temps.max())
        m_lo, m_hi = self.chemical_potential_range or (mus.min(), mus.max())
        return (float(t_lo), float(t_hi), float(m_lo), float(m_hi),
                max(float(times[-1]), 1e-3))

    def planned_range(self, model, times):
        """((T_min, T_max), (μ_min, μ_max)) that stage 2 accepts: the panels (width w) resolve
        thermal widths down to w/8, which is the requested T_min or lower."""
        t_lo, t_hi, m_lo, m_hi, tmax = self._ranges(model, times)
        return ((_panel_width(tmax, t_lo) / 8.0, t_hi), (m_lo, m_hi))

    def base_plan(self, model, times, fits) -> dict:
        """The window, panel and ray layout (``QuadraturePlan`` fields but q, factor, fits)."""
        pl = pole_data(model, fits)
        terms = flatten_terms(model)
        lam_l = np.linalg.eigvals(np.asarray(pl.generator()))
        lam_p = np.asarray(pl.lam)
        re_poles = np.concatenate([-lam_l.imag, lam_p.imag])
        im_dist = np.concatenate([-lam_l.real, lam_p.real])
        t_lo, t_hi, m_lo, m_hi, tmax = self._ranges(model, times)
        x_cut = window_cut(self.tolerance)
        w_lo = m_lo - x_cut * t_hi
        w_hi = m_hi + x_cut * t_hi
        dist = max(float(np.max(np.abs(im_dist))), 1e-3)
        margin = 0.5 * dist + 1.0
        a = min(w_lo, float(re_poles.min()) - margin)
        # non-pole densities: exact values at the nodes, so the nodes cover their supports
        # (panels end at support ends and breakpoints, graded towards singular points)
        general = [d for d, _, _ in terms if not d.is_pole_sum]
        cuts, sing = (), ()
        node_lo, node_hi = -np.inf, np.inf
        if general:
            sups = [d.effective_support() for d in general]
            lo_g = min(lo for lo, _ in sups)
            a = min(a, lo_g)  # the complex tail rays see only the pole sums left of a
            cuts = tuple(sorted({float(x) for d in general for x in
                                 (*d.support(), *(d.breakpoints() if len(d.breakpoints()) <= 16
                                                  else ())) if np.isfinite(x)}))
            sing = tuple(sorted({float(x) for d in general for x in d.singular_points()}))
            if len(general) == len(terms):  # nothing outside the supports
                node_lo, node_hi = lo_g, max(hi for _, hi in sups)
                a = lo_g
        if model.statistics == "boson":
            w_lo = node_lo  # validated: no weight at ω ≤ μ, so the window starts at the support
        width = _panel_width(tmax, t_lo)
        # poles near the real axis (eigenvalues of L, and the kernel poles) need panels of
        # ~4 max(distance, 1/t_max) near them, growing with distance from them
        scales = np.maximum(np.abs(im_dist), 1.0 / tmax)
        poles = tuple(sorted({(round(float(c), 12), round(float(d), 12))
                              for c, d in zip(re_poles, scales, strict=True) if 4.0 * d < width}))
        s_first = min(1.0 / tmax, 1.0)
        s_far = 1e3 * (abs(a) + margin + 1.0)
        return dict(a=float(a), w_lo=float(w_lo), w_hi=float(w_hi), width=float(width),
                    s_first=float(s_first), s_far=float(s_far), poles=poles,
                    region=(float(node_lo), float(node_hi), cuts, sing))

    def resolve_response(self, model, times, build=None, base_plan=None):
        """(resolved method, response): the quadrature plan refined on concrete values until
        its error estimate meets the tolerance, and the response built with it. ``build``
        replaces ``build_response`` and ``base_plan`` the window/panel layout (correlated
        initial states, ``response/stationary.py``)."""
        build = build_response if build is None else build
        times = check_times(times)
        leaves = jax.tree_util.tree_leaves(model)
        if not is_concrete(*leaves):
            raise ValueError(
                "Continuum needs concrete model values to plan its quadrature. Under "
                "jax.grad/jit, first call method = jt.Continuum().resolve(model, times) on "
                "concrete values and pass that method."
            )
        fits = self._fits(model, times)
        base = (self.base_plan if base_plan is None else base_plan)(model, times, fits)
        factor = 1.0
        q = self.nodes_per_panel or default_order(self.tolerance)
        err = np.inf
        zero = jnp.zeros((model.n_modes, model.n_modes))
        planned = self.planned_range(model, times)
        corners = _corners(model, planned)
        fit_err = fit_error(model, fits)
        for _ in range(self.max_refinements + 1):
            # the estimate compares with a lower-order rule on the same panels (padded to the
            # same node count, so both share one compiled program): |I_q − I_{q−2}| is the
            # error of the (q−2)-point rule, a conservative bound on that of I_q (these rules
            # converge geometrically in q: measured 30–200× per two extra nodes per panel).
            fine = QuadraturePlan(**base, q=q, factor=factor, fits=fits)
            coarse = dataclasses.replace(fine, q=max(q - 2, 4))
            sizes = rule_sizes(fine, self.node_batch)
            resp = build(model, times, fine, self.node_batch, sizes, self.tolerance)
            sol_f = resp.evaluate(zero, *corners)
            sol_c = build(model, times, coarse, self.node_batch, sizes,
                          self.tolerance).evaluate(zero, *corners)
            # plus the build's own estimate where it has one (a driven build: time steps)
            own = float(np.max(np.asarray(getattr(resp, "error_estimate", np.nan))))
            err = max(
                float(jnp.max(jnp.abs(getattr(sol_f, k) - getattr(sol_c, k))))
                for k in ("particle_current", "energy_current", "coupling_energy")
            ) + fit_err + (own if np.isfinite(own) else 0.0)
            # refining the panels reduces the quadrature part only (not a build's own part)
            if err - (own if np.isfinite(own) else 0.0) <= self.tolerance:
                break
            factor = 0.5 * factor
            base = dict(base, s_first=0.5 * base["s_first"])
        if not err <= self.tolerance:
            tolerance_missed(
                f"jt.Continuum could not reach tolerance {self.tolerance:g}: the error "
                f"estimate is {err:.3g} after {self.max_refinements} refinement(s) (over T in "
                f"[{planned[0][0]:.4g}, {planned[0][1]:.4g}], mu in [{planned[1][0]:.4g}, "
                f"{planned[1][1]:.4g}]). Raise max_refinements or nodes_per_panel, narrow "
                "temperature_range, or loosen the tolerance.", self.strict)
        resolved = dataclasses.replace(self, plan=fine, error_estimate_=float(err),
                                       planned_range_=planned)
        resp = dataclasses.replace(resp, planned_range=planned)
        return resolved, eqx.tree_at(
            lambda r: r.error_estimate, resp, jnp.asarray(err, jnp.float64)
        )

    def resolve(self, model, times) -> Continuum:
        """Fix the quadrature plan on concrete values (adaptive refinement + error estimate).

        Returns a ``Continuum`` whose ``response`` also works with traced models (e.g. under
        ``jax.grad`` with respect to h or couplings, or with respect to drive parameters for
        a driven model: the time step is fixed too)."""
        if getattr(model, "drive", None) is not None:
            method = self._with_drive_step(model, times)
            return method.resolve_response(model, times, method._driven_build(),
                                           functools.partial(driven_base_plan, method))[0]
        return self.resolve_response(model, times)[0]

    def _with_drive_step(self, model, times) -> Continuum:
        if self.drive_step is not None:
            return self
        if not is_concrete(*jax.tree_util.tree_leaves(model)):
            raise ValueError(
                "Continuum chooses the time step of a driven model on concrete values. Under "
                "jax.grad/jit, first call method = jt.Continuum().resolve(model, times) on "
                "concrete values (or pass drive_step=...) and use that method.")
        times = check_times(times)
        key = _plan_key(self, model, times)  # the step of an identical request is reused
        step = _STEPS.get(key) if key is not None else None
        if step is None:
            step = choose_step(model, times, self.tolerance, self._fits(model, times))
            if key is not None:
                if len(_STEPS) >= _MAX_PLANS:
                    _STEPS.pop(next(iter(_STEPS)))
                _STEPS[key] = step
        return dataclasses.replace(self, drive_step=step)

    def _driven_build(self):
        return functools.partial(build_driven_response, max_step=self.drive_step)

    def response(self, model, times) -> Response:
        if getattr(model, "drive", None) is not None:  # time-ordered closure (driven.py)
            method = self._with_drive_step(model, times)
            return method._response(model, times, method._driven_build(), "driven",
                                    driven_base_plan)
        build = (functools.partial(build_response, correlation_dt=True) if self.correlation_dt
                 else build_response)
        return self._response(model, times, build, "all")

    def current_response(self, model, times):
        """Currents-only stage 1 (``jt.response(..., observables="currents")``): the same
        quadrature plan, refinement and error estimate, O(T n) state storage instead of
        O(T n²) and per-node current amplitudes only (see ``response/currents.py``)."""
        if getattr(model, "drive", None) is not None:
            raise ValueError(
                "jt.Continuum has no currents-only mode (observables='currents') for a driven "
                "model (jt.Drive); use observables='all' (the default for driven models).")
        return self._response(model, times, build_continuum_currents, "currents")

    def _response(self, model, times, build, observables, base_plan=None):
        times = check_times(times)
        if self.plan is None:
            key = _plan_key(self, model, times)
            if key is not None and key in _PLANS:
                return _PLANS[key]._response(model, times, build, observables)
            plan = None if base_plan is None else functools.partial(base_plan, self)
            resolved, resp = self.resolve_response(model, times, build, plan)
            if key is not None:
                if len(_PLANS) >= _MAX_PLANS:
                    _PLANS.pop(next(iter(_PLANS)))
                _PLANS[key] = resolved
            return resp
        err = jnp.nan if self.error_estimate_ is None else self.error_estimate_
        resp = build(model, times, self.plan, self.node_batch, tolerance=self.tolerance)
        resp = dataclasses.replace(resp, planned_range=self.planned_range_)
        if observables == "driven":  # the steps' and tail's estimate for these drive values
            err = jnp.maximum(err, resp.error_estimate)
        return eqx.tree_at(lambda r: r.error_estimate, resp, jnp.asarray(err, jnp.float64))


# resolved quadrature plans (and their error estimates) of recently seen (method, model, times):
# the plan is a deterministic function of these values, so an identical request skips the
# adaptive refinement and builds once. Bounded: at most _MAX_PLANS entries (oldest dropped);
# it holds host floats only (no arrays of the responses).
_MAX_PLANS = 256
_PLANS: dict = {}
_STEPS: dict = {}  # chosen time steps of driven models, keyed likewise


def _plan_key(method, model, times):
    leaves, treedef = jax.tree_util.tree_flatten(model)
    if not is_concrete(*leaves):
        return None
    data = tuple(np.asarray(x).tobytes() + str(np.shape(x)).encode() for x in leaves)
    return (method, str(treedef), data, np.asarray(times).tobytes())


def _panel_width(tmax, t_lo):
    """Window panel width: resolves e^{iωt} up to t_max and thermal widths down to t_lo/8."""
    return min(20.0 / tmax, 8.0 * t_lo, 2.0)


def _corners(model, planned):
    """(temperatures, chemical potentials) (B, M) at which the error is estimated: the
    model's own values and the corners of the planned range."""
    temps = np.asarray(model.temperatures, float)
    mus = np.asarray(model.chemical_potentials, float)
    (t_lo, t_hi), (m_lo, m_hi) = planned
    t = [temps, np.full_like(temps, t_lo), np.full_like(temps, t_hi)]
    m = [mus, mus, mus]
    if m_lo < m_hi:
        t += [temps, temps]
        m += [np.full_like(mus, m_lo), np.full_like(mus, m_hi)]
    return jnp.asarray(np.stack(t)), jnp.asarray(np.stack(m))
