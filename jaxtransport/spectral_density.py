"""Compatibility module: the spectral densities live in ``jaxtransport.densities``, the
quadrature rules in ``jaxtransport._quadrature``.

Units ħ = 1: g(ω) and its parameters in the units of h."""

from ._quadrature import gauss_rule, panel_edges
from .densities import *  # noqa: F403
from .densities import __all__ as densities_all

__all__ = [*densities_all, "gauss_rule", "panel_edges"]
