"""A core API server with the fake core, on a unix socket in a short temporary
directory (``api`` fixture)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from core_api_server import RunningAPI  # noqa: E402
from fake_core import FakeCore  # noqa: E402


@pytest.fixture
def short_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="es-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def api(short_dir: str) -> Iterator[RunningAPI]:
    running = RunningAPI(FakeCore(), f"{short_dir}/core.sock")
    yield running
    running.stop()
