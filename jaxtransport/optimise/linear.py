r"""The exact global optimum of a linear objective over all fermionic Gaussian states.

Every first moment is affine in C0 (docs/theory.md, "The exact solution and its two
stages"), so a linear objective is f(C0) = Tr[M C0] + b with M Hermitian (the hermitised
response kernel of f) and b the state-independent part (bath and switch-on terms). Over the
convex set 0 ≤ C0 ≤ 1, f is minimised by the projector onto the eigenvectors of M with
negative eigenvalues:

    C0* = Σ_{λ_k < 0} v_k v_k†,     f* = b + Σ_{λ_k < 0} λ_k.

At fixed particle number Tr C0 = N the optimum fills the N lowest eigenvectors (the last
one fractionally if N is not an integer): f* = b + Σ_k ν_k λ_k with ν = (1, …, 1, N − ⌊N⌋,
0, …). M and b are obtained by differentiating the objective with respect to C0 (exact:
f is affine) and the affine model is checked numerically on a random state.

Units: M and b carry the units of the objective (e.g. energy per time, ħ = k_B = 1, for a heat
current out of a reservoir); C0 (C_ij = <a_j† a_i>) and the occupations ν_k are dimensionless.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .objectives import as_objective


class LinearOptimum(eqx.Module):
    """Result of ``jt.optimal_linear_preparation``.

    - ``correlation``: the optimal C0 (a projector when unconstrained).
    - ``value``: the optimal objective value f* = b + Σ ν_k λ_k.
    - ``kernel``: Hermitian M with f(C0) = Tr[M C0] + b; ``offset``: b.
    - ``eigenvalues``/``eigenvectors``: of M (ascending); ``occupations``: ν_k of the optimum.
    - ``affine_residual``: |f(C) − Tr[M C] − b| on a random test state (should be round-off).

    Units: ``value``, ``kernel``, ``offset``, ``eigenvalues`` and ``affine_residual`` in the units
    of the objective (a heat current out of a reservoir: energy per time, ħ = k_B = 1);
    ``correlation`` (C_ij = <a_j† a_i>), ``eigenvectors`` and ``occupations`` dimensionless.
    """

    correlation: jax.Array
    value: jax.Array
    kernel: jax.Array
    offset: jax.Array
    eigenvalues: jax.Array
    eigenvectors: jax.Array
    occupations: jax.Array
    affine_residual: float = eqx.field(static=True)


def affine_kernel(fun, n_modes):
    """(M, b) with fun(C) = Re Tr[M C] + b for any complex C, M returned hermitised.

    ``fun`` must be affine in C (real-linear). With K = ∂f/∂Re C − i ∂f/∂Im C (elementwise),
    f(C) = b + Re Σ_ij K_ij C_ij = b + Re Tr[Kᵀ C]; for Hermitian C, Re Tr[Kᵀ C] = Tr[M C]
    with M = (Kᵀ + K̄)/2.

    Units: M and b in the units of ``fun``'s value (C is dimensionless)."""
    zero = jnp.zeros((n_modes, n_modes), jnp.float64)

    def g(a, b):
        return fun(a + 1j * b)

    b = g(zero, zero)
    da, db = jax.grad(g, argnums=(0, 1))(zero, zero)
    kt = (da - 1j * db).T
    m = 0.5 * (kt + kt.conj().T)
    return m, b


def optimal_linear_preparation(
    model=None,
    times=None,
    objective=None,
    *,
    response=None,
    method=None,
    temperature=None,
    chemical_potential=None,
    particle_number=None,
    check_tolerance=1e-9,
):
    """Exact global minimum of a linear (affine in C0) objective over fermionic Gaussian states.

    **Arguments:**

    - ``model``, ``times``: as for ``jt.response`` (or pass ``response=`` to reuse stage 1).
    - ``objective``: affine in C0, e.g. ``jt.HeatCurrentAt(t, reservoir)``,
      ``jt.IntegratedHeat(window)`` or sums/multiples; minimised (use ``-objective`` to
      maximise).
    - ``temperature``, ``chemical_potential``: (M,) reservoir values (default: the model's).
    - ``particle_number``: optional constraint Tr C0 = N, 0 ≤ N ≤ n.
    - ``check_tolerance``: relative tolerance of the numerical affinity check.

    Returns a ``LinearOptimum`` (C0*, f*, M, b, spectrum). Raises ValueError if the objective
    is not affine in C0 (checked on a random state).

    Units ħ = k_B = 1: times, temperatures and chemical potentials in the units of h;
    ``value`` in the units of the objective (for ``jt.HeatCurrentAt``: energy per time, the heat
    current out of the reservoir; negative means heat flows into it).

    Examples:
        The preparation of a level that makes the heat current out of the hot lead most negative at
        t = 1 (a filled level):

        >>> import numpy as np, jaxtransport as jt
        >>> lead = jt.Lorentzian(gamma=0.5, width=2.0)
        >>> model = jt.Model([[1.0]], (jt.Reservoir(lead, temperature=1.5, coupling=[1.0]),
        ...                            jt.Reservoir(lead, temperature=0.5, coupling=[1.0])))
        >>> times = np.linspace(0.0, 2.0, 21)
        >>> best = jt.optimal_linear_preparation(model, times, jt.HeatCurrentAt(1.0, reservoir=0),
        ...                                      method=jt.Pade())
        >>> np.round(np.asarray(best.correlation).real, 6)
        array([[1.]])
        >>> bool(best.value < 0)
        True
    """
    from ..response import response as _response

    if objective is None:
        raise ValueError("optimal_linear_preparation needs an objective.")
    obj = as_objective(objective)
    if response is None:
        if model is None or times is None:
            raise ValueError("Give model and times, or response=jt.response(model, times).")
        response = _response(model, times, method)
    n = response.n_modes
    obj.check(np.asarray(response.times), response.n_reservoirs)

    def fun(c):
        # affine in C0: probed on basis and test matrices that are not states
        return obj(response.evaluate(c, temperature, chemical_potential, validate=False))

    m, b = jax.jit(lambda: affine_kernel(fun, n))()
    # numerical affinity check on a random Hermitian matrix (not necessarily a state: f is
    # affine on all matrices if it is affine on states)
    rng = np.random.default_rng(1234)
    z = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    c_test = jnp.asarray(0.25 * (z + z.conj().T) + 0.5 * np.eye(n))
    f_test = float(fun(c_test))
    pred = float(jnp.trace(m @ c_test).real + b)
    scale = max(abs(f_test), abs(float(b)), float(jnp.max(jnp.abs(m))), 1e-300)
    resid = abs(f_test - pred)
    if resid > check_tolerance * scale:
        raise ValueError(
            f"objective is not affine in C0 (|f(C) - Tr[M C] - b| = {resid:.3g} on a random "
            f"state, relative {resid / scale:.3g} > {check_tolerance:g}); the analytic optimum "
            "exists only for linear objectives such as HeatCurrentAt or IntegratedHeat."
        )
    lam, vec = jnp.linalg.eigh(m)
    if particle_number is None:
        nu = (lam < 0).astype(jnp.float64)
    else:
        nn = float(particle_number)
        if not (0 <= nn <= n):
            raise ValueError(f"particle_number must lie in [0, {n}], got {particle_number}.")
        nu = jnp.clip(nn - jnp.arange(n), 0.0, 1.0)
    corr = (vec * nu) @ vec.conj().T
    value = b + jnp.sum(nu * lam)
    return LinearOptimum(correlation=corr, value=value, kernel=m, offset=b, eigenvalues=lam,
                         eigenvectors=vec, occupations=nu, affine_residual=resid)


__all__ = ["LinearOptimum", "affine_kernel", "optimal_linear_preparation"]
