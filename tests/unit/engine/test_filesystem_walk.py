"""A container's files walked through descriptors, on a temporary tree standing for a
root filesystem: resolution never leaves the root (absolute and climbing symlinks, a
loop, a file used as a directory), and archives of a directory or of a whole tree name
their entries as Docker does. No root needed."""

from __future__ import annotations

import errno
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.engine.archives import TreeWriter, open_tar
from estiba.engine.filesystem import Filesystems
from estiba.engine.rootpaths import resolve


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """``rootfs/`` with ``etc/passwd``, ``bin/sh -> busybox``, ``abs -> /etc``,
    ``up -> ../../../..`` and ``loop -> loop``; a ``secret`` file next to it, outside."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\n")
    (rootfs / "bin").mkdir()
    (rootfs / "bin" / "busybox").write_bytes(b"\x7fELF")
    os.symlink("busybox", rootfs / "bin" / "sh")
    os.symlink("/etc", rootfs / "abs")
    os.symlink("../../../..", rootfs / "up")
    os.symlink("loop", rootfs / "loop")
    (tmp_path / "secret").write_text("host only\n")
    return rootfs


@pytest.fixture
def root_fd(root: Path) -> Iterator[int]:
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def _where(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_resolve_follows_symlinks_inside_the_root(root: Path, root_fd: int) -> None:
    assert _where(resolve(root_fd, ("abs", "passwd"), True)) == str(root / "etc" / "passwd")
    assert _where(resolve(root_fd, ("bin", "sh"), True)) == str(root / "bin" / "busybox")
    assert _where(resolve(root_fd, ("bin", "sh"), False)) == str(root / "bin" / "sh")
    # climbing out stops at the root: up/secret is the root's secret, which is missing
    assert _where(resolve(root_fd, ("up",), True)) == str(root)
    with pytest.raises(FileNotFoundError):
        resolve(root_fd, ("up", "..", "secret"), True)
    assert _where(resolve(root_fd, ("..", "..", "etc"), True)) == str(root / "etc")


def test_resolve_errors(root_fd: int) -> None:
    with pytest.raises(OSError) as caught:
        resolve(root_fd, ("loop",), True)
    assert caught.value.errno == errno.ELOOP
    with pytest.raises(OSError) as caught:
        resolve(root_fd, ("etc", "passwd", "x"), True)
    assert caught.value.errno == errno.ENOTDIR


def _archive(root: Path, prefix: str, top: tuple[str, str] | None = None) -> tarfile.TarFile:
    out = io.BytesIO()
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with open_tar(out) as tar:
            writer = TreeWriter(tar)
            if top is None:
                writer.add_contents(dir_fd, prefix)
            else:
                writer.add(dir_fd, *top)
    finally:
        os.close(dir_fd)
    return tarfile.open(fileobj=io.BytesIO(out.getvalue()))


def test_directory_archived_under_its_name(root: Path) -> None:
    with _archive(root, "", ("etc", "etc")) as tar:
        assert tar.getnames() == ["etc", "etc/passwd"]
        assert tar.getmember("etc").isdir()
        member = tar.extractfile("etc/passwd")
        assert member is not None and member.read() == b"root:x:0:0::/:/bin/sh\n"


def test_symlink_archived_as_one(root: Path) -> None:
    with _archive(root / "bin", "", ("sh", "sh")) as tar:
        [member] = tar.getmembers()
        assert member.issym() and member.linkname == "busybox"


def test_whole_tree_sorted_with_links_kept(root: Path) -> None:
    os.link(root / "bin" / "busybox", root / "bin" / "hard")
    with _archive(root, "") as tar:
        names = tar.getnames()
        assert names == ["abs", "bin", "bin/busybox", "bin/hard", "bin/sh", "etc",
                         "etc/passwd", "loop", "up"]
        assert tar.getmember("bin/hard").islnk()
        assert tar.getmember("bin/hard").linkname == "bin/busybox"
        assert tar.getmember("up").linkname == "../../../.."


def test_link_targets_are_absolute_in_the_root(root: Path, root_fd: int) -> None:
    os.symlink("../nowhere/x", root / "bin" / "dangling")
    bin_fd = resolve(root_fd, ("bin",), True)
    try:
        assert Filesystems._link_target(root_fd, bin_fd, "sh") == "/bin/busybox"
        assert Filesystems._link_target(root_fd, bin_fd, "dangling") == "/nowhere/x"
    finally:
        os.close(bin_fd)
    assert Filesystems._link_target(root_fd, root_fd, "abs") == "/etc"
