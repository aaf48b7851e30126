"""The copy snapshotter's tree copy, as root: owners, setuid modes, xattrs, device nodes
(an overlay whiteout among them), hard links, symbolic links and times survive."""

from __future__ import annotations

import os
import stat

import pytest

from estiba.kernel.linux import Linux
from estiba.snapshots.native import copy_tree

pytestmark = pytest.mark.root


def test_copy_tree_keeps_what_a_root_filesystem_needs(tmp_path):
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    tool = src / "bin" / "tool"
    tool.write_bytes(b"\x7fELF")
    os.chown(tool, 1234, 5678)
    os.chmod(tool, 0o4755)
    os.setxattr(tool, "trusted.estiba", b"t")
    os.setxattr(tool, "user.estiba", b"u")
    os.link(tool, src / "bin" / "alias")
    os.symlink("bin/tool", src / "link")
    os.lchown(src / "link", 42, 43)
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chmod(src / "null", 0o666)  # mknod honours the umask
    os.mknod(src / "whiteout", stat.S_IFCHR, os.makedev(0, 0))
    os.chown(src / "bin", 7, 8)
    os.chmod(src / "bin", 0o1750)
    os.utime(src / "bin", ns=(1_000_000_000, 2_000_000_000))

    dest = tmp_path / "dest"
    copy_tree(str(src), str(dest), Linux())

    copied = os.lstat(dest / "bin" / "tool")
    assert (copied.st_uid, copied.st_gid) == (1234, 5678)
    assert stat.S_IMODE(copied.st_mode) == 0o4755
    assert os.getxattr(dest / "bin" / "tool", "trusted.estiba") == b"t"
    assert os.getxattr(dest / "bin" / "tool", "user.estiba") == b"u"
    assert os.lstat(dest / "bin" / "alias").st_ino == copied.st_ino
    assert os.readlink(dest / "link") == "bin/tool"
    assert os.lstat(dest / "link").st_uid == 42
    null = os.lstat(dest / "null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    assert os.lstat(dest / "whiteout").st_rdev == os.makedev(0, 0)
    directory = os.lstat(dest / "bin")
    assert (directory.st_uid, stat.S_IMODE(directory.st_mode)) == (7, 0o1750)
    assert directory.st_mtime_ns == 2_000_000_000
