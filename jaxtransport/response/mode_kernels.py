"""Kernels of finite reservoir modes shared by the undriven (``discretised.py``) and the driven
(``driven_discretised.py``) finite-mode methods: the single-particle Hamiltonian of system +
modes, and the stage-2 kernels of one time from the propagator's system and probe rows.

Units ħ = 1: Hamiltonians and mode energies in energy units, times in inverse energy."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def full_hamiltonian(h, eps, coup):
    """The (n + Kb)-dimensional single-particle Hamiltonian of system + finite baths: real
    when ``h`` and the couplings are (a real ``eigh`` is ~5x faster than a complex one)."""
    n = h.shape[0]
    d = n + eps.shape[0]
    hmat = jnp.zeros((d, d), jnp.result_type(h, coup, jnp.float64))
    hmat = hmat.at[:n, :n].set(h)
    hmat = hmat.at[n:, n:].set(jnp.diag(eps.astype(hmat.dtype)))
    hmat = hmat.at[:n, n:].set(coup.T)  # H[i, k] = V_{k,i}  (a_i† c_k)
    return hmat.at[n:, :n].set(coup.conj())


def time_kernels(us_t, dus, pu, dpu, h, first, correlation_dt):
    """The stage-2 kernels of one time from the system rows U_S (n, D) of the single-particle
    propagator, the probe rows P_{α,x} U (2, M, n, D) (P_{α,N} = H_{Sα}, P_{α,E} = H_{Sα} ε)
    and their time derivatives; ``h`` the system Hamiltonian (the scalar kernel is
    Tr[h dC/dt]). Columns from ``first`` on are the initial vectors q of the node kernels."""
    n = us_t.shape[0]

    # x^N_{α}(q) = Σ_i U_iq conj(P_α U)_iq ;  x^E with P_α ε.  X = −i conj(x)
    def xs(u, p):
        return jnp.einsum("iq,xaiq->qxa", u, p.conj())

    x, xd = jax.jvp(xs, (us_t, pu), (dus, dpu))
    xq = -1j * x.conj()
    xdq = -1j * xd.conj()
    corr = jnp.einsum("iq,jq->qij", us_t[:, first:], us_t[:, first:].conj())
    dcorr = jnp.einsum("iq,jq->qij", dus[:, first:], us_t[:, first:].conj())
    dcorr = dcorr + dcorr.conj().transpose(0, 2, 1)
    sd = jnp.stack([jnp.einsum("ij,qji->q", h, dcorr), jnp.einsum("qii->q", dcorr)], axis=-1)
    # state part: Y[q, q'] = Σ_i U_iq conj(P U)_iq' (q, q' ∈ S); M = −i conj(Y)
    ys = jnp.einsum("iq,xaiz->xaqz", us_t[:, :n], pu[..., :n].conj())
    yds = jnp.einsum("iq,xaiz->xaqz", dus[:, :n], pu[..., :n].conj()) + jnp.einsum(
        "iq,xaiz->xaqz", us_t[:, :n], dpu[..., :n].conj()
    )
    out = (
        xq[first:], xdq[first:], corr, sd, us_t[:, :n], dus[:, :n],
        -1j * ys.conj(), -1j * yds.conj(),
    )
    return (*out, dcorr) if correlation_dt else out
