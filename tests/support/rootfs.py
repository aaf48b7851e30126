"""The busybox root filesystem the tests' containers run in.

Built by ``scripts/make-bundle --rootfs-only`` (the same rootfs ``make run`` uses), plus
the probe at /probe.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support.paths import REPO

MAKE_BUNDLE = REPO / "scripts" / "make-bundle"


class RootfsError(Exception):
    """The rootfs could not be built."""


def build_rootfs(dest: Path, probe: Path | None = None) -> Path:
    """A busybox rootfs at dest (bin/busybox and its applets, etc/passwd, etc/group),
    with the probe binary copied to /probe when given."""
    result = subprocess.run(
        ["bash", str(MAKE_BUNDLE), "--rootfs-only", str(dest)],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise RootfsError(f"make-bundle --rootfs-only {dest} failed:\n{result.stderr}")
    if probe is not None:
        shutil.copy2(probe, dest / "probe")
    # An image's / is 0755; a temporary directory is 0700, which would keep a
    # non-root container user from resolving any path at all.
    dest.chmod(0o755)
    return dest
