"""Brute-force many-body (Fock-space) reference for open quadratic fermion and boson models.

Model and conventions (hbar = k_B = 1)
--------------------------------------
* Modes are ordered: system modes ``0..n-1``, then the modes of bath 0, bath 1, ...
* ``H = H_S + sum_a (H_a + H_I^a)`` with
  ``H_S = sum_ij h[i,j] a_i^dag a_j``,  ``H_a = sum_k eps_ak c_ak^dag c_ak``,
  ``H_I^a = sum_{k,i} (V_a[k,i] a_i^dag c_ak + h.c.)``.
* Initial state ``rho_S(0) (x) prod_a exp(-(H_a - mu_a N_a)/T_a)/Z_a``; ``rho_S(0)`` is
  the fermionic (or bosonic) Gaussian state with ``C0[i,j] = <a_j^dag a_i>``.
* ``correlation[t,i,j] = <a_j^dag a_i>(t)``; ``occupation = diag(correlation).real``.
* Heisenberg equation ``d<O>/dt = i<[H,O]>``. Currents are positive when flowing OUT of
  reservoir ``a``: ``J_a = -d<N_a>/dt = -i<[H,N_a]>``, ``J^E_a = -i<[H,H_a]>``,
  heat ``J^Q_a = J^E_a - mu_a J_a``.

Every quantity is an expectation value of a many-body operator in the 2^L dimensional
Fock space (Jordan-Wigner matrices, exact diagonalisation of the many-body H); no
single-particle shortcut is used, so this is an independent check of quadratic codes.
The block structure of H and rho(0) in total-particle-number sectors is used for speed,
but it is verified numerically rather than assumed.

Bosons (``statistics="boson"``, ``n_max`` required)
---------------------------------------------------
* The Fock space is truncated to all occupation vectors with total particle number
  ``N <= n_max`` (ordered by N). H conserves N, so every kept sector evolves exactly; the
  only error is the initial weight in the sectors N > n_max, which is dropped (rho(0) is
  NOT renormalised). Returned alongside every result:
  ``discarded = sum_{N > n_max} P(N) = 1 - Tr rho0_kept`` and
  ``discarded_particles = sum_{N > n_max} N P(N)``, P(N) being the initial distribution
  of the total particle number. For any quadratic observable ``O = sum_pq M_pq a_p^dag
  a_q`` (all outputs are of this form) ``|<O>_exact - <O>_truncated| <=
  ||M||_op * discarded_particles`` at every time, since ``||O|| <= N ||M||`` on sector N.
* ``a`` (annihilators) are exact on the kept space; their adjoints are truncated creation
  operators, so only number-conserving products ``a_i^dag a_j`` are exact there.
* Initial state: ``C0 >= 0``, ``C0 = U diag(nu) U^dag``; the natural orbitals
  ``b_k^dag = sum_i U[i,k] a_i^dag`` are thermal with mean occupation nu_k,
  ``rho_S = prod_k (1-q_k) q_k^(b_k^dag b_k)``, ``q_k = nu_k / (1 + nu_k)``. Baths are
  Bose-Einstein, ``n_B = 1 / (exp((eps - mu)/T) - 1)`` (requires eps > mu). rho(0) is
  ``Gamma(U (+) 1) D Gamma(U (+) 1)^dag`` with D diagonal in the occupation basis and
  ``Gamma(W) = exp(sum_pq log(W)_pq a_p^dag a_q)`` (number conserving) built on each
  kept N-sector, so it is exact on the kept space.
"""
import math

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

MAX_MODES = 12
MAX_BOSON_DIM = 20000        # total dimension of the truncated bosonic Fock space
_TOL = 1e-10


def _bitcount(x, nbits):
    return sum(((x >> b) & 1 for b in range(nbits)), np.zeros_like(x))


def _fermion_annihilators(L):
    """Jordan-Wigner annihilators on basis states |s>, bit m of s = occupation of mode m:
    a_m |s> = (-1)^(number of occupied modes l < m) |s - 2^m> if mode m is occupied."""
    D = 1 << L
    s = np.arange(D)
    ops = []
    for m in range(L):
        src = s[(s >> m) & 1 == 1]
        sign = (-1.0) ** _bitcount(src & ((1 << m) - 1), m)
        ops.append(sp.csr_matrix((sign.astype(complex), (src ^ (1 << m), src)), shape=(D, D)))
    return ops


def _hermitian(name, M, n):
    M = np.asarray(M)
    if M.shape != (n, n) or not np.all(np.isfinite(M)):
        raise ValueError(f"{name} must be a finite ({n}, {n}) array, got shape {M.shape}")
    M = M.astype(complex)
    if not np.allclose(M, M.conj().T, rtol=0, atol=_TOL * max(1.0, np.abs(M).max())):
        raise ValueError(f"{name} must be Hermitian")
    return 0.5 * (M + M.conj().T)


def _validate(h, baths, C0, times, statistics="fermion", n_max=None):
    h = np.asarray(h)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] < 1:
        raise ValueError(f"h must be a square (n, n) array, got shape {h.shape}")
    n = h.shape[0]
    h = _hermitian("h", h, n)
    C0 = _hermitian("C0", C0, n)
    if statistics not in ("fermion", "boson"):
        raise ValueError(f"unknown statistics {statistics!r}")
    nu = la.eigvalsh(C0)
    if statistics == "fermion" and (nu.min() < -_TOL or nu.max() > 1 + _TOL):
        raise ValueError(f"C0 eigenvalues must lie in [0, 1], got {nu}")
    if statistics == "boson" and nu.min() < -_TOL:
        raise ValueError(f"bosonic C0 must be positive semidefinite, got eigenvalues {nu}")
    times = np.asarray(times)
    if times.ndim != 1 or np.iscomplexobj(times) or not np.all(np.isfinite(times)):
        raise ValueError("times must be a finite real 1-D array")
    clean = []
    for a, b in enumerate(baths):
        if not isinstance(b, dict):
            raise ValueError(f"bath {a} must be a dict")
        missing = {"energies", "couplings", "temperature", "chemical_potential"} - set(b)
        if missing:
            raise ValueError(f"bath {a} is missing keys {sorted(missing)}")
        eps = np.asarray(b["energies"])
        if eps.ndim != 1 or not np.all(np.isfinite(eps)) or (
                np.iscomplexobj(eps) and np.any(eps.imag != 0)):
            raise ValueError(f"bath {a}: energies must be a finite real 1-D array")
        V = np.asarray(b["couplings"], dtype=complex)
        if V.size == 0 and eps.size == 0:
            V = V.reshape(0, n)
        if V.shape != (eps.size, n) or not np.all(np.isfinite(V)):
            raise ValueError(f"bath {a}: couplings must be finite with shape ({eps.size}, {n})")
        T, mu = b["temperature"], b["chemical_potential"]
        if np.iscomplexobj(T) or np.iscomplexobj(mu):
            raise ValueError(f"bath {a}: temperature and chemical_potential must be real")
        T, mu = float(T), float(mu)
        if not (np.isfinite(T) and T > 0) or not np.isfinite(mu):
            raise ValueError(f"bath {a}: need finite temperature > 0 and finite chemical_potential")
        if statistics == "boson" and np.any(eps.real <= mu):
            raise ValueError(f"bath {a}: bosonic bath needs every energy > chemical_potential")
        clean.append(dict(energies=eps.real.astype(float), couplings=V, temperature=T,
                          chemical_potential=mu))
    L = n + sum(b["energies"].size for b in clean)
    if statistics == "fermion" and L > MAX_MODES:
        raise ValueError(f"total number of modes {L} exceeds {MAX_MODES}")
    if statistics == "boson":
        if n_max is None or isinstance(n_max, bool) or int(n_max) != n_max or n_max < 0:
            raise ValueError(f"bosons need an integer cutoff n_max >= 0, got {n_max!r}")
        dim = math.comb(int(n_max) + L, L)
        if dim > MAX_BOSON_DIM:
            raise ValueError(f"truncated Fock space dimension {dim} (L={L}, n_max={n_max}) "
                             f"exceeds {MAX_BOSON_DIM}")
    return h, clean, C0, times.astype(float)


def build_model(h, baths, C0, statistics="fermion", n_max=None):
    """Validated many-body operators (scipy.sparse, full or truncated Fock space) and rho(0).

    Returns a dict with keys ``L, n, a`` (annihilators, system first), ``H, H_S``,
    ``N_bath, H_bath, H_I`` (lists over baths), ``rho0``, ``mu`` (list), ``counts`` (total
    particle number of each basis state), ``discarded`` and ``discarded_particles`` (0 for
    fermions; see the module docstring). Bosons need ``n_max``; fermions ignore it."""
    if statistics == "boson":
        return _build_boson_model(h, baths, C0, n_max)
    if statistics != "fermion":
        raise ValueError(f"unknown statistics {statistics!r}")
    h, baths, C0, _ = _validate(h, baths, C0, np.zeros(1))
    n = h.shape[0]
    L = n + sum(b["energies"].size for b in baths)
    a = _fermion_annihilators(L)           # a bosonic builder would plug in here
    D = 1 << L
    ad = [x.conj().T.tocsr() for x in a]
    one = sp.identity(D, dtype=complex, format="csr")
    H_S = sum(h[i, j] * (ad[i] @ a[j]) for i in range(n) for j in range(n))
    N_bath, H_bath, H_I, K_diag, off = [], [], [], np.zeros(D), n
    for b in baths:
        modes = range(off, off + b["energies"].size)
        off += b["energies"].size
        num = [ad[m] @ a[m] for m in modes]
        N_bath.append(sum(num, 0 * one))
        H_bath.append(sum((e * x for e, x in zip(b["energies"], num, strict=True)), 0 * one))
        hop = sum((b["couplings"][k, i] * (ad[i] @ a[m]) for k, m in enumerate(modes)
                   for i in range(n)), 0 * one)
        H_I.append((hop + hop.conj().T).tocsr())
        # grand-canonical exponent (H_a - mu_a N_a)/T_a, diagonal in the Fock basis
        K = (H_bath[-1] - b["chemical_potential"] * N_bath[-1]) / b["temperature"]
        if spla.norm(K - sp.diags(K.diagonal())) > 0:
            raise RuntimeError("bath grand-canonical operator is not diagonal")
        K_diag += K.diagonal().real
    H = (H_S + sum(H_bath, 0 * one) + sum(H_I, 0 * one)).tocsr()
    # system Gaussian state: C0 = U diag(nu) U^dag, b_k = sum_i conj(U[i,k]) a_i,
    # rho_S = prod_k [nu_k b_k^dag b_k + (1 - nu_k) b_k b_k^dag]  (acts as 1 on the baths)
    nu, U = la.eigh(C0)
    nu = np.clip(nu, 0.0, 1.0)
    rho_S = one
    for k in range(n):
        bk = sum(np.conj(U[i, k]) * a[i] for i in range(n))
        bk_dag = bk.conj().T
        rho_S = rho_S @ (nu[k] * (bk_dag @ bk) + (1 - nu[k]) * (bk @ bk_dag))
    w = np.exp(-(K_diag - K_diag.min()))     # exp(-sum_a (H_a - mu_a N_a)/T_a), unnormalised
    w /= w.sum() / 2**n                      # Z of the baths alone (K ignores system bits)
    rho0 = (rho_S @ sp.diags(w)).tocsr()
    rho0.eliminate_zeros()
    if abs(rho0.diagonal().sum() - 1) > 1e-9:
        raise RuntimeError("initial state is not normalised")
    return dict(L=L, n=n, a=a, H=H, H_S=H_S.tocsr(), N_bath=N_bath, H_bath=H_bath, H_I=H_I,
                rho0=rho0, mu=[b["chemical_potential"] for b in baths],
                counts=_bitcount(np.arange(D), L), discarded=0.0, discarded_particles=0.0)


def _boson_basis(L, n_max):
    """All occupation vectors of L modes with total number <= n_max, ordered by N
    (lexicographically within a sector). Returns an (D, L) int array."""
    def comps(N, m):                     # compositions of N into m non-negative parts
        if m == 1:
            yield (N,)
            return
        for k in range(N, -1, -1):
            for rest in comps(N - k, m - 1):
                yield (k,) + rest
    states = [s for N in range(n_max + 1) for s in comps(N, L)]
    return np.array(states, dtype=np.int64).reshape(len(states), L)


def _boson_annihilators(occ):
    """a_m |n> = sqrt(n_m) |n - e_m> on the truncated basis ``occ`` (closed under a_m)."""
    D, L = occ.shape
    index = {tuple(s): k for k, s in enumerate(occ)}
    ops = []
    for m in range(L):
        src = np.flatnonzero(occ[:, m] > 0)
        tgt = occ[src].copy()
        tgt[:, m] -= 1
        dst = np.array([index[tuple(s)] for s in tgt], dtype=np.int64)
        amp = np.sqrt(occ[src, m].astype(float)).astype(complex)
        ops.append(sp.csr_matrix((amp, (dst, src)), shape=(D, D)))
    return ops


def _geometric_tail(q, n_max):
    """For independent geometric occupations P(n_k) = (1-q_k) q_k^n_k: the total-number
    tail sum_{N>n_max} P(N) and its first moment sum_{N>n_max} N P(N), computed without
    cancellation (P(N) convolved up to a cutoff where the remaining tail is < 1e-30)."""
    qmax = max(q.max(initial=0.0), 1e-300)
    N_hi = n_max + 1
    while True:                                      # crude bound on the tail beyond N_hi
        N_hi = 2 * N_hi + 50
        if (N_hi + q.size) ** (q.size + 1) * qmax ** N_hi < 1e-30:
            break
    P = np.zeros(N_hi + 1)
    P[0] = 1.0
    for qk in q:
        geo = (1 - qk) * qk ** np.arange(N_hi + 1)
        P = np.convolve(P, geo)[:N_hi + 1]
    N = np.arange(N_hi + 1)
    return P[n_max + 1:].sum(), (N * P)[n_max + 1:].sum()


def _build_boson_model(h, baths, C0, n_max):
    h, baths, C0, _ = _validate(h, baths, C0, np.zeros(1), "boson", n_max)
    n_max = int(n_max)
    n = h.shape[0]
    L = n + sum(b["energies"].size for b in baths)
    occ = _boson_basis(L, n_max)
    D = occ.shape[0]
    counts = occ.sum(axis=1)
    a = _boson_annihilators(occ)
    ad = [x.conj().T.tocsr() for x in a]
    zero = sp.csr_matrix((D, D), dtype=complex)
    H_S = sum((h[i, j] * (ad[i] @ a[j]) for i in range(n) for j in range(n)), zero)
    N_bath, H_bath, H_I, off = [], [], [], n
    logp = np.zeros(D)                   # log of the diagonal of D (occupation probabilities)
    q_all = []
    for b in baths:
        K = b["energies"].size
        modes = range(off, off + K)
        num = [ad[m] @ a[m] for m in modes]
        N_bath.append(sum(num, zero))
        H_bath.append(sum((e * x for e, x in zip(b["energies"], num, strict=True)), zero))
        hop = sum((b["couplings"][k, i] * (ad[i] @ a[m]) for k, m in enumerate(modes)
                   for i in range(n)), zero)
        H_I.append((hop + hop.conj().T).tocsr())
        x = (b["energies"] - b["chemical_potential"]) / b["temperature"]      # > 0
        q = np.exp(-x)
        logp += occ[:, off:off + K] @ (-x) + np.log1p(-q).sum()
        q_all.append(q)
        off += K
    H = (H_S + sum(H_bath, zero) + sum(H_I, zero)).tocsr()
    # system: natural orbitals (modes 0..n-1 of the diagonal state) thermal with nu_k
    nu, U = la.eigh(C0)
    nu = np.clip(nu, 0.0, None)
    q_sys = nu / (1 + nu)
    occS = occ[:, :n]
    with np.errstate(divide="ignore", invalid="ignore"):
        logq = np.log(q_sys)
        logp += np.log1p(-q_sys).sum() + np.where(occS > 0, occS * logq[None, :], 0.0).sum(1)
    p = np.exp(logp)
    # Gamma(U (+) 1) = exp(sum_ij log(U)_ij a_i^dag a_j), exact on each kept N-sector
    A = la.logm(U)
    if np.abs(la.expm(A) - U).max() > 1e-12:
        raise RuntimeError("matrix logarithm of the natural-orbital unitary failed")
    dGam = sum((A[i, j] * (ad[i] @ a[j]) for i in range(n) for j in range(n) if A[i, j] != 0),
               zero).tocsr()
    rows, cols, vals = [], [], []
    for N in range(n_max + 1):
        idx = np.flatnonzero(counts == N)
        G = la.expm(dGam[idx][:, idx].toarray())
        if np.abs(G.conj().T @ G - np.eye(idx.size)).max() > 1e-10:
            raise RuntimeError("many-body representation of U is not unitary")
        blk = (G * p[idx][None, :]) @ G.conj().T
        blk = 0.5 * (blk + blk.conj().T)
        r, c = np.nonzero(np.abs(blk) > 0)
        rows.append(idx[r])
        cols.append(idx[c])
        vals.append(blk[r, c])
    rho0 = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(D, D))
    discarded, discarded_particles = _geometric_tail(np.concatenate([q_sys] + q_all), n_max)
    kept = rho0.diagonal().sum().real
    if abs((1 - kept) - discarded) > 1e-12:
        raise RuntimeError(f"kept weight {kept} inconsistent with discarded {discarded}")
    return dict(L=L, n=n, a=a, H=H, H_S=H_S.tocsr(), N_bath=N_bath, H_bath=H_bath, H_I=H_I,
                rho0=rho0, mu=[b["chemical_potential"] for b in baths], counts=counts,
                discarded=float(discarded), discarded_particles=float(discarded_particles),
                n_max=n_max, occupations=occ)


def _check_number_conserving(name, op, counts):
    coo = op.tocoo()
    bad = (counts[coo.row] != counts[coo.col]) & (np.abs(coo.data) > 0)
    if np.any(bad):
        raise RuntimeError(f"{name} is not block diagonal in particle number")


def fock_evolve(h, baths, C0, times, statistics="fermion", n_max=None):
    """Exact many-body evolution; see the module docstring for all conventions.

    Returns a dict of arrays over ``times`` (T) and baths (M): ``correlation`` (T,n,n)
    complex with ``C[t,i,j] = <a_j^dag a_i>``, ``occupation`` (T,n), ``particle_current``,
    ``energy_current``, ``heat_current`` (T,M, out of each reservoir),
    ``coupling_energy`` (T,M) = <H_I^a>, ``system_energy`` (T,) = <H_S>,
    ``system_energy_derivative`` (T,) = i<[H,H_S]>, ``coupling_energy_derivative``
    (T,M) = i<[H,H_I^a]>; ``discarded`` and ``discarded_particles`` (floats, 0 for
    fermions): the truncation error bookkeeping for bosons (module docstring).
    Bosons need the cutoff ``n_max`` (total particle number kept)."""
    _, _, _, times = _validate(h, baths, C0, times, statistics, n_max)
    m = build_model(h, baths, C0, statistics, n_max)
    n, a, H = m["n"], m["a"], m["H"]
    M = len(m["N_bath"])
    com = lambda O: (H @ O - O @ H).tocsr()  # noqa: E731  [H, O]
    # observable list; order: n*n correlations, then per bath (J, J^E, H_I, dH_I), H_S, dH_S
    obs = [a[j].conj().T @ a[i] for i in range(n) for j in range(n)]
    for al in range(M):
        obs += [-1j * com(m["N_bath"][al]), -1j * com(m["H_bath"][al]),
                m["H_I"][al], 1j * com(m["H_I"][al])]
    obs += [m["H_S"], 1j * com(m["H_S"])]
    K = len(obs)
    counts = m["counts"]
    _check_number_conserving("H", H, counts)
    _check_number_conserving("rho0", m["rho0"], counts)
    vals = np.zeros((times.size, K), dtype=complex)
    for N in range(int(counts.max()) + 1):
        idx = np.flatnonzero(counts == N)
        rho_s = m["rho0"][idx][:, idx].toarray()
        if not np.any(rho_s):
            continue
        E, W = la.eigh(H[idx][:, idx].toarray())
        rhoE = W.conj().T @ rho_s @ W
        parts = [O[idx][:, idx].tocoo() for O in obs]
        rows = np.concatenate([p.row for p in parts])
        cols = np.concatenate([p.col for p in parts])
        data = np.concatenate([p.data for p in parts])
        lab = np.concatenate([np.full(p.nnz, k) for k, p in enumerate(parts)])
        for ti, t in enumerate(times):
            ph = np.exp(-1j * E * t)
            rho_t = W @ (ph[:, None] * rhoE * ph.conj()[None, :]) @ W.conj().T
            prod = data * rho_t[cols, rows]                      # Tr[rho O] = sum O_rc rho_cr
            vals[ti] += (np.bincount(lab, prod.real, minlength=K)
                         + 1j * np.bincount(lab, prod.imag, minlength=K))
    corr = vals[:, :n * n].reshape(-1, n, n)
    rest = vals[:, n * n:]
    scale = max(1.0, np.abs(vals).max())
    if np.abs(rest.imag).max(initial=0) > 1e-8 * scale:
        raise RuntimeError("expectation value of a Hermitian operator is not real")
    rest = rest.real
    per_bath = rest[:, :4 * M].reshape(times.size, M, 4)   # (also for M = 0 baths)
    J, JE = per_bath[:, :, 0], per_bath[:, :, 1]
    return dict(
        correlation=corr,
        occupation=np.ascontiguousarray(np.diagonal(corr, axis1=1, axis2=2).real),
        particle_current=J, energy_current=JE,
        heat_current=JE - np.asarray(m["mu"], dtype=float)[None, :] * J,
        coupling_energy=per_bath[:, :, 2].copy(),
        coupling_energy_derivative=per_bath[:, :, 3].copy(),
        system_energy=rest[:, 4 * M].copy(), system_energy_derivative=rest[:, 4 * M + 1].copy(),
        discarded=m["discarded"], discarded_particles=m["discarded_particles"])
