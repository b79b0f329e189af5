"""Tiny models shared by the tests (one concept each, fixed parameters)."""

import numpy as np

import jaxtransport as jt

TIMES = np.linspace(0.0, 20.0, 101)


def single_level(eps=0.5, gamma=0.5, width=2.0, t_hot=1.5, t_cold=0.5, mu=(0.0, 0.0)):
    hot = jt.Reservoir(jt.Lorentzian(gamma, width), temperature=t_hot,
                       chemical_potential=mu[0], coupling=[1.0])
    cold = jt.Reservoir(jt.Lorentzian(gamma, width), temperature=t_cold,
                        chemical_potential=mu[1], coupling=[1.0])
    return jt.Model([[eps]], (hot, cold))


def two_site(gamma=0.5, width=2.0):
    h = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, -0.3]])
    hot = jt.Reservoir(jt.Lorentzian(gamma, width), temperature=1.5, coupling=[1.0, 0.0])
    cold = jt.Reservoir(jt.Lorentzian(gamma, width, 0.5), temperature=0.5, coupling=[0.0, 1.0])
    return jt.Model(h, (hot, cold))


def coherent_c0_2():
    return np.array([[0.7, 0.3 - 0.2j], [0.3 + 0.2j, 0.4]])


def three_site_chain():
    h = np.array([[0.2, -0.5, 0.0], [-0.5, 0.0, -0.5], [0.0, -0.5, -0.2]])
    left = jt.Reservoir(jt.Lorentzian(0.6, 2.0), temperature=1.0, chemical_potential=0.5,
                        coupling=[1.0, 0.0, 0.0])
    right = jt.Reservoir(jt.Lorentzian(0.6, 2.0), temperature=1.0, chemical_potential=-0.5,
                         coupling=[0.0, 0.0, 1.0])
    return jt.Model(h, (left, right))


def shared_reservoir():
    """One reservoir coupled to both sites at once (plus a second, local one)."""
    h = np.array([[0.4, 0.1], [0.1, -0.2]])
    both = jt.Reservoir(jt.Lorentzian(0.5, 2.0), temperature=1.2, coupling=[0.8, 0.6j])
    local = jt.Reservoir(jt.Lorentzian(0.3, 1.5, -0.5), temperature=0.4, coupling=[0.0, 1.0])
    return jt.Model(h, (both, local))


def strong_coupling():
    """γ = 3 × width."""
    return single_level(eps=0.3, gamma=3.0, width=1.0, t_hot=1.0, t_cold=0.3)
