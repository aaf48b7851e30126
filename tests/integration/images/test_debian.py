"""The debian image builder on a small stand-in for what debootstrap leaves (not
debootstrap itself: that is ``scripts/debian-image``, minutes and the network), as root:
tidied, written as a one-layer image, named, unpacked into overlay snapshots."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.errors import FailedPrecondition
from estiba.images import debian
from estiba.images.unpack import unpack
from estiba.metadata.db import Database
from estiba.metadata.images import Images
from estiba.oci.image import OCI_LAYER_GZIP, OCI_MANIFEST
from estiba.snapshots.overlay import OverlaySnapshotter

pytestmark = pytest.mark.root


def fake_rootfs(path: Path) -> Path:
    for d in ("bin", "dev", "etc/apt", "usr/bin", "var/cache/apt/archives/partial",
              "var/lib/apt/lists/partial", "tmp", "root"):
        (path / d).mkdir(parents=True, exist_ok=True)
    os.chmod(path / "tmp", 0o1777)
    (path / "etc/debian_version").write_text("12.11\n")
    (path / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    (path / "usr/bin/bash").write_bytes(b"\x7fELF not really")
    os.chmod(path / "usr/bin/bash", 0o755)
    os.symlink("usr/bin", path / "bin/x")
    os.link(path / "usr/bin/bash", path / "usr/bin/rbash")
    os.mknod(path / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    (path / "var/cache/apt/archives/bash_5.2.deb").write_bytes(b"deb")
    (path / "var/lib/apt/lists/deb.debian.org_Packages").write_text("Package: bash\n")
    return path


def test_tidy_empties_dev_and_apt_caches(tmp_path):
    rootfs = fake_rootfs(tmp_path / "rootfs")
    debian.tidy(str(rootfs))
    assert os.listdir(rootfs / "dev") == []
    assert os.listdir(rootfs / "var/cache/apt/archives") == ["partial"]
    assert os.listdir(rootfs / "var/lib/apt/lists") == ["partial"]
    assert (rootfs / "etc/debian_version").exists()


def test_build_name_and_unpack(tmp_path):
    rootfs = fake_rootfs(tmp_path / "rootfs")
    debian.tidy(str(rootfs))
    root = tmp_path / "root"
    store = ContentStore(str(root / "content"))
    built = debian.build_from_rootfs(store, str(rootfs), created="2025-05-20T00:00:00Z",
                                     architecture="amd64")
    again = debian.build_from_rootfs(store, str(rootfs), created="2025-05-20T00:00:00Z",
                                     architecture="amd64")
    assert again == built  # the same tree and time: the same digests

    manifest = json.loads(store.read(built.manifest_digest))
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["layers"] == [{"mediaType": OCI_LAYER_GZIP,
                                   "digest": built.layer_digest, "size": built.size}]
    config = json.loads(store.read(built.config_digest))
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    assert config["config"] == {"Env": [debian.PATH_ENV], "Cmd": ["bash"]}
    assert config["rootfs"] == {"type": "layers", "diff_ids": [built.diff_id]}
    assert config["created"] == "2025-05-20T00:00:00Z"

    debian.name_image(str(root), built)
    db = Database(str(root / "metadata.db"))
    try:
        image = Images(db, "docker").get("docker.io/library/debian:bookworm")
        assert image.target_digest == built.manifest_digest
        debian.name_image(str(root), built)  # again: re-pointed, not an error
        snaps = OverlaySnapshotter(str(root), db, "docker")
        top = unpack(store, snaps, image.target_digest)
        fs = Path(snaps.view("check", top)[0].source)
        assert (fs / "etc/debian_version").read_text() == "12.11\n"
        assert os.stat(fs / "tmp").st_mode & 0o7777 == 0o1777
        assert os.readlink(fs / "bin/x") == "usr/bin"
        assert os.stat(fs / "usr/bin/bash").st_ino == os.stat(fs / "usr/bin/rbash").st_ino
        assert os.listdir(fs / "dev") == []
        snaps.remove("check")
    finally:
        db.close()


def test_refuses_a_tree_with_a_mount_below(tmp_path):
    from estiba.kernel.linux import Linux

    rootfs = fake_rootfs(tmp_path / "rootfs")
    (rootfs / "proc").mkdir()
    kernel = Linux()
    kernel.mount("proc", str(rootfs / "proc"), "proc", 0)
    try:
        with pytest.raises(FailedPrecondition, match="is mounted"):
            debian.build_from_rootfs(ContentStore(str(tmp_path / "c")), str(rootfs))
    finally:
        kernel.umount(str(rootfs / "proc"))
