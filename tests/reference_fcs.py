"""Brute-force two-point-measurement statistics in Fock space (fermions and bosons).

Independent of the single-particle (determinant) formalism: the many-body Hamiltonian is built
from second-quantised matrix elements in an explicit occupation-number basis, the initial
state is the many-body density matrix rho_S (x) prod_a rho_a^th, and the joint distribution of
the changes Delta x_a = x_a(t) - x_a(0) of the counted bath operators (diagonal in the
occupation basis) is computed exactly:

    P(Delta x) = sum_{b, s} p_b <s| U (rho_S (x) |b><b|) U^dag |s>,  Delta x = x(s) - x(b).

Conventions as in ``reference.py``: system modes first, then the modes of bath 0, bath 1, ...;
``H_I = sum V[k, i] a_i^dag c_k + h.c.``; ``C0[i, j] = <a_j^dag a_i>``; hbar = k_B = 1.

Bosons live in a truncated Fock space: all states with total particle number <= ``n_max``.
H conserves the particle number, so every kept sector evolves exactly; the only error is the
initial weight in sectors above ``n_max``, returned as ``discarded``.
NumPy/SciPy only.
"""
import functools
import itertools

import numpy as np
import scipy.linalg as la


@functools.lru_cache(maxsize=64)
def _basis(L, n_max, statistics):
    """Occupation vectors by total particle number N = 0..n_max."""
    sectors = []
    for N in range(n_max + 1):
        if statistics == "fermion":
            states = [s for s in itertools.product((0, 1), repeat=L) if sum(s) == N]
        else:
            states = [s for s in itertools.product(range(N + 1), repeat=L) if sum(s) == N]
        sectors.append(states)
    return sectors


def _hop(state, p, q, statistics):
    """a_p^dag a_q |state> = amp |new>; returns (amp, new) or (0, None)."""
    s = list(state)
    if s[q] == 0:
        return 0.0, None
    if statistics == "fermion":
        amp = (-1.0) ** sum(s[:q])
        s[q] -= 1
        if s[p] == 1:
            return 0.0, None
        amp *= (-1.0) ** sum(s[:p])
        s[p] += 1
        return amp, tuple(s)
    amp = np.sqrt(s[q])
    s[q] -= 1
    amp *= np.sqrt(s[p] + 1)
    s[p] += 1
    return amp, tuple(s)


def _quadratic(states, index, M, statistics):
    """Many-body matrix of sum_pq M[p, q] a_p^dag a_q in one number sector."""
    d = len(states)
    out = np.zeros((d, d), complex)
    L = M.shape[0]
    for col, st in enumerate(states):
        for p in range(L):
            for q in range(L):
                if M[p, q] == 0:
                    continue
                amp, new = _hop(st, p, q, statistics)
                if new is not None:
                    out[index[new], col] += M[p, q] * amp
    return out


def _system_state(C0, n_max, statistics):
    """rho_S by system number sector (list of (states, matrix)), exact on kept sectors."""
    n = C0.shape[0]
    nu, U = la.eigh(C0)
    blocks = []
    for states in _basis(n, n_max, statistics):
        index = {s: k for k, s in enumerate(states)}
        d = len(states)
        # rho_S = Gamma(U) rho_diag Gamma(U)^dag: rho_diag is diagonal in the occupations of the
        # natural orbitals (probabilities prod_k nu_k^m (1-nu_k)^(1-m), or geometric for
        # bosons) and Gamma(U) = exp(sum_pq (log U)_pq a_p^dag a_q) maps orbital k to
        # b_k^dag = sum_i U_ik a_i^dag (C0 = U diag(nu) U^dag).
        W = la.expm(_quadratic(states, index, la.logm(U), statistics))
        if statistics == "fermion":
            probs = np.array([np.prod([nu[k] if m else 1 - nu[k] for k, m in enumerate(s)])
                              for s in states])
        else:
            q = nu / (1 + nu)
            probs = np.array([np.prod([(1 - q[k]) * q[k] ** m for k, m in enumerate(s)])
                              for s in states])
        blocks.append((states, W @ np.diag(probs) @ W.conj().T if d else np.zeros((0, 0))))
    return blocks


def tpm_distribution(h, baths, C0, t, quantity="heat", statistics="fermion", n_max=None):
    """Exact joint TPM distribution of the increases Delta x_a of the counted operators.

    ``baths``: list of dicts with ``energies`` (K,), ``couplings`` (K, n), ``temperature``,
    ``chemical_potential``. ``quantity``: heat (H_a - mu_a N_a), energy (H_a), particles (N_a).
    Returns ``(dx, prob, discarded)``: dx (P, M) increases, prob (P,), and the initial weight
    outside the kept Fock space (0 for fermions).
    """
    h = np.asarray(h, complex)
    n = h.shape[0]
    eps = np.concatenate([np.asarray(b["energies"], float) for b in baths])
    V = np.concatenate([np.asarray(b["couplings"], complex).reshape(-1, n) for b in baths])
    owner = np.concatenate([np.full(len(b["energies"]), a) for a, b in enumerate(baths)])
    M, K = len(baths), eps.size
    L = n + K
    if statistics == "fermion":
        n_max = L
    # single-particle matrix of the total H (only used to fill second-quantised matrix
    # elements, H = sum_pq Hsp[p, q] a_p^dag a_q)
    Hsp = np.zeros((L, L), complex)
    Hsp[:n, :n] = h
    Hsp[n:, n:] = np.diag(eps)
    Hsp[:n, n:] = V.T
    Hsp[n:, :n] = V.conj()
    # counted operator weights per bath mode
    mu = np.array([b["chemical_potential"] for b in baths], float)
    T = np.array([b["temperature"] for b in baths], float)
    if quantity == "heat":
        wts = eps - mu[owner]
    elif quantity == "energy":
        wts = eps.copy()
    else:
        wts = np.ones(K)
    # initial bath probabilities (thermal, diagonal in occupations)
    x = (eps - mu[owner]) / T[owner]
    sys_blocks = _system_state(np.asarray(C0, complex), n_max, statistics)
    sectors = _basis(L, n_max, statistics)
    dx_all, p_all = [], []
    kept = 0.0
    for N, states in enumerate(sectors):
        index = {s: k for k, s in enumerate(states)}
        HN = _quadratic(states, index, Hsp, statistics)
        E, Wv = la.eigh(HN)
        Ut = Wv @ np.diag(np.exp(-1j * E * t)) @ Wv.conj().T
        occ = np.array(states, float).reshape(len(states), L)
        xs = np.zeros((len(states), M))
        for a in range(M):
            xs[:, a] = occ[:, n:][:, owner == a] @ wts[owner == a]
        # initial components: system sector N_S, bath configuration b with |b| = N - N_S
        for NS in range(N + 1):
            s_states, rho_s = sys_blocks[NS]
            if not s_states:
                continue
            bath_confs = _basis(K, N - NS, statistics)[N - NS] if K else [()]
            for b in bath_confs:
                b = np.array(b, float)
                if statistics == "fermion":
                    pb = np.prod(np.where(b > 0, 1 / (np.exp(x) + 1), 1 - 1 / (np.exp(x) + 1)))
                else:
                    pb = np.prod((1 - np.exp(-x)) * np.exp(-x * b))
                cols = [index[tuple(s) + tuple(int(v) for v in b)] for s in s_states]
                kept += pb * np.trace(rho_s).real
                A = Ut[:, cols]
                diag = np.einsum("sj,jk,sk->s", A, rho_s, A.conj()).real * pb
                xb = np.array([wts[owner == a] @ b[owner == a] for a in range(M)])
                dx_all.append(xs - xb[None, :])
                p_all.append(diag)
    return np.concatenate(dx_all), np.concatenate(p_all), 1.0 - kept


def cumulants_from_distribution(dx, prob, order=4):
    """Marginal cumulants 1..order (order <= 4) of each column of dx, shape (order, M)."""
    mean = prob @ dx
    c = dx - mean[None, :]
    m2, m3, m4 = (prob @ c**2, prob @ c**3, prob @ c**4)
    return np.stack([mean, m2, m3, m4 - 3 * m2**2])[:order]


def covariance_from_distribution(dx, prob):
    mean = prob @ dx
    c = dx - mean[None, :]
    return np.einsum("p,pa,pb->ab", prob, c, c)
