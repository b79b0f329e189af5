"""Stage 1 (response kernels) by two independent exact methods, and stage 2 (evaluate)."""

from .base import Response, response, solve
from .continuum import Continuum

__all__ = ["Continuum", "Response", "response", "solve"]
