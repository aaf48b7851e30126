"""The tars of a container's files: written from its tree (``docker cp`` out, export)
through descriptors (``TreeWriter``, ``open_tar``), and copied in (``docker cp`` in):
the members an archive may hold (``check_member``), the spooled archive checked
(``checked_members``) and rebased below its destination (``rebase``), the refusal to
replace a directory with a non-directory (``check_no_overwrite``) and ``copyUIDGID``
(``container_user``, ``chown_members``).

Extraction goes through ``images.layer.apply_layer`` on the root's descriptor, which
contains every entry the way ``rootpaths`` does. Before it the tar is spooled and checked
(names or hard links that climb out of the destination, device nodes and whiteout names
are refused: nothing is written), then rebased below the destination, so that its
symlinks resolve against the container's root, as in Docker.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile

from estiba import errors
from estiba.engine.rootpaths import not_found, read_in_root, resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, BinaryIO

_XATTR_PAX = "SCHILY.xattr."
_OVERLAY_XATTR = "trusted.overlay."
_WHITEOUT = ".wh."


# --- writing a tree -------------------------------------------------------------------


def tar_info(arcname: str, full: str, st: os.stat_result) -> tarfile.TarInfo | None:
    """The entry of ``full`` (a ``/proc/self/fd/<dir>/<name>`` path), its xattrs as
    far as they can be read; None for a socket (not archivable, as in Docker)."""
    from estiba.images.diff import file_info

    info = file_info(arcname, full, st)
    if info is None:
        return None
    try:
        names = sorted(os.listxattr(full, follow_symlinks=False))
    except OSError:
        names = []
    for name in names:
        if name.startswith(_OVERLAY_XATTR):
            continue
        with contextlib.suppress(OSError):
            value = os.getxattr(full, name, follow_symlinks=False)
            info.pax_headers[_XATTR_PAX + name] = value.decode("utf-8", "surrogateescape")
    return info


class TreeWriter:
    """Writes entries to a tar, reading each through its parent's descriptor; a file
    with several links is written once, then as hard links to its first name."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.links: dict[tuple[int, int], str] = {}

    def add(self, dir_fd: int, name: str, arcname: str) -> None:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return  # removed meanwhile (a running container)
        full = f"/proc/self/fd/{dir_fd}/{name}"
        info = tar_info(arcname, full, st)
        if info is None:
            return
        if info.isreg():
            self._add_file(dir_fd, name, info, st)
        elif info.isdir():
            self.tar.addfile(info)
            try:
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW |
                                os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as err:
                if not_found(err) or err.errno == errno.ELOOP:
                    return  # replaced meanwhile: its contents are not archived
                raise
            try:
                self.add_contents(child, arcname)
            finally:
                os.close(child)
        else:
            self.tar.addfile(info)

    def add_contents(self, dir_fd: int, prefix: str) -> None:
        """The entries below ``dir_fd``, named ``<prefix>/<name>`` (``<name>`` with an
        empty prefix), sorted bytewise, a directory before its contents."""
        for name in sorted(os.listdir(dir_fd), key=os.fsencode):
            arc = name if not prefix else f"{prefix.rstrip('/')}/{name}"
            self.add(dir_fd, name, arc)

    def _add_file(self, dir_fd: int, name: str, info: tarfile.TarInfo,
                  st: os.stat_result) -> None:
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self.links.get(key)
            if first is not None:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
                self.tar.addfile(info)
                return
            self.links[key] = info.name
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                         dir_fd=dir_fd)
        except OSError as err:
            if not_found(err) or err.errno == errno.ELOOP:
                return
            raise
        with os.fdopen(fd, "rb") as data:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                return  # replaced meanwhile by something else
            info.size = opened.st_size
            self.tar.addfile(info, _Exactly(data, info.size))


class _Exactly:
    """``size`` bytes of a file: its data, then zeros if it shrank meanwhile."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source = source
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.source.read(n) if n else b""
        if len(data) < n:
            data += bytes(n - len(data))
        self.left -= len(data)
        return data


def open_tar(out: BinaryIO) -> tarfile.TarFile:
    """A PAX tar written as a stream to ``out``, names kept byte for byte."""
    return tarfile.open(fileobj=out, mode="w|",  # type: ignore[call-overload]
                        format=tarfile.PAX_FORMAT, encoding="utf-8",
                        errors="surrogateescape")


# --- checking and extracting what is copied in ---------------------------------------


def check_member(member: tarfile.TarInfo) -> None:
    """Refuse an entry an archive copied into a container may not hold: a name or hard
    link that climbs out of the destination, a device node, or a layer's whiteout name
    (which extraction would read as a deletion) (pure)."""
    from estiba.images.layer import entry_path

    name = member.name
    try:
        parts = entry_path(name)
        if member.islnk():
            entry_path(member.linkname)
    except errors.InvalidArgument as err:
        raise errors.InvalidArgument(
            f"copy to container: archive entry {name!r} leads outside the destination") \
            from err
    if member.ischr() or member.isblk():
        raise errors.InvalidArgument(
            f"copy to container: archive entry {name!r} is a device node: not accepted")
    if parts and parts[-1].startswith(_WHITEOUT):
        raise errors.InvalidArgument(
            f"copy to container: archive entry {name!r}: names starting with "
            f"{_WHITEOUT!r} are reserved")


def checked_members(spool: BinaryIO) -> list[tarfile.TarInfo]:
    """The checked members of the spooled archive (``check_member``)."""
    from estiba.images.compression import open_decompressed

    _, reader = open_decompressed(spool, "auto")
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            members = []
            for member in tar:
                check_member(member)
                members.append(member)
    except tarfile.TarError as err:
        raise errors.InvalidArgument(f"Error processing tar file: {err}") from err
    except (OSError, EOFError) as err:
        if isinstance(err, errors.EstibaError):
            raise
        raise errors.InvalidArgument(f"Error processing tar file: {err}") from err
    finally:
        reader.close()
    return members


def rebase(source: BinaryIO, prefix: str, out: BinaryIO) -> None:
    """Copy the checked archive ``source`` to ``out`` with its names (and hard links'
    targets) below ``prefix``: applied at the root, its symlinks then resolve against
    the container's root, as Docker's do, not against the destination."""
    from estiba.images.compression import open_decompressed
    from estiba.images.layer import entry_path

    def rebased(name: str) -> str:
        return "/".join((prefix, *entry_path(name)))

    _, reader = open_decompressed(source, "auto")
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tin, open_tar(out) as tout:
            for member in tin:
                data = tin.extractfile(member) if member.isreg() else None
                member.name = rebased(member.name)
                member.pax_headers.pop("path", None)  # it would win over the new name
                if member.islnk():
                    member.linkname = rebased(member.linkname)
                    member.pax_headers.pop("linkpath", None)
                tout.addfile(member, data)
    finally:
        reader.close()


def _member_parents(dest: int, members: Iterable[tarfile.TarInfo]
                    ) -> Iterator[tuple[tarfile.TarInfo, tuple[str, ...], int]]:
    """(member, its path parts, an fd of its parent below ``dest``) of each member whose
    parent is there; the fd is closed once the caller goes on."""
    from estiba.images.layer import entry_path

    for member in members:
        parts = entry_path(member.name)
        if not parts:
            continue
        try:
            parent = resolve(dest, parts[:-1], follow_last=True)
        except OSError:
            continue
        try:
            yield member, parts, parent
        finally:
            os.close(parent)


def check_no_overwrite(dest: int, members: Iterable[tarfile.TarInfo]) -> None:
    """Refuse to replace a directory with a non-directory or the reverse (the CLI asks
    it of every copy)."""
    for member, parts, parent in _member_parents(dest, members):
        try:
            st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and not member.isdir():
            raise errors.InvalidArgument(
                f'cannot overwrite directory "{"/".join(parts)}" with non-directory '
                f'"{member.name}"')
        if not stat.S_ISDIR(st.st_mode) and member.isdir():
            raise errors.InvalidArgument(
                f'cannot overwrite non-directory "{"/".join(parts)}" with directory '
                f'"{member.name}"')


# --- copyUIDGID -----------------------------------------------------------------------


def parse_user(user: str, passwd: str, group: str) -> tuple[int, int]:
    """(uid, gid) of a Config's ``User`` with the container's /etc/passwd and /etc/group
    texts (pure)."""
    from estiba.core.spec import resolve_user

    uid, gid, _ = resolve_user(user, passwd, group)
    return uid, gid


def container_user(root_fd: int, container: Any) -> tuple[int, int]:
    """(uid, gid) of the container's Config ``User`` in its root ``root_fd``."""
    from estiba.engine.labels import config_of

    return parse_user(config_of(container).get("User") or "", read_in_root(root_fd, "/etc/passwd"),
                      read_in_root(root_fd, "/etc/group"))


def chown_members(dest: int, members: Iterable[tarfile.TarInfo],
                  owner: tuple[int, int]) -> None:
    """``copyUIDGID``: every extracted entry owned by the container's user."""
    for _, parts, parent in _member_parents(dest, members):
        with contextlib.suppress(OSError):  # gone meanwhile
            os.chown(parts[-1], *owner, dir_fd=parent, follow_symlinks=False)
