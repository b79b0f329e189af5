"""Stage 1 (response kernels) by the exact methods, and stage 2 (``AbstractResponse.evaluate``)."""

from .api import response
from .base import AbstractResponse, Response
from .continuum import Continuum
from .discretised import Discretised

__all__ = ["AbstractResponse", "Continuum", "Discretised", "Response", "response"]
