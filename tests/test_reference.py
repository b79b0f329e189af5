"""Self-checks of the brute-force Fock-space reference (tests/reference.py), fermions and
bosons.

Each test compares against something independent of the reference's own machinery:
canonical anticommutators, the Fermi function, analytic Rabi oscillations, finite
differences in time, and a dense full-space matrix exponential; for bosons (truncated Fock
spaces, statistics="boson"), an independent single-particle calculation written below in
NumPy (see its section).
"""
import itertools
import math
import os
import sys

import numpy as np
import pytest
import scipy.linalg as la

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import _fermion_annihilators, build_model, fock_evolve  # noqa: E402


def fermi(e, mu, T):
    return 1.0 / (np.exp((e - mu) / T) + 1.0)


def random_herm(rng, n):
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return 0.5 * (A + A.conj().T)


def random_unitary(rng, n):
    return la.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))[0]


def random_couplings(rng, shape, scale):
    return scale * (rng.normal(size=shape) + 1j * rng.normal(size=shape))


def two_baths(rng, n):
    return [dict(energies=[-0.7, 0.4], couplings=random_couplings(rng, (2, n), 0.5),
                 temperature=0.6, chemical_potential=0.3),
            dict(energies=[-0.2, 0.1, 0.9], couplings=random_couplings(rng, (3, n), 0.4),
                 temperature=1.3, chemical_potential=-0.5)]


def test_jordan_wigner_anticommutators():
    a = [x.toarray() for x in _fermion_annihilators(4)]
    eye = np.eye(16)
    for i in range(4):
        for j in range(4):
            assert np.abs(a[i] @ a[j] + a[j] @ a[i]).max() == 0
            assert np.abs(a[i] @ a[j].conj().T + a[j].conj().T @ a[i] - (i == j) * eye).max() == 0


def test_uncoupled_mode_and_thermal_baths():
    rng = np.random.default_rng(1)
    baths = two_baths(rng, 2)
    h = np.array([[0.2, 0.0], [0.0, -0.4]])
    for b in baths:                                    # system mode 1 is decoupled
        b["couplings"][:, 1] = 0
    C0 = np.diag([0.3, 0.8])
    times = np.linspace(0, 5, 11)
    r = fock_evolve(h, baths, C0, times)
    assert np.abs(r["occupation"][:, 1] - 0.8).max() < 1e-12
    assert np.abs(r["correlation"][:, 0, 1]).max() < 1e-12       # no coherence is created
    assert np.abs(r["occupation"][:, 0] - 0.3).max() > 1e-2       # mode 0 does evolve
    # all couplings off: everything frozen, currents and coupling energies vanish
    for b in baths:
        b["couplings"][:] = 0
    C0c = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, 0.6]])
    r = fock_evolve(np.diag([0.2, 0.2]), baths, C0c, times)
    assert np.abs(r["correlation"] - C0c).max() < 1e-12
    for key in ("particle_current", "energy_current", "heat_current", "coupling_energy",
                "coupling_energy_derivative", "system_energy_derivative"):
        assert np.abs(r[key]).max() < 1e-12, key
    # each bath mode's occupation in rho(0) is the Fermi function (many-body trace)
    m = build_model(h, baths, C0)
    rho0 = m["rho0"].toarray()
    for b, off in zip(baths, (2, 4), strict=True):
        for k, e in enumerate(b["energies"]):
            c = m["a"][off + k].toarray()
            occ = np.trace(rho0 @ c.conj().T @ c).real
            assert abs(occ - fermi(e, b["chemical_potential"], b["temperature"])) < 1e-12


def test_conservation_laws():
    rng = np.random.default_rng(2)
    n = 2
    h, baths = random_herm(rng, n), two_baths(rng, n)
    U = random_unitary(rng, n)
    C0 = U @ np.diag([0.2, 0.9]) @ U.conj().T
    dt = 1e-4
    t0 = np.array([0.0, 0.7, 2.3])
    times = np.concatenate([t0 - dt, t0, t0 + dt])
    r = fock_evolve(h, baths, C0, times)
    k = len(t0)
    fd = lambda x: (x[2 * k:] - x[:k]) / (2 * dt)  # noqa: E731
    mid = lambda x: x[k:2 * k]  # noqa: E731
    trC = np.trace(r["correlation"], axis1=1, axis2=2).real
    err = np.abs(mid(r["particle_current"]).sum(1) - fd(trC)).max()
    assert err < 1e-7, err
    assert np.abs(mid(r["system_energy_derivative"]) - fd(r["system_energy"])).max() < 1e-7
    assert np.abs(mid(r["coupling_energy_derivative"]) - fd(r["coupling_energy"])).max() < 1e-7
    lhs = r["energy_current"].sum(1)
    rhs = r["system_energy_derivative"] + r["coupling_energy_derivative"].sum(1)
    assert np.abs(lhs - rhs).max() < 1e-10
    mu = np.array([b["chemical_potential"] for b in baths])
    heat = r["energy_current"] - mu * r["particle_current"]
    assert np.allclose(r["heat_current"], heat, rtol=0, atol=1e-14)
    assert np.abs(r["particle_current"][k]).max() < 1e-12      # product state: J(0) = 0
    assert np.abs(r["particle_current"][k + 1]).max() > 1e-3   # ... but not later


@pytest.mark.parametrize("delta,V", [(0.0, 0.4), (0.7, 0.3 - 0.2j), (-1.1, 0.25j)])
def test_rabi_oscillation(delta, V):
    # single particle in {level, bath mode}: 2x2 block ebar + [[delta/2, V], [V*, -delta/2]]
    # amplitude on the level: exp(-i ebar t) [cos(Om t) - i (delta/2)/Om sin(Om t)]
    ebar, mu, T = 0.3, -50.0, 0.05                 # bath mode empty: f = exp(-1000) = 0
    bath = dict(energies=[ebar - delta / 2], couplings=[[V]], temperature=T,
                chemical_potential=mu)
    times = np.linspace(0, 20, 41)
    r = fock_evolve([[ebar + delta / 2]], [bath], [[1.0]], times)
    Om = np.sqrt(abs(V) ** 2 + delta ** 2 / 4)
    n = np.abs(np.cos(Om * times) - 1j * (delta / 2) / Om * np.sin(Om * times)) ** 2
    assert np.abs(r["occupation"][:, 0] - n).max() < 1e-12
    # n = 1 - |V|^2/Om^2 sin^2(Om t); current out of the bath = +dn/dt
    dn = -abs(V) ** 2 / Om * np.sin(2 * Om * times)
    assert np.abs(r["particle_current"][:, 0] - dn).max() < 1e-12


def test_resonant_swap_reads_fermi_function():
    e, V, T, mu = 0.4, 0.3, 0.7, 0.1
    bath = dict(energies=[e], couplings=[[V]], temperature=T, chemical_potential=mu)
    r = fock_evolve([[e]], [bath], [[0.0]], [np.pi / (2 * V)])
    assert abs(r["occupation"][0, 0] - fermi(e, mu, T)) < 1e-12


@pytest.mark.parametrize("kind", ["mixed", "slater"])
def test_initial_correlation(kind):
    rng = np.random.default_rng(3)
    n = 4
    U = random_unitary(rng, n)
    nu = np.array([0.1, 0.35, 0.6, 0.95]) if kind == "mixed" else np.array([1.0, 0.0, 1.0, 0.0])
    C0 = U @ np.diag(nu) @ U.conj().T
    bath = dict(energies=[0.1, 0.3], couplings=rng.normal(size=(2, n)), temperature=0.5,
                chemical_potential=0.0)
    r = fock_evolve(random_herm(rng, n), [bath], C0, [0.0])
    assert np.abs(r["correlation"][0] - C0).max() < 1e-12
    assert abs(r["occupation"][0].sum() - nu.sum()) < 1e-12


def test_against_dense_matrix_exponential():
    rng = np.random.default_rng(4)
    n = 2
    h, baths = random_herm(rng, n), two_baths(rng, n)
    C0 = np.array([[0.5, 0.3j], [-0.3j, 0.4]])
    m = build_model(h, baths, C0)
    H, rho0 = m["H"].toarray(), m["rho0"].toarray()
    t = 1.7
    Ut = la.expm(-1j * H * t)
    rho = Ut @ rho0 @ Ut.conj().T
    a = [x.toarray() for x in m["a"]]
    C = np.array([[np.trace(rho @ a[j].conj().T @ a[i]) for j in range(n)] for i in range(n)])
    r = fock_evolve(h, baths, C0, [t])
    assert np.abs(r["correlation"][0] - C).max() < 1e-12
    NB, HB = m["N_bath"][1].toarray(), m["H_bath"][1].toarray()
    J = np.trace(-1j * rho @ (H @ NB - NB @ H)).real
    JE = np.trace(-1j * rho @ (H @ HB - HB @ H)).real
    assert abs(r["particle_current"][0, 1] - J) < 1e-12
    assert abs(r["energy_current"][0, 1] - JE) < 1e-12


def test_input_validation():
    bath = dict(energies=[0.1], couplings=[[0.2]], temperature=1.0, chemical_potential=0.0)
    with pytest.raises(ValueError):
        fock_evolve([[0.0]], [bath], [[0.5]], [0.0], statistics="boson")
    bad = [
        ([[0.0, 1.0], [0.0, 0.0]], [dict(bath, couplings=[[0.2, 0.0]])], np.eye(2) / 2, [0.0]),
        ([[0.0]], [bath], [[1.5]], [0.0]),
        ([[0.0]], [dict(bath, temperature=0.0)], [[0.5]], [0.0]),
        ([[0.0]], [dict(bath, couplings=[[0.2, 0.1]])], [[0.5]], [0.0]),
        ([[0.0]], [{"energies": [0.1]}], [[0.5]], [0.0]),
        ([[0.0]], [dict(bath, energies=np.zeros(12), couplings=np.zeros((12, 1)))], [[0.5]], [0.0]),
        ([[0.0]], [bath], [[0.5]], [[0.0]]),
    ]
    for h, baths, C0, times in bad:
        with pytest.raises(ValueError):
            fock_evolve(h, baths, C0, times)




# ---- bosons: --------------------------------------------------------------------------------
# Bosonic truncated-Fock-space reference (tests/reference.py, statistics="boson").
#
# The many-body results are compared with an independent single-particle calculation written
# here in NumPy. For a number-conserving quadratic H = sum_pq Hsp[p, q] a_p^dag a_q over all
# modes (system first, then bath modes) and C[p, q] = <a_q^dag a_p>:
#
#     d<a_q^dag a_p>/dt = i<[H, a_q^dag a_p]> = -i [Hsp, C]_pq   (bosons and fermions alike),
#
# so C(t) = U C(0) U^dag with U = exp(-i Hsp t) and C(0) = blockdiag(C0, diag(n_B(eps_k))).
# Any quadratic observable O = sum_pq M[p, q] a_p^dag a_q has <O> = sum_pq M_pq C_qp =
# Tr(M C). Currents out of bath a: J_a = -d/dt sum_{k in a} C_kk = i sum_{k in a} [Hsp, C]_kk,
# J^E_a = i sum_{k in a} eps_k [Hsp, C]_kk; <H_I^a> = 2 Re sum_{k,i} V_a[k, i] C[k, i];
# its derivative and that of <H_S> are Tr(i[Hsp, M] C) with M the single-particle matrix.
#
# The truncated Fock space (total N <= n_max) drops the initial weight ``discarded`` =
# sum_{N > n_max} P(N); for O = dGamma(M) the error is bounded by ||M|| * discarded_particles
# (sum_{N > n_max} N P(N)) since ||O|| <= N ||M|| on sector N. The bound is checked below,
# and shown to be nearly attained (so the reported truncation error is real, not a formality).
# --------------------------------------------------------------------------------------------
KEYS = ["correlation", "particle_current", "energy_current", "heat_current",
        "coupling_energy", "coupling_energy_derivative", "system_energy",
        "system_energy_derivative"]


def bose(e, mu, T):
    return 1.0 / np.expm1((np.asarray(e, float) - mu) / T)


def single_particle(h, baths, C0, times):
    """Independent single-particle evolution; returns the fock_evolve keys and, per key,
    the single-particle matrices M of the observables (for the truncation bound)."""
    h = np.asarray(h, complex)
    n = h.shape[0]
    eps = np.concatenate([np.asarray(b["energies"], float) for b in baths])
    V = np.concatenate([np.asarray(b["couplings"], complex).reshape(-1, n) for b in baths])
    owner = np.concatenate([np.full(len(b["energies"]), a) for a, b in enumerate(baths)])
    L, M = n + eps.size, len(baths)
    Hsp = np.zeros((L, L), complex)
    Hsp[:n, :n] = h
    Hsp[n:, n:] = np.diag(eps)
    Hsp[:n, n:] = V.T            # H_I = sum V[k, i] a_i^dag c_k + h.c.
    Hsp[n:, :n] = V.conj()
    nB = np.concatenate([bose(b["energies"], b["chemical_potential"], b["temperature"])
                         for b in baths])
    Ct0 = la.block_diag(np.asarray(C0, complex), np.diag(nB))
    mu = np.array([b["chemical_potential"] for b in baths], float)
    # single-particle matrices
    P = [np.diag(np.r_[np.zeros(n), owner == a].astype(complex)) for a in range(M)]
    E = [np.diag(np.r_[np.zeros(n), np.where(owner == a, eps, 0.0)].astype(complex))
         for a in range(M)]
    MI = []
    for a in range(M):
        X = np.zeros((L, L), complex)
        X[:n, n:] = np.where(owner == a, V.T, 0)
        MI.append(X + X.conj().T)
    HS = la.block_diag(h, np.zeros((L - n, L - n)))
    dot = lambda X: 1j * (Hsp @ X - X @ Hsp)  # noqa: E731  i[Hsp, X] = d/dt in Heisenberg
    mats = dict(
        correlation=[np.eye(L)[:, [i]] @ np.eye(L)[[j], :] for i in range(n) for j in range(n)],
        particle_current=[-dot(x) for x in P], energy_current=[-dot(x) for x in E],
        heat_current=[-dot(E[a] - mu[a] * P[a]) for a in range(M)],
        coupling_energy=MI, coupling_energy_derivative=[dot(x) for x in MI],
        system_energy=[HS], system_energy_derivative=[dot(HS)])
    out = {k: [] for k in KEYS}
    for t in times:
        U = la.expm(-1j * Hsp * t)
        C = U @ Ct0 @ U.conj().T
        out["correlation"].append(C[:n, :n])
        comm = Hsp @ C - C @ Hsp
        J = np.array([1j * np.trace(P[a] @ comm) for a in range(M)]).real
        JE = np.array([1j * np.sum(eps[owner == a] * np.diag(comm)[n:][owner == a])
                       for a in range(M)]).real
        out["particle_current"].append(J)
        out["energy_current"].append(JE)
        out["heat_current"].append(JE - mu * J)
        out["coupling_energy"].append(
            [2 * np.sum(V[owner == a] * C[n:, :n][owner == a]).real for a in range(M)])
        out["coupling_energy_derivative"].append(
            [np.trace(dot(MI[a]) @ C).real for a in range(M)])
        out["system_energy"].append(np.trace(h @ C[:n, :n]).real)
        out["system_energy_derivative"].append(np.trace(dot(HS) @ C).real)
    return {k: np.array(v) for k, v in out.items()}, mats


def enumerated_discarded(C0, baths, n_max):
    """1 - sum over all occupation vectors with N <= n_max of prod_k (1-q_k) q_k^n_k."""
    nu = la.eigvalsh(np.asarray(C0, complex))
    q = list(nu / (1 + nu))
    for b in baths:
        q += list(np.exp(-(np.asarray(b["energies"], float) - b["chemical_potential"])
                         / b["temperature"]))
    q = np.array(q)
    head = math.fsum(np.prod((1 - q) * q ** np.array(s))
                     for s in itertools.product(range(n_max + 1), repeat=q.size)
                     if sum(s) <= n_max)
    return 1.0 - head


def max_errors(r, sp):
    errs = {k: float(np.abs(np.asarray(r[k]) - sp[k]).max()) for k in KEYS}
    errs["occupation"] = float(np.abs(r["occupation"]
                                      - np.diagonal(sp["correlation"], 0, 1, 2).real).max())
    return errs


# model A: 1 system mode, one mode in a hot and one in a cold bath
H_A = [[0.5]]


BATHS_A = [dict(energies=[0.5], couplings=[[0.3]], temperature=0.2, chemical_potential=0.0),
           dict(energies=[0.8], couplings=[[0.25]], temperature=0.1, chemical_potential=0.1)]


C0_A = [[0.1]]


# model B: 2 coupled system modes (coherent initial state), one mode per bath
H_B = [[0.4, 0.15 - 0.05j], [0.15 + 0.05j, 0.7]]


BATHS_B = [dict(energies=[0.6], couplings=[[0.3, 0.1j]], temperature=0.2,
                chemical_potential=0.05),
           dict(energies=[0.9], couplings=[[0.05, 0.25]], temperature=0.12,
                chemical_potential=0.0)]


C0_B = [[0.12, 0.03 + 0.02j], [0.03 - 0.02j, 0.05]]


C0_B_PURE = 0.1 * np.outer([1, 1j], [1, -1j]) / 2          # rank 1: one orbital has nu = 0


TIMES = np.linspace(0.0, 12.0, 7)


# stated truncation errors at n_max = 12 (initial weight beyond N = 12)
CASES = [
    ("A", H_A, BATHS_A, C0_A, 2.108e-13),
    ("B", H_B, BATHS_B, C0_B, 2.658e-12),
    ("B-rank1", H_B, BATHS_B, C0_B_PURE, 9.12e-14),
]


@pytest.mark.parametrize("name,h,baths,C0,stated", CASES, ids=[c[0] for c in CASES])
def test_boson_fock_matches_single_particle(name, h, baths, C0, stated):
    """n_max = 12: discarded as stated (<= 3e-12); all outputs agree to <= 1e-8 (measured
    max deviations: A 1.7e-12, B 2.6e-11, B-rank1 6.5e-13, each below the rigorous
    bound ||M|| * discarded_particles)."""
    r = fock_evolve(h, baths, C0, TIMES, statistics="boson", n_max=12)
    assert r["discarded"] <= 1e-10 and r["discarded_particles"] <= 1e-9
    assert abs(r["discarded"] / stated - 1) < 1e-3, r["discarded"]
    assert abs(r["discarded"] - enumerated_discarded(C0, baths, 12)) < 1e-15
    sp, _ = single_particle(h, baths, C0, TIMES)
    errs = max_errors(r, sp)
    assert max(errs.values()) < 1e-8, errs
    # the dynamics is not trivial: currents of order 1e-2 flow, occupations change
    assert np.abs(sp["particle_current"]).max() > 5e-3
    assert np.ptp(sp["correlation"][:, 0, 0].real) > 1e-2


def test_boson_initial_state_and_model():
    """rho0 at t = 0: C0 and Bose occupations reproduced; kept trace = 1 - discarded;
    H and rho0 Hermitian and number conserving; bath occupations thermal."""
    m = build_model(H_B, BATHS_B, C0_B, statistics="boson", n_max=12)
    rho0, a = m["rho0"], m["a"]
    assert abs(1 - rho0.diagonal().sum().real - m["discarded"]) < 1e-13
    assert abs(rho0 - rho0.conj().T).max() < 1e-14
    assert abs(m["H"] - m["H"].conj().T).max() < 1e-14
    C = np.array([[(rho0 @ a[j].conj().T @ a[i]).diagonal().sum() for j in range(2)]
                  for i in range(2)])
    assert np.abs(C - np.array(C0_B)).max() < 1e-9
    for k, b in enumerate(BATHS_B):
        nk = (rho0 @ m["N_bath"][k]).diagonal().sum().real
        assert abs(nk - bose(b["energies"][0], b["chemical_potential"], b["temperature"])) < 1e-9
    # canonical commutator [a_i, a_j^dag] = delta_ij holds below the top sector
    low = np.flatnonzero(m["counts"] < 12)
    for i in range(m["L"]):
        for j in range(m["L"]):
            c = (a[i] @ a[j].conj().T - a[j].conj().T @ a[i]).toarray()[np.ix_(low, low)]
            assert np.abs(c - (i == j) * np.eye(low.size)).max() < 1e-12


def test_truncation_error_is_real_and_bounded():
    """Too small a cutoff (n_max = 2, 3, 4): the disagreement with the exact single-particle
    result is measurable, never exceeds ||M|| * discarded_particles for any output, is at
    least of the size of ``discarded``, and shrinks with n_max along with it."""
    sp, mats = single_particle(H_A, BATHS_A, C0_A, TIMES)
    previous = None
    for n_max in (2, 3, 4):
        r = fock_evolve(H_A, BATHS_A, C0_A, TIMES, statistics="boson", n_max=n_max)
        d, dN = r["discarded"], r["discarded_particles"]
        assert abs(d - enumerated_discarded(C0_A, BATHS_A, n_max)) < 1e-14
        assert 1e-6 < d < 1e-2 and (n_max + 1) * d <= dN * (1 + 1e-12)
        worst = 0.0
        for k in KEYS:
            ref = np.asarray(r[k]).reshape(TIMES.size, -1)
            ours = np.asarray(sp[k]).reshape(TIMES.size, -1)
            for col, Mk in enumerate(mats[k]):
                bound = np.linalg.norm(Mk, 2) * dN
                err = np.abs(ref[:, col] - ours[:, col]).max()
                assert err <= bound * (1 + 1e-9) + 1e-13, (n_max, k, col, err, bound)
                worst = max(worst, err / bound)
        occ_err = np.abs(r["occupation"][:, 0] - sp["correlation"][:, 0, 0].real).max()
        assert occ_err > d, (n_max, occ_err, d)     # the error is real and of size >= d
        assert worst > 0.1, worst                   # ... and the bound is nearly attained
        if previous is not None:
            assert d < previous[0] / 5 and occ_err < previous[1] / 5
        previous = (d, occ_err)


def test_boson_validation():
    bath = dict(energies=[0.5], couplings=[[0.2]], temperature=0.2, chemical_potential=0.0)
    with pytest.raises(ValueError):                 # cutoff required
        fock_evolve([[0.0]], [bath], [[0.1]], [0.0], statistics="boson")
    with pytest.raises(ValueError):                 # Bose bath needs eps > mu
        fock_evolve([[0.0]], [dict(bath, chemical_potential=0.5)], [[0.1]], [0.0],
                    statistics="boson", n_max=4)
    with pytest.raises(ValueError):                 # C0 must be >= 0
        fock_evolve([[0.0]], [bath], [[-0.1]], [0.0], statistics="boson", n_max=4)
    with pytest.raises(ValueError):                 # truncated space too large
        fock_evolve(np.zeros((4, 4)), [dict(bath, energies=np.ones(6) * 0.5,
                                            couplings=np.zeros((6, 4)))],
                    np.zeros((4, 4)), [0.0], statistics="boson", n_max=30)
    # bosonic C0 may exceed 1 (fermionic may not)
    r = fock_evolve([[0.0]], [], [[1.5]], [0.0], statistics="boson", n_max=40)
    assert abs(r["occupation"][0, 0] - 1.5) < 1e-4 + r["discarded_particles"]
