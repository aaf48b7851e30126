"""Unpacking images into snapshots, as root: busybox into the overlay and the copy
snapshotters, a container snapshot on top mounted with mount(8); layers shared by chain
ID; a whiteout hiding a lower file through overlay; a diff_id mismatch leaving nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.metadata.db import Database
from estiba.metadata.namespaces import Namespaces
from estiba.snapshots import Mount, Snapshotter
from estiba.snapshots.native import CopySnapshotter
from estiba.snapshots.overlay import OverlaySnapshotter
from support.mounting import MountPoints

pytestmark = pytest.mark.root

NAMESPACE = "test"
APPLETS = ["ls", "sh", "true"]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class Env:
    def __init__(self, root: Path, kind: str) -> None:
        self.store = ContentStore(str(root / "content"))
        self.db = Database(str(root / "meta" / "metadata.db"))
        Namespaces(self.db).create(NAMESPACE)
        cls = OverlaySnapshotter if kind == "overlay" else CopySnapshotter
        self.snapshotter: Snapshotter = cls(str(root / "snapshots"), self.db, NAMESPACE)
        self.root = root
        self.points = MountPoints(self.root)

    def mount(self, mounts: list[Mount], name: str) -> Path:
        return self.points.mount(mounts, name)

    def unmount_all(self) -> None:
        self.points.unmount_all()
