"""Where the tests find the project and keep what they build."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Build outputs reused across sessions (the probe binary); /build/ is git-ignored.
BUILD_DIR = Path(os.environ.get("ESTIBA_TEST_BUILD", REPO / "build" / "tests"))

# Parent of every test's runtime --root: short, since unix socket paths under a root are
# limited to 108 bytes, and named estiba so that leftovers are easy to find.
RUNTIME_ROOT_PARENT = Path("/run/estiba-test")


def runtime_binary() -> str:
    """The OCI runtime the tests drive: $ESTIBA_RUNTIME, or the venv's estiba-runtime."""
    return os.environ.get("ESTIBA_RUNTIME") or str(REPO / ".venv" / "bin" / "estiba-runtime")
