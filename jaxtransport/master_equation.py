r"""The exact time-local (Tu–Zhang) master equation of number-conserving Gaussian models.

For C_ij(t) = <a_j† a_i> the exact reduced dynamics is time local (physics.md §7):

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

Source of the coefficients: the exact finite-mode dynamics of a ``statistics.FiniteModes``
(closed forms of G, Ġ, N, Ṅ at any t, so the equation can also be propagated by an adaptive
ODE solver); for continuous reservoirs use ``FiniteModes.from_model(model, jt.Discretised(...))``
(the same modes as the engine's ``Discretised`` method) and converge in ``n_modes``.
``damping_from_response`` gives h_eff and γ directly from any engine ``Response`` (G and Ġ are
stored there; Ṅ is not, so Ξ needs the finite-mode route). Units ħ = 1 (rates in energy units).
"""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._validation import check_times, reservoir_values
from .reservoir import occupation
from .state import GaussianState
from .statistics import FiniteModes


class EffectiveGenerator(eqx.Module):
    """Coefficients of the exact time-local master equation on a time grid.

    Shapes (T, n, n) except ``times`` (T,), ``smallest_singular_value`` and ``singular`` (T,).
    ``gain`` Γ⁺, ``loss`` Γ⁻ and ``damping`` γ are Hermitian; ``hamiltonian`` is h_eff(t).
    Coefficients are NaN exactly where ``singular`` is True (G(t) not invertible).
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
                                temperature, chemical_potential)
    m = modes.n_reservoirs
    if temp.shape != (m,) or mu.shape != (m,):
        raise ValueError(f"temperature and chemical_potential must have shape ({m},), got "
                         f"{temp.shape} and {mu.shape}.")
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
    lists the singular times (smallest singular value of G below ``singular_tolerance``)."""
    t = check_times(times)
    if not singular_tolerance > 0:
        raise ValueError(f"singular_tolerance must be > 0, got {singular_tolerance}.")
    if t[-1] >= modes.recurrence_time:
        raise ValueError(
            f"times reach {t[-1]:g} but the finite reservoirs recur at {modes.recurrence_time:.4g}."
        )
    f = _bath_occupations(modes, temperature, chemical_potential)
    h, g, xi, loss, smin, sing = _generator_jit(modes, f, jnp.asarray(t), singular_tolerance)
    points = _locate_singular_points(modes, f, t, singular_tolerance)
    if np.any(np.asarray(sing)) or points.size:
        bad = np.unique(np.concatenate([t[np.asarray(sing)], points]))
        warnings.warn(
            f"G(t) is not invertible (smallest singular value < {singular_tolerance:g}) at "
            f"{bad.size} time(s), first at t = {bad[0]:.6g}: the time-local generator is "
            "singular there (coefficients on the grid set to NaN and flagged in .singular; "
            "points between grid times in .singular_points).",
            stacklevel=2,
        )
    return EffectiveGenerator(
        times=jnp.asarray(t), hamiltonian=h, damping=g, gain=xi, loss=loss,
        smallest_singular_value=smin, singular=sing, singular_points=jnp.asarray(points),
        statistics=modes.statistics,
    )


@jax.jit
def _det_and_smin(lam, vs, ts):
    """det G(t) and the smallest singular value of G(t) = V_S e^{−iλt} V_S† for each t."""

    def one(t):
        g = (vs * jnp.exp(-1j * lam * t)) @ vs.conj().T
        return jnp.linalg.det(g), jnp.linalg.svd(g, compute_uv=False)[-1]

    return jax.vmap(one)(ts)


def _locate_singular_points(modes, f, t, tol, iterations=60):
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


def damping_from_response(response) -> tuple[Array, Array]:
    """h_eff(t) and γ(t) (each (T, n, n)) from an engine ``Response``: Λ = Ġ G^{-1} with the
    stored exact propagator and its derivative. NaN where G is singular (check
    ``jnp.linalg.svd(response.propagator)``)."""
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
    return _propagate_jit(modes, c0.astype(complex), f, jnp.asarray(t), rtol, atol)


@eqx.filter_jit
def _propagate_jit(modes, c0, f, times, rtol, atol):
    import diffrax

    at = _closed_forms(modes, f)

    def rhs(t, y, args):
        c = y[0] + 1j * y[1]
        g, gd, nn, nd = at(t)
        lam = jnp.linalg.solve(g.T, gd.T).T
        xi = nd - lam @ nn - nn @ lam.conj().T
        dc = lam @ c + c @ lam.conj().T + xi
        return jnp.stack([dc.real, dc.imag])

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), diffrax.Tsit5(), t0=times[0], t1=times[-1], dt0=1e-3,
        y0=jnp.stack([c0.real, c0.imag]), saveat=diffrax.SaveAt(ts=times),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol), max_steps=200_000,
    )
    return sol.ys[:, 0] + 1j * sol.ys[:, 1]
