"""Notebook sources (jupytext py:percent) run top to bottom in reduced mode, so they cannot rot."""

import runpy
from pathlib import Path

import matplotlib
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.setenv("JAXTRANSPORT_SMOKE", "1")
    ns = runpy.run_path(str(path), run_name="__main__")
    # the quickstart's claims: a reversal window exists and depends on the preparation
    if path.stem == "01_quickstart":
        assert ns["reversal_windows"](ns["times"], ns["sol"].heat_current[:, 0])
        q = ns["q_min"]
        assert q.max() - q.min() > 1e-3


def test_there_are_notebooks():
    assert NOTEBOOKS
