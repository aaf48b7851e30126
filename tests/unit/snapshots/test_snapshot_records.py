"""Snapshot bookkeeping without root: records, directories and links on a temp dir (the
overlay snapshotter only makes directories; nothing is mounted here)."""

from __future__ import annotations

import os
import stat

import pytest

from estiba.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound
from estiba.kernel.fake import RecordingKernel
from estiba.metadata.db import Database
from estiba.snapshots import Info, Mount
from estiba.snapshots.native import CopySnapshotter, copy_tree
from estiba.snapshots.overlay import OverlaySnapshotter


@pytest.fixture
def db(tmp_path):
    database = Database(str(tmp_path / "metadata.db"))
    yield database
    database.close()


@pytest.fixture
def overlay(tmp_path, db):
    return OverlaySnapshotter(str(tmp_path / "root"), db, "docker")


def test_prepare_commit_prepare_records_the_chain(overlay, tmp_path):
    (base,) = overlay.prepare("base-tmp")
    assert base.type == "bind" and base.options == ("rw", "rbind")
    overlay.commit("base", "base-tmp")
    with pytest.raises(NotFound):
        overlay.stat("base-tmp")
    (child,) = overlay.prepare("child", "base")
    assert child.type == "overlay"
    root = tmp_path / "root" / "snapshots"
    assert child.options[-1] == f"lowerdir={root}/1/fs"
    assert overlay.stat("child") == overlay.stat("child")
    info = overlay.stat("child")
    assert (info.kind, info.name, info.parent) == ("active", "child", "base")
    assert [(i.kind, i.name) for i in overlay.walk()] == [
        ("committed", "base"), ("active", "child")]
    assert os.readlink(root / "l" / "1") == "../1/fs"
    assert sorted(os.listdir(root)) == ["1", "2", "l"]


def test_errors(overlay):
    overlay.prepare("a")
    with pytest.raises(AlreadyExists):
        overlay.prepare("a")
    with pytest.raises(FailedPrecondition):
        overlay.prepare("b", "a")  # the parent must be committed
    with pytest.raises(NotFound):
        overlay.prepare("b", "missing")
    with pytest.raises(InvalidArgument):
        overlay.prepare("")
    overlay.view("v")
    with pytest.raises(FailedPrecondition):
        overlay.commit("c", "v")
    overlay.commit("c", "a")
    with pytest.raises(FailedPrecondition):
        overlay.mounts("c")
    overlay.prepare("x")
    with pytest.raises(AlreadyExists):
        overlay.commit("c", "x")
    overlay.prepare("child", "c")
    with pytest.raises(Conflict):
        overlay.remove("c")
    overlay.remove("child")
    overlay.remove("c")
    with pytest.raises(NotFound):
        overlay.remove("c")


def test_a_failed_prepare_leaves_no_directory(overlay, tmp_path):
    overlay.prepare("a")
    with pytest.raises(AlreadyExists):
        overlay.prepare("a")
    assert sorted(os.listdir(tmp_path / "root" / "snapshots")) == ["1", "l"]


def test_remove_deletes_directory_and_link(overlay, tmp_path):
    overlay.prepare("a")
    overlay.remove("a")
    root = tmp_path / "root" / "snapshots"
    assert sorted(os.listdir(root)) == ["l"] and os.listdir(root / "l") == []


def test_keys_are_namespaced(tmp_path, db):
    docker = OverlaySnapshotter(str(tmp_path / "root"), db, "docker")
    other = OverlaySnapshotter(str(tmp_path / "root"), db, "k8s.io")
    docker.prepare("same")
    other.prepare("same")
    assert [i.name for i in docker.walk()] == ["same"]
    assert [i.name for i in other.walk()] == ["same"]
    assert docker.mounts("same") != other.mounts("same")
    with pytest.raises(NotFound):
        other.prepare("c", "missing")


def test_labels_and_usage(overlay, tmp_path):
    overlay.prepare("a", labels={"x": "1"})
    assert overlay.stat("a").labels == (("x", "1"),)
    (mount,) = overlay.mounts("a")
    with open(os.path.join(mount.source, "f"), "wb") as f:
        f.write(b"x" * 100_000)
    os.link(os.path.join(mount.source, "f"), os.path.join(mount.source, "g"))
    usage = overlay.usage("a")
    assert usage.inodes == 2 and usage.size >= 100_000


def test_copy_snapshotter_copies_the_parent(tmp_path, db):
    snaps = CopySnapshotter(str(tmp_path / "root"), db, "docker")
    (mount,) = snaps.prepare("a")
    with open(os.path.join(mount.source, "f"), "w") as f:
        f.write("hello")
    snaps.commit("base", "a")
    (child,) = snaps.prepare("b", "base")
    assert child == Mount(type="bind", source=child.source, options=("rw", "rbind"))
    assert child.source != mount.source
    with open(os.path.join(child.source, "f")) as f:
        assert f.read() == "hello"
    assert snaps.stat("b") == Info(kind="active", name="b", parent="base",
                                   created_at=snaps.stat("b").created_at,
                                   updated_at=snaps.stat("b").updated_at)


def test_copy_tree_keeps_links_modes_and_fifos(tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("data")
    os.chmod(src / "d" / "f", 0o4751)
    os.link(src / "d" / "f", src / "hard")
    os.symlink("d/f", src / "sym")
    os.mkfifo(src / "fifo")
    kernel = RecordingKernel()
    copy_tree(str(src), str(tmp_path / "dest"), kernel)
    dest = tmp_path / "dest"
    assert (dest / "d" / "f").read_text() == "data"
    assert stat.S_IMODE(os.stat(dest / "d" / "f").st_mode) == 0o4751
    assert os.stat(dest / "hard").st_ino == os.stat(dest / "d" / "f").st_ino
    assert os.readlink(dest / "sym") == "d/f"
    assert stat.S_ISFIFO(os.lstat(dest / "fifo").st_mode)
    assert kernel.called("mknod") == []
    owners = {call[0] for call in kernel.called("chown")}
    assert str(dest) in owners and str(dest / "sym") in owners


def test_cleanup_deletes_what_a_crash_left(overlay, tmp_path):
    overlay.prepare("kept")
    root = tmp_path / "root" / "snapshots"
    for name in ("new-abc", "rm-7", "99"):
        (root / name / "fs").mkdir(parents=True)
    assert overlay.cleanup() == ["99", "new-abc", "rm-7"]
    assert sorted(os.listdir(root)) == ["1", "l"]
