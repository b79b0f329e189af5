"""Tiny models shared by the tests (one concept each, fixed parameters)."""

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
