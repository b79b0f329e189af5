"""Self-checks of the brute-force Fock-space reference (tests/reference.py).

Each test compares against something independent of the reference's own machinery:
canonical anticommutators, the Fermi function, analytic Rabi oscillations, finite
differences in time, and a dense full-space matrix exponential.
"""
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
