"""README.md: every Python code block runs as written (top to bottom, one fresh process, as a
newcomer would paste them), its printed uphill window is a genuine one, and every file the
README links to or names exists in the repository."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_blocks_run_as_written(tmp_path):
    blocks = _blocks("python")
    assert len(blocks) >= 3
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    m = re.search(r"heat flows from cold to hot during t in \[([\d.]+), ([\d.]+)\]; heat moved "
                  r"uphill Q_up = ([\d.e-]+)", out)
    assert m, out  # the quickstart prints a non-empty genuine window
    a, b, q = (float(x) for x in m.groups())
    assert 1.0 < a < b < 3.5 and q > 0.02


def test_set_up_commands_are_the_two_documented_ones():
    shell = _blocks("bash")
    assert shell[0].strip().splitlines() == [
        "pip install -e . && jaxtransport demo",
        'pip install -e ".[test]" && pytest',
    ]


def test_referenced_files_exist():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    named = re.findall(r"`((?:docs|experiments|notebooks|jaxtransport|tests)/[^`\s]+)`", README)
    missing = [p for p in links + named
               if not p.startswith("http") and not (ROOT / p).exists()]
    assert not missing, missing
