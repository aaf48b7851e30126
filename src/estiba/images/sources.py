"""Where an import reads its files: the members of an image archive or the files of an
OCI layout directory, each handed out as a byte range of an open file (a ``Span``).

Byte ranges rather than extracted copies: a ``docker save`` archive on disk is indexed
in place (tar headers only; the data is never read until it is copied), and the content
store copies a blob straight from the archive's file with ``Writer.copy_from`` — one
kernel copy, no temporary extraction. An archive that is not a plain seekable file (a
pipe, a gzip-compressed tar) is first spooled, decompressed, into an unnamed temporary
file and indexed the same way.

Trust: member names are checked (absolute names and ``..`` refused) and links are never
followed on disk: a hard or symbolic link member is an alias resolved inside the
archive's own names, and refused when it points out of them.
"""

from __future__ import annotations

import os
import posixpath

from estiba.errors import InvalidArgument, from_oserror
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import BinaryIO, Protocol

    class FileSource(Protocol):
        """Named files as byte ranges; ``label`` names the source in messages."""

        label: str

        def has(self, name: str) -> bool: ...

        def span(self, name: str) -> Span: ...


_MAX_LINKS = 16
_CHUNK = 1 << 20


class Span(Record):
    """``size`` bytes of the open file ``fd`` from ``offset``; the source owns ``fd``."""

    fd: int
    offset: int
    size: int


def read(source: FileSource, name: str, limit: int) -> bytes:
    """The whole file ``name`` of ``source``; InvalidArgument past ``limit`` bytes."""
    span = source.span(name)
    if span.size > limit:
        raise InvalidArgument(f"{source.label}: {name}: more than {limit} bytes")
    try:
        data = os.pread(span.fd, span.size, span.offset)
    except OSError as err:
        raise from_oserror(f"{source.label}: read {name}", err) from err
    if len(data) != span.size:
        raise InvalidArgument(f"{source.label}: {name}: truncated")
    return data


class SpanReader:
    """A span read as a binary stream (for a decompressor)."""

    def __init__(self, span: Span) -> None:
        self._span = span
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        left = self._span.size - self._pos
        size = left if size is None or size < 0 else min(size, left)
        data = os.pread(self._span.fd, size, self._span.offset + self._pos) if size else b""
        self._pos += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


class DirectorySource:
    """The files under a directory (an OCI layout), opened on demand."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.label = root
        self._open: dict[str, int] = {}

    def has(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.root, name))

    def span(self, name: str) -> Span:
        fd = self._open.get(name)
        if fd is None:
            path = os.path.join(self.root, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as err:
                raise from_oserror(f"open {path}", err) from err
            self._open[name] = fd
        return Span(fd=fd, offset=0, size=os.fstat(fd).st_size)

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


class TarIndex:
    """The regular-file members of a tar, found by reading its headers only."""

    def __init__(self, f: BinaryIO, label: str) -> None:
        import tarfile

        self.label = label
        self._fd = f.fileno()
        self._files: dict[str, tuple[int, int]] = {}  # name -> (offset, size)
        self._links: dict[str, str] = {}  # member name -> target member name
        try:
            with tarfile.open(fileobj=f, mode="r:") as tar:
                for member in tar:
                    self._add(member)
        except tarfile.TarError as err:
            raise InvalidArgument(f"{label}: not a valid tar: {err}") from err
        except OSError as err:
            raise from_oserror(f"{label}: read", err) from err

    def _add(self, member: tarfile.TarInfo) -> None:
        name = member_name(member.name, self.label)
        if member.isfile() and not member.issparse():
            self._files[name] = (member.offset_data, member.size)
            self._links.pop(name, None)
        elif member.issym() or member.islnk():
            link = member.linkname
            if member.issym() and not link.startswith("/"):
                link = posixpath.join(posixpath.dirname(name), link)
            self._links[name] = member_name(posixpath.normpath(link), self.label)
            self._files.pop(name, None)
        # directories need no record; devices, fifos and sparse files have no place
        # in an image archive and are ignored

    def has(self, name: str) -> bool:
        return self._resolve(name) in self._files

    def span(self, name: str) -> Span:
        resolved = self._resolve(name)
        if resolved not in self._files:
            raise InvalidArgument(f"{self.label}: {name}: no such file in the archive")
        offset, size = self._files[resolved]
        return Span(fd=self._fd, offset=offset, size=size)

    def _resolve(self, name: str) -> str:
        name = member_name(name, self.label)
        for _ in range(_MAX_LINKS):
            if name not in self._links:
                return name
            name = self._links[name]
        raise InvalidArgument(f"{self.label}: {name}: too many levels of links")


def member_name(name: str, label: str) -> str:
    """A member name made canonical; absolute names and ``..`` components refused."""
    if name.startswith("/") or "\0" in name:
        raise InvalidArgument(f"{label}: member {name!r}: absolute path refused")
    if ".." in name.split("/"):
        raise InvalidArgument(f"{label}: member {name!r}: '..' in path refused")
    return posixpath.normpath(name)


def open_tar(stream: str | os.PathLike[str] | BinaryIO, label: str,
             tmp_dir: str | None = None) -> tuple[BinaryIO, TarIndex]:
    """Index the tar ``stream`` (a path or a binary file object, maybe compressed);
    return the file the index reads (the caller closes it) and the index."""
    from estiba.images.compression import detect
    from estiba.kernel.files import seekable_file

    if isinstance(stream, (str, os.PathLike)):
        try:
            f: BinaryIO = open(stream, "rb")  # noqa: SIM115 - returned to the caller
        except OSError as err:
            raise from_oserror(f"{label}: open", err) from err
    elif seekable_file(stream):
        f = os.fdopen(os.dup(stream.fileno()), "rb")
        f.seek(stream.tell())
    else:
        f = _spool(stream, label, tmp_dir)
    try:
        head = os.pread(f.fileno(), 6, f.tell())
        if detect(head) != "none":
            spooled = _spool(f, label, tmp_dir)
            f.close()
            f = spooled
        return f, TarIndex(f, label)
    except BaseException:
        f.close()
        raise


def _spool(stream: BinaryIO, label: str, tmp_dir: str | None) -> BinaryIO:
    """Copy ``stream``, decompressed, into an unnamed temporary file, rewound."""
    import tempfile

    from estiba.images.compression import open_decompressed

    out = tempfile.TemporaryFile(dir=tmp_dir)  # noqa: SIM115 - returned to the caller
    try:
        _, reader = open_decompressed(stream)
        try:
            while chunk := reader.read(_CHUNK):
                out.write(chunk)
        finally:
            reader.close()
        out.flush()
        out.seek(0)
        return out
    except OSError as err:
        out.close()
        raise from_oserror(f"{label}: read", err) from err
    except BaseException:
        out.close()
        raise
