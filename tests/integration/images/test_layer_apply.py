"""apply_layer on the real filesystem, as root: every entry type with its metadata,
layers stacked with whiteouts, compressions and the diff_id."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import struct
import subprocess
import tarfile

import pytest
from layer_tars import MTIME, dev, dir_, fifo, hard, reg, sym, tar_bytes

from estiba.errors import InvalidArgument
from estiba.images import ApplyResult

pytestmark = pytest.mark.root

# VFS_CAP_REVISION_2 with the effective bit, CAP_NET_BIND_SERVICE (10) permitted
CAPABILITY = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)




def test_entry_types_and_metadata(work) -> None:
    layer = tar_bytes(
        dir_("./", mode=0o755, mtime=MTIME - 5),
        dir_("bin", mode=0o755, mtime=MTIME - 1),
        reg("bin/tool", b"#!/bin/sh\n", mode=0o4755, mtime=MTIME + 1),
        reg("bin/ping", b"ping", mode=0o755, xattrs={"security.capability": CAPABILITY,
                                                     "user.note": b"hello"}),
        dir_("srv", mode=0o2775, uid=1000, gid=1001, mtime=MTIME + 2),
        reg("srv/data", b"x" * 100_000, mode=0o640, uid=1000, gid=1001, mtime=MTIME + 3.5),
        dir_("tmp", mode=0o1777),
        sym("bin/sh", "tool", uid=33, gid=34),
        sym("abs", "/etc/hostname"),
        hard("bin/tool-again", "bin/tool"),
        dev("dev/null", tarfile.CHRTYPE, 1, 3),
        dev("dev/loop9", tarfile.BLKTYPE, 7, 9, mode=0o660),
        fifo("run/fifo"),
        reg("dev/.keep", b""),
    )
    result = work.apply(layer)
    assert result == ApplyResult(diff_id="sha256:" + hashlib.sha256(layer).hexdigest(),
                                 size=len(layer))
    d = work.dest

    tool = (d / "bin/tool").lstat()
    assert stat.S_IMODE(tool.st_mode) == 0o4755 and (d / "bin/tool").read_bytes() == b"#!/bin/sh\n"
    assert tool.st_mtime == MTIME + 1
    again = (d / "bin/tool-again").lstat()
    assert (again.st_ino, again.st_nlink) == (tool.st_ino, 2)

    assert os.getxattr(d / "bin/ping", "security.capability") == CAPABILITY
    assert os.getxattr(d / "bin/ping", "user.note") == b"hello"

    srv = (d / "srv").lstat()
    assert (stat.S_IMODE(srv.st_mode), srv.st_uid, srv.st_gid) == (0o2775, 1000, 1001)
    # set after srv/data was written into it
    assert srv.st_mtime == MTIME + 2
    data = (d / "srv/data").lstat()
    assert (stat.S_IMODE(data.st_mode), data.st_uid, data.st_gid) == (0o640, 1000, 1001)
    assert data.st_mtime == MTIME + 3.5 and data.st_size == 100_000
    assert stat.S_IMODE((d / "tmp").lstat().st_mode) == 0o1777
    assert stat.S_IMODE(d.lstat().st_mode) == 0o755 and d.lstat().st_mtime == MTIME - 5
    assert (d / "bin").lstat().st_mtime == MTIME - 1

    shell = (d / "bin/sh").lstat()
    assert stat.S_ISLNK(shell.st_mode) and os.readlink(d / "bin/sh") == "tool"
    assert (shell.st_uid, shell.st_gid) == (33, 34)
    assert os.readlink(d / "abs") == "/etc/hostname"

    null = (d / "dev/null").lstat()
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = (d / "dev/loop9").lstat()
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9)
    assert stat.S_IMODE(loop.st_mode) == 0o660
    assert stat.S_ISFIFO((d / "run/fifo").lstat().st_mode)
    # parents missing from the tar are made 0755
    assert stat.S_IMODE((d / "run").lstat().st_mode) == 0o755


def test_two_layers_with_whiteout_and_opaque_dir(work) -> None:
    lower = tar_bytes(
        dir_("etc"), reg("etc/keep", b"keep"), reg("etc/gone", b"gone"),
        dir_("etc/gone-dir"), reg("etc/gone-dir/f", b"f"),
        dir_("opq"), reg("opq/old", b"old"), dir_("opq/sub"), reg("opq/sub/old", b"old"),
        dir_("opq/kept"), reg("opq/kept/old", b"old"),
    )
    upper = tar_bytes(
        reg("etc/.wh.gone"),
        reg("etc/.wh.gone-dir"),
        reg("etc/.wh.never-was"),
        dir_("opq"),
        reg("opq/before", b"before"),
        dir_("opq/kept"),
        reg("opq/kept/new", b"new"),
        reg("opq/.wh..wh..opq"),
        reg("opq/after", b"after"),
        reg("missing/.wh..wh..opq"),
        reg("missing2/.wh.x"),
    )
    work.apply(lower)
    work.apply(upper)
    d = work.dest
    assert sorted(os.listdir(d / "etc")) == ["keep"]
    assert sorted(os.listdir(d / "opq")) == ["after", "before", "kept"]
    assert sorted(os.listdir(d / "opq/kept")) == ["new"]
    assert not (d / "missing").exists() and not (d / "missing2").exists()
    whiteouts = [name for _, dirs, files in os.walk(d) for name in dirs + files
                 if name.startswith(".wh.")]
    assert whiteouts == []


def test_replacing_file_dir_and_symlink(work) -> None:
    work.apply(tar_bytes(
        reg("a", b"file"), dir_("b"), reg("b/inner", b"x"), sym("c", "b"),
        dir_("d"), reg("e", b"e"),
    ))
    work.apply(tar_bytes(
        dir_("a"), reg("a/now", b"dir"),  # file -> directory
        reg("b", b"now a file"),          # directory -> file
        dir_("c"),                        # symlink -> directory, not followed
        sym("d", "e"),                    # directory -> symlink
        hard("f", "e"), reg("e", b"new e"),  # a link, then the target replaced
    ))
    d = work.dest
    assert (d / "a/now").read_bytes() == b"dir"
    assert (d / "b").read_bytes() == b"now a file"
    assert (d / "c").is_dir() and not (d / "c").is_symlink() and os.listdir(d / "c") == []
    assert os.readlink(d / "d") == "e"
    assert (d / "f").read_bytes() == b"e" and (d / "e").read_bytes() == b"new e"


def test_existing_directory_keeps_contents_and_takes_metadata(work) -> None:
    work.apply(tar_bytes(dir_("x", mode=0o700), reg("x/f", b"f")))
    work.apply(tar_bytes(dir_("x", mode=0o751, uid=7, gid=8)))
    st = (work.dest / "x").lstat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o751, 7, 8)
    assert (work.dest / "x/f").read_bytes() == b"f"


LAYER = tar_bytes(dir_("d"), reg("d/f", b"payload" * 1000), sym("d/l", "f"))


@pytest.mark.parametrize("compression", ["auto", "gzip"])
def test_gzip(work, compression: str) -> None:
    result = work.apply(gzip.compress(LAYER), compression=compression)
    assert result.diff_id == "sha256:" + hashlib.sha256(LAYER).hexdigest()
    assert result.size == len(LAYER)
    assert (work.dest / "d/f").read_bytes() == b"payload" * 1000


@pytest.mark.parametrize("compression", ["auto", "none"])
def test_uncompressed(work, compression: str) -> None:
    result = work.apply(LAYER, compression=compression)
    assert result.diff_id == "sha256:" + hashlib.sha256(LAYER).hexdigest()


def test_diff_id_covers_trailing_padding(work) -> None:
    padded = LAYER + b"\0" * 10240
    result = work.apply(padded)
    assert result.diff_id == "sha256:" + hashlib.sha256(padded).hexdigest()
    assert result.size == len(padded)


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd program")
@pytest.mark.parametrize("compression", ["auto", "zstd"])
def test_zstd(work, compression: str) -> None:
    blob = subprocess.run(["zstd", "-c", "-q"], input=LAYER, capture_output=True,
                          check=True).stdout
    result = work.apply(blob, compression=compression)
    assert result.diff_id == "sha256:" + hashlib.sha256(LAYER).hexdigest()
    assert os.readlink(work.dest / "d/l") == "f"


def test_garbage_is_invalid_argument(work) -> None:
    with pytest.raises(InvalidArgument, match="layer"):
        work.apply(b"this is not a tar archive" * 100)
    with pytest.raises(InvalidArgument, match="decompress gzip layer"):
        work.apply(gzip.compress(LAYER)[:-40])
