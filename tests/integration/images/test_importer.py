"""``docker import``: a rootfs tarball made here becomes a one-layer image whose config
carries the changes; it unpacks into an overlay snapshot with its files; compressed
input gives the same layer; a hostile tarball or a bad change stores nothing."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.errors import InvalidArgument
from estiba.images.importer import import_rootfs
from estiba.images.unpack import unpack
from estiba.metadata.db import Database
from estiba.metadata.namespaces import Namespaces
from estiba.oci.image import OCI_LAYER, OCI_MANIFEST, parse_image_config, parse_manifest
from estiba.snapshots import Mount
from estiba.snapshots.overlay import OverlaySnapshotter
from support.mounting import MountPoints

NAMESPACE = "test"
CHANGES = ['CMD ["/bin/sh"]', "ENV A=1", "WORKDIR /app", "EXPOSE 8080"]


def _rootfs_tar(entries: list[tuple[str, str, bytes | str | None]] | None = None) -> bytes:
    """An uncompressed tar; entries are (name, kind, content or link target), kind one
    of dir, file, symlink, hardlink. By default a small rootfs."""
    if entries is None:
        entries = [
            ("./", "dir", None),
            ("./app", "dir", None),
            ("./app/hello.txt", "file", b"hello\n"),
            ("./bin", "dir", None),
            ("./bin/tool", "file", b"#!/bin/sh\necho tool\n"),
            ("./bin/sh", "symlink", "tool"),
            ("./bin/tool-link", "hardlink", "./bin/tool"),
            ("./etc", "dir", None),
            ("./etc/os-release", "file", b"ID=estiba-test\n"),
        ]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(content)
                tar.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(content)
                tar.addfile(info)
            else:
                assert isinstance(content, bytes)
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


ROOTFS = _rootfs_tar()


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "content"))


def _nothing_more_stored(store: ContentStore, before: list) -> None:
    assert store.list() == before
    assert store.ingests() == []


def test_import_makes_a_one_layer_image_with_the_changes(store: ContentStore) -> None:
    imported = import_rootfs(store, io.BytesIO(ROOTFS), changes=CHANGES,
                             message="from a test", created="2024-05-06T07:08:09Z",
                             platform=("linux", "arm64"))
    assert imported.layer_digest == imported.diff_id
    assert imported.layer_size == len(ROOTFS)
    assert imported.compression == "none"
    assert {blob.digest for blob in store.list()} == {
        imported.manifest_digest, imported.config_digest, imported.layer_digest}
    assert store.ingests() == []
    store.verify(imported.layer_digest)

    manifest = parse_manifest(store.read(imported.manifest_digest))
    assert manifest.media_type == OCI_MANIFEST == imported.manifest_media_type
    assert imported.manifest_size == len(manifest.raw)
    assert str(manifest.config.digest) == imported.config_digest
    (layer,) = manifest.layers
    assert (layer.media_type, str(layer.digest), layer.size) == (
        OCI_LAYER, imported.diff_id, len(ROOTFS))

    raw = store.read(imported.config_digest)
    config = parse_image_config(raw)
    assert (config.os, config.architecture) == ("linux", "arm64")
    assert config.created == "2024-05-06T07:08:09Z"
    assert [str(d) for d in config.rootfs.diff_ids] == [imported.diff_id]
    assert config.config.cmd == ("/bin/sh",)
    assert config.config.env == ("A=1",)
    assert config.config.working_dir == "/app"
    assert config.config.exposed_ports == ("8080/tcp",)
    assert config.config.entrypoint is None
    (history,) = config.history
    assert (history.created, history.comment) == ("2024-05-06T07:08:09Z", "from a test")
    assert json.loads(raw)["comment"] == "from a test"


def test_defaults_name_the_source_and_stamp_now(store: ContentStore) -> None:
    imported = import_rootfs(store, io.BytesIO(ROOTFS))
    config = parse_image_config(store.read(imported.config_digest))
    assert config.history[0].comment == "Imported from -"
    assert config.created.endswith("Z") and config.created[:2] == "20"
    assert (config.os, config.architecture) == ("linux", "amd64")
    assert config.config.cmd is None and config.config.env == ()


@pytest.mark.parametrize("compress,name", [
    (lambda data: gzip.compress(data, mtime=0), "gzip"),
    (bz2.compress, "bzip2"),
    (lzma.compress, "xz"),
    (None, "zstd"),
])
def test_compressed_input_gives_the_same_layer(store: ContentStore, compress, name) -> None:
    if compress is None:
        program = shutil.which("zstd")
        if program is None:
            pytest.skip("no zstd program to compress with")
        compress = _zstd(program)
    plain = import_rootfs(store, io.BytesIO(ROOTFS), created="2024-01-01T00:00:00Z")
    again = import_rootfs(store, io.BytesIO(compress(ROOTFS)), created="2024-01-01T00:00:00Z")
    assert again.compression == name
    assert again.diff_id == plain.diff_id == again.layer_digest
    assert again.manifest_digest == plain.manifest_digest  # the very same image
    assert len(store.list()) == 3
    assert store.ingests() == []


def _zstd(program: str):
    def compress(data: bytes) -> bytes:
        return subprocess.run([program, "-q", "-c"], input=data, capture_output=True,
                              check=True).stdout
    return compress


@pytest.mark.parametrize("entries,reason", [
    ([("/etc", "dir", None)], "absolute path"),
    ([("a", "dir", None), ("a/../../escape", "file", b"x")], "'..' component"),
    ([("../escape", "file", b"x")], "'..' component"),
    ([("passwd", "hardlink", "../../etc/passwd")], "'..' component"),
    ([("passwd", "hardlink", "/etc/passwd")], "absolute path"),
    ([("ghost", "hardlink", "not-there")], "not an earlier file"),
    ([("d", "dir", None), ("to-dir", "hardlink", "d")], "not an earlier file"),
])
def test_a_hostile_tarball_stores_nothing(store: ContentStore, entries, reason: str) -> None:
    import_rootfs(store, io.BytesIO(ROOTFS))  # something there already
    before = store.list()
    hostile = _rootfs_tar([("ok", "file", b"fine\n"), *entries])
    for data in (hostile, gzip.compress(hostile)):
        with pytest.raises(InvalidArgument, match=reason):
            import_rootfs(store, io.BytesIO(data), changes=CHANGES)
        _nothing_more_stored(store, before)


@pytest.mark.parametrize("data,reason", [
    (b"", "empty file"),
    (b"not a tar at all" * 64, "not a tar archive"),
    (gzip.compress(ROOTFS)[:200], "decompress gzip"),
    (bz2.compress(ROOTFS)[:200], "bzip2"),
])
def test_a_broken_tarball_stores_nothing(store: ContentStore, data: bytes, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        import_rootfs(store, io.BytesIO(data))
    _nothing_more_stored(store, [])


@pytest.mark.parametrize("bad", ["RUN echo hi", "ENV A", 'VOLUME ["/x"', "EXPOSE http"])
def test_a_bad_change_stores_nothing(store: ContentStore, bad: str) -> None:
    with pytest.raises(InvalidArgument):
        import_rootfs(store, io.BytesIO(ROOTFS), changes=[*CHANGES, bad])
    _nothing_more_stored(store, [])


def test_a_bad_change_fails_with_dockers_message(store: ContentStore) -> None:
    with pytest.raises(InvalidArgument, match="^RUN is not a valid change command$"):
        import_rootfs(store, io.BytesIO(ROOTFS), changes=["RUN echo hi"])


# --- unpacking, as root ----------------------------------------------------------------


class Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ContentStore(str(root / "content"))
        self.db = Database(str(root / "meta" / "metadata.db"))
        Namespaces(self.db).create(NAMESPACE)
        self.snapshotter = OverlaySnapshotter(str(root / "snapshots"), self.db, NAMESPACE)
        self.points = MountPoints(self.root)

    def mount(self, mounts: list[Mount], name: str) -> Path:
        return self.points.mount(mounts, name)

    def unmount_all(self) -> None:
        self.points.unmount_all()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path)
    try:
        yield made
    finally:
        made.unmount_all()
        made.db.close()


@pytest.mark.root
def test_an_imported_image_unpacks_with_its_files(env: Env) -> None:
    imported = import_rootfs(env.store, io.BytesIO(gzip.compress(ROOTFS)), changes=CHANGES)
    top = unpack(env.store, env.snapshotter, imported.manifest_digest)
    assert top == imported.diff_id  # one layer: its chain id is its diff_id

    rootfs = env.mount(env.snapshotter.prepare("container-1", parent=top), "rootfs")
    assert (rootfs / "app" / "hello.txt").read_bytes() == b"hello\n"
    assert (rootfs / "etc" / "os-release").read_bytes() == b"ID=estiba-test\n"
    assert os.readlink(rootfs / "bin" / "sh") == "tool"
    tool = os.stat(rootfs / "bin" / "tool")
    assert tool.st_mode & 0o777 == 0o755
    assert tool.st_nlink == 2
    assert os.stat(rootfs / "bin" / "tool-link").st_ino == tool.st_ino
    assert (rootfs / "bin").is_dir() and not (rootfs / "bin").is_symlink()
