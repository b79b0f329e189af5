r"""Correlated initial states: start from the exact stationary state of a pre-quench model.

``jt.StationaryState(premodel)`` is the state of system + reservoirs (with all their
correlations) that ``premodel`` reaches at long times; from t = 0 the Hamiltonian is that of
``model``. Derivation and bookkeeping: docs/theory.md,
"Correlated initial states: derivation and bookkeeping".

The premodel has the same system modes, the same reservoirs in the same order with the same
temperatures, chemical potentials and spectral densities; its system Hamiltonian and coupling
vectors may differ, a coupling vector may be zero (that reservoir joins at t = 0). With equal
temperatures and chemical potentials this is the joint (partition-free) equilibrium state.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._validation import is_concrete
from .model import Model


class StationaryState(eqx.Module):
    """The stationary state of ``premodel`` (system + reservoirs, correlations included) as
    the initial state of ``jt.solve(model, jt.StationaryState(premodel), times)``.

    Methods: ``jt.Continuum`` (pole-sum spectral densities, any temperatures and chemical
    potentials: a non-equilibrium steady state when they differ; the premodel must have no
    bound state) and ``jt.Discretised`` (finite modes: the joint Gibbs state of the premodel's
    full single-particle Hamiltonian; all reservoirs at one T and μ; fermions or bosons).
    Every first moment stays linear in the reservoir occupations (stage 2 sweeps T and μ).
    Units ħ = k_B = 1; the solution's currents are out of each reservoir and its coupling
    energies ⟨H_I^α⟩ are non-zero at t = 0 (energy stored in the correlations).

    Examples:
        >>> import jaxtransport as jt
        >>> lead = jt.Lorentzian(gamma=1.0, width=2.0)
        >>> pre = jt.Model([[0.5]], [jt.Reservoir(lead, 1.0, 0.0, [1.0])])
        >>> post = jt.Model([[-0.5]], [jt.Reservoir(lead, 1.0, 0.0, [1.0])])
        >>> sol = jt.solve(post, jt.StationaryState(pre), [0.0, 1.0])
        >>> bool(sol.coupling_energy[0, 0] < 0)
        True
    """

    premodel: Model
    is_stationary_state: bool = eqx.field(default=True, static=True)

    def __init__(self, premodel):
        if not isinstance(premodel, Model):
            raise ValueError(
                f"StationaryState needs a jt.Model (number-conserving) premodel, got "
                f"{type(premodel).__name__}."
            )
        self.premodel = premodel

    def check(self, model) -> None:
        """Raise ``ValueError`` unless ``model`` may follow ``premodel`` (same modes, same
        reservoirs with the same T, μ and spectral densities)."""
        pre = self.premodel
        if not isinstance(model, Model):
            raise ValueError(
                f"jt.StationaryState is available for jt.Model (number-conserving), not "
                f"{type(model).__name__}."
            )
        if model.statistics != pre.statistics:
            raise ValueError(f"premodel is {pre.statistics}ic but the model is "
                             f"{model.statistics}ic; they must match.")
        if model.n_modes != pre.n_modes:
            raise ValueError(f"premodel has {pre.n_modes} system modes, the model "
                             f"{model.n_modes}; they must match (same system modes).")
        if model.n_reservoirs != pre.n_reservoirs:
            raise ValueError(f"premodel has {pre.n_reservoirs} reservoirs, the model "
                             f"{model.n_reservoirs}; they must be the same reservoirs in the "
                             "same order (a zero coupling vector disconnects one).")
        for k, (r0, r1) in enumerate(zip(pre.reservoirs, model.reservoirs, strict=True)):
            if len(r0.terms) != len(r1.terms):
                raise ValueError(f"reservoir {k}: premodel has {len(r0.terms)} density terms, "
                                 f"the model {len(r1.terms)}; they must match.")
            for (d0, _), (d1, _) in zip(r0.terms, r1.terms, strict=True):
                l0, t0 = jax.tree_util.tree_flatten(d0)
                l1, t1 = jax.tree_util.tree_flatten(d1)
                if type(d0) is not type(d1) or t0 != t1 or not _close(l0, l1):
                    raise ValueError(
                        f"reservoir {k}: the premodel's spectral density "
                        f"({type(d0).__name__}) differs from the model's "
                        f"({type(d1).__name__}); only the coupling vectors may change."
                    )
            for name in ("temperature", "chemical_potential"):
                if not _close([getattr(r0, name)], [getattr(r1, name)]):
                    raise ValueError(
                        f"reservoir {k}: premodel {name} {np.asarray(getattr(r0, name))} "
                        f"differs from the model's {np.asarray(getattr(r1, name))}; a "
                        "reservoir keeps its T and μ across the quench."
                    )

    def response(self, model, times, method=None):
        """Stage 1 (a ``StationaryResponse``) for ``model`` after the quench; ``method`` is
        ``jt.Continuum()`` (default) or ``jt.Discretised(...)``."""
        from .response.continuum import Continuum
        from .response.discretised import Discretised
        from .response.stationary import continuum_response, discretised_response

        self.check(model)
        method = Continuum() if method is None else method
        if isinstance(method, Continuum):
            return continuum_response(method, self.premodel, model, times)
        if isinstance(method, Discretised):
            return discretised_response(method, self.premodel, model, times)
        raise ValueError(
            f"jt.StationaryState is supported by jt.Continuum (pole-sum densities, any T, μ) "
            f"and jt.Discretised (joint equilibrium), not by {type(method).__name__}."
        )

    def resolve(self, model, times, method=None):
        """A ``jt.Continuum`` with its quadrature plan fixed for this premodel and model on
        concrete values: pass it as ``method`` when the models are traced (``jax.grad``
        with respect to premodel or model parameters)."""
        from .response.continuum import Continuum
        from .response.stationary import resolve_continuum

        self.check(model)
        method = Continuum() if method is None else method
        if not isinstance(method, Continuum):
            raise ValueError("resolve applies to jt.Continuum (Discretised needs no plan).")
        return resolve_continuum(method, self.premodel, model, times)

    def full_correlation(self, method, temperature=None, chemical_potential=None):
        """Finite modes (``jt.Discretised``): the joint Gibbs state of the premodel's full
        single-particle Hamiltonian H⁰ (system first, then the bath modes of ``method``),
        C_tot = f(H⁰) at the common T and μ. Returns (C_tot (D, D), bath energies (Kb,),
        owner reservoir of each bath mode (Kb,))."""
        from .reservoir import occupation
        from .response.mode_kernels import full_hamiltonian
        from .response.stationary import finite_modes

        pre = self.premodel
        temp = pre.temperatures if temperature is None else jnp.asarray(temperature)
        mu = pre.chemical_potentials if chemical_potential is None else jnp.asarray(
            chemical_potential)
        if is_concrete(temp, mu) and (np.ptp(np.asarray(temp)) > 0 or np.ptp(np.asarray(mu)) > 0):
            raise ValueError("the finite-mode Gibbs state needs one temperature and chemical "
                             "potential for all reservoirs.")
        eps, coup, owner = finite_modes(method, pre, jnp.asarray([0.0]))
        lam, phi = jnp.linalg.eigh(full_hamiltonian(pre.hamiltonian, eps, coup))
        f = occupation(lam, temp[0], mu[0], pre.statistics)
        return (phi * f) @ phi.conj().T, eps, owner

    def initial_information(self, method, temperature=None, chemical_potential=None):
        """D_0 = D(ρ(0) ‖ ρ_S(0) ⊗ Π_α ρ_α^G) (nats) of the finite-mode joint Gibbs state:
        the system–reservoir mutual information plus the relative entropy of the reservoirs'
        marginal to their own Gibbs states (``jt.thermodynamics.
        correlated_entropy_production``). Converges as the baths of ``method`` grow."""
        from .thermodynamics import gaussian_entropy

        ctot, eps, owner = self.full_correlation(method, temperature, chemical_potential)
        pre = self.premodel
        temp = pre.temperatures if temperature is None else jnp.asarray(temperature)
        mu = pre.chemical_potentials if chemical_potential is None else jnp.asarray(
            chemical_potential)
        n = pre.n_modes
        x = (eps - mu[owner]) / temp[owner]  # σ_R ∝ Π_k e^{−x_k n_k}
        c = jnp.real(jnp.diagonal(ctot))[n:]
        if pre.statistics == "fermion":  # −Tr ρ_R ln σ_R = Σ_k [c_k x_k + ln(1 + e^{−x_k})]
            cross = jnp.sum(c * x + jnp.logaddexp(0.0, -x))
        else:  # Σ_k [c_k x_k − ln(1 − e^{−x_k})]
            cross = jnp.sum(c * x - jnp.log(-jnp.expm1(-x)))
        s_tot = gaussian_entropy(ctot, pre.statistics)
        s_sys = gaussian_entropy(ctot[:n, :n], pre.statistics)
        return s_sys + cross - s_tot


def _close(a, b) -> bool:
    if not is_concrete(*a, *b):
        return True  # traced (e.g. under grad): checked when concrete
    return all(np.shape(x) == np.shape(y) and np.allclose(np.asarray(x), np.asarray(y),
                                                          rtol=1e-12, atol=1e-14)
               for x, y in zip(a, b, strict=True))
