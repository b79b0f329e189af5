"""Sweep stores (jaxtransport.storage) under fault injection: SIGKILL during template
creation and during a chunk write, resume with another chunk size, deleted / truncated /
bit-flipped chunk files, tampered markers. Each ends repaired by a resume (the store equals an
uninterrupted run, every status 0) or refused with the damaged chunks named; NetCDF and the
summary only on a complete store.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

import jaxtransport as jt
from jaxtransport.cli import main
from jaxtransport.storage import StoreError, SweepStore
from jaxtransport.sweep import run_sweep

TESTS = Path(__file__).parent
VARS = ("min_heat_current", "reversed_heat", "heat_current", "status")

SPEC_CODE = """
import numpy as np
import jaxtransport as jt
from jaxtransport.sweep import Sweep
from systems import single_level

def make_spec():
    return Sweep.grid(single_level(), np.linspace(0.0, 2.0, 5),
                      temperature={0: [1.0, 1.25, 1.5, 1.75]},
                      initial_states=[np.eye(1), np.zeros((1, 1))],
                      observables=("min_heat_current", "reversed_heat", "heat_current"),
                      method=jt.Continuum(tolerance=1e-6))
"""
namespace: dict = {}
exec(SPEC_CODE, namespace)  # noqa: S102 - the same spec here and in the killed subprocesses
make_spec = namespace["make_spec"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    res = run_sweep(make_spec(), path, chunk_size=2, progress=False)
    assert res.n_chunks == 4 and res.complete and not res.damaged
    return _load(path)


def _load(path):
    return xr.open_zarr(path, consolidated=False).load()


def _assert_equal_to(reference, path):
    got = _load(path)
    for name in VARS:
        np.testing.assert_array_equal(got[name].values, reference[name].values)
    assert (got.status.values == 0).all()
    assert Path(path).with_suffix(".nc").exists()  # exported once complete


def _chunk_files(path, var, c):
    """The Zarr chunk file(s) of variable ``var`` holding leading-axis chunk ``c``."""
    files = sorted((Path(path) / var / "c" / str(c)).rglob("*"))
    files = [f for f in files if f.is_file()]
    assert files, f"no chunk file for {var} chunk {c}"
    return files


def _complete_store(tmp_path, name="s.zarr"):
    path = tmp_path / name
    run_sweep(make_spec(), path, chunk_size=2, progress=False)
    return path


@pytest.mark.parametrize("damage", ["delete", "truncate", "bitflip"])
def test_damaged_chunk_file_is_named_and_recomputed(reference, tmp_path, damage):
    path = _complete_store(tmp_path)
    for f in _chunk_files(path, "heat_current", 2):
        data = f.read_bytes()
        if damage == "delete":
            f.unlink()
        elif damage == "truncate":
            f.write_bytes(data[: len(data) // 2])
        else:
            k = len(data) // 2
            f.write_bytes(data[:k] + bytes([data[k] ^ 0x10]) + data[k + 1:])
    res = run_sweep(make_spec(), path, resume=True, chunk_size=2, progress=False)
    assert list(res.damaged) == [2] and res.computed_chunks == [2], res.report()
    assert "chunk 2 was damaged" in res.report() and "recomputed" in res.report()
    _assert_equal_to(reference, path)


def test_status_chunk_damage_and_tampered_marker(reference, tmp_path):
    path = _complete_store(tmp_path)
    for f in _chunk_files(path, "status", 0):
        f.unlink()  # would read back as -1 (not computed) under a "done" marker
    marker = Path(str(path) + ".progress") / "chunk-00000003.done"
    marker.write_text(marker.read_text().replace('"rows": [3, 4]', '"rows": [3, 5]'))
    res = run_sweep(make_spec(), path, resume=True, chunk_size=2, progress=False)
    assert sorted(res.damaged) == [0, 3]
    assert "status" in res.damaged[0] and "rows" in res.damaged[3]
    _assert_equal_to(reference, path)


def test_verify_command_names_and_repairs(reference, tmp_path, capsys):
    path = tmp_path / "v.zarr"
    cfg = tmp_path / "v.toml"
    cfg.write_text(VERIFY_TOML)
    assert main(["sweep", str(cfg), "--out", str(path), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["sweep", "verify", str(path)]) == 0  # intact
    assert "2 of 2 chunks verified" in capsys.readouterr().out
    for f in _chunk_files(path, "reversed_heat", 1):
        f.write_bytes(b"garbage")
    assert main(["sweep", "verify", str(path), "--no-repair"]) == 1
    out = capsys.readouterr().out
    assert "chunk 1: damaged" in out
    assert main(["sweep", "verify", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "chunk 1: damaged" in out and "recomputed chunks 1" in out
    assert main(["sweep", "verify", str(path)]) == 0
    assert "2 of 2 chunks verified" in capsys.readouterr().out


VERIFY_TOML = """
[model]
hamiltonian = [[0.5]]
[[reservoirs]]
temperature = 1.5
coupling = [1.0]
spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0 }
[[reservoirs]]
temperature = 0.5
coupling = [1.0]
spectral_density = { kind = "lorentzian", gamma = 0.5, width = 2.0 }
[times]
stop = 2.0
num = 5
[method]
tolerance = 1e-6
[sweep]
observables = ["min_heat_current", "reversed_heat"]
[sweep.temperature]
"0" = [1.0, 1.75]      # the range of make_spec(): the same quadrature plan (cached)
[run]
chunk_size = 1
"""


def test_resume_with_another_chunk_size_uses_the_stores(reference, tmp_path):
    path = tmp_path / "c.zarr"
    part = run_sweep(make_spec(), path, chunk_size=2, progress=False, _stop_after=1)
    assert not part.complete and part.best is None
    assert "incomplete store: 1 of 4 chunks done" in part.report()
    assert not path.with_suffix(".nc").exists()  # no export of a partial store
    res = run_sweep(make_spec(), path, resume=True, chunk_size=6, progress=False)
    assert "using the store's chunk boundaries" in res.report()
    assert res.computed_chunks == [1, 2, 3] and res.complete
    _assert_equal_to(reference, path)


def test_incomplete_template_is_refused_with_a_message(tmp_path):
    path = tmp_path / "t.zarr"
    zarr.open_group(str(path), mode="w-")  # what an older, killed creation left
    with pytest.raises(StoreError, match="not a complete sweep store"):
        run_sweep(make_spec(), path, resume=True, progress=False)
    store = SweepStore(tmp_path / "never.zarr", make_spec(), 1)
    t0 = time.time()
    with pytest.raises(StoreError, match="process 0 .* has not run or was killed"):
        store.open_or_create(resume=True, create=False, wait=0.5)
    assert time.time() - t0 < 10


def _killed_run(tmp_path, patch, ready):
    """Run the sweep in a subprocess with ``patch`` applied, SIGKILL it once ``ready()``."""
    script = tmp_path / "victim.py"
    script.write_text(SPEC_CODE + textwrap.dedent(f"""
        import sys, time
        from jaxtransport import storage
        from jaxtransport.sweep import run_sweep
        {textwrap.indent(textwrap.dedent(patch), "        ").strip()}
        run_sweep(make_spec(), sys.argv[1], chunk_size=2, progress=False)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(TESTS)]))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "k.zarr")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not ready() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return tmp_path / "k.zarr"


def test_sigkill_during_template_creation(reference, tmp_path):
    patch = """
        import zarr
        _orig = zarr.Group.create_array
        def slow(self, *a, **k):
            out = _orig(self, *a, **k)
            time.sleep(600)
            return out
        zarr.Group.create_array = slow
    """
    path = _killed_run(tmp_path, patch, lambda: any(tmp_path.glob("k.zarr.partial-*")))
    assert not path.exists()  # the template appears only complete (atomic rename)
    res = run_sweep(make_spec(), path, resume=True, chunk_size=2, progress=False)
    assert res.complete and not any(tmp_path.glob("k.zarr.partial-*"))
    _assert_equal_to(reference, path)


def test_torn_chunk_write_without_marker_is_recomputed(reference, tmp_path):
    """What a kill between a chunk's data and its marker leaves (fast, in-process twin of
    the SIGKILL test below): half-written data, no marker."""
    path = tmp_path / "torn.zarr"
    run_sweep(make_spec(), path, chunk_size=2, progress=False, _stop_after=1)
    group = zarr.open_group(str(path), mode="r+")
    group["min_heat_current"][1:2] = 123.0  # torn: one variable of chunk 1, no marker
    res = run_sweep(make_spec(), path, resume=True, chunk_size=2, progress=False)
    assert res.computed_chunks == [1, 2, 3] and res.complete
    _assert_equal_to(reference, path)


@pytest.mark.slow  # a subprocess computes stage 1 before it is killed (~20-60 s)
def test_sigkill_during_a_chunk_write(reference, tmp_path):
    patch = """
        _orig = storage.SweepStore.write_chunk
        def torn(self, c, out, status):
            if c == 1:  # half of the chunk's variables on disk, no marker
                import zarr
                g = zarr.open_group(str(self.path), mode="r+")
                g["min_heat_current"][1:2] = 123.0
                open(str(self.path) + ".torn", "w").close()
                time.sleep(600)
            return _orig(self, c, out, status)
        storage.SweepStore.write_chunk = torn
    """
    path = _killed_run(tmp_path, patch, lambda: Path(str(tmp_path / "k.zarr") + ".torn").exists())
    store = SweepStore(path, make_spec(), 1)
    assert [c for c in range(4) if store.is_done(c)] == [0]
    res = run_sweep(make_spec(), path, resume=True, chunk_size=2, progress=False)
    assert res.computed_chunks == [1, 2, 3] and res.complete
    _assert_equal_to(reference, path)


def test_store_records_checksums_and_chunking(reference, tmp_path):
    path = _complete_store(tmp_path)
    group = zarr.open_group(str(path), mode="r")
    assert group.attrs["rows_per_chunk"] == 1
    assert "3 temperature or chemical potential" in group.attrs["status_codes"]
    store = SweepStore(path, make_spec(), 1)
    assert store.verify(repair=False) == {}
    assert jt.__version__ == group.attrs["jaxtransport_version"]
