r"""The exact time-local (Tu–Zhang) master equation of number-conserving Gaussian models.

For C_ij(t) = <a_j† a_i> the exact reduced dynamics is time local (docs/theory.md, "Master
equations"):

    dC/dt = Λ C + C Λ† + Ξ,      Λ = Ġ G^{-1} = −i h_eff − γ,
    N = C − G C0 G†  (bath-driven part, independent of C0),   Ξ = Ṅ − Λ N − N Λ†,

equivalently, with gain Γ⁺ = Ξ and loss Γ⁻ = 2γ − Ξ (fermions) or 2γ + Ξ (bosons),

    dC/dt = −i[h_eff, C] − ½{Γ⁺ + Γ⁻, C} + Γ⁺      (fermions),
    dC/dt = −i[h_eff, C] − ½{Γ⁻ − Γ⁺, C} + Γ⁺      (bosons),

the Lindblad-like form of a GKSL generator with time-dependent, possibly *negative* rates (the
eigenvalues of Γ±): negative rates mark non-Markovian intervals. The generator is singular
where G(t) is not invertible; those times are detected (smallest singular value of G below
``singular_tolerance``) and reported: the coefficients there are set to NaN *and* flagged in
``EffectiveGenerator.singular`` (and by a warning), never silently.

Two sources of the coefficients:

* ``effective_generator``: the exact finite-mode dynamics of a ``statistics.FiniteModes``
  (closed forms of G, Ġ, N, Ṅ at any t, so ``propagate`` integrates the equation with an
  adaptive ODE solver); for continuous reservoirs via
  ``FiniteModes.from_model(model, jt.Discretised(...))``, converged in ``n_modes``.
* ``effective_generator_from_response``: any engine ``Response`` built with
  ``correlation_dt=True`` (``jt.Continuum(correlation_dt=True)`` — the continuum reservoirs
  themselves, no discretisation — or ``jt.Discretised(..., correlation_dt=True)``): G, Ġ are
  stored, N = Σ_β Σ_k w f_β L^C_β + offset and Ṅ from the stored dC/dt kernels. The
  coefficients are known on the Response's time grid; ``propagate_generator`` integrates the
  equation from them (local polynomial interpolation between grid times).

``damping_from_response`` gives h_eff and γ alone from any ``Response`` (no dC/dt kernels
needed). Units ħ = 1 (rates in energy units).
"""

from __future__ import annotations

import functools
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._validation import check_times, is_concrete, reservoir_values
from .reservoir import occupation
from .state import GaussianState
from .statistics import FiniteModes


class EffectiveGenerator(eqx.Module):
    """Coefficients of the exact time-local master equation on a time grid.

    Shapes (T, n, n) except ``times`` (T,), ``smallest_singular_value`` and ``singular`` (T,).
    ``gain`` Γ⁺, ``loss`` Γ⁻ and ``damping`` γ are Hermitian; ``hamiltonian`` is h_eff(t).
    Coefficients are NaN exactly where ``singular`` is True (G(t) not invertible).

    Units ħ = 1: every coefficient (h_eff, γ, Γ±) in the units of h (a rate), ``times`` in 1/h;
    ``smallest_singular_value`` of G is dimensionless.
    """

    times: Array
    hamiltonian: Array
    damping: Array
    gain: Array
    loss: Array
    smallest_singular_value: Array
    singular: Array
    singular_points: Array  # (S,) times where G is not invertible, located between grid points
    statistics: str = eqx.field(static=True)

    def rates(self) -> tuple[Array, Array]:
        """Eigenvalues of Γ⁺ and Γ⁻ (the instantaneous gain and loss rates), each (T, n)."""
        return jnp.linalg.eigvalsh(self.gain), jnp.linalg.eigvalsh(self.loss)

    def non_markovian_windows(self, tolerance: float = 1e-10) -> dict[str, list]:
        """Time windows where a gain or loss rate is negative (< −tolerance), as
        {"gain": [(t0, t1), …], "loss": [...]} (from ``thermodynamics.negative_windows``;
        singular points are skipped)."""
        from .thermodynamics import negative_windows

        ok = ~np.asarray(self.singular)
        t = np.asarray(self.times)[ok]
        out = {}
        for name, r in zip(("gain", "loss"), self.rates(), strict=True):
            out[name] = negative_windows(t, np.asarray(r)[ok].min(axis=-1), tolerance)
        return out

    def singular_times(self) -> np.ndarray:
        """Times at which G(t) is not invertible: the flagged grid times and the points located
        between grid points (``singular_points``), sorted."""
        grid = np.asarray(self.times)[np.asarray(self.singular)]
        return np.unique(np.concatenate([grid, np.asarray(self.singular_points)]))


def _real_if_possible(modes: FiniteModes) -> FiniteModes:
    """``modes`` with a real Hamiltonian when its imaginary part is exactly zero (concrete
    values): its ``eigh`` is then real, ~5x faster, and the same as ``jt.Discretised``'s for
    the same modes (``response/mode_kernels.full_hamiltonian``)."""
    h = modes.hamiltonian
    if jnp.iscomplexobj(h) and is_concrete(h) and not np.any(np.imag(np.asarray(h))):
        return eqx.tree_at(lambda m: m.hamiltonian, modes, jnp.asarray(np.real(np.asarray(h))))
    return modes


def _closed_forms(modes: FiniteModes, f, spectrum=None):
    """Functions t ↦ (G, Ġ, N, Ṅ) of the finite-mode problem (exact, any real t)."""
    lam, vec = jnp.linalg.eigh(modes.hamiltonian) if spectrum is None else spectrum
    n = modes.n_system
    vs, vb = vec[:n], vec[n:]

    def at(t):
        ph = jnp.exp(-1j * lam * t)
        g = (vs * ph) @ vs.conj().T
        gd = (vs * (-1j * lam * ph)) @ vs.conj().T
        usb = (vs * ph) @ vb.conj().T  # u_SB(t)
        usb_d = (vs * (-1j * lam * ph)) @ vb.conj().T
        nn = (usb * f) @ usb.conj().T
        nd = (usb_d * f) @ usb.conj().T
        return g, gd, nn, nd + nd.conj().T

    return at


def _coefficients(g, gd, nn, nd, statistics, tol):
    s = jnp.linalg.svd(g, compute_uv=False)
    smin = s[-1]
    singular = smin < tol
    lam = jnp.linalg.solve(g.T, gd.T).T  # Ġ G^{-1}
    h_eff = 0.5j * (lam - lam.conj().T)
    gamma = -0.5 * (lam + lam.conj().T)
    xi = nd - lam @ nn - nn @ lam.conj().T
    xi = 0.5 * (xi + xi.conj().T)
    loss = 2 * gamma - xi if statistics == "fermion" else 2 * gamma + xi
    nan = jnp.full_like(h_eff, jnp.nan)
    pick = lambda a: jnp.where(singular, nan, a)
    return pick(h_eff), pick(gamma), pick(xi), pick(loss), smin, singular


def _bath_occupations(modes, temperature, chemical_potential):
    temp, mu = reservoir_values(modes.temperature, modes.chemical_potential,
                                temperature, chemical_potential, shape=(modes.n_reservoirs,))
    own = np.asarray(modes.owner)
    return occupation(modes.bath_energies, temp[own], mu[own], modes.statistics)


@eqx.filter_jit
def _generator_jit(modes, f, times, tol):
    at = _closed_forms(modes, f)
    return jax.lax.map(lambda t: _coefficients(*at(t), modes.statistics, tol), times)


def effective_generator(
    modes: FiniteModes, times, temperature=None, chemical_potential=None,
    singular_tolerance: float = 1e-8,
) -> EffectiveGenerator:
    r"""Exact h_eff(t), γ(t), Γ⁺(t), Γ⁻(t) of the finite-mode model on ``times``.

    The coefficients do not depend on the system's initial state; they depend on the
    reservoirs' temperatures and chemical potentials ((M,), default: the modes' own). A warning
    lists the singular times (smallest singular value of G below ``singular_tolerance``).

    Units ħ = k_B = 1: ``times`` in 1/h, ``temperature`` and ``chemical_potential`` in energy; the
    coefficients in the units of h (rates). Returns an ``EffectiveGenerator``."""
    t = check_times(times)
    if not singular_tolerance > 0:
        raise ValueError(f"singular_tolerance must be > 0, got {singular_tolerance}.")
    if t[-1] >= modes.recurrence_time:
        raise ValueError(
            f"times reach {t[-1]:g} but the finite reservoirs recur at {modes.recurrence_time:.4g}."
        )
    f = _bath_occupations(modes, temperature, chemical_potential)
    modes = _real_if_possible(modes)
    h, g, xi, loss, smin, sing = _generator_jit(modes, f, jnp.asarray(t), singular_tolerance)
    points = _locate_singular_points(modes, f, t, singular_tolerance, np.asarray(sing))
    _warn_singular(t, sing, points, singular_tolerance)
    return EffectiveGenerator(
        times=jnp.asarray(t), hamiltonian=h, damping=g, gain=xi, loss=loss,
        smallest_singular_value=smin, singular=sing, singular_points=jnp.asarray(points),
        statistics=modes.statistics,
    )


def _warn_singular(t, sing, points, tol):
    if np.any(np.asarray(sing)) or points.size:
        bad = np.unique(np.concatenate([t[np.asarray(sing)], points]))
        warnings.warn(
            f"G(t) is not invertible (smallest singular value < {tol:g}) at "
            f"{bad.size} time(s), first at t = {bad[0]:.6g}: the time-local generator is "
            "singular there (coefficients on the grid set to NaN and flagged in .singular; "
            "points between grid times in .singular_points).",
            stacklevel=3,
        )


@jax.jit
def _det_and_smin(lam, vs, ts):
    """det G(t) and the smallest singular value of G(t) = V_S e^{−iλt} V_S† for each t."""

    def one(t):
        g = (vs * jnp.exp(-1j * lam * t)) @ vs.conj().T
        return jnp.linalg.det(g), jnp.linalg.svd(g, compute_uv=False)[-1]

    return jax.vmap(one)(ts)


def _locate_singular_points(modes, f, t, tol, on_grid=None, iterations=60):
    """Zeros of det G(t) between grid points: where the phase of det G jumps by more than π/2
    between neighbours (a fast winding only happens near a zero), minimise the smallest
    singular value of G on that interval (golden section, closed-form G at any t) and keep
    minima below ``tol``."""
    if t.size < 2:
        return np.zeros(0)
    lam, vec = jax.jit(jnp.linalg.eigh)(modes.hamiltonian)
    vs = vec[: modes.n_system]
    det = np.asarray(_det_and_smin(lam, vs, jnp.asarray(t))[0])
    jump = np.abs(np.angle(det[1:] * np.conj(det[:-1]))) > 0.5 * np.pi
    if on_grid is not None:  # a zero on a flagged grid point is already reported
        jump &= ~(on_grid[1:] | on_grid[:-1])
    out = []
    phi = 0.5 * (np.sqrt(5.0) - 1)
    for k in np.nonzero(jump)[0]:
        a, b = float(t[k]), float(t[k + 1])
        for _ in range(iterations):
            c, d = b - phi * (b - a), a + phi * (b - a)
            sc, sd = np.asarray(_det_and_smin(lam, vs, jnp.asarray([c, d]))[1])
            if sc < sd:
                b = d
            else:
                a = c
        x = 0.5 * (a + b)
        if float(_det_and_smin(lam, vs, jnp.asarray([x, x]))[1][0]) < tol:
            out.append(x)
    return np.asarray(out, dtype=float)


def effective_generator_from_response(
    response, temperature=None, chemical_potential=None, singular_tolerance: float = 1e-8,
) -> EffectiveGenerator:
    r"""Exact h_eff(t), γ(t), Γ⁺(t), Γ⁻(t) on the time grid of an engine ``Response``.

    ``response`` must store the dC/dt kernels: build it with
    ``jt.response(model, times, method=jt.Continuum(correlation_dt=True))`` (continuous
    reservoirs, exact ODE closure) or ``jt.Discretised(..., correlation_dt=True)``. From the
    stored G, Ġ and the bath part N = C − G C0 G† with its derivative Ṅ (contractions of the
    correlation kernels and their time derivatives with the occupations f_β at ``temperature``
    and ``chemical_potential``, (M,), default the model's), Λ = Ġ G^{-1}, Ξ = Ṅ − Λ N − N Λ†.
    The coefficients do not depend on the system's initial state (hence no state argument).

    Singular times are reported as in ``effective_generator``: grid times with smallest
    singular value of G below ``singular_tolerance`` are NaN and flagged in ``.singular``;
    zeros between grid times are found where the phase of det G jumps by more than π/2 and
    located by minimising the smallest singular value of the cubic Hermite interpolant of
    (G, Ġ) on that interval (location error O(Δt⁴)); a warning lists them all.

    Units ħ = k_B = 1: ``temperature`` and ``chemical_potential`` in energy; the coefficients in the
    units of h (rates). Returns an ``EffectiveGenerator``; raises ``ValueError`` when the response
    has no dC/dt kernels.
    """
    from .response.base import Response

    if not isinstance(response, Response):
        raise ValueError(
            f"response must be a jt.Response (from jt.response), got {type(response).__name__}."
        )
    if response.correlation_kernel_dt is None or response.correlation_offset_dt is None:
        raise ValueError(
            "this Response does not store the dC/dt kernels needed for the gain/loss rates; "
            "build it with method=jt.Continuum(correlation_dt=True) or "
            "jt.Discretised(..., correlation_dt=True)."
        )
    if not singular_tolerance > 0:
        raise ValueError(f"singular_tolerance must be > 0, got {singular_tolerance}.")
    temp, mu = reservoir_values(response.temperature, response.chemical_potential,
                                temperature, chemical_potential,
                                shape=(response.n_reservoirs,))
    if bool(response.window_violated(temp, mu)):
        raise ValueError(
            f"temperature {np.asarray(temp)} / chemical_potential {np.asarray(mu)} outside the "
            "range the Response was built for (or temperature <= 0): the frequency window does "
            "not cover the occupation functions. Rebuild with "
            "jt.Continuum(temperature_range=..., chemical_potential_range=..., "
            "correlation_dt=True)."
        )
    wf = response.weights * response.occupations(temp, mu)  # (M, K)
    h, g, xi, loss, smin, sing = _generator_from_response_jit(response, wf, singular_tolerance)
    t = np.asarray(response.times)
    points = _locate_singular_points_hermite(
        t, np.asarray(response.propagator), np.asarray(response.propagator_dt),
        np.asarray(sing), singular_tolerance)
    _warn_singular(t, sing, points, singular_tolerance)
    return EffectiveGenerator(
        times=response.times, hamiltonian=h, damping=g, gain=xi, loss=loss,
        smallest_singular_value=smin, singular=sing, singular_points=jnp.asarray(points),
        statistics=response.statistics,
    )


@eqx.filter_jit
def _generator_from_response_jit(resp, wf, tol):
    nn = jnp.einsum("mk,mktij->tij", wf, resp.correlation_kernel) + resp.correlation_offset
    nd = jnp.einsum("mk,mktij->tij", wf, resp.correlation_kernel_dt) + resp.correlation_offset_dt
    one = lambda g, gd, a, b: _coefficients(g, gd, a, b, resp.statistics, tol)
    return jax.vmap(one)(resp.propagator, resp.propagator_dt, nn, nd)


def _hermite(g0, d0, g1, d1, h, s):
    """Cubic Hermite interpolant of G on [t_k, t_k + h] at s ∈ [0, 1]."""
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * g0 + h10 * h * d0 + h01 * g1 + h11 * h * d1


def _locate_singular_points_hermite(t, g, gd, on_grid, tol, iterations=60):
    """Zeros of det G between grid times from stored (G, Ġ) on the grid: where the phase of
    det G jumps by more than π/2 between neighbours, minimise the smallest singular value of
    the cubic Hermite interpolant (golden section) and keep minima below ``tol``. Intervals
    next to a flagged grid point (``on_grid``) are skipped: that zero is already reported."""
    if t.size < 2:
        return np.zeros(0)
    det = np.linalg.det(g)
    jump = np.abs(np.angle(det[1:] * np.conj(det[:-1]))) > 0.5 * np.pi
    jump &= ~(on_grid[1:] | on_grid[:-1])
    smin = lambda a: np.linalg.svd(a, compute_uv=False)[-1]
    phi = 0.5 * (np.sqrt(5.0) - 1)
    out = []
    for k in np.nonzero(jump)[0]:
        h = t[k + 1] - t[k]
        f = lambda s, k=k, h=h: smin(_hermite(g[k], gd[k], g[k + 1], gd[k + 1], h, s))
        a, b = 0.0, 1.0
        for _ in range(iterations):
            c, d = b - phi * (b - a), a + phi * (b - a)
            if f(c) < f(d):
                b = d
            else:
                a = c
        x = 0.5 * (a + b)
        if f(x) < tol:
            out.append(t[k] + x * h)
    return np.asarray(out, dtype=float)


def damping_from_response(response) -> tuple[Array, Array]:
    """h_eff(t) and γ(t) (each (T, n, n)) from an engine ``Response``: Λ = Ġ G^{-1} with the
    stored exact propagator and its derivative. NaN where G is singular (check
    ``jnp.linalg.svd(response.propagator)``).

    Units ħ = 1: h_eff and γ in the units of h (rates)."""
    g, gd = response.propagator, response.propagator_dt
    lam = jnp.swapaxes(jnp.linalg.solve(jnp.swapaxes(g, -1, -2), jnp.swapaxes(gd, -1, -2)),
                       -1, -2)
    lam_h = jnp.conj(jnp.swapaxes(lam, -1, -2))
    return 0.5j * (lam - lam_h), -0.5 * (lam + lam_h)


def propagate(
    modes: FiniteModes, state, times, temperature=None, chemical_potential=None,
    rtol: float = 1e-11, atol: float = 1e-12,
) -> Array:
    r"""Integrate dC/dt = −i[h_eff, C] − {γ, C} + Ξ from C(0) = C0 (adaptive Tsit5, diffrax).

    Returns C(t) on ``times`` (T, n, n). The coefficients are evaluated in closed form at every
    solver step. Valid only while G(t) stays invertible: raises ``ValueError`` if the
    smallest singular value of G falls below 1e-6 on the grid (the generator diverges there).

    Units ħ = 1: ``times`` in 1/h; C(t), with C_ij = <a_j† a_i>, is dimensionless.
    """
    t = check_times(times)
    if t[0] != 0.0:
        raise ValueError(f"times must start at 0 (where C = C0), got {t[0]:g}.")
    c0 = state.correlation if isinstance(state, GaussianState) else jnp.asarray(state)
    n = modes.n_system
    if c0.shape != (n, n):
        raise ValueError(f"initial correlation must be ({n}, {n}), got {c0.shape}.")
    f = _bath_occupations(modes, temperature, chemical_potential)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reported by the error below instead
        gen = effective_generator(modes, t, temperature, chemical_potential,
                                  singular_tolerance=1e-6)
    if gen.singular_times().size:
        raise ValueError(
            f"G(t) is (nearly) singular at t = {gen.singular_times()[0]:.6g} within the "
            "requested times: the time-local generator diverges there; propagate only up to "
            "before the first singular time (or use the engine's C(t), which is regular)."
        )
    return _propagate_jit(_real_if_possible(modes), c0.astype(complex), f, jnp.asarray(t),
                          rtol, atol)


@eqx.filter_jit
def _propagate_jit(modes, c0, f, times, rtol, atol):
    at = _closed_forms(modes, f)

    def generator(t):
        g, gd, nn, nd = at(t)
        lam = jnp.linalg.solve(g.T, gd.T).T
        return lam, nd - lam @ nn - nn @ lam.conj().T

    return _integrate_correlation(generator, c0, times, rtol, atol)


def _integrate_correlation(generator, c0, times, rtol, atol):
    """C(t) on ``times`` from dC/dt = Λ C + C Λ† + Ξ, (Λ, Ξ) = generator(t) (diffrax Tsit5)."""
    import diffrax

    def rhs(t, y, args):
        c = y[0] + 1j * y[1]
        lam, xi = generator(t)
        dc = lam @ c + c @ lam.conj().T + xi
        return jnp.stack([dc.real, dc.imag])

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), diffrax.Tsit5(), t0=times[0], t1=times[-1], dt0=1e-3,
        y0=jnp.stack([c0.real, c0.imag]), saveat=diffrax.SaveAt(ts=times),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol), max_steps=200_000,
    )
    return sol.ys[:, 0] + 1j * sol.ys[:, 1]


def propagate_generator(
    generator: EffectiveGenerator, state, order: int = 7, rtol: float = 1e-11,
    atol: float = 1e-12, interpolation_tolerance: float = 1e-6,
) -> Array:
    r"""Integrate dC/dt = Λ C + C Λ† + Ξ (Λ = −i h_eff − γ, Ξ = Γ⁺) from C(0) = C0 with the
    coefficients of ``generator`` (from either source), known on its time grid.

    Between grid times the coefficients are interpolated by local Lagrange polynomials of
    degree ``order`` (stencils of ``order + 1`` grid points around the interval, shifted
    inwards at the ends; error O(Δt^{order+1}) for smooth coefficients), and the equation is
    integrated by adaptive Tsit5 (diffrax) to ``rtol``/``atol``. Returns C(t) on the grid
    (T, n, n).

    The interpolation error is estimated from the difference of the degree-``order`` and
    degree-(``order`` − 2) interpolants at the interval midpoints, weighted as it enters C
    (Σ_k Δt_k (2‖δΛ_k‖‖C_k‖ + ‖δΞ_k‖), a first-order bound for the lower degree); a warning
    names where it exceeds ``interpolation_tolerance`` — typically next to a near-singular
    G(t), where Λ = Ġ G^{-1} varies on the scale of the grid (refine the grid there).

    Raises ``ValueError`` if the grid does not start at 0, has fewer than ``order + 1``
    points, or G(t) is singular anywhere on it (the generator diverges there).

    Units ħ = 1: ``times`` in 1/h; C(t), with C_ij = <a_j† a_i>, is dimensionless.
    """
    if not isinstance(generator, EffectiveGenerator):
        raise ValueError(
            f"generator must be an EffectiveGenerator, got {type(generator).__name__}."
        )
    t = np.asarray(generator.times)
    if t[0] != 0.0:
        raise ValueError(f"the generator's times must start at 0 (where C = C0), got {t[0]:g}.")
    if not (isinstance(order, int | np.integer) and order >= 1):
        raise ValueError(f"order must be an integer >= 1, got {order!r}.")
    if not interpolation_tolerance > 0:
        raise ValueError(
            f"interpolation_tolerance must be > 0, got {interpolation_tolerance}."
        )
    if t.size < order + 1:
        raise ValueError(
            f"interpolation of degree {order} needs at least {order + 1} grid times, the "
            f"generator has {t.size}."
        )
    if generator.singular_times().size:
        raise ValueError(
            f"G(t) is singular at t = {generator.singular_times()[0]:.6g} within the "
            "generator's times: the time-local generator diverges there; propagate only up to "
            "before the first singular time (or use the engine's C(t), which is regular)."
        )
    c0 = state.correlation if isinstance(state, GaussianState) else jnp.asarray(state)
    n = generator.hamiltonian.shape[-1]
    if c0.shape != (n, n):
        raise ValueError(f"initial correlation must be ({n}, {n}), got {c0.shape}.")
    lam = -1j * generator.hamiltonian - generator.damping
    coef = jnp.stack([lam, generator.gain], axis=1)  # (T, 2, n, n)
    times = jnp.asarray(t)
    c = _propagate_grid_jit(coef, c0.astype(complex), times, int(order), rtol, atol)
    if order >= 3:
        d_lam, d_xi = (np.asarray(x) for x in _midpoint_discrepancy(coef, times, int(order)))
        c_max = np.abs(np.asarray(c)).max(axis=(-1, -2))
        per = np.diff(t) * (2 * d_lam * np.maximum(c_max[:-1], c_max[1:]) + d_xi)
        if per.sum() > interpolation_tolerance:
            k = int(np.argmax(per))
            warnings.warn(
                f"propagate_generator: estimated interpolation error of the coefficients "
                f"{per.sum():.3g} > {interpolation_tolerance:g}, largest on "
                f"[{t[k]:.6g}, {t[k + 1]:.6g}] (smallest singular value of G there "
                f"{float(np.min(np.asarray(generator.smallest_singular_value)[k:k + 2])):.3g})"
                ": the coefficients vary on the scale of the time grid; refine it there.",
                stacklevel=2,
            )
    return c


def _interpolate(coef, times, order, t):
    """Local Lagrange interpolant of degree ``order`` of ``coef`` (T, ...) at time t."""
    nt = times.shape[0]
    k = jnp.clip(jnp.searchsorted(times, t, side="right") - 1, 0, nt - 2)
    s = jnp.clip(k - (order - 1) // 2, 0, nt - order - 1)
    x = jax.lax.dynamic_slice(times, (s,), (order + 1,))
    y = jax.lax.dynamic_slice_in_dim(coef, s, order + 1)
    off = ~jnp.eye(order + 1, dtype=bool)
    num = jnp.where(off, t - x[None, :], 1.0).prod(axis=1)
    den = jnp.where(off, x[:, None] - x[None, :], 1.0).prod(axis=1)
    return jnp.tensordot((num / den).astype(coef.dtype), y, 1)  # Lagrange basis at t


@functools.partial(jax.jit, static_argnums=(2,))
def _midpoint_discrepancy(coef, times, order):
    """max |interpolant(order) − interpolant(order − 2)| of Λ and Ξ at interval midpoints."""
    mids = 0.5 * (times[1:] + times[:-1])

    def one(t):
        d = jnp.abs(_interpolate(coef, times, order, t) - _interpolate(coef, times, order - 2, t))
        return d[0].max(), d[1].max()

    return jax.vmap(one)(mids)


@functools.partial(jax.jit, static_argnums=(3,))
def _propagate_grid_jit(coef, c0, times, order, rtol, atol):
    return _integrate_correlation(lambda t: _interpolate(coef, times, order, t), c0, times,
                                  rtol, atol)
