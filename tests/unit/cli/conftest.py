"""The fake core API server of tests/unit/api for the CLI's tests (``api`` fixture)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from core_api_server import RunningAPI  # noqa: E402
from fake_core import FakeCore  # noqa: E402


@pytest.fixture
def api() -> Iterator[RunningAPI]:
    path = tempfile.mkdtemp(prefix="es-", dir="/tmp")
    running = RunningAPI(FakeCore(), f"{path}/core.sock")
    yield running
    running.stop()
    shutil.rmtree(path, ignore_errors=True)
