"""The busybox base image's layer, unpacked without root, runs: applets resolve through
their symlinks to the one binary."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.images.base import build_busybox

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(not os.access(BUSYBOX, os.X_OK), reason="no /bin/busybox")


def test_unpacked_layer_runs_its_applets(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "store"))
    built = build_busybox(store)
    rootfs = tmp_path / "rootfs"
    with tarfile.open(store.blob_path(built.layer_digest), "r:gz") as tar:
        tar.extractall(rootfs)  # our own tar; 3.11 has no filter=
    out = subprocess.run(
        [str(rootfs / "bin" / "echo"), "hello"], check=True, capture_output=True
    ).stdout
    assert out == b"hello\n"
    listing = subprocess.run(
        [str(rootfs / "bin" / "sh"), "-c", f"ls {rootfs}/bin | wc -l"],
        check=True, capture_output=True,
    ).stdout
    assert int(listing) > 100
