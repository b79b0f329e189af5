r"""Spectral densities g(ω) of the reservoirs, all in one place.

Convention: a reservoir term with coupling vector v contributes Γ(ω) = g(ω) v v†, where
Γ_ij(ω) = 2π Σ_k V_k,i V*_k,j δ(ω − ε_k). A single level coupled with |v| = 1 to a flat density
g = Γ decays as e^{−Γt}. For position (x–x) reservoirs the density is the bath's J(ω).

Densities that are sums of poles (Lorentzians; Drude–Lorentz for x–x baths) close exactly in
the ``Continuum`` and ``Pade`` methods; every density can be used with ``Discretised``.

Units ħ = 1: every spectral density g(ω) and its parameters are in the units of h (g is a rate).
"""

from .band import FlatBand, Semicircle
from .base import AbstractSpectralDensity, density_rule
from .bosonic import CutoffDrudeLorentz, Drude, DrudeLorentz, Ohmic
from .lorentzian import CutoffLorentzian, Lorentzian, LorentzianSum, MirroredDensity, SumDensity
from .tabulated import Tabulated

__all__ = [
    "AbstractSpectralDensity",
    "CutoffDrudeLorentz",
    "CutoffLorentzian",
    "Drude",
    "DrudeLorentz",
    "FlatBand",
    "Lorentzian",
    "LorentzianSum",
    "MirroredDensity",
    "Ohmic",
    "Semicircle",
    "SumDensity",
    "Tabulated",
    "density_rule",
]
