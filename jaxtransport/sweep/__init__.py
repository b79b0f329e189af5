r"""Parameter sweeps at scale: cartesian grids or sample lists of (T, μ, C0, model parameters).

Every first moment is a sum of a C0 term, one term per reservoir β depending only on (T_β,
μ_β), and a constant (docs/theory.md, "The exact solution and its two stages"). On a cartesian
grid each term is computed once per axis value (O(N_1 + N_2 + …) kernel contractions) and the
grid is formed as an outer *sum*, fused with the reductions kept (e.g. the minimum of the hot
reservoir's heat current over time). Non-cartesian samples use per-configuration contractions
(GEMMs, ``Response.evaluate``). Model-parameter axes (e.g. a level energy) rerun stage 1 once
per value.

Execution (``run_sweep``): the grid is flattened, split into chunks along its leading axis
(sized from a memory budget), each chunk evaluated by one compiled, vmapped function, sharded
over the local devices (rows padded to a multiple of the device count; padded rows are never
stored), written to a Zarr store (``jaxtransport.storage``) with a completion marker after
each chunk; ``resume=True`` computes only missing chunks. Processes can split the chunks
(``process_index``/``process_count``) and fill one store.

Observables: summaries of the hot reservoir's heat current, traces (currents, coupling
energies, occupations), the conductance candidates G1, G2, G4, G5 of
``jaxtransport.thermodynamics`` and the hot reservoir's heat cumulants of
``jaxtransport.statistics`` (on finite reservoirs); see ``Sweep``.

Units ħ = k_B = 1. Currents are OUT OF each reservoir; ``reversed_heat`` is the heat that
flowed INTO the hot reservoir, ∫ max(−J^Q_hot, 0) dt ≥ 0.
"""

from .evaluate import grid_parts
from .run import SweepResult, chunk_rows, run_sweep
from .spec import (
    CONDUCTANCES,
    CUMULANTS,
    DEFAULT_OBSERVABLES,
    MODEL_FAILED,
    NON_FINITE,
    OBSERVABLES,
    OK,
    SUMMARIES,
    TRACES,
    Axis,
    Sweep,
    random_states,
)

__all__ = ["Axis", "Sweep", "SweepResult", "run_sweep", "grid_parts", "random_states",
           "chunk_rows", "SUMMARIES", "TRACES", "CONDUCTANCES", "CUMULANTS", "OBSERVABLES",
           "DEFAULT_OBSERVABLES", "OK", "NON_FINITE", "MODEL_FAILED"]
