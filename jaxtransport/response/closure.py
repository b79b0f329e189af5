r"""The exact pole closure of the memory kernel, shared by the Continuum, currents-only and Padé
methods.

Each pole p (reservoir r_p, vector v_p) has memory kernel K_p(τ) = κ_p e^{−λ_p τ} v_p v_p†
(κ_p = γ_p W_p / 2, λ_p = W_p + i c_p for a Lorentzian; fitted poles for other densities);
with y_p = v_p† Y_p the Dyson equation becomes the linear system dE/dt = L E on
E = (G; y_1..y_P), L = [[−i h, −V], [diag(κ) V†, −diag(λ)]].
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validation import is_concrete
from .base import flatten_terms, one_hot


class FittedKernel(eqx.Module):
    """A non-pole density's memory kernel fitted by poles on [0, t_max],
    k(τ) ≈ Σ κ_p e^{−λ_p τ} (tuples of host complex numbers), its L¹ errors (kernel and
    energy kernel) and the density's parameter ``fingerprint`` (a resolved plan refuses a
    density with other parameters)."""

    kappa: tuple = eqx.field(static=True)  # complex numbers
    lam: tuple = eqx.field(static=True)
    error: float = eqx.field(static=True)
    error_energy: float = eqx.field(static=True)
    fingerprint: tuple = eqx.field(static=True)


def closure_generator(xp, h, vec, kappa, lam):
    """Generator L of the exact pole closure on (G; y_1..y_P) (rank-one form):
    dG/dt = −ihG − Σ_p v_p y_p, dy_p/dt = κ_p v_p† G − λ_p y_p; (m, m), m = n + P. ``xp`` is
    ``jax.numpy`` or ``numpy`` (the same matrix without compiling anything)."""
    h = xp.asarray(h).astype(complex)
    return xp.block([[-1j * h, -vec], [kappa[:, None] * vec.conj().T, -xp.diag(lam)]])


class Poles(eqx.Module):
    """Closure data: poles p (memory kernel Σ_p κ_p e^{−λ_p τ} v_p v_p†, exact for Lorentzian
    sums, fitted for other densities) and terms j (exact densities g_j with vectors v_j)."""

    h: jax.Array  # (n, n) complex
    vec: jax.Array  # (n, P) complex
    kappa: jax.Array  # (P,) complex
    lam: jax.Array  # (P,) complex
    onehot: jax.Array  # (M, P)
    tvec: jax.Array  # (n, J) complex
    tonehot: jax.Array  # (M, J)
    densities: tuple  # J spectral densities
    analytic: tuple = eqx.field(static=True)  # per term: usable at complex ω (pole sums)
    pole_term: tuple = eqx.field(static=True, default=())  # term index j of each pole p

    @property
    def k_energy(self):
        return -1j * self.lam

    def generator(self):
        return closure_generator(jnp, self.h, self.vec, self.kappa, self.lam)

    def density(self, omega, complex_plane: bool = False):
        """Exact g_j(ω) of every term (J,); on complex rays only pole sums contribute (the
        other densities vanish left of the tail's start)."""
        vals = [
            (d(omega) if (ok or not complex_plane) else jnp.zeros_like(omega))
            for d, ok in zip(self.densities, self.analytic, strict=True)
        ]
        return jnp.stack(vals).astype(jnp.complex128)


def fingerprint(dens):
    """The parameter values of a density (to detect a stale kernel fit)."""
    return tuple(tuple(np.asarray(x).ravel().tolist()) for x in jax.tree_util.tree_leaves(dens))


def pole_data(model, fits=None) -> Poles:
    """The closure data of a model: its Lorentzian poles, or for the density terms with a
    ``FittedKernel`` in ``fits`` (one entry or None per term) the fitted poles."""
    terms = flatten_terms(model)
    vec, kap, lam, res, pterm = [], [], [], [], []
    for j, (dens, v, r) in enumerate(terms):
        fit = None if fits is None else fits[j]
        if fit is None:
            pairs = [(0.5 * lor.gamma * lor.width, lor.width + 1j * lor.center_)
                     for lor in dens.lorentzian_terms()]
        else:
            if not is_concrete(*jax.tree_util.tree_leaves(dens)):
                raise ValueError(
                    f"Continuum fits the memory kernel of {type(dens).__name__} (not a sum of "
                    "Lorentzians) on the host; gradients with respect to its parameters are "
                    "not available. Use jt.Discretised for those, or Lorentzian terms."
                )
            if fingerprint(dens) != fit.fingerprint:
                raise ValueError(
                    f"This resolved Continuum was planned for different {type(dens).__name__} "
                    "parameters (its kernel fit would be stale); resolve it for this model."
                )
            pairs = list(zip(fit.kappa, fit.lam, strict=True))
        for k, l_ in pairs:
            vec.append(v.astype(jnp.complex128))
            kap.append(jnp.asarray(k, jnp.complex128))
            lam.append(jnp.asarray(l_, jnp.complex128))
            res.append(r)
            pterm.append(j)
    return Poles(
        h=model.hamiltonian.astype(jnp.complex128),
        vec=jnp.stack(vec, axis=1),
        kappa=jnp.stack(kap),
        lam=jnp.stack(lam),
        onehot=one_hot(res, model.n_reservoirs),
        tvec=jnp.stack([v.astype(jnp.complex128) for _, v, _ in terms], axis=1),
        tonehot=one_hot([r for _, _, r in terms], model.n_reservoirs),
        densities=tuple(d for d, _, _ in terms),
        analytic=tuple(bool(d.is_pole_sum) for d, _, _ in terms),
        pole_term=tuple(pterm),
    )
