"""Shared helpers for the benchmark scripts: environment info, timing, JSON output.

Timing rules: every measured call ends with ``jax.block_until_ready`` on its result (JAX
dispatch is asynchronous); "warm" timings run ``warmup`` untimed calls first and report the
minimum and median of ``repeat`` timed calls. The machine load average is recorded because
these CPU timings are only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _git(*args) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def env_info() -> dict:
    """Device, library versions and machine state at the time of the run."""
    import jaxlib

    try:
        import jaxtransport

        jt_version = jaxtransport.__version__
    except ImportError:  # pragma: no cover
        jt_version = None
    dev = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "jaxtransport": jt_version,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "device": str(dev),
        "device_kind": getattr(dev, "device_kind", None),
        "n_devices": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "x64": bool(jax.config.jax_enable_x64),
        "load_average_1_5_15": list(os.getloadavg()),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty_files": len((_git("status", "--porcelain") or "").splitlines()),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def timed(fn, *args, **kwargs):
    """(result, seconds) of one call, including ``block_until_ready`` on the result."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - t0


def bench(fn, *args, warmup: int = 1, repeat: int = 5, **kwargs) -> dict:
    """Warm timing: ``warmup`` untimed calls, then min/median over ``repeat`` timed calls, of
    the wall clock and of this process's CPU time (``cpu_*``: all its threads; less sensitive
    to other processes on a shared machine than the wall clock)."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args, **kwargs))
    ts, cpu = [], []
    for _ in range(repeat):
        c0 = time.process_time()
        ts.append(timed(fn, *args, **kwargs)[1])
        cpu.append(time.process_time() - c0)
    return {"min_s": min(ts), "median_s": statistics.median(ts), "repeat": repeat,
            "cpu_min_s": min(cpu), "cpu_median_s": statistics.median(cpu)}


def max_abs_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic | np.ndarray | jax.Array):
        arr = np.asarray(x)
        return _jsonable(arr.item() if arr.ndim == 0 else arr.tolist())
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)  # NaN/inf are not valid JSON
    return x


def report(name: str, result: dict) -> Path:
    """Print ``result`` as one JSON object and write it to experiments/results/<name>.json."""
    text = json.dumps(_jsonable(result), indent=2)
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(text + "\n")
    print(f"wrote {path}")
    return path
