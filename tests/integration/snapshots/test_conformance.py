"""One conformance suite for every snapshotter (containerd's core/snapshots/testsuite),
run as root: the returned Mount records are really mounted (mount(8), honouring
``Mount.cwd``) into temporary directories, and everything is unmounted afterwards."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.errors import Conflict
from estiba.metadata.db import Database
from estiba.snapshots import Mount
from estiba.snapshots.native import CopySnapshotter
from estiba.snapshots.overlay import OverlaySnapshotter
from support.snapshots import commit_chain

pytestmark = pytest.mark.root


def _has_overlay() -> bool:
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == "overlay" for line in f if line.strip())


class Mounter:
    """Mounts Mount records as the runtime would, and unmounts all it mounted."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.mounted: list[str] = []
        self.count = 0

    def mount(self, mounts: list[Mount]) -> Path:
        self.count += 1
        target = self.base / f"m{self.count}"
        target.mkdir()
        for m in mounts:
            dest = os.path.join(target, m.target.lstrip("/"))
            argv = ["mount"]
            if m.type != "bind":
                argv += ["-t", m.type]
            argv += ["-o", ",".join(m.options), m.source, dest]
            subprocess.run(argv, check=True, capture_output=True, cwd=m.cwd or None)
            self.mounted.append(dest)
        return target

    def unmount(self, target: Path) -> None:
        for dest in reversed([d for d in self.mounted if d.startswith(str(target))]):
            subprocess.run(["umount", "-R", dest], check=True)
            self.mounted.remove(dest)

    def unmount_all(self) -> None:
        for dest in reversed(self.mounted):
            subprocess.run(["umount", "-R", "-l", dest], check=False)
        self.mounted.clear()


@pytest.fixture(params=["overlay", "copy"])
def snaps(request, tmp_path) -> Iterator[OverlaySnapshotter | CopySnapshotter]:
    if request.param == "overlay" and not _has_overlay():
        pytest.skip("overlayfs is not available in this kernel")
    db = Database(str(tmp_path / "metadata.db"))
    cls = OverlaySnapshotter if request.param == "overlay" else CopySnapshotter
    yield cls(str(tmp_path / "root"), db, "test")
    db.close()


@pytest.fixture
def mounter(tmp_path) -> Iterator[Mounter]:
    base = tmp_path / "mnt"
    base.mkdir()
    m = Mounter(base)
    yield m
    m.unmount_all()


def _committed(snaps, mounter, name: str, parent: str = "", files=None) -> None:
    key = f"{name}-active"
    target = mounter.mount(snaps.prepare(key, parent))
    for path, data in (files or {}).items():
        (target / path).write_text(data)
    mounter.unmount(target)
    snaps.commit(name, key)


def test_write_commit_child_sees_parent_deletes_and_parent_is_unchanged(snaps, mounter):
    _committed(snaps, mounter, "base", files={"hello": "hi\n", "keep": "k\n"})
    child = mounter.mount(snaps.prepare("child", "base"))
    assert (child / "hello").read_text() == "hi\n"
    (child / "hello").unlink()
    (child / "new").write_text("n\n")
    mounter.unmount(child)

    base = mounter.mount(snaps.view("base-view", "base"))
    assert sorted(os.listdir(base)) == ["hello", "keep"]
    mounter.unmount(base)

    snaps.commit("child-c", "child")
    view = mounter.mount(snaps.view("child-view", "child-c"))
    assert sorted(os.listdir(view)) == ["keep", "new"]  # the whiteout hides hello
    mounter.unmount(view)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_a_view_is_read_only(snaps, mounter, depth):
    parent = ""
    for n in range(depth):
        _committed(snaps, mounter, f"l{n}", parent, files={f"f{n}": "x"})
        parent = f"l{n}"
    view = mounter.mount(snaps.view("v", parent))
    with pytest.raises(OSError) as caught:
        (view / "new").write_text("no")
    assert caught.value.errno == errno.EROFS
    assert sorted(os.listdir(view)) == [f"f{n}" for n in range(depth)]
    mounter.unmount(view)


def test_remove_refuses_a_parent_with_children(snaps, mounter):
    _committed(snaps, mounter, "base", files={"a": "a"})
    snaps.prepare("child", "base")
    with pytest.raises(Conflict):
        snaps.remove("base")
    assert snaps.stat("base").kind == "committed"
    snaps.remove("child")
    snaps.remove("base")
    assert snaps.walk() == []
    assert [n for n in os.listdir(snaps.dir) if n != "l"] == []


def test_walk_lists_every_snapshot(snaps, mounter):
    _committed(snaps, mounter, "base")
    snaps.prepare("active", "base")
    snaps.view("view", "base")
    assert [(i.kind, i.name, i.parent) for i in snaps.walk()] == [
        ("committed", "base", ""), ("active", "active", "base"), ("view", "view", "base")]


def test_usage_counts_bytes(snaps, mounter):
    target = mounter.mount(snaps.prepare("a"))
    (target / "big").write_bytes(os.urandom(1 << 20))
    (target / "dir").mkdir()
    mounter.unmount(target)
    usage = snaps.usage("a")
    assert usage.size >= 1 << 20
    assert usage.inodes == 3  # the root, big, dir


def test_two_children_share_one_committed_parent(snaps, mounter):
    _committed(snaps, mounter, "base", files={"shared": "s"})
    first = snaps.prepare("c1", "base")
    second = snaps.prepare("c2", "base")
    one, two = mounter.mount(first), mounter.mount(second)
    (one / "shared").write_text("changed in c1")
    assert (two / "shared").read_text() == "s"
    mounter.unmount(one)
    mounter.unmount(two)
    dirs = [n for n in os.listdir(snaps.dir) if n != "l"]
    assert len(dirs) == 3  # base once, c1, c2
    if isinstance(snaps, OverlaySnapshotter):
        assert first[0].options[-1] == second[0].options[-1]  # the same lowerdir


@pytest.fixture
def overlay(tmp_path) -> Iterator[OverlaySnapshotter]:
    if not _has_overlay():
        pytest.skip("overlayfs is not available in this kernel")
    db = Database(str(tmp_path / "metadata.db"))
    yield OverlaySnapshotter(str(tmp_path / "root"), db, "test")
    db.close()


def test_overlay_128_layers_mount_with_short_names(overlay, mounter):
    snaps = overlay
    parent = commit_chain(snaps, 128)
    mounts = snaps.prepare("top", parent)
    assert len(",".join(mounts[0].options)) < 4096
    assert mounts[0].cwd == snaps.dir  # absolute paths would not have fitted
    target = mounter.mount(mounts)
    assert (target / "f0").read_text() == "0"
    assert (target / "f127").read_text() == "127"
    assert len(os.listdir(target)) == 128
    mounter.unmount(target)
