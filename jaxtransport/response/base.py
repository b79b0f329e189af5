r"""Stage 2: a ``Response`` (precomputed kernels) evaluated for any (C0, T, μ) as contractions.

Every first moment is affine in the initial correlation matrix C0 and linear in the reservoir
occupation functions (docs/theory.md, "The exact solution and its two stages"):

    X(t) = Tr[M(t) C0] + Σ_β Σ_k w_βk f_β(ω_βk) L_β(ω_βk, t) + offset(t)

``M`` (state kernels), ``L`` (bath kernels at frequency nodes ω_βk with weights w_βk) and the
``offset`` (the part of the frequency integral where every allowed occupation equals 1) do not
depend on T, μ or C0. For the ``Continuum`` method the nodes are a quadrature of the continuous
reservoirs; for ``Discretised`` they are the reservoir modes themselves.

The complex "current amplitude" X^x_α (x ∈ {N, E}) gives the currents *out of* reservoir α,
J^x_α = 2 Re X^x_α, and the coupling energy <H_I^α> = −2 Im X^N_α.
"""

from __future__ import annotations

import abc
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import check_stage2, is_concrete, reservoir_error, reservoir_values
from ..reservoir import occupation
from ..solution import Solution
from ..state import GaussianState

# default: occupations must equal 1 below and 0 above the stored frequency window to this
# accuracy (Continuum sets it from its tolerance)
EDGE_TOL = 1e-11


class AbstractResponse(eqx.Module):
    """The stage-2 protocol every exact method implements (``Response``, ``CurrentResponse``,
    ``PadeResponse``, ``GeneralResponse``).

    Every observable is affine in the initial state and depends on (T, μ) only through the
    reservoirs, so a result is the sum of three *terms* (tuples of arrays that add
    elementwise): ``state_terms(state)`` (linear in the initial state),
    ``bath_terms(temperature, chemical_potential)`` (the reservoir part) and
    ``offset_terms()`` (independent of both); ``assemble`` turns their sum into the method's
    solution (a ``jt.AbstractSolution``). ``checked_temperature`` validates (T, μ) (also under
    jit). ``evaluate`` is written once, here, for every method; tools that need the parts
    (sweeps, optimiser) call the same four methods.

    Units ħ = k_B = 1: times in 1/h; the evaluated currents are out of each reservoir (particles
    per time; energy and heat in energy per time), correlations C_ij = <a_j† a_i> dimensionless.
    """

    times: eqx.AbstractVar[Array]
    temperature: eqx.AbstractVar[Array]  # (M,) the model's values (defaults for evaluate)
    chemical_potential: eqx.AbstractVar[Array]
    # and ``statistics`` ("fermion" | "boson"), a static field

    @property
    @abc.abstractmethod
    def n_modes(self) -> int:
        """Number of system modes n."""

    @property
    def n_reservoirs(self) -> int:
        return int(self.temperature.shape[0])

    # --- the four stage-2 terms ----------------------------------------------------------
    @abc.abstractmethod
    def state_terms(self, state):
        """The initial-state part (linear in ``state``, as returned by ``initial_state``, or
        a correlation array C0 (..., n, n))."""

    @abc.abstractmethod
    def bath_terms(self, temperature, chemical_potential):
        """The reservoir part for temperatures and chemical potentials (..., M)."""

    @abc.abstractmethod
    def offset_terms(self):
        """The part independent of the initial state, T and μ."""

    @abc.abstractmethod
    def assemble(self, terms, temperature, chemical_potential):
        """The solution from the summed terms."""

    @abc.abstractmethod
    def checked_temperature(self, temperature, chemical_potential):
        """``temperature``, with an error (eager ``ValueError`` or ``eqx.error_if`` under jit)
        if (T, μ) are outside what this response can evaluate."""

    # --- hooks with defaults -------------------------------------------------------------
    def initial_state(self, state):
        """The validated initial-state input of ``state_terms``: by default the correlation
        matrix C0 (..., n, n) of a ``jt.GaussianState`` or array."""
        if state is None:
            raise ValueError("evaluate needs an initial state (a jt.GaussianState or a "
                             "correlation matrix C0 of shape (..., n, n)).")
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
        return c0

    def runs_eagerly(self, state, temperature, chemical_potential) -> bool:
        """True where ``evaluate`` should run the stage-2 terms op by op instead of compiling
        them (a method whose terms have a cheaper eager route); default False."""
        return False

    def compiled_variant(self):
        """The response a compiled (batched or jitted) stage 2 uses: a method may fix its
        accuracy settings here first, so that the program compiles once (``jt.Pade``: the
        pole count); default: itself."""
        return self

    def refine(self, solution, state, temperature, chemical_potential):
        """The solution ``evaluate`` returns, given the one the terms gave: a method whose
        accuracy depends on (state, T, μ) may check its error estimate here and return a
        more accurate solution (e.g. re-evaluate with more poles); default: unchanged."""
        return solution

    def check_inputs(self, prepared, temperature, chemical_potential, *, validate, raw):
        """(prepared state, temperature) after the value checks of ``_validation.check_stage2``
        (eagerly ValueErrors naming the values; under tracing ``eqx.error_if``): T > 0 and
        finite, μ finite, (T, μ) inside the planned range, and a raw C0 physical (skipped with
        ``validate=False``, or for a concretely validated ``jt.GaussianState``). ``raw`` is
        the state as passed to ``evaluate``."""
        checked = isinstance(raw, GaussianState) and is_concrete(prepared)
        return check_stage2(self, prepared, temperature, chemical_potential,
                            validate=validate, checked_state=checked)

    def stage2_inputs(self, state, temperature=None, chemical_potential=None, validate=True):
        """Validated (state, T, μ) for ``evaluate`` (shapes, statistics and values)."""
        s = self.initial_state(state)
        temp, mu = reservoir_values(self.temperature, self.chemical_potential,
                                    temperature, chemical_potential)
        for name, x in (("temperature", temp), ("chemical_potential", mu)):
            if x.ndim == 0 or x.shape[-1] != self.n_reservoirs:
                raise ValueError(
                    f"{name} must have shape (..., {self.n_reservoirs}) (one value per "
                    f"reservoir), got {x.shape}."
                )
        s, temp = self.check_inputs(s, temp, mu, validate=validate, raw=state)
        return s, temp, mu

    def evaluate(self, state=None, temperature=None, chemical_potential=None, *,
                 validate: bool = True):
        """Observables for the initial ``state`` and reservoir temperatures / chemical
        potentials of shape (..., M) (default: the model's values).

        ``state`` is a ``jt.GaussianState`` or a correlation matrix C0 (..., n, n) (and, for
        a ``GeneralResponse``, a ``jt.CovarianceState`` or covariance (..., 2n, 2n)). Leading
        batch axes broadcast against each other; ``jax.vmap``, ``jax.grad`` and ``jax.jit``
        work too. Raises (also under jit) if (T, μ) are outside what the response was built
        for (e.g. a ``Continuum``'s frequency window: pass ``temperature_range`` /
        ``chemical_potential_range`` to widen it), if T ≤ 0 or T, μ are not finite, and if a
        raw C0 is not a physical correlation matrix (Hermitian, finite, spectrum in [0, 1] for
        fermions, ≥ 0 for bosons); ``validate=False`` skips the C0 check (a hot loop over
        states known to be physical; a ``jt.GaussianState`` built on concrete values is
        checked once, at construction).
        """
        s, temp, mu = self.stage2_inputs(state, temperature, chemical_potential, validate)
        if self.runs_eagerly(s, temp, mu):
            return self.refine(stage2(self, s, temp, mu), s, temp, mu)
        resp = self.compiled_variant()
        return resp.refine(_stage2_jit(resp, s, temp, mu), s, temp, mu)


def add_terms(*terms):
    """Elementwise sum of stage-2 term tuples."""
    return tuple(sum(parts) for parts in zip(*terms, strict=True))


def stage2(resp: AbstractResponse, state, temp, mu):
    """The stage-2 evaluation of any response: check (T, μ), add the three terms, assemble."""
    temp = resp.checked_temperature(temp, mu)
    terms = add_terms(resp.state_terms(state), resp.bath_terms(temp, mu), resp.offset_terms())
    return resp.assemble(terms, temp, mu)


_stage2_jit = eqx.filter_jit(stage2)  # one compiled program per response structure and shape


class AbstractNodeResponse(AbstractResponse):
    """A response whose reservoir part is a sum over frequency nodes ω_βk with weights w_βk,
    Σ_βk w_βk f_β(ω_βk) L_βk (the Continuum's quadrature, or the Discretised modes):
    ``bath_terms`` contracts ``node_terms`` with the weighted occupations, and (T, μ) must
    keep the occupations filled below and empty above the stored ``window``."""

    nodes: eqx.AbstractVar[Array]  # (M, K)
    weights: eqx.AbstractVar[Array]  # (M, K), includes the 1/2π of ∫dω/2π
    window: eqx.AbstractVar[Array]  # (2,)
    # and ``edge_tolerance`` (static float): how far from 0 / 1 occupations may be at the
    # window edges

    @abc.abstractmethod
    def node_terms(self, weighted_occupations, reservoirs=None):
        """The reservoir part for weighted occupations w_βk f_β(ω_βk) (..., M', K) of the
        reservoirs ``reservoirs`` = (start, stop) (default all M)."""

    def occupations(self, temperature, chemical_potential):
        """f_β(ω_βk) at the nodes, shape (..., M, K)."""
        t = jnp.asarray(temperature)[..., :, None]
        mu = jnp.asarray(chemical_potential)[..., :, None]
        return occupation(self.nodes, t, mu, self.statistics)

    def weighted_occupations(self, temperature, chemical_potential):
        """w_βk f_β(ω_βk), shape (..., M, K) (zero at padded nodes of zero weight)."""
        return jnp.where(self.weights != 0,
                         self.weights * self.occupations(temperature, chemical_potential), 0.0)

    def bath_terms(self, temperature, chemical_potential):
        return self.node_terms(self.weighted_occupations(temperature, chemical_potential))

    def window_violated(self, temperature, chemical_potential):
        """True if a temperature is not positive or an occupation is not within
        ``edge_tolerance`` of 0 above the window (fermions: and of 1 below it; bosons: a
        chemical potential above the lowest bath frequency)."""
        return _window_violated(self.window, jnp.asarray(temperature),
                                jnp.asarray(chemical_potential), self.edge_tolerance,
                                self.statistics)

    def checked_temperature(self, temperature, chemical_potential):
        """T > 0 and finite, μ finite, T not below the planned range and (T, μ) inside the
        stored window (``_validation.reservoir_error``), under jit too."""
        return reservoir_error(temperature, chemical_potential,
                               self.window_violated(temperature, chemical_potential),
                               getattr(self, "planned_range", None), self.statistics)


@functools.partial(jax.jit, static_argnames=("tol", "statistics"))  # one program, not ~12
def _window_violated(window, t, mu, tol, statistics):
    lo, hi = window[0], window[1]
    bad = jnp.any(occupation(hi, t, mu, statistics) > tol) | jnp.any(~(t > 0))
    if statistics == "boson":  # no weight below the window
        return bad | jnp.any(mu > lo)
    return bad | jnp.any(occupation(lo, t, mu, statistics) < 1 - tol)


class Response(AbstractNodeResponse):
    """Stage-1 result: exact response kernels for one Hamiltonian, coupling set and time grid.

    Create with ``jt.response(model, times, method=...)``; evaluate with ``.evaluate``
    (-> ``jt.Solution``). Shapes: T times, n system modes, M reservoirs, K frequency nodes per
    reservoir.

    Units ħ = k_B = 1: times in 1/h; its ``evaluate`` gives currents out of each reservoir
    (particles per time; energy and heat in energy per time) and dimensionless correlation
    matrices C_ij = <a_j† a_i>.
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
    edge_tolerance: float = eqx.field(default=EDGE_TOL, static=True)
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

    def state_terms(self, state):
        """(C(t), X, dX/dt, d/dt(Tr hC, Tr C)) of the initial correlation C0 (..., n, n)."""
        corr, gcg, x, xd = propagated_state(self, state)
        # d/dt Tr[h G C0 G†] = 2 Re Tr[h Ġ C0 G†]; same with h -> 1 for particle number
        sd = jnp.stack(
            [2 * jnp.einsum("ij,...tji->...t", self.hamiltonian, gcg).real,
             2 * jnp.einsum("...tii->...t", gcg).real],
            axis=-1,
        )
        return corr, x, xd, sd

    def node_terms(self, weighted_occupations, reservoirs=None):
        sel = slice(None) if reservoirs is None else slice(*reservoirs)
        wf = weighted_occupations
        return (
            node_contraction(wf, self.correlation_kernel[sel]),
            node_contraction(wf, self.current_kernel[sel]),
            node_contraction(wf, self.current_kernel_dt[sel]),
            node_contraction(wf, self.scalar_kernel_dt[sel]),
        )

    def offset_terms(self):
        return (self.correlation_offset, self.current_offset, self.current_offset_dt,
                self.scalar_offset_dt)

    def assemble(self, terms, temperature, chemical_potential) -> Solution:
        corr, x, xd, sd = terms
        return Solution.from_amplitudes(
            times=self.times,
            hamiltonian=self.hamiltonian,
            correlation=corr,
            amplitude=x,
            amplitude_dt=xd,
            scalar_dt=sd,
            temperature=temperature,
            chemical_potential=chemical_potential,
            error_estimate=self.error_estimate,
            statistics=self.statistics,
        )


def propagated_state(resp, state):
    """(G C0 G†, Ġ C0 G†, X, dX/dt) of an initial correlation C0 (..., n, n) from a
    response's ``propagator``, ``propagator_dt``, ``current_state`` and ``current_state_dt``."""
    c0 = jnp.asarray(state).astype(jnp.complex128)
    g, gd = resp.propagator, resp.propagator_dt
    corr = jnp.einsum("tij,...jk,tlk->...til", g, c0, g.conj())
    gcg = jnp.einsum("tij,...jk,tlk->...til", gd, c0, g.conj())
    x = jnp.einsum("txaij,...ji->...txa", resp.current_state, c0)
    xd = jnp.einsum("txaij,...ji->...txa", resp.current_state_dt, c0)
    return corr, gcg, x, xd


def node_contraction(wf, kernel):
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


# --- the protocol as free functions (used by the sweeps) ---------------------------------
def state_terms(resp: AbstractResponse, c0):
    """``resp.state_terms(c0)``."""
    return resp.state_terms(c0)


def bath_terms(resp: AbstractNodeResponse, wf, reservoirs=None):
    """``resp.node_terms(wf, reservoirs)``: the reservoir part for weighted occupations."""
    return resp.node_terms(wf, reservoirs)


def offset_terms(resp: AbstractResponse):
    """``resp.offset_terms()``."""
    return resp.offset_terms()


def assemble(resp: AbstractResponse, terms, temp, mu):
    """``resp.assemble(terms, temp, mu)``."""
    return resp.assemble(terms, temp, mu)


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
