"""Snapshot ``Mount`` records mounted for a test to look at, with mount(8) (not the
code under test), each on a fresh directory under a root, and unmounted at the end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


class MountPoints:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.mounted: list[Path] = []

    def mount(self, mounts: list, name: str) -> Path:
        """Mount the one record of ``mounts`` on ``root/name``; skip the test when the
        kernel refuses that kind of mount."""
        (mount,) = mounts
        target = self.root / name
        target.mkdir()
        if mount.type == "bind":
            argv = ["mount", "--bind", mount.source, str(target)]
        else:
            argv = ["mount", "-t", mount.type, "-o", ",".join(mount.options), mount.source,
                    str(target)]
        done = subprocess.run(argv, cwd=mount.cwd or None, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            pytest.skip(f"{mount.type} mount refused: {done.stderr.strip()}")
        self.mounted.append(target)
        return target

    def unmount_all(self) -> None:
        while self.mounted:
            # not os.path.ismount: a bind mount on the same filesystem has the same st_dev
            subprocess.run(["umount", str(self.mounted.pop())], check=True)
