r"""The exact closure of position (x–x) reservoirs with Drude–Lorentz densities (bosons).

A Drude term (λ, γ) has the response function χ(τ) = 2λγ e^{−γτ} (τ > 0), so each term adds
one auxiliary variable y to the linear system of the system quadratures: E = (r_S, y),
dE/dt = L E + noise. Used by the bosonic ``GeneralContinuum`` and the phonon steady state.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from ..nambu import symplectic_form
from ..reservoir import PositionReservoir


class DrudeClosure(eqx.Module):
    """The Drude closure of a bosonic x–x model (see the module docstring)."""

    lmat: jax.Array  # (m, m) real generator of E = (r_S, y)
    beta: jax.Array  # (M, m) noise input per reservoir
    eext: jax.Array  # (M, m) X_α = e_α·E
    lam_gam: jax.Array  # (M, P) 2λ_pγ_p on the terms of α (0 elsewhere)
    lam_gam2: jax.Array  # (M, P) 2λ_pγ_p²
    counter: jax.Array  # (M,) λ_r (0 without counter-term)
    gsys: jax.Array  # (2n, 2n) bare system matrix (system energy)
    dens: tuple  # per reservoir: density (analytic J(ω))

    def scalars(self, z, n1, ne):
        """[d<N>/dt (0), d<H_α>/dt, <H_I^α>, <H_S> − E_0] from an extended second-moment
        contribution z (…, m, m) and noise correlations n1, ne (…, M)."""
        n2 = self.gsys.shape[0]
        x2 = jnp.einsum("am,...mk,ak->...a", self.eext, z, self.eext)
        xy = jnp.einsum("am,...mp->...ap", self.eext, z[..., :, n2:])
        coup = n1 - jnp.sum(self.lam_gam * xy, -1) + self.counter * x2
        je = ne - jnp.sum(self.lam_gam, -1) * x2 + jnp.sum(self.lam_gam2 * xy, -1)
        es = 0.5 * jnp.einsum("ij,...ij->...", self.gsys, z[..., :n2, :n2])
        return jnp.concatenate([jnp.zeros_like(je), -je, coup, es[..., None]], -1)

    def formal(self, omega, phi, zz, src):
        """Observables of source reservoir ``src`` at frequency ω (complex allowed) with the
        phase e^{iωt} replaced by the symbol zz (e^{−iωt} by 1/zz). Returns (cov, scalars)."""
        m = self.lmat.shape[0]
        eye = jnp.eye(m)
        b = self.beta[src]
        a = jnp.linalg.solve(self.lmat - 1j * omega * eye, phi @ b - zz * b)
        at = jnp.linalg.solve(self.lmat + 1j * omega * eye, phi @ b - b / zz)
        j = 2.0 / math.pi * _analytic(self.dens, src, omega)
        z = 0.5 * j * (jnp.outer(a, at) + jnp.outer(at, a))
        e = self.eext[src]
        onehot = jax.nn.one_hot(src, self.eext.shape[0])
        n1 = 0.5 * j * (e @ a / zz + e @ at * zz) * onehot
        ne = 0.5 * j * omega * (-1j * (e @ a) / zz + 1j * (e @ at) * zz) * onehot
        n2 = self.gsys.shape[0]
        return z[:n2, :n2], self.scalars(z, n1, ne)


def _analytic(dens, src, omega):
    return jax.lax.switch(src, [lambda w, d=d: d.analytic(w) for d in dens], omega)


def drude_closure(model) -> DrudeClosure:
    """The ``DrudeClosure`` of a bosonic ``QuadraticModel`` with Drude–Lorentz x–x baths."""
    n = model.n_modes
    n2 = 2 * n
    om = jnp.asarray(symplectic_form(n))
    terms = []
    for a, r in enumerate(model.reservoirs):
        if not (isinstance(r, PositionReservoir) and hasattr(r.spectral_density, "drude_terms")):
            raise ValueError(
                "the bosonic continuum method needs x–x reservoirs (jt.PositionReservoir) with "
                "Drude–Lorentz densities (jt.DrudeLorentz); use jt.Discretised(...) for other "
                "bosonic baths.")
        terms += [(a, lam, gam) for lam, gam in r.spectral_density.drude_terms()]
    p = len(terms)
    m = n2 + p
    lmat = jnp.zeros((m, m)).at[:n2, :n2].set(om @ model.dressed_hamiltonian())
    mres = model.n_reservoirs
    lg = jnp.zeros((mres, p))
    lg2 = jnp.zeros((mres, p))
    for q, (a, lam, gam) in enumerate(terms):
        e = model.position_vector(a)
        lmat = lmat.at[:n2, n2 + q].set(-2 * lam * gam * (om @ e))
        lmat = lmat.at[n2 + q, :n2].set(e)
        lmat = lmat.at[n2 + q, n2 + q].set(-gam)
        lg = lg.at[a, q].set(2 * lam * gam)
        lg2 = lg2.at[a, q].set(2 * lam * gam**2)
    pad = jnp.zeros(p)
    eext = jnp.stack([jnp.concatenate([model.position_vector(a), pad]) for a in range(mres)])
    beta = jnp.stack([jnp.concatenate([om @ model.position_vector(a), pad])
                      for a in range(mres)])
    counter = jnp.stack([r.reorganisation_energy() if r.counter_term else jnp.asarray(0.0)
                         for r in model.reservoirs])
    return DrudeClosure(lmat, beta, eext, lg, lg2, counter, model.hamiltonian,
                  tuple(r.spectral_density for r in model.reservoirs))
