"""Stage 1 (response kernels) by the exact methods, and stage 2 (``AbstractResponse.evaluate``).

Units ħ = k_B = 1; every current is out of its reservoir; C_ij = <a_j† a_i>."""

from .api import response  # noqa: F401  (stage 1 for a given method; jt.response: ..solve)
from .base import AbstractResponse, Response
from .continuum import Continuum
from .discretised import Discretised

__all__ = ["AbstractResponse", "Continuum", "Discretised", "Response"]
