"""Tiny models shared by the tests (one concept each, fixed parameters): fermionic Lorentzian
systems and gapped bosonic oscillators."""

import numpy as np

import jaxtransport as jt

TIMES = np.linspace(0.0, 20.0, 101)


def lead(gamma, width, center=0.0, cutoff=None):
    """A Lorentzian lead; with ``cutoff`` (in units of the width) a CutoffLorentzian, whose
    1/ω⁴ tails a finite discretised band captures (docs/theory.md, "Discretised": band
    truncation)."""
    if cutoff is None:
        return jt.Lorentzian(gamma, width, center)
    return jt.CutoffLorentzian(gamma, width, cutoff * width, center)


def single_level(eps=0.5, gamma=0.5, width=2.0, t_hot=1.5, t_cold=0.5, mu=(0.0, 0.0),
                 cutoff=None):
    hot = jt.Reservoir(lead(gamma, width, cutoff=cutoff), temperature=t_hot,
                       chemical_potential=mu[0], coupling=[1.0])
    cold = jt.Reservoir(lead(gamma, width, cutoff=cutoff), temperature=t_cold,
                        chemical_potential=mu[1], coupling=[1.0])
    return jt.Model([[eps]], (hot, cold))


def two_site(gamma=0.5, width=2.0, cutoff=None):
    h = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, -0.3]])
    hot = jt.Reservoir(lead(gamma, width, cutoff=cutoff), temperature=1.5, coupling=[1.0, 0.0])
    cold = jt.Reservoir(lead(gamma, width, 0.5, cutoff), temperature=0.5, coupling=[0.0, 1.0])
    return jt.Model(h, (hot, cold))


def coherent_c0_2():
    return np.array([[0.7, 0.3 - 0.2j], [0.3 + 0.2j, 0.4]])


def three_site_chain(cutoff=None):
    h = np.array([[0.2, -0.5, 0.0], [-0.5, 0.0, -0.5], [0.0, -0.5, -0.2]])
    left = jt.Reservoir(lead(0.6, 2.0, cutoff=cutoff), temperature=1.0, chemical_potential=0.5,
                        coupling=[1.0, 0.0, 0.0])
    right = jt.Reservoir(lead(0.6, 2.0, cutoff=cutoff), temperature=1.0, chemical_potential=-0.5,
                         coupling=[0.0, 0.0, 1.0])
    return jt.Model(h, (left, right))


def shared_reservoir(cutoff=None):
    """One reservoir coupled to both sites at once (plus a second, local one)."""
    h = np.array([[0.4, 0.1], [0.1, -0.2]])
    both = jt.Reservoir(lead(0.5, 2.0, cutoff=cutoff), temperature=1.2, coupling=[0.8, 0.6j])
    local = jt.Reservoir(lead(0.3, 1.5, -0.5, cutoff), temperature=0.4, coupling=[0.0, 1.0])
    return jt.Model(h, (both, local))


def strong_coupling(cutoff=None):
    """γ = 3 × width."""
    return single_level(eps=0.3, gamma=3.0, width=1.0, t_hot=1.0, t_cold=0.3, cutoff=cutoff)


# gapped, smooth band above μ = 0: bosonic occupations stay finite, propagators decay fast
BAND = dict(lower=0.5, upper=4.5, edge=0.5)


def oscillator(gamma=0.6):
    d = jt.FlatBand(gamma, **BAND)
    hot = jt.Reservoir(d, temperature=2.0, coupling=[1.0])
    cold = jt.Reservoir(d, temperature=0.5, coupling=[1.0])
    return jt.Model([[2.0]], (hot, cold), statistics="boson")


def two_oscillators():
    h = np.array([[1.8, 0.3 - 0.1j], [0.3 + 0.1j, 2.6]])
    hot = jt.Reservoir(jt.FlatBand(0.5, **BAND), temperature=2.0, coupling=[1.0, 0.0])
    cold = jt.Reservoir(jt.FlatBand(0.8, **BAND), temperature=0.5, coupling=[0.0, 1.0])
    return jt.Model(h, (hot, cold), statistics="boson")


def random_boson_c0(n, k, seed=0):
    """k random physical bosonic C0 = U diag(ν) U†, ν ≥ 0 (exponential, mean 1; some 0)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        q, _ = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
        nu = rng.exponential(1.0, n) * (rng.uniform(size=n) > 0.2)
        out.append((q * nu) @ q.conj().T)
    return np.array(out)
