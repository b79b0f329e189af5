"""The notebooks (jupytext py:percent sources in notebooks/) run top to bottom in reduced mode
(JAXTRANSPORT_SMOKE=1), so they cannot rot.

Each source is converted to .ipynb with jupytext in a temporary directory and executed by
nbmake (``pytest --nbmake``) in a subprocess, the way a reader's Jupyter would run it. The
notebooks ``assert`` their own key claims (e.g. that a reversal window exists and depends on
the preparation), so a changed result fails here too.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
TIMEOUT_S = 300  # per notebook (whole smoke set: ~2-3 min on 2 cores)


def test_there_are_notebooks():
    expected = {"01_quickstart", "02_transient_reversal", "03_optimal_preparations",
                "04_heat_statistics", "05_bosons", "06_strong_coupling_and_non_markovianity"}
    assert expected <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_with_nbmake(path, tmp_path):
    jupytext = pytest.importorskip("jupytext")
    pytest.importorskip("nbmake")
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    target = tmp_path / f"{path.stem}.ipynb"
    jupytext.write(nb, target)
    env = dict(os.environ, JAXTRANSPORT_SMOKE="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", f"--nbmake-timeout={TIMEOUT_S}", "-q",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(target)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S + 120,
    )
    assert proc.returncode == 0, f"{path.name} failed under nbmake:\n{proc.stdout[-6000:]}\n" \
                                 f"{proc.stderr[-2000:]}"
