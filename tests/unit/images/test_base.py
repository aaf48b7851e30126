"""The busybox base image: deterministic, complete, and parseable."""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.errors import InvalidArgument
from estiba.images.base import build_busybox, list_applets
from estiba.oci.image import OCI_LAYER_GZIP, parse_image_config, parse_manifest

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(not os.access(BUSYBOX, os.X_OK), reason="no /bin/busybox")


def test_building_twice_gives_the_same_digests_and_stores_blobs_once(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "a"))
    first = build_busybox(store)
    second = build_busybox(store)
    assert first == second
    assert len(store.list()) == 3
    assert store.ingests() == []
    # a fresh store gets the very same bytes
    assert build_busybox(ContentStore(str(tmp_path / "b"))) == first


def test_layer_holds_busybox_applets_and_base_files(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    built = build_busybox(store)
    with tarfile.open(store.blob_path(built.layer_digest), "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        names = [m.name for m in tar.getmembers()]
        passwd = tar.extractfile("etc/passwd").read()  # type: ignore[union-attr]
        group = tar.extractfile("etc/group").read()  # type: ignore[union-attr]
    assert names == sorted(names)
    applets = list_applets(BUSYBOX)
    assert "sh" in applets and "busybox" not in applets
    for applet in applets:
        m = members[f"bin/{applet}"]
        assert m.issym() and m.linkname == "busybox"
    binary = members["bin/busybox"]
    assert binary.isreg() and binary.mode == 0o755
    assert binary.size == os.path.getsize(BUSYBOX)
    assert members["tmp"].mode == 0o1777 and members["tmp"].isdir()
    assert members["root"].mode == 0o700
    for d in ("dev", "proc", "sys", "etc", "var", "home", "bin"):
        assert members[d].isdir()
    for m in members.values():
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
    assert passwd.splitlines()[0].startswith(b"root:x:0:0:")
    assert b"nobody:" in passwd
    assert group.splitlines() == [b"root:x:0:", b"nogroup:x:65534:"]


def test_gzip_header_has_no_mtime_and_diff_id_is_the_tar(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    built = build_busybox(store)
    blob = store.read(built.layer_digest)
    assert blob[:3] == b"\x1f\x8b\x08"
    assert blob[3] == 0  # no FNAME flag
    assert blob[4:8] == b"\0\0\0\0"  # mtime 0
    assert "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() == built.diff_id


def test_config_and_manifest_parse_and_match_the_blobs(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    built = build_busybox(store)
    manifest = parse_manifest(store.read(built.manifest_digest))
    assert str(manifest.digest) == built.manifest_digest
    assert str(manifest.config.digest) == built.config_digest
    assert manifest.config.size == store.info(built.config_digest).size
    (layer,) = manifest.layers
    assert layer.media_type == OCI_LAYER_GZIP
    assert str(layer.digest) == built.layer_digest
    assert layer.size == built.size == store.info(built.layer_digest).size
    config = parse_image_config(store.read(built.config_digest))
    assert config.os == "linux"
    assert config.architecture == {"x86_64": "amd64", "aarch64": "arm64"}.get(
        os.uname().machine, os.uname().machine
    )
    assert [str(d) for d in config.rootfs.diff_ids] == [built.diff_id]
    assert config.config.cmd == ("sh",)
    assert any(e.startswith("PATH=") for e in config.config.env)
    assert len(config.history) == 1


def test_applets_can_be_given_and_are_checked(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    small = build_busybox(store, applets=["sh", "ls", "busybox"], architecture="arm64")
    with tarfile.open(store.blob_path(small.layer_digest), "r:gz") as tar:
        links = sorted(m.name for m in tar.getmembers() if m.issym())
    assert links == ["bin/ls", "bin/sh"]
    assert parse_image_config(store.read(small.config_digest)).architecture == "arm64"
    with pytest.raises(InvalidArgument, match="not a file name"):
        build_busybox(store, applets=["../evil"])
    assert store.ingests() == []
