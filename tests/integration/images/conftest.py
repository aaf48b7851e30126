"""Fixtures of the layer applier tests: a temporary work dir with ``dest`` (where layers
are applied) and ``outside`` (a sentinel tree no layer may touch), removed afterwards."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


class Work:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dest = root / "dest"
        self.outside = root / "outside"
        self.dest.mkdir()
        self.outside.mkdir()
        (self.outside / "file").write_bytes(b"sentinel\n")
        (self.outside / "sub").mkdir()
        (self.outside / "sub" / "deep").write_bytes(b"deep sentinel\n")
        os.symlink("file", self.outside / "link")


@pytest.fixture
def work() -> Iterator[Work]:
    with tempfile.TemporaryDirectory(prefix="estiba-layer-") as root:
        yield Work(Path(root))
