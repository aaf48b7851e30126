"""Unpacking images into snapshots, as root: busybox into the overlay and the copy
snapshotters, a container snapshot on top mounted with mount(8); layers shared by chain
ID; a whiteout hiding a lower file through overlay; a diff_id mismatch leaving nothing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.errors import InvalidArgument
from estiba.images.base import build_busybox, list_applets
from estiba.images.unpack import unpack
from estiba.kernel.linux import Linux
from estiba.metadata.db import Database
from estiba.metadata.namespaces import Namespaces
from estiba.metadata.snapshots import SnapshotRecords
from estiba.oci.digest import chain_ids, parse
from estiba.snapshots import Mount, Snapshotter
from estiba.snapshots.native import CopySnapshotter
from estiba.snapshots.overlay import OverlaySnapshotter

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
        self.mounted: list[Path] = []

    def mount(self, mounts: list[Mount], name: str) -> Path:
        """Mount the records with mount(8) on a fresh directory; unmounted at the end."""
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

    def snapshots(self) -> list[tuple[str, str]]:
        return [(info.kind, info.name) for info in self.snapshotter.walk()]


@pytest.fixture(params=["overlay", "copy"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path, request.param)
    try:
        yield made
    finally:
        made.unmount_all()
        made.db.close()


@pytest.fixture
def overlay_env(tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path, "overlay")
    try:
        yield made
    finally:
        made.unmount_all()
        made.db.close()


def _applets() -> list[str]:
    return [name for name in APPLETS if name in list_applets()]


def test_busybox_unpacks_and_a_container_snapshot_shows_it(env: Env) -> None:
    built = build_busybox(env.store, applets=_applets())
    top = unpack(env.store, env.snapshotter, built.manifest_digest)
    assert top == built.diff_id  # one layer: its chain id is its diff_id
    assert env.snapshots() == [("committed", top)]

    rootfs = env.mount(env.snapshotter.prepare("container-1", parent=top), "rootfs")
    assert (rootfs / "bin" / "busybox").is_file()
    for applet in _applets():
        link = rootfs / "bin" / applet
        assert link.is_symlink(), applet
        assert os.readlink(link) in ("busybox", "/bin/busybox")


def test_unpacking_twice_adds_no_snapshot(env: Env) -> None:
    built = build_busybox(env.store, applets=_applets())
    first = unpack(env.store, env.snapshotter, built.manifest_digest)
    before = env.snapshots()
    assert unpack(env.store, env.snapshotter, built.manifest_digest) == first
    assert env.snapshots() == before


# --- images made by the test ----------------------------------------------------------


def _tar(entries: list[tuple[str, bytes | None]]) -> bytes:
    """An uncompressed layer tar; ``None`` content is a directory."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _image(store: ContentStore, layers: list[bytes],
           diff_ids: list[str] | None = None) -> str:
    """Write an image of uncompressed ``layers``; ``diff_ids`` overrides the config's."""
    digests = [store.write_blob(layer) for layer in layers]
    if diff_ids is None:
        diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    config_digest = store.write_blob(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": digest, "size": len(layer)}
                   for digest, layer in zip(digests, layers, strict=True)],
    }).encode()
    return store.write_blob(manifest)


BASE = _tar([("etc", None), ("etc/gone", b"lower\n"), ("etc/kept", b"kept\n")])
TOP = _tar([("etc", None), ("etc/.wh.gone", b""), ("etc/new", b"new\n")])


def test_a_whiteout_hides_a_lower_file_through_overlay(overlay_env: Env) -> None:
    env = overlay_env
    manifest = _image(env.store, [BASE, TOP])
    top = unpack(env.store, env.snapshotter, manifest)
    expected = [str(c) for c in chain_ids(
        parse("sha256:" + hashlib.sha256(layer).hexdigest()) for layer in (BASE, TOP))]
    assert top == expected[-1]
    assert env.snapshots() == [("committed", expected[0]), ("committed", expected[1])]

    rootfs = env.mount(env.snapshotter.prepare("container-1", parent=top), "rootfs")
    assert not (rootfs / "etc" / "gone").exists()
    assert (rootfs / "etc" / "kept").read_bytes() == b"kept\n"
    assert (rootfs / "etc" / "new").read_bytes() == b"new\n"
    # applied through overlay, the whiteout is a real one (a 0/0 character device) in
    # the top layer's own directory; the lower layer itself is untouched
    top_id = SnapshotRecords(env.db, NAMESPACE).get(top).id
    gone = os.lstat(Path(env.snapshotter.fs(top_id)) / "etc" / "gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    base = env.mount(env.snapshotter.view("base-view", parent=expected[0]), "base")
    assert (base / "etc" / "gone").read_bytes() == b"lower\n"


def test_a_shared_base_layer_is_stored_once(overlay_env: Env) -> None:
    env = overlay_env
    unpack(env.store, env.snapshotter, _image(env.store, [BASE]))
    unpack(env.store, env.snapshotter, _image(env.store, [BASE, TOP]))
    assert [kind for kind, _ in env.snapshots()] == ["committed", "committed"]


@pytest.mark.parametrize("layers", [[BASE], [BASE, TOP]], ids=["base", "top"])
def test_a_diff_id_mismatch_fails_and_leaves_no_active_snapshot(
        env: Env, layers: list[bytes]) -> None:
    good = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    bad = good[:-1] + ["sha256:" + "00" * 32]
    manifest = _image(env.store, layers, diff_ids=bad)
    with pytest.raises(InvalidArgument, match="does not match"):
        unpack(env.store, env.snapshotter, manifest)
    # the layers below the bad one stay committed; nothing active is left
    assert env.snapshots() == [("committed", chain) for chain in
                          map(str, chain_ids(parse(d) for d in good[:-1]))]


def test_unpack_leaves_no_mount_behind(overlay_env: Env) -> None:
    before = _mountinfo()
    unpack(overlay_env.store, overlay_env.snapshotter, _image(overlay_env.store, [BASE, TOP]))
    assert _mountinfo() == before


class _RelativeOverlay:
    """The overlay snapshotter with its overlay records in the short form: options
    relative to the snapshots dir, carried as ``cwd`` (as for long layer chains)."""

    def __init__(self, inner: OverlaySnapshotter) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def prepare(self, key: str, parent: str = "",
                labels: dict[str, str] | None = None) -> list[Mount]:
        mounts = self.inner.prepare(key, parent, labels)
        prefix = self.inner.dir + "/"
        return [m.replace(options=tuple(o.replace(prefix, "") for o in m.options),
                          cwd=self.inner.dir) if m.type == "overlay" else m
                for m in mounts]


class _WatchingKernel(Linux):
    """The real kernel, noting the working directory at each mount(2), and fsmounts."""

    def __init__(self) -> None:
        super().__init__()
        self.mounted_from: list[str] = []
        self.fsmounts = 0

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str = "",
              label: str | None = None) -> None:
        self.mounted_from.append(os.getcwd())
        super().mount(source, target, fstype, flags, data, label)

    def fsmount(self, fd: int, attr_flags: int = 0, label: str = "") -> int:
        self.fsmounts += 1
        return super().fsmount(fd, attr_flags, label)


def test_an_overlay_record_with_cwd_mounts_without_chdir(overlay_env: Env) -> None:
    """Short layer names relative to ``cwd`` are resolved by the mounting side: the
    overlay is made detached, with no mount(2) call and no change of directory."""
    env = overlay_env
    assert isinstance(env.snapshotter, OverlaySnapshotter)
    kernel = _WatchingKernel()
    before = os.getcwd()
    top = unpack(env.store, _RelativeOverlay(env.snapshotter),  # type: ignore[arg-type]
                 _image(env.store, [BASE, TOP]), kernel=kernel)
    assert kernel.mounted_from == []
    assert kernel.fsmounts == 1  # the second layer, through an overlay
    assert os.getcwd() == before
    rootfs = env.mount(env.snapshotter.prepare("container-1", parent=top), "rootfs")
    assert not (rootfs / "etc" / "gone").exists()
    assert (rootfs / "etc" / "new").read_bytes() == b"new\n"


def _mountinfo() -> list[str]:
    """The mount points of this mount namespace."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return sorted(line.split()[4] for line in lines)
