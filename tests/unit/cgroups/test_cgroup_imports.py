"""The cgroups package keeps to its imports: the layers below it only, and nothing slow on
the import path of the managers (the runtime starts once per OCI operation)."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import estiba.cgroups
from estiba.cgroups import CgroupManager
from estiba.cgroups.v1 import CgroupV1
from estiba.cgroups.v2 import CgroupV2

PACKAGE = Path(estiba.cgroups.__file__).parent
SLOW = {"typing", "dataclasses", "re", "enum", "json", "pathlib", "subprocess", "shutil",
        "logging", "inspect", "ctypes"}
ALLOWED_ESTIBA = ("estiba.oci", "estiba.errors", "estiba.cgroups", "estiba.kernel")


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level) for each import in the file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "estiba":
            names = [f"estiba.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        out += [(n, id(node) in top) for n in names]
    return out


def test_imports_only_lower_layers():
    for path in PACKAGE.glob("*.py"):
        for name, top in imports_of(path):
            if name == "estiba" or name.startswith("estiba."):
                assert name.startswith(ALLOWED_ESTIBA), f"{path.name} imports {name}"
            if name.startswith("estiba.kernel"):
                # only when a device program is loaded, or for type checkers
                assert not top, f"{path.name} imports {name} at module level"


def test_no_slow_module_at_module_level():
    for path in PACKAGE.glob("*.py"):
        for name, top in imports_of(path):
            if top:
                assert name.split(".")[0] not in SLOW, f"{path.name} imports {name}"


def test_import_path_of_the_managers_is_cheap():
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import estiba.cgroups.v1, estiba.cgroups.v2"],
        capture_output=True, text=True, check=True, env=env,
    ).stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in out.splitlines() if "|" in line}
    # what the interpreter loads on its own (site, sitecustomize) is not ours to judge
    baseline = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"],
                              capture_output=True, text=True, check=True, env=env).stderr
    site = {line.rsplit("|", 1)[-1].strip() for line in baseline.splitlines() if "|" in line}
    ours = loaded - site
    assert not {m for m in ours if m.split(".")[0] in SLOW}, sorted(ours)
    assert "estiba.kernel.bpf" not in ours


def test_managers_implement_the_interface():
    for name, member in inspect.getmembers(CgroupManager, inspect.isfunction):
        if name.startswith("_"):
            continue
        spec = inspect.signature(member)
        for cls in (CgroupV1, CgroupV2):
            impl = getattr(cls, name, None)
            assert impl is not None, f"{cls.__name__} lacks {name}"
            params = inspect.signature(impl).parameters
            for p in spec.parameters:
                assert p in params, f"{cls.__name__}.{name} lacks parameter {p}"
            extra = [p for p in list(params)[len(spec.parameters):]
                     if params[p].default is inspect.Parameter.empty]
            assert not extra, f"{cls.__name__}.{name} needs more than the interface: {extra}"
    assert CgroupV1.version == 1 and CgroupV2.version == 2
