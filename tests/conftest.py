import gc
import os
import warnings

# ---------------------------------------------------------------------------------------
# The suite compiles with XLA's backend optimisation level 0 (LLVM's optimisation passes
# off). More than half of the suite's CPU time is XLA compilation of programs that then run
# once or twice on tiny inputs, so optimising their machine code does not pay: measured on
# the 2-core box, the whole default suite took 657 s wall / 1262 CPU-s at level 0 against
# 860 s / 1671 CPU-s at the default level 3 (December 2026, quiet machine). The programs
# are the same (same operations and algorithms; only instruction selection, vectorisation
# and the order of some floating-point sums differ, at the rounding level); users run the
# default level, and ``test_solve.py::test_eager_equals_jit`` compiles its program at that
# level. Set here, before JAX starts its backend, so that every worker and subprocess
# (notebook kernels, documentation scripts, the CLI) inherits it; a level given in
# XLA_FLAGS by the caller is kept.
# ---------------------------------------------------------------------------------------
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
# four CPU devices for the sharding tests (must be set before the backend starts)
jax.config.update("jax_num_cpu_devices", 4)
os.environ.setdefault("MPLBACKEND", "Agg")


# ---------------------------------------------------------------------------------------
# Compiled programs are released after every test module.
#
# XLA:CPU JIT-compiles every program with LLVM, and each compiled object occupies three
# memory mappings (code, read-only data, data); a small jitted function costs ~20 mappings,
# a Continuum stage-1 program a few hundred. JAX keeps every executable alive in its jit
# caches for the life of the process, so one pytest process running the whole suite
# accumulated > 65 000 mappings — Linux's default vm.max_map_count is 65 530 — and the next
# compilation segfaulted inside LLVM when mmap failed (measured: 64 620 mappings, 21 000
# code sections, at the crash in test_transforms.py). Tests in different modules share no
# compiled programs worth keeping (module-scoped fixtures compile once per module), so the
# caches are cleared at each module's end; the peak is reported in the terminal summary.
# ---------------------------------------------------------------------------------------
def _n_mappings():
    try:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    except OSError:  # not Linux
        return None


def _max_mappings():
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


_PEAK = {"mappings": 0, "module": None}


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs(request):
    yield
    n = _n_mappings()
    if n is not None and n > _PEAK["mappings"]:
        _PEAK.update(mappings=n, module=request.module.__name__)
    limit = _max_mappings()
    if n is not None and limit and n > 0.5 * limit:
        warnings.warn(f"{request.module.__name__} left {n} memory mappings (vm.max_map_count "
                      f"= {limit}); a module near the limit crashes XLA compilation.",
                      stacklevel=1)
    gc.collect()
    jax.clear_caches()
    gc.collect()


# ---------------------------------------------------------------------------------------
# The suite runs in parallel processes (pytest-xdist, ``-n auto --dist loadgroup`` in
# pyproject.toml, one group per module, below: each test module runs whole in one worker, so
# module-scoped fixtures are built once). Almost all of the suite's time is single-threaded
# XLA compilation, so one worker per core is close to a linear speed-up on CI's two cores.
# More than four workers buy little (the largest modules bound the wall time) and each
# holds its own compiled programs, so ``auto`` is capped at four. ``pytest -n 0`` runs
# everything in one process (e.g. for ``--pdb``).
# ---------------------------------------------------------------------------------------
def pytest_xdist_auto_num_workers(config):
    return max(1, min(os.cpu_count() or 1, 4))


# Longest modules first (LPT scheduling): ``--dist loadgroup`` hands whole modules to the
# workers in collection order, so a long module collected last (test_sweep.py sorts late)
# would run alone at the end while the other workers idle. Relative cost of the heaviest
# modules, from ``pytest --durations=0`` on the 2-core box (December 2026, seconds under
# load; only their order matters); every other module keeps its place after them, and the
# tests inside a module keep their order.
_MODULE_COST = {
    "test_sweep.py": 500, "test_notebooks.py": 335, "test_methods_quadratic.py": 240,
    "test_methods_continuum.py": 230, "test_docs.py": 227, "test_thermodynamics.py": 203,
    "test_master_equation.py": 147, "test_validation.py": 136,
    "test_optimise_components.py": 125, "test_solve.py": 120, "test_optimise.py": 106,
    "test_transforms.py": 98, "test_drive.py": 98, "test_methods_pade.py": 94,
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: -_MODULE_COST.get(item.path.name, 0))  # stable sort
    # ``--dist loadgroup``: every module is one group (it runs whole in one worker, sharing
    # its fixtures and compilations), except the notebooks: each runs in its own process
    # anyway, so each is its own group and they spread over the workers
    for item in items:
        group = item.path.name
        if group == "test_notebooks.py" and hasattr(item, "callspec"):
            group = f"{group}[{item.callspec.id}]"
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_terminal_summary(terminalreporter):
    if _PEAK["module"] is not None:
        terminalreporter.write_line(
            f"memory mappings: peak {_PEAK['mappings']} at the end of {_PEAK['module']} "
            f"(vm.max_map_count = {_max_mappings()}; compiled programs are released after "
            "each module, tests/conftest.py)")


@pytest.fixture(scope="session")
def boson_pair():
    """Two coupled bosonic oscillators (tests/systems.py) on 96 finite modes per reservoir:
    (model, FiniteModes, the Discretised response, times); shared by the statistics and the
    master-equation tests (built once: its values are plain arrays). Imports inside: the
    package must not start JAX's backend before the configuration above."""
    import numpy as np
    from systems import two_oscillators

    import jaxtransport as jt
    from jaxtransport import statistics as st

    model = two_oscillators()
    disc = jt.Discretised(n_modes=96)
    times = np.linspace(0.0, 12.0, 25)
    fm = st.FiniteModes.from_model(model, disc)
    return model, fm, jt.response(model, times, method=disc), times
