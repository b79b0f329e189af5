"""experiments/: every config file is valid for its script (unknown keys rejected by name), and
every experiment's ``--quick`` run writes its figure (PNG + PDF) and NetCDF data (slow:
30-60 s of CPU each; ``pytest -m slow tests/test_experiments.py``)."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
NAMES = sorted(p.stem for p in EXPERIMENTS.glob("*.py") if not p.stem.startswith("_"))


@pytest.fixture(scope="module")
def experiment_modules():
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        yield {name: importlib.import_module(name) for name in NAMES}
    finally:
        sys.path.remove(str(EXPERIMENTS))


def test_there_are_experiments():
    assert {"reversal_maps", "optimal_preparations", "heat_cumulants", "scaling"} <= set(NAMES)


def test_configs_are_valid_and_unknown_keys_are_rejected(experiment_modules, tmp_path):
    common = importlib.import_module("_experiment")
    load_config, merge = common.load_config, common.merge
    for name, mod in experiment_modules.items():
        full = load_config(name, mod.DEFAULTS, None, quick=False)
        quick = load_config(name, mod.DEFAULTS, None, quick=True)
        assert set(full) == set(mod.DEFAULTS) and set(quick) == set(mod.DEFAULTS)
        assert (EXPERIMENTS / "configs" / f"{name}.toml").exists()
    with pytest.raises(ValueError, match="unknown config key 'a.c'"):
        merge({"a": {"b": 1}}, {"a": {"c": 2}})
    with pytest.raises(ValueError, match="must be a table"):
        merge({"a": {"b": 1}}, {"a": 3})
    bad = tmp_path / "bad.toml"
    bad.write_text("[quick]\ntypo = 1\n")
    with pytest.raises(ValueError, match="unknown config key 'quick.typo'"):
        load_config("scaling", experiment_modules["scaling"].DEFAULTS, str(bad), quick=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_quick_run_writes_figure_and_data(name, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(EXPERIMENTS / f"{name}.py"), "--quick", "--out",
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for suffix in (".png", ".pdf"):
        assert (tmp_path / f"{name}{suffix}").stat().st_size > 0
    assert (tmp_path / f"{name}_quick.nc").stat().st_size > 0
