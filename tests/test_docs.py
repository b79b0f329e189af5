"""The documentation (site and README.md): strict build, API coverage, docstring conventions,
runnable guides.

- ``mkdocs build --strict`` (MkDocs + Material + mkdocstrings + mkdocs-jupyter, the ``docs``
  extra) succeeds: a broken link, a missing cross-reference or a docstring warning fails it.
- Every name of ``jaxtransport.__all__`` and of each public submodule's ``__all__`` has an
  anchor in the built API reference, and a docstring that states its units (or says it is
  dimensionless) and, where it mentions a current or a heat, the sign convention (out of the
  reservoir). Docstrings are read by griffe, as the site renders them.
- The ``python`` code blocks of the how-to guides run, top to bottom per guide, in a fresh
  process with ``JAXTRANSPORT_SMOKE=1`` (the guides read it to shrink their sizes).
- The ``>>>`` examples in the package's docstrings run (doctest).
- The gallery shows every notebook and every figure of ``experiments/figures``.
- README.md: every Python code block runs as written (top to bottom, one fresh process, as a
  newcomer would paste them), its printed uphill window is a genuine one, its set-up commands
  are the two documented ones, and every file it links to or names exists.
- Every section of docs/theory.md that a file cites exists.
- Every test the pages cite (``tests/<file>.py::<test>``) exists.
- No file of the repository refers to a document outside it.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOWTO = [ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "how-to").glob("*.md"))]
PAGES = sorted((ROOT / "docs").rglob("*.md"))

def _load_pages_hook():
    spec = importlib.util.spec_from_file_location("docs_pages_hook",
                                                  ROOT / "docs" / "_hooks" / "pages.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _env(**extra):
    env = dict(os.environ, MPLBACKEND="Agg", NO_MKDOCS_2_WARNING="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("JAXTRANSPORT_DOCS_EXECUTE", None)  # notebooks: rendered from source here
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # the site's packages (the docs extra) are needed here only: the README's and the
    # docstrings' tests below run without them
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    pytest.importorskip("mkdocs_jupyter")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(out)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )
    return proc, out


def test_mkdocs_build_strict(site):
    proc, out = site
    warnings = [line for line in proc.stderr.splitlines()
                if line.startswith(("WARNING -", "ERROR -"))]
    assert proc.returncode == 0, ("mkdocs build --strict failed:\n" + "\n".join(warnings)
                                  + "\n" + proc.stderr[-4000:])
    assert (out / "index.html").is_file() and (out / "theory" / "index.html").is_file()
    for nb in sorted((ROOT / "notebooks").glob("[0-9]*.py")):
        assert (out / "gallery" / "notebooks" / nb.stem / "index.html").is_file(), nb.name


def _public_entries():
    hook = _load_pages_hook()
    return hook, hook.public_modules()


def test_every_public_name_is_in_the_api_reference(site):
    proc, out = site
    assert proc.returncode == 0, "the site did not build (see test_mkdocs_build_strict)"
    hook, mods = _public_entries()
    ids = set()
    for page in (out / "reference").rglob("index.html"):
        ids |= set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))
    objects = {}  # id(obj) -> the anchors of every path naming it
    for modname, mod in mods.items():
        for name in hook.public_names(mod):
            objects.setdefault(id(getattr(mod, name)), set()).add(f"{modname}.{name}")
    missing = []
    for modname, mod in mods.items():
        assert (out / "reference" / modname / "index.html").is_file(), f"no page for {modname}"
        for name in hook.public_names(mod):
            obj = getattr(mod, name)
            if hasattr(obj, "__path__") or type(obj).__name__ == "module":
                continue  # a module: it has its own page (checked above)
            if not objects[id(obj)] & ids:
                missing.append(f"{modname}.{name}")
    assert not missing, "public names without an entry in the API reference: " + ", ".join(
        missing)


UNITS = re.compile(r"(?i)\bunits?\b|dimensionless|ħ\s*=\s*k_B\s*=\s*1")
MENTIONS_FLOW = re.compile(r"(?i)\bcurrents?\b|\bheat\b")
SIGN = re.compile(r"(?i)\bout\s+of\b|\binto\b")


def _docstring_problems(doc: str | None) -> list[str]:
    if not doc or not doc.strip():
        return ["has no docstring"]
    problems = []
    if not UNITS.search(doc):
        problems.append("states no units (say e.g. 'Units: energy (ħ = k_B = 1)' or "
                        "'dimensionless')")
    if MENTIONS_FLOW.search(doc) and not SIGN.search(doc):
        problems.append("mentions a current or heat but not its sign convention (say "
                        "'out of the reservoir')")
    return problems


def _docstring(package, hook, path, obj):
    """The docstring the site renders for ``path`` (griffe: static, attribute docstrings too);
    the object's own ``__doc__`` when griffe cannot address the path (a module shadowed by a
    function of the same name, e.g. ``jaxtransport.response``)."""
    candidates = [path]
    if hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
        candidates.append(f"{obj.__module__}.{obj.__qualname__}")
    for candidate in candidates:
        if type(obj).__name__ == "module" and hook.shadowed(candidate):
            break
        rel = candidate.removeprefix(hook.PACKAGE).lstrip(".")
        try:
            g = package[rel] if rel else package
            g = g.final_target if g.is_alias else g
        except Exception:  # noqa: BLE001 - try the next candidate, then __doc__
            continue
        if (g.kind.value == "module") == (type(obj).__name__ == "module"):
            return g.docstring.value if g.docstring else None
    doc = getattr(obj, "__doc__", None)
    if isinstance(obj, type) and doc and doc.startswith(obj.__name__ + "("):
        return None  # the signature a dataclass writes when the class has no docstring
    if not (isinstance(obj, type) or callable(obj) or type(obj).__name__ == "module"):
        raise LookupError("not found by griffe and has no __doc__ of its own")
    return doc


def test_public_docstrings_state_units_and_signs():
    griffe = pytest.importorskip("griffe")
    hook, mods = _public_entries()
    package = griffe.load(hook.PACKAGE, search_paths=[str(ROOT)], resolve_aliases=False)
    seen, failures = set(), []
    for modname, mod in mods.items():
        for name in [None, *hook.public_names(mod)]:
            path = modname if name is None else f"{modname}.{name}"
            obj = mod if name is None else getattr(mod, name)
            if name is not None and type(obj).__name__ == "module":
                continue  # checked as a module of its own
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            try:
                doc = _docstring(package, hook, path, obj)
            except Exception as err:  # noqa: BLE001 - reported below, by name
                failures.append(f"{path}: griffe cannot resolve it ({err})")
                continue
            failures += [f"{path} {p}" for p in _docstring_problems(doc)]
    assert not failures, (f"{len(failures)} docstring problem(s) in the public API:\n  "
                          + "\n  ".join(failures))


def test_docstring_rules_detect_what_is_missing():
    assert _docstring_problems(None) == ["has no docstring"]
    assert _docstring_problems("Energy in units of h.") == []
    assert _docstring_problems("A ratio (dimensionless).") == []
    assert len(_docstring_problems("Heat current of each reservoir.")) == 2
    assert len(_docstring_problems("Heat current, units of energy rate.")) == 1
    assert _docstring_problems("Heat current out of each reservoir (units ħ = k_B = 1).") == []


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"),
                      flags=re.S | re.M)


# pages whose blocks compile whole optimisations or Continuum stage 1s (~1 min each on 2
# cores): `-m slow`; the same calls are checked in the default suite by test_optimise.py,
# test_methods_continuum.py and test_cli.py, and the other pages' blocks run here
_SLOW_HOWTO = {"how-to/optimise.md", "how-to/accuracy.md", "how-to/cli.md"}


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.slow) if str(p.relative_to(ROOT / "docs")) in _SLOW_HOWTO
    else p for p in HOWTO], ids=[str(p.relative_to(ROOT / "docs")) for p in HOWTO])
def test_howto_code_blocks_run(path, tmp_path):
    blocks = _python_blocks(path)
    if not blocks:
        pytest.skip(f"{path.relative_to(ROOT)} has no python code blocks")
    script = tmp_path / f"{path.stem}.py"
    script.write_text("\n\n".join(f"# --- block {i + 1}\n{b}" for i, b in enumerate(blocks)),
                      encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                          env=_env(JAXTRANSPORT_SMOKE="1"), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (f"a python block of {path.relative_to(ROOT)} failed:\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


def _doctest_modules() -> list[str]:
    import jaxtransport

    names = ["jaxtransport"]
    for info in pkgutil.walk_packages(jaxtransport.__path__, "jaxtransport."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [n for n in names
            if any(t.examples for t in finder.find(importlib.import_module(n), n))]


DOCTEST_MODULES = _doctest_modules()


def test_docstrings_have_examples():
    assert DOCTEST_MODULES, "no docstring of jaxtransport has a >>> example"


@pytest.mark.parametrize("modname", DOCTEST_MODULES)
def test_docstring_examples_run(modname, monkeypatch, tmp_path):
    """The ``>>>`` examples of the docstrings (module, classes, functions, methods) run and
    print what they show (doctest, ELLIPSIS and NORMALIZE_WHITESPACE)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JAXTRANSPORT_SMOKE", "1")
    mod = importlib.import_module(modname)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    out, unsectioned = [], []
    for test in doctest.DocTestFinder(exclude_empty=True).find(mod, modname):
        if test.examples and not re.search(r"^\s*Examples?:\s*$", test.docstring or "",
                                           flags=re.M):
            unsectioned.append(test.name)
        runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
    assert not unsectioned, ("put the >>> examples under an 'Examples:' line (mkdocstrings "
                             "renders them as code only there): " + ", ".join(unsectioned))


def test_gallery_shows_every_figure_and_notebook():
    text = (ROOT / "docs" / "gallery" / "index.md").read_text(encoding="utf-8")
    figures = sorted((ROOT / "experiments" / "figures").glob("*.png"))
    notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
    assert figures and notebooks
    missing = [f"figures/{p.name}" for p in figures if f"(figures/{p.name})" not in text]
    missing += [f"notebooks/{p.name}" for p in notebooks if f"(notebooks/{p.name})" not in text]
    assert not missing, "docs/gallery/index.md does not show: " + ", ".join(missing)


def test_references_to_theory_sections_exist():
    """Code, tests and notebooks cite ``docs/theory.md, "Section"``: that heading must exist
    (case-insensitive; the cited text may be the start of a longer heading)."""
    headings = [h.strip().lower() for h in re.findall(
        r"^#{2,4} (.+)$", (ROOT / "docs" / "theory.md").read_text(encoding="utf-8"), flags=re.M)]
    bad, n = [], 0
    for path in _repository_files():
        if (path.suffix not in (".py", ".md", ".toml") or not path.is_file()
                or path == Path(__file__).resolve()):
            continue
        text = re.sub(r"\s*\n\s*#?\s*", " ", path.read_text(encoding="utf-8"))
        for ref in re.findall(r'docs/theory\.md`*,?\s*\(?"([^"]{1,80})"', text):
            n += 1
            if not any(h.startswith(ref.strip().lower()) for h in headings):
                bad.append(f"{path.relative_to(ROOT)}: \"{ref}\"")
    assert n > 0
    assert not bad, ("references to sections that docs/theory.md does not have:\n  "
                     + "\n  ".join(bad))


def test_tests_named_in_the_docs_exist():
    """Pages cite the test that validates each result as ``tests/<file>.py::<test>``."""
    missing, n = [], 0
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for file, name in re.findall(r"(tests/[\w/]+\.py)(?:::(\w+))?", text):
            n += 1
            path = ROOT / file
            if not path.is_file():
                missing.append(f"{page.relative_to(ROOT)}: {file} does not exist")
            elif name and not re.search(rf"^\s*def {name}\(", path.read_text(encoding="utf-8"),
                                        flags=re.M):
                missing.append(f"{page.relative_to(ROOT)}: {file} has no test {name}")
    assert n > 0
    assert not missing, "the docs cite tests that do not exist:\n  " + "\n  ".join(missing)


# Patterns split so that this file does not match them itself.
OUTSIDE = re.compile("phys" + r"ics\.md|\.\./" + "shared|/work/" + "shared|" + "design" + r"\.md|"
                     + "style-" + r"anchors\.md")


def _repository_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
        return [ROOT / p for p in out.stdout.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".venv-ci", "site", ".cache", "__pycache__"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)]


def test_no_file_refers_to_a_document_outside_the_repository():
    hits = []
    for path in _repository_files():
        if not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:100]}")
    assert not hits, ("files refer to documents outside the repository (point to "
                      "docs/theory.md instead):\n  " + "\n  ".join(hits))


def _toml_blocks():
    blocks = []
    for page in PAGES:
        for text in re.findall(r"^```toml\n(.*?)^```", page.read_text(encoding="utf-8"),
                               flags=re.S | re.M):
            first = text.splitlines()[0].strip() if text.strip() else ""
            if first in ("# jaxtransport sweep", "# jaxtransport optimise"):
                blocks.append(pytest.param(first.split()[-1], text,
                                           id=f"{page.stem}-{first.split()[-1]}-{len(blocks)}"))
    return blocks


@pytest.mark.parametrize("command,text", _toml_blocks())
def test_toml_examples_are_valid(command, text):
    """The TOML blocks of the pages marked ``# jaxtransport sweep|optimise`` are accepted by
    the library's parser and build a sweep / an optimisation (no evaluation)."""
    import tomllib

    from jaxtransport import config as cfgmod

    if command == "sweep":
        cfgmod.build_sweep(cfgmod.loads(text, "docs"))
    else:
        from jaxtransport.optimise import config as ocfg

        ocfg.build(ocfg.validate(tomllib.loads(text)))


# ---- the README: its code blocks run, its set-up commands, the files it names ----
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
