"""Building layer tars in memory for the applier's tests, and snapshots of directory
trees to compare before and after."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

MTIME = 1_600_000_000


def reg(name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
        mtime: float = MTIME, xattrs: dict[str, bytes] | None = None
        ) -> tuple[tarfile.TarInfo, bytes]:
    info = _info(name, tarfile.REGTYPE, mode, uid, gid, mtime, xattrs)
    info.size = len(data)
    return info, data


def dir_(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: float = MTIME,
         xattrs: dict[str, bytes] | None = None) -> tuple[tarfile.TarInfo, bytes]:
    return _info(name, tarfile.DIRTYPE, mode, uid, gid, mtime, xattrs), b""


def sym(name: str, target: str, uid: int = 0, gid: int = 0) -> tuple[tarfile.TarInfo, bytes]:
    info = _info(name, tarfile.SYMTYPE, 0o777, uid, gid, MTIME, None)
    info.linkname = target
    return info, b""


def hard(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = _info(name, tarfile.LNKTYPE, 0o644, 0, 0, MTIME, None)
    info.linkname = target
    return info, b""


def dev(name: str, kind: bytes, major: int, minor: int, mode: int = 0o666
        ) -> tuple[tarfile.TarInfo, bytes]:
    info = _info(name, kind, mode, 0, 0, MTIME, None)
    info.devmajor, info.devminor = major, minor
    return info, b""


def fifo(name: str, mode: int = 0o640) -> tuple[tarfile.TarInfo, bytes]:
    return _info(name, tarfile.FIFOTYPE, mode, 0, 0, MTIME, None), b""


def _info(name: str, kind: bytes, mode: int, uid: int, gid: int, mtime: float,
          xattrs: dict[str, bytes] | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, mtime
    if xattrs:
        info.pax_headers = {
            f"SCHILY.xattr.{key}": value.decode("utf-8", "surrogateescape")
            for key, value in xattrs.items()
        }
    return info


def tar_bytes(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root (root included) with its type, mode, owner, times and
    contents or link target: equal snapshots mean nothing changed."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath, name)
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                content: object = path.read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            else:
                content = None
            key = str(path.relative_to(root)) if name != "." else str(
                Path(dirpath).relative_to(root))
            found[key] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_nlink,
                          content)
    return found
