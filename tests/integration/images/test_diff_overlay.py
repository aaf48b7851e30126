"""The diff direction on a real overlay, as root: changes made through the merged dir
are written from the upper dir as a layer (gzip or zstd), applied onto a copy of the lower with
``apply_layer``, and the result equals the merged view."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.images import apply_layer
from estiba.images.compression import detect
from estiba.images.diff import Change, changes, export_tree, write_layer

pytestmark = pytest.mark.root

MTIME = 1_600_000_000


class Overlay:
    def __init__(self, root: Path) -> None:
        self.lower, self.upper = root / "lower", root / "upper"
        self.work, self.merged = root / "work", root / "merged"
        for path in (self.lower, self.upper, self.work, self.merged):
            path.mkdir()

    def mount(self) -> None:
        options = (f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work},"
                   "redirect_dir=off,metacopy=off,index=off")
        done = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(self.merged)],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"overlay mount refused: {done.stderr.strip()}")

    def unmount(self) -> None:
        if os.path.ismount(self.merged):
            subprocess.run(["umount", str(self.merged)], check=True)


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[Overlay]:
    ov = Overlay(tmp_path)
    try:
        yield ov
    finally:
        ov.unmount()


def listing(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below root with type, mode, owner, whole-second mtime, link count,
    contents (sha256) or link target or device number, and its user xattrs."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                what: object = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_nlink)
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                what = (os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                what = None
            xattrs = {} if stat.S_ISLNK(st.st_mode) else {
                key: os.getxattr(path, key, follow_symlinks=False)
                for key in os.listxattr(path, follow_symlinks=False)
                if key.startswith("user.")
            }
            found[str(path.relative_to(root))] = (
                stat.filemode(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime), what,
                sorted(xattrs.items()),
            )
    return found


def lay_out_lower(lower: Path) -> None:
    for rel, data in {"etc/passwd": b"root:x:0:0\n", "etc/hosts": b"127.0.0.1\n",
                      "etc/group": b"root:x:0:\n", "usr/bin/tool": b"#!/bin/sh\n",
                      "var/lib/app/a": b"a", "var/lib/app/sub/c": b"c",
                      "keep/x": b"x", "keep/y/z": b"z"}.items():
        (lower / rel).parent.mkdir(parents=True, exist_ok=True)
        (lower / rel).write_bytes(data)
    os.chown(lower / "usr/bin/tool", 1000, 1000)
    os.chmod(lower / "usr/bin/tool", 0o755)
    os.symlink("usr/bin", lower / "bin")
    for path in sorted(lower.rglob("*")):
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)


def change_through(merged: Path) -> None:
    (merged / "etc/new").write_bytes(b"added\n")
    os.chmod(merged / "etc/new", 0o640)
    os.setxattr(merged / "etc/new", "user.note", b"\xffbinary\x00")
    with open(merged / "etc/passwd", "ab") as f:
        f.write(b"bob:x:1000:1000\n")
    os.chmod(merged / "usr/bin/tool", 0o700)  # copy-up of a file owned by 1000
    (merged / "etc/hosts").unlink()  # whiteout
    shutil.rmtree(merged / "keep")  # whiteout of a directory
    shutil.rmtree(merged / "var/lib/app")
    (merged / "var/lib/app").mkdir(mode=0o750)  # opaque
    (merged / "var/lib/app/fresh").write_bytes(b"fresh")
    (merged / "srv/data").mkdir(parents=True)
    (merged / "srv/data/file").write_bytes(b"linked" * 1000)
    os.link(merged / "srv/data/file", merged / "srv/data/file2")
    os.symlink("/etc/passwd", merged / "srv/link")
    os.mkfifo(merged / "srv/fifo", 0o600)
    os.mknod(merged / "srv/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chown(merged / "srv/data", 33, 34)


@pytest.mark.parametrize("compression", [
    "gzip",
    pytest.param("zstd", marks=pytest.mark.skipif(shutil.which("zstd") is None,
                                                  reason="needs the zstd program")),
])
def test_layer_from_upper_applies_to_the_merged_view(
    overlay: Overlay, tmp_path: Path, compression: str,
) -> None:
    lay_out_lower(overlay.lower)
    overlay.mount()
    change_through(overlay.merged)
    merged_view = listing(overlay.merged)
    overlay.unmount()

    upper = overlay.upper
    hosts = (upper / "etc/hosts").lstat()
    assert stat.S_ISCHR(hosts.st_mode) and hosts.st_rdev == 0, "overlay made no whiteout"
    assert os.getxattr(upper / "var/lib/app", "trusted.overlay.opaque") == b"y"

    assert changes(upper, [str(overlay.lower)]) == [
        Change(kind="C", path="/etc"),
        Change(kind="D", path="/etc/hosts"),
        Change(kind="A", path="/etc/new"),
        Change(kind="C", path="/etc/passwd"),
        Change(kind="D", path="/keep"),
        Change(kind="A", path="/srv"),
        Change(kind="A", path="/srv/data"),
        Change(kind="A", path="/srv/data/file"),
        Change(kind="A", path="/srv/data/file2"),
        Change(kind="A", path="/srv/fifo"),
        Change(kind="A", path="/srv/link"),
        Change(kind="A", path="/srv/null"),
        Change(kind="C", path="/usr"),
        Change(kind="C", path="/usr/bin"),
        Change(kind="C", path="/usr/bin/tool"),
        Change(kind="C", path="/var"),
        Change(kind="C", path="/var/lib"),
        Change(kind="C", path="/var/lib/app"),
        Change(kind="D", path="/var/lib/app/a"),
        Change(kind="A", path="/var/lib/app/fresh"),
        Change(kind="D", path="/var/lib/app/sub"),
    ]

    blob = io.BytesIO()
    written = write_layer(upper, blob, compression=compression,
                          lower_dirs=[str(overlay.lower)])
    assert written.size == len(blob.getvalue())
    assert written.digest == "sha256:" + hashlib.sha256(blob.getvalue()).hexdigest()
    assert detect(blob.getvalue()[:4]) == compression

    dest = tmp_path / "dest"
    subprocess.run(["cp", "-a", str(overlay.lower), str(dest)], check=True)
    applied = apply_layer(io.BytesIO(blob.getvalue()), dest)  # compression detected

    assert applied.diff_id == written.diff_id
    assert listing(dest) == merged_view

    again = io.BytesIO()
    assert write_layer(upper, again, compression=compression,
                       lower_dirs=[str(overlay.lower)]) == written
    assert again.getvalue() == blob.getvalue()


def test_whiteouts_without_lowers_are_all_kept(overlay: Overlay, tmp_path: Path) -> None:
    """Without lower_dirs every whiteout and opaque marker is written; applied onto an
    empty directory they remove nothing and leave no trace."""
    lay_out_lower(overlay.lower)
    overlay.mount()
    try:
        (overlay.merged / "etc/hosts").unlink()
        shutil.rmtree(overlay.merged / "var/lib/app")
        (overlay.merged / "var/lib/app").mkdir()
    finally:
        overlay.unmount()

    blob = io.BytesIO()
    written = write_layer(overlay.upper, blob)
    with tarfile.open(fileobj=io.BytesIO(blob.getvalue())) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "etc", "etc/.wh.hosts", "var", "var/lib", "var/lib/app", "var/lib/app/.wh..wh..opq",
    ]
    assert not any(key.startswith("SCHILY.xattr.trusted.overlay.")
                   for m in members for key in m.pax_headers)

    dest = tmp_path / "dest"
    dest.mkdir()
    assert apply_layer(io.BytesIO(blob.getvalue()), dest).diff_id == written.diff_id
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == [
        "etc", "var", "var/lib", "var/lib/app",
    ]


def test_export_of_the_merged_view_round_trips(overlay: Overlay, tmp_path: Path) -> None:
    lay_out_lower(overlay.lower)
    overlay.mount()
    try:
        change_through(overlay.merged)
        expected = listing(overlay.merged)
        first, second = io.BytesIO(), io.BytesIO()
        exported = export_tree(overlay.merged, first)
        assert export_tree(overlay.merged, second) == exported
        assert first.getvalue() == second.getvalue()
    finally:
        overlay.unmount()

    dest = tmp_path / "dest"
    dest.mkdir()
    applied = apply_layer(io.BytesIO(first.getvalue()), dest, compression="none")
    assert applied.diff_id == exported.diff_id
    assert listing(dest) == expected
