r"""Stage 2: a ``Response`` (precomputed kernels) evaluated for any (C0, T, μ) as contractions.

Every first moment is affine in the initial correlation matrix C0 and linear in the reservoir
occupation functions (physics.md §2):

    X(t) = Tr[M(t) C0] + Σ_β Σ_k w_βk f_β(ω_βk) L_β(ω_βk, t) + offset(t)

``M`` (state kernels), ``L`` (bath kernels at frequency nodes ω_βk with weights w_βk) and the
``offset`` (the part of the frequency integral where every allowed occupation equals 1) do not
depend on T, μ or C0. For the ``Continuum`` method the nodes are a quadrature of the continuous
reservoirs; for ``Discretised`` they are the reservoir modes themselves.

The complex "current amplitude" X^x_α (x ∈ {N, E}) gives the currents *out of* reservoir α,
J^x_α = 2 Re X^x_α, and the coupling energy <H_I^α> = −2 Im X^N_α.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import (
    check_stage2,
    is_concrete,
    require_x64,
    reservoir_error,
    reservoir_values,
)
from ..reservoir import occupation
from ..solution import Solution
from ..state import GaussianState

# default: occupations must equal 1 below and 0 above the stored frequency window to this
# accuracy (Continuum sets it from its tolerance)
_EDGE_TOL = 1e-11


class Stage2Base(eqx.Module):
    """What every stage-1 result shares: occupations at its frequency nodes, the window check
    and the validation of stage-2 inputs. Subclasses have fields ``temperature``,
    ``chemical_potential`` (M,), ``nodes`` (M, K), ``window`` (2,), ``statistics`` and
    ``edge_tolerance``, and a property ``n_modes``."""

    @property
    def n_reservoirs(self) -> int:
        return int(self.temperature.shape[0])

    def occupations(self, temperature, chemical_potential):
        """f_β(ω_βk) at the nodes, shape (..., M, K)."""
        t = jnp.asarray(temperature)[..., :, None]
        mu = jnp.asarray(chemical_potential)[..., :, None]
        return occupation(self.nodes, t, mu, self.statistics)

    def _check_window(self, temperature, chemical_potential):
        lo, hi = self.window[0], self.window[1]
        t = jnp.asarray(temperature)
        mu = jnp.asarray(chemical_potential)
        f_lo = occupation(lo, t, mu, self.statistics)
        f_hi = occupation(hi, t, mu, self.statistics)
        tol = self.edge_tolerance
        if self.statistics == "boson":  # no weight below the window; f_B(hi) ≈ 0
            return jnp.any(mu > lo) | jnp.any(f_hi > tol) | jnp.any(~(t > 0))
        bad = jnp.any(f_lo < 1 - tol) | jnp.any(f_hi > tol) | jnp.any(~(t > 0))
        return bad

    def _stage2_inputs(self, state, temperature, chemical_potential, validate=True):
        """Validated (C0, T, μ) arrays for ``evaluate`` (shapes, statistics and values: see
        ``_validation.check_stage2``; ``validate=False`` skips the C0 checks)."""
        if getattr(state, "is_stationary_state", False):
            raise ValueError(
                "jt.StationaryState needs its own stage 1 (the kernels depend on the "
                "premodel): use jt.solve(model, state, times) or "
                "jt.response(model, times, method, initial=state).evaluate(state, T, mu)."
            )
        if isinstance(state, GaussianState) and state.statistics != self.statistics:
            raise ValueError(
                f"the initial state is {state.statistics}ic but the model is "
                f"{self.statistics}ic; build the GaussianState with statistics="
                f"{self.statistics!r}."
            )
        c0 = state.correlation if isinstance(state, GaussianState) else jnp.asarray(state)
        if c0.shape[-2:] != (self.n_modes, self.n_modes):
            raise ValueError(
                f"initial correlation must be (..., {self.n_modes}, {self.n_modes}) for this "
                f"model, got {c0.shape}."
            )
        temp, mu = reservoir_values(self.temperature, self.chemical_potential,
                                    temperature, chemical_potential)
        for name, x in (("temperature", temp), ("chemical_potential", mu)):
            if x.ndim == 0 or x.shape[-1] != self.n_reservoirs:
                raise ValueError(
                    f"{name} must have shape (..., {self.n_reservoirs}) (one value per "
                    f"reservoir), got {x.shape}."
                )
        checked = isinstance(state, GaussianState) and is_concrete(c0)
        c0, temp = check_stage2(self, c0, temp, mu, validate=validate, checked_state=checked)
        return c0, temp, mu


def window_error(resp, temp, mu):
    """``temp`` with a runtime error (also under jit) if (T, μ) leave the range the Response
    was refined for (below its planned temperatures, or outside its frequency window)."""
    return reservoir_error(temp, mu, resp._check_window(temp, mu),
                           getattr(resp, "planned_range", None), resp.statistics)


class Response(Stage2Base):
    """Stage-1 result: exact response kernels for one Hamiltonian, coupling set and time grid.

    Create with ``jt.response(model, times, method=...)``; evaluate with ``.evaluate``.
    Shapes: T times, n system modes, M reservoirs, K frequency nodes per reservoir.
    """

    times: Float[Array, " T"]
    hamiltonian: Array  # (n, n)
    temperature: Float[Array, " M"]  # the model's own values (defaults for evaluate)
    chemical_potential: Float[Array, " M"]
    # state (C0) kernels
    propagator: Array  # (T, n, n) G(t)
    propagator_dt: Array  # (T, n, n) dG/dt
    current_state: Array  # (T, 2, M, n, n): X^x_α = Tr[current_state[t, x, α] @ C0]
    current_state_dt: Array  # (T, 2, M, n, n) time derivative
    # bath kernels at frequency nodes
    nodes: Float[Array, "M K"]
    weights: Float[Array, "M K"]  # includes the 1/2π of ∫dω/2π
    correlation_kernel: Array  # (M, K, T, n, n)
    current_kernel: Array  # (M, K, T, 2, M)  [β, k, t, x, α]
    current_kernel_dt: Array  # (M, K, T, 2, M)
    scalar_kernel_dt: Array  # (M, K, T, 2) real: d/dt Tr[h C], d/dt Tr[C]
    # f = 1 part (T, μ independent)
    correlation_offset: Array  # (T, n, n)
    current_offset: Array  # (T, 2, M)
    current_offset_dt: Array  # (T, 2, M)
    scalar_offset_dt: Array  # (T, 2) real
    # window where occupations must be 1 below / 0 above (Continuum); ±inf for Discretised
    window: Float[Array, " 2"]
    error_estimate: Array  # estimated absolute quadrature error of the currents
    method: str = eqx.field(static=True)
    statistics: str = eqx.field(static=True)
    # occupations must be within this of 1 (0) at the lower (upper) window edge
    edge_tolerance: float = eqx.field(default=_EDGE_TOL, static=True)
    # optional (methods' ``correlation_dt=True``): kernels of dC/dt, the same layout as
    # correlation_kernel / correlation_offset; None when not stored (memory: as much again as
    # correlation_kernel). Used for the effective master equation's gain/loss rates.
    correlation_kernel_dt: Array | None = None  # (M, K, T, n, n)
    correlation_offset_dt: Array | None = None  # (T, n, n)
    # ((T_min, T_max), (mu_min, mu_max)) the quadrature was refined for (Continuum); stage 2
    # refuses temperatures below T_min (None: no such limit, e.g. Discretised)
    planned_range: tuple | None = eqx.field(default=None, static=True)

    @property
    def n_modes(self) -> int:
        return int(self.propagator.shape[-1])

    def evaluate(
        self,
        state: GaussianState | Array,
        temperature: Array | None = None,
        chemical_potential: Array | None = None,
        *,
        validate: bool = True,
    ) -> Solution:
        """Observables for initial state C0 and reservoir temperatures/chemical potentials.

        ``temperature`` and ``chemical_potential`` have shape (..., M) (default: the model's
        values); ``state`` is a ``GaussianState`` or a correlation matrix (..., n, n). Leading
        batch axes broadcast against each other; ``jax.vmap`` works too. Raises (also under
        jit/vmap/grad) if a temperature/chemical potential lies outside the range this
        Response's quadrature was refined for (``planned_range``; pass ``temperature_range``/
        ``chemical_potential_range`` to ``Continuum`` to widen it), if T ≤ 0 or T, μ are not
        finite, and if a raw C0 is not a physical correlation matrix (Hermitian, finite,
        spectrum in [0, 1] for fermions, ≥ 0 for bosons). ``validate=False`` skips the C0
        check (for a hot loop over states known to be physical; a ``jt.GaussianState`` built
        on concrete values is checked once, at construction).
        """
        c0, temp, mu = self._stage2_inputs(state, temperature, chemical_potential, validate)
        return _evaluate(self, c0, temp, mu)


def _bath(wf, kernel):
    """Σ_βk wf[..., β, k] kernel[β, k, ...] as one real GEMM.

    wf is real, so for large batches a complex kernel is contracted as its (real, imaginary)
    parts side by side: half the work of a complex GEMM, at the float64 matmul rate. Small
    batches skip the split (it costs one pass over the kernel, more than their GEMM)."""
    m, k = kernel.shape[:2]
    rest = kernel.shape[2:]
    flat = kernel.reshape(m * k, -1)
    w = wf.reshape(*wf.shape[:-2], m * k)
    if not jnp.iscomplexobj(flat) or math.prod(wf.shape[:-2]) < 32:
        return (w.astype(flat.dtype) @ flat).reshape(*wf.shape[:-2], *rest)
    r = flat.shape[1]
    out = w @ jnp.concatenate([flat.real, flat.imag], axis=1)
    return (out[..., :r] + 1j * out[..., r:]).reshape(*wf.shape[:-2], *rest)


def state_terms(resp, c0):
    """The C0-dependent parts (corr, X, dX/dt, d/dt(Tr hC, Tr C)) for c0 (..., n, n).
    Other responses (``jt.CurrentResponse``, ``jt.GeneralResponse``) provide their own terms
    as methods."""
    if not isinstance(resp, Response):
        return resp.state_terms(c0)
    c0 = c0.astype(jnp.complex128)
    g, gd = resp.propagator, resp.propagator_dt
    corr = jnp.einsum("tij,...jk,tlk->...til", g, c0, g.conj())
    x = jnp.einsum("txaij,...ji->...txa", resp.current_state, c0)
    xd = jnp.einsum("txaij,...ji->...txa", resp.current_state_dt, c0)
    # d/dt Tr[h G C0 G†] = 2 Re Tr[h Ġ C0 G†]; same with h -> 1 for particle number
    gcg = jnp.einsum("tij,...jk,tlk->...til", gd, c0, g.conj())
    sd = jnp.stack(
        [2 * jnp.einsum("ij,...tji->...t", resp.hamiltonian, gcg).real,
         2 * jnp.einsum("...tii->...t", gcg).real],
        axis=-1,
    )
    return corr, x, xd, sd


def bath_terms(resp, wf, reservoirs=None):
    """The occupation-dependent parts for weighted occupations wf (..., M', K) of the
    reservoirs ``reservoirs`` = (start, stop) (default all M)."""
    if not isinstance(resp, Response):
        return resp.bath_terms(wf, reservoirs)
    sel = slice(None) if reservoirs is None else slice(*reservoirs)
    return (
        _bath(wf, resp.correlation_kernel[sel]),
        _bath(wf, resp.current_kernel[sel]),
        _bath(wf, resp.current_kernel_dt[sel]),
        _bath(wf, resp.scalar_kernel_dt[sel]),
    )


def offset_terms(resp):
    """The T-, μ- and C0-independent parts (the filled frequency tail)."""
    if not isinstance(resp, Response):
        return resp.offset_terms()
    return (resp.correlation_offset, resp.current_offset, resp.current_offset_dt,
            resp.scalar_offset_dt)


def assemble(resp, terms, temp, mu) -> Solution:
    """A ``Solution`` from summed (corr, X, dX/dt, scalar d/dt) terms."""
    if not isinstance(resp, Response):
        return resp.assemble(terms, temp, mu)
    corr, x, xd, sd = terms
    return Solution.from_amplitudes(
        times=resp.times,
        hamiltonian=resp.hamiltonian,
        correlation=corr,
        amplitude=x,
        amplitude_dt=xd,
        scalar_dt=sd,
        temperature=temp,
        chemical_potential=mu,
        error_estimate=resp.error_estimate,
        statistics=resp.statistics,
    )


def add_terms(*terms):
    return tuple(sum(parts) for parts in zip(*terms))


@eqx.filter_jit
def _evaluate(resp, c0, temp, mu):
    """The stage-2 contractions (one compiled program per shape)."""
    temp = window_error(resp, temp, mu)
    wf = resp.weights * resp.occupations(temp, mu)  # (..., M, K), real
    terms = add_terms(state_terms(resp, c0), bath_terms(resp, wf), offset_terms(resp))
    return assemble(resp, terms, temp, mu)


def response(model, times, method=None, observables: str = "all") -> Response:
    """Stage 1: exact response kernels of ``model`` on the time grid ``times``.

    ``method`` is ``jt.Continuum()`` (default; exact ODE closure + frequency quadrature with
    error estimate) or ``jt.Discretised(n_modes, band)`` (finite reservoirs, exact unitary
    evolution). The result does not depend on temperatures, chemical potentials or C0.

    ``observables="all"`` (default) returns a ``Response`` (currents, coupling energies and
    C(t)); ``observables="currents"`` returns a ``CurrentResponse`` whose ``evaluate`` gives a
    ``CurrentSolution`` with the currents and coupling energies only: O(T n) state storage
    instead of O(T n²) and no per-node correlation kernels, for systems of hundreds of modes.
    A ``jt.QuadraticModel`` (pairing, squeezing, x–x coupling) gets ``jt.general_response``
    (full observables only).
    """
    from ..general.model import QuadraticModel
    from .continuum import Continuum

    require_x64("jt.response")
    if isinstance(model, QuadraticModel):
        from ..general.response import general_response

        if observables != "all":
            raise ValueError("observables='currents' is available for jt.Model (number-"
                             "conserving), not for jt.QuadraticModel; use observables='all'.")
        return general_response(model, times, method)

    method = Continuum() if method is None else method
    if observables == "all":
        return method.response(model, times)
    if observables == "currents":
        if not hasattr(method, "current_response"):
            raise ValueError(
                f"observables='currents' is available for jt.Continuum and jt.Discretised, "
                f"not {type(method).__name__}."
            )
        return method.current_response(model, times)
    raise ValueError(f"observables must be 'all' or 'currents', got {observables!r}.")


def solve(model, state, times, method=None, observables: str = "all") -> Solution:
    """One call: ``response(model, times, method, observables).evaluate(state)`` at the
    model's T and μ."""
    return response(model, times, method, observables).evaluate(state)


def stack_reservoir_arrays(model):
    """(temperature, chemical_potential) of the model as (M,) float64 arrays."""
    return (
        jnp.asarray(model.temperatures, jnp.float64),
        jnp.asarray(model.chemical_potentials, jnp.float64),
    )


def flatten_terms(model):
    """All (density-term, vector, reservoir index) of a model as flat lists."""
    out = []
    for r_idx, res in enumerate(model.reservoirs):
        for dens, v in res.terms:
            out.append((dens, v, r_idx))
    return out


def one_hot(indices, m):
    return jax.nn.one_hot(jnp.asarray(indices), m, dtype=jnp.float64).T  # (M, P)
