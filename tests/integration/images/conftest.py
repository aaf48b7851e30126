"""Fixtures of the layer applier tests: a temporary work dir with ``dest`` (where layers
are applied) and ``outside`` (a sentinel tree no layer may touch), removed afterwards.

``work`` runs each test twice: the layer read as a stream (``tarfile`` reads the data),
and from a regular file (the in-place path: headers only, data copied by offset)."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.images import ApplyResult, apply_layer


class Work:
    def __init__(self, root: Path, kind: str) -> None:
        self.root = root
        self.kind = kind
        self.dest = root / "dest"
        self.outside = root / "outside"
        self.dest.mkdir()
        self.outside.mkdir()
        (self.outside / "file").write_bytes(b"sentinel\n")
        (self.outside / "sub").mkdir()
        (self.outside / "sub" / "deep").write_bytes(b"deep sentinel\n")
        os.symlink("file", self.outside / "link")


    def apply(self, data: bytes, **kwargs: str) -> ApplyResult:
        """Apply the layer ``data`` onto ``dest``, read as this run's kind says."""
        if self.kind == "stream":
            return apply_layer(io.BytesIO(data), self.dest, **kwargs)
        path = self.root / "layer.tar"
        path.write_bytes(data)
        with open(path, "rb") as f:
            return apply_layer(f, self.dest, **kwargs)


@pytest.fixture(params=["stream", "file"])
def work(request: pytest.FixtureRequest) -> Iterator[Work]:
    with tempfile.TemporaryDirectory(prefix="estiba-layer-") as root:
        yield Work(Path(root), request.param)
