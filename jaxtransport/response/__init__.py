"""Stage 1 (response kernels) by two independent exact methods, and stage 2 (evaluate)."""

from .base import Response, response, solve
from .continuum import Continuum
from .discretised import Discretised

__all__ = ["Continuum", "Discretised", "Response", "response", "solve"]
