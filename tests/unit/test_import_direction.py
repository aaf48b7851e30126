"""The direction of imports in src/estiba (ARCHITECTURE.md, "Rules of direction"),
checked by scanning the source: every import counts, inside functions and
TYPE_CHECKING blocks too.

To add a package, add one line to LAYERS.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "estiba"

# Top-level package (or module) of estiba -> layer. A module may import its own layer
# or lower ones.
LAYERS = {
    "errors": 0,
    "oci": 0,
    "units": 0,
    "signals": 0,
    "kernel": 1,
    "cgroups": 2,
    "content": 2,
    "metadata": 2,
    "mounts": 2,
    "runtime": 3,
    "snapshots": 3,
    "images": 3,
    "distribution": 3,
    "core": 4,
    "network": 4,
    "volumes": 4,
    "build": 4,
    "shim": 4,
    "engine": 5,
    "api": 6,
    "cli": 6,
    "client": 6,
    "dashboard": 6,
    "compose": 6,
    "daemon": 6,
}

# Packages that may import nothing of estiba but these, whatever their layer allows.
ONLY = {
    "errors": set(),
    "units": set(),
    "signals": {"errors"},
    "oci": {"oci", "errors"},
}

# Imports a layer allows that the architecture still forbids.
FORBIDDEN = {
    # storage and execution meet only through Mount records and a rootfs path
    "runtime": {"content", "images", "snapshots"},
    # the core drives runtimes through their command line (the OCI runtime CLI contract)
    "core": {"runtime"},
    # front ends talk HTTP to the daemon through client/, never to the core
    "cli": {"core", "engine"},
    "compose": {"core", "engine"},
    "dashboard": {"core", "engine"},
}

# Modules allowed an import their package is forbidden, and why.
EXCEPTIONS = {
    # the faster path for estiba's own runtime, behind the same contract: its start and
    # delete run in the daemon (core.runtimes.InProcessEstiba)
    "estiba.core.runtimes": {"runtime"},
}

# The composition root: nothing else imports it.
NOT_IMPORTED = {"daemon"}

# The one package that may call the kernel through ctypes.
CTYPES_ALLOWED = {"kernel"}


def modules(src: Path = SRC) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module under src."""
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(name: str, path: Path, src: Path = SRC) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in a module, relative ones resolved.

    ``from estiba import kernel`` yields ``estiba.kernel`` (a name imported from the root
    package may be a package of its own); ``from estiba import __version__`` yields
    ``estiba``.
    """
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module != "estiba":
                yield node.lineno, module
                continue
            for alias in node.names:
                sub = alias.name
                is_module = sub in LAYERS or (src / sub).is_dir() or (src / f"{sub}.py").exists()
                yield node.lineno, f"estiba.{sub}" if is_module else "estiba"


def top(module: str) -> str | None:
    """The estiba package a module belongs to (``estiba.oci.state`` -> ``oci``); ""
    for the root package ``estiba`` itself; None outside estiba."""
    parts = module.split(".")
    if parts[0] != "estiba":
        return None
    return parts[1] if len(parts) > 1 else ""


def violations(src: Path = SRC) -> list[str]:
    found = []
    for name, path in modules(src):
        where = top(name)
        for line, target in imports(name, path, src):
            place = f"{path.relative_to(src.parent)}:{line}: {name} imports {target}"
            dest = top(target)
            if target.split(".")[0] in ("ctypes", "_ctypes") and where not in CTYPES_ALLOWED:
                found.append(f"{place}: only estiba/kernel/ may import ctypes")
            if dest is None or dest == where:
                continue
            if where == "":
                found.append(f"{place}: the root package imports nothing of estiba")
                continue
            if dest in NOT_IMPORTED:
                found.append(f"{place}: nothing imports {dest}, the composition root")
            if where in ONLY and dest not in ONLY[where]:
                allowed = ", ".join(sorted(ONLY[where])) or "nothing"
                found.append(f"{place}: {where} may import {allowed} of estiba")
                continue
            if dest == "":
                continue  # ``import estiba`` (its __version__) is allowed from any layer
            if dest not in LAYERS:
                found.append(f"{place}: {dest} is not in LAYERS")
            elif where in LAYERS and LAYERS[dest] > LAYERS[where]:
                found.append(f"{place}: layer {LAYERS[where]} ({where}) imports layer "
                             f"{LAYERS[dest]} ({dest})")
            if dest in FORBIDDEN.get(where, ()) and dest not in EXCEPTIONS.get(name, ()):
                found.append(f"{place}: {where} never imports {dest}")
    return found


def test_every_package_has_a_layer() -> None:
    unknown = sorted(
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__")
        or (p.is_dir() and any(p.rglob("*.py")))
        if (p.stem if p.is_file() else p.name) not in LAYERS
    )
    assert not unknown, f"add these to LAYERS in {Path(__file__).name}: {unknown}"


def test_imports_follow_the_layers() -> None:
    found = violations()
    assert not found, "\n".join(found)


def test_packages_have_no_cycles() -> None:
    """No two estiba packages import each other, directly or through others."""
    graph: dict[str, set[str]] = {}
    for name, path in modules():
        where = top(name)
        if not where:
            continue
        for _, target in imports(name, path):
            dest = top(target)
            if dest and dest != where:
                graph.setdefault(where, set()).add(dest)

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for nxt in graph.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    cycles = sorted(p for p in graph if p in reach(p))
    assert not cycles, f"packages in an import cycle: {cycles}"


def test_packages_say_what_they_own() -> None:
    missing = sorted(
        str(init.relative_to(SRC.parent))
        for init in SRC.rglob("__init__.py")
        if not ast.get_docstring(ast.parse(init.read_text()))
    )
    assert not missing, f"__init__.py without a docstring: {missing}"


# --- the scanner itself ------------------------------------------------------------


def _scan(tmp_path: Path, files: dict[str, str]) -> list[str]:
    src = tmp_path / "estiba"
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return violations(src)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"oci/x.py": "from estiba.oci import record\nfrom estiba.errors import E\n"}, []),
        ({"oci/x.py": "from estiba.kernel import syscalls\n"}, ["oci may import errors, oci"]),
        ({"errors.py": "from estiba.oci import record\n"}, ["errors may import nothing"]),
        ({"kernel/x.py": "def f():\n    from estiba.runtime import cli\n"},
         ["layer 1 (kernel) imports layer 3 (runtime)"]),
        ({"runtime/x.py": "from ..cgroups import v2\nfrom ..kernel import mount\n"}, []),
        ({"runtime/x.py": "from ..snapshots import overlay\n"},
         ["runtime never imports snapshots"]),
        ({"runtime/x.py": "import ctypes\n"}, ["only estiba/kernel/ may import ctypes"]),
        ({"kernel/x.py": "import ctypes.util\n"}, []),
        ({"api/x.py": "from estiba import daemon\n"}, ["nothing imports daemon"]),
        ({"cli/x.py": "from estiba.core import tasks\n"}, ["cli never imports core"]),
        ({"widgets/x.py": "from estiba.oci import x\n"}, []),
        ({"oci/x.py": "from estiba.widgets import x\n"}, ["oci may import"]),
        ({"kernel/x.py": "from estiba.widgets import x\n"}, ["widgets is not in LAYERS"]),
        ({"kernel/a/b.py": "from ... import errors\nfrom ...oci import state\n"}, []),
        ({"kernel/a/__init__.py": "from .. import mounts\n"}, []),
        ({"kernel/a/__init__.py": "from ...runtime import cli\n"}, ["layer 1 (kernel)"]),
        ({"runtime/x.py": "from estiba import __version__, kernel\n"}, []),
        ({"__init__.py": "from estiba.oci import state\n"}, ["the root package imports"]),
    ],
    ids=lambda v: next(iter(v.values())).strip().replace("\n", "; ") if isinstance(v, dict)
    else None,
)
def test_scanner(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    found = _scan(tmp_path, files)
    assert len(found) == len(expected), found
    for line, want in zip(found, expected, strict=True):
        assert want in line
