"""MkDocs hook: the API reference generated from ``__all__`` and the gallery's notebooks.

Every public module of ``jaxtransport`` gets one page under ``reference/``: the package itself,
each module named in ``jaxtransport.__all__`` and every other public module (no leading
underscore in its dotted path) that defines ``__all__``. Each name of a module's ``__all__`` is
rendered once, by mkdocstrings, on the first page that lists it (the package page first); later
pages link to that entry. A name added to an ``__all__`` therefore appears without editing the
docs. ``tests/test_docs.py`` imports this file to check the same list against the built site.

The notebooks (jupytext ``py:percent`` sources in ``notebooks/``, reached through the symbolic
link ``docs/gallery/notebooks``, rendered by mkdocs-jupyter) and the experiments' figures are
taken from where they live, so nothing is copied into ``docs/``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "jaxtransport"


def public_modules() -> dict[str, ModuleType]:
    """Public modules by dotted name, the package first, then in sorted order."""
    pkg = importlib.import_module(PACKAGE)
    listed = {f"{PACKAGE}.{n}" for n in pkg.__all__
              if inspect.ismodule(getattr(pkg, n, None))}
    mods = {}
    for info in pkgutil.walk_packages(pkg.__path__, PACKAGE + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        mod = importlib.import_module(info.name)
        if hasattr(mod, "__all__") or info.name in listed:
            mods[info.name] = mod
    return {PACKAGE: pkg, **dict(sorted(mods.items()))}


def public_names(mod: ModuleType) -> list[str]:
    """``mod.__all__``; for a listed module without one, the classes and functions it defines."""
    if hasattr(mod, "__all__"):
        return list(mod.__all__)
    return sorted(n for n, obj in vars(mod).items()
                  if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
                  and getattr(obj, "__module__", None) == mod.__name__)


def reference_entries() -> dict[str, list[tuple[str, str, str]]]:
    """Per module: ``(name, kind, target)`` with kind ``"render"`` (document ``target`` here),
    ``"link"`` (documented at ``target``) or ``"module"`` (a module: its page)."""
    mods = public_modules()
    first: dict[int, str] = {}
    out = {}
    for modname, mod in mods.items():
        rows = []
        for name in public_names(mod):
            obj = getattr(mod, name)
            path = f"{modname}.{name}"
            if inspect.ismodule(obj):
                rows.append((name, "module", obj.__name__))
            elif id(obj) in first:
                rows.append((name, "link", first[id(obj)]))
            else:
                first[id(obj)] = path
                rows.append((name, "render", path))
        out[modname] = rows
    return out


def page_path(modname: str) -> str:
    return f"reference/{modname}.md"


def shadowed(modname: str) -> bool:
    """True when the package attribute of that name is not the module (``jaxtransport.response``
    is the function ``jt.response``, not the subpackage): mkdocstrings cannot address it."""
    parent, _, last = modname.rpartition(".")
    return bool(parent) and not inspect.ismodule(
        getattr(importlib.import_module(parent), last, None))


def _page(modname: str, rows) -> str:
    lines = [f"# `{modname}`", ""]
    if shadowed(modname):
        doc = inspect.getdoc(importlib.import_module(modname)) or ""
        lines += [doc.replace("``", "`"), ""]
    else:
        lines += [f"::: {modname}", "    options:", "      members: false",
                  "      show_root_heading: false", ""]
    links = [r for r in rows if r[1] != "render"]
    if links:
        lines += ["Also public here:", ""]
        for name, kind, target in links:
            if kind == "module":
                lines.append(f"- [`{name}`]({target}.md): module")
            else:
                lines.append(f"- `{name}`: documented as [`{target}`][{target}]")
        lines.append("")
    for _name, kind, target in rows:
        if kind == "render":
            lines += [f"::: {target}", ""]
    return "\n".join(lines)


def _index(entries) -> str:
    lines = ["# API reference", "",
             "Generated from the `__all__` of each public module. Units ħ = k_B = 1; every "
             "current and heat is **out of** the reservoir it names; C_ij = ⟨a_j† a_i⟩ "
             "(see [Conventions](../theory.md#conventions)).", "",
             "| module | public names |", "| --- | --- |"]
    for modname, rows in entries.items():
        lines.append(f"| [`{modname}`]({modname}.md) | {len(rows)} |")
    return "\n".join(lines) + "\n"


def on_files(files, config):
    from mkdocs.structure.files import File

    entries = reference_entries()
    files.append(File.generated(config, "reference/index.md", content=_index(entries)))
    for modname, rows in entries.items():
        files.append(File.generated(config, page_path(modname), content=_page(modname, rows)))
    for fig in sorted((ROOT / "experiments" / "figures").glob("*.png")):
        files.append(File.generated(config, f"gallery/figures/{fig.name}",
                                    abs_src_path=str(fig)))
    return files


def on_config(config):
    """Nav entries for the generated pages (the reference and the notebooks)."""
    entries = reference_entries()
    notebooks = [{nb.stem.split("_", 1)[1].replace("_", " ").capitalize():
                  f"gallery/notebooks/{nb.name}"}
                 for nb in sorted((ROOT / "notebooks").glob("[0-9]*.py"))]
    reference = ["reference/index.md"] + [{m: page_path(m)} for m in entries]
    for item in config["nav"]:
        if isinstance(item, dict) and "API reference" in item:
            item["API reference"] = reference
        if isinstance(item, dict) and "Gallery" in item:
            item["Gallery"] = ["gallery/index.md", {"Notebooks": notebooks}]
    return config
