"""The diff direction of layers (OCI image spec, layer.md, "Representing Changes"): an
overlay upper directory turned back into a layer tar, the change list ``docker diff``
shows, and a tar of a whole tree for ``docker export``.

Overlayfs (kernel ``Documentation/filesystems/overlayfs.rst``) records a deletion in the
upper dir as a *whiteout*, a character device 0/0 with the deleted name, and a directory
that replaces a lower one (``rm -rf d; mkdir d``) as *opaque*, with the xattr
``trusted.overlay.opaque="y"``. The layer format says the same with names: an empty file
``.wh.<name>`` and a file ``.wh..wh..opq`` inside the directory (``whiteouts``). How a
whiteout or an opaque dir is recognised on disk is a ``Markers`` value, so unit tests lay
out trees without root and mark entries with fakes.

Determinism: the same tree gives the same bytes, so the same digests. Entries are written
depth first, names sorted bytewise within each directory (a parent always before its
children); the format is PAX; user and group names are empty; times are whole seconds of
the mtime only (no atime or ctime, as Docker does); xattrs are written in name order as
``SCHILY.xattr.*`` (``trusted.overlay.*`` is overlay bookkeeping and is left out);
gzip carries no file name and a zero time; zstd's level and thread count are fixed.
The layer root itself is not an entry.

Compression (``compression.open_compressed``): none, gzip (level 6, as Docker) or zstd
(the ``zstd`` program, level 3). Both digests are computed while writing: ``diff_id``
over the uncompressed tar, ``digest`` over the bytes handed to ``out``; nothing is read
back. With zstd the compressed bytes reach ``out`` from a thread of the compressor, so
``out`` is not written from the calling thread until ``write_layer`` returns.

On failure ``out`` holds part of a blob: the caller discards it (an ingest it aborts).

Not supported: uppers written with overlay's ``redirect_dir`` or ``metacopy`` (their
entries are not self-contained); they raise Unimplemented. Sockets are skipped.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

from estiba.errors import InvalidArgument, Unimplemented, from_oserror
from estiba.images import whiteouts
from estiba.images.compression import Sink, open_compressed
from estiba.oci.record import Record

_XATTR_PAX = "SCHILY.xattr."
_OVERLAY_XATTR = "trusted.overlay."
_OPAQUE_XATTR = "trusted.overlay.opaque"
_UNSUPPORTED_XATTRS = ("trusted.overlay.redirect", "trusted.overlay.metacopy")
COMPRESSIONS = ("none", "gzip", "zstd")


class LayerResult(Record):
    """A written layer: ``diff_id`` (``sha256:<hex>`` of the uncompressed tar),
    ``digest`` (of the blob as written to ``out``, equal to ``diff_id`` uncompressed)
    and ``size``, the blob's length in bytes (what a descriptor's ``size`` holds)."""

    diff_id: str
    digest: str
    size: int


class Change(Record):
    """One line of ``docker diff``: ``kind`` "A" (added), "C" (changed) or "D"
    (deleted), ``path`` absolute inside the container (``/etc/passwd``)."""

    kind: str
    path: str


def _overlay_whiteout(path: str, st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


def _overlay_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False  # no such xattr, or trusted.* is not readable: not opaque


class Markers(Record):
    """How a directory tree marks deletions: ``is_whiteout(path, lstat)`` says an entry
    is a whiteout, ``is_opaque(dir_path)`` that a directory hides the lower ones."""

    is_whiteout: Callable[[str, os.stat_result], bool]
    is_opaque: Callable[[str], bool]


OVERLAY = Markers(is_whiteout=_overlay_whiteout, is_opaque=_overlay_opaque)
_NO_MARKERS = Markers(is_whiteout=lambda path, st: False, is_opaque=lambda path: False)


# --- walking ---------------------------------------------------------------------------


def _walk(root: str, rel: str = "") -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path, full path, lstat) of every entry under ``root``, depth first,
    names sorted bytewise in each directory, a directory before its contents; never
    follows a symlink."""
    full = os.path.join(root, rel) if rel else root
    try:
        names = sorted(os.listdir(full), key=os.fsencode)
    except OSError as err:
        raise from_oserror(f"list {full}", err) from err
    for name in names:
        crel = f"{rel}/{name}" if rel else name
        cfull = os.path.join(root, crel)
        try:
            st = os.lstat(cfull)
        except OSError as err:
            raise from_oserror(f"stat {cfull}", err) from err
        yield crel, cfull, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, crel)


# --- the change list -------------------------------------------------------------------


def changes(
    upper_dir: str | os.PathLike[str], lower_dirs: list[str], *, markers: Markers = OVERLAY,
) -> list[Change]:
    """What the upper dir changes over the lower dirs (``lower_dirs`` top first, as in
    overlay's ``lowerdir=``), sorted by path: a whiteout is "D"; any other entry is "C"
    when its path is visible in the lowers, else "A". Directories holding changes are in
    the upper dir (overlay copies them up), so they show as "C", as in ``docker diff``.
    Below an opaque directory, each lower entry the upper does not have again is "D"."""
    upper = os.fspath(upper_dir)
    lowers = [os.fspath(d) for d in lower_dirs]
    found: dict[str, str] = {}
    for rel, full, st in _walk(upper):
        parts = rel.split("/")
        if markers.is_whiteout(full, st):
            found["/" + rel] = "D"
            continue
        found["/" + rel] = "C" if _visible_below(lowers, parts, markers) else "A"
        if stat.S_ISDIR(st.st_mode) and markers.is_opaque(full):
            for name in _names_below(lowers, parts, markers):
                if not os.path.lexists(os.path.join(full, name)):
                    found[f"/{rel}/{name}"] = "D"
    return [Change(kind=found[path], path=path) for path in sorted(found, key=os.fsencode)]


def _visible_below(lowers: list[str], parts: list[str], markers: Markers) -> bool:
    """Whether the merged view of ``lowers`` has the path ``parts``."""
    return bool(_lower_stack(lowers, parts, markers))


def _lower_stack(lowers: list[str], parts: list[str], markers: Markers) -> list[str]:
    """The entries of the lowers (top first) that make the merged entry at ``parts``, as
    overlay merges them: one for a non-directory, for a directory every lower's
    directory down to the first opaque one; empty when the merged view has no such
    path (missing, whited out, or under a non-directory)."""
    stack = list(lowers)
    for i, comp in enumerate(parts):
        found: list[str] = []
        is_dir = True
        for directory in stack:
            path = os.path.join(directory, comp)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise from_oserror(f"stat {path}", err) from err
            if markers.is_whiteout(path, st):
                break
            if not stat.S_ISDIR(st.st_mode):
                if not found:
                    found, is_dir = [path], False
                break  # a non-directory hides what the lowers below have there
            found.append(path)
            if markers.is_opaque(path):
                break
        if not found:
            return []
        if not is_dir and i < len(parts) - 1:
            return []  # the path goes on below a non-directory
        stack = found
    return stack if parts else []


def _names_below(lowers: list[str], parts: list[str], markers: Markers) -> list[str]:
    """The names the merged view of ``lowers`` has in the directory ``parts``."""
    stack = _lower_stack(lowers, parts, markers)
    if not stack or not os.path.isdir(stack[0]) or os.path.islink(stack[0]):
        return []
    names: set[str] = set()
    hidden: set[str] = set()
    for directory in stack:
        for name in os.listdir(directory):
            if name in names or name in hidden:
                continue
            child = os.path.join(directory, name)
            if markers.is_whiteout(child, os.lstat(child)):
                hidden.add(name)
            else:
                names.add(name)
    return sorted(names, key=os.fsencode)


# --- writing tars ----------------------------------------------------------------------


class _HashingWriter:
    """Passes bytes through to ``sink``, hashing and counting them."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        self._sink.write(data)
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def write_layer(
    upper_dir: str | os.PathLike[str], out: BinaryIO, *, compression: str = "none",
    lower_dirs: list[str] | None = None, markers: Markers = OVERLAY,
    skip: frozenset[str] = frozenset(),
) -> LayerResult:
    """Write the overlay upper dir ``upper_dir`` to ``out`` as a layer tar, whiteouts
    and opaque dirs translated to ``.wh.`` names. With ``lower_dirs`` (top first), a
    whiteout or an opaque marker that hides nothing in the lowers is left out; so are
    the relative paths of ``skip``."""
    upper = os.fspath(upper_dir)
    lowers = None if lower_dirs is None else [os.fspath(d) for d in lower_dirs]
    return _write(upper, out, compression, markers, lowers, skip)


def export_tree(
    root_dir: str | os.PathLike[str], out: BinaryIO, *, compression: str = "none",
) -> LayerResult:
    """Write the whole tree under ``root_dir`` to ``out`` as a tar (``docker export``),
    with the entry rules of ``write_layer`` and no whiteout translation."""
    return _write(os.fspath(root_dir), out, compression, _NO_MARKERS, None)


def _write(
    root: str, out: BinaryIO, compression: str, markers: Markers, lowers: list[str] | None,
    skip: frozenset[str] = frozenset(),
) -> LayerResult:
    if compression not in COMPRESSIONS:
        raise InvalidArgument(f"write layer of {root}: unknown compression {compression!r}")
    if not os.path.isdir(root):
        raise InvalidArgument(f"write layer of {root}: not a directory")
    blob = _HashingWriter(out)
    compressor = None if compression == "none" else open_compressed(blob, compression)
    tar_sink = _HashingWriter(blob if compressor is None else compressor)
    try:
        with tarfile.open(  # type: ignore[call-overload]
            fileobj=tar_sink, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
            errors="surrogateescape",
        ) as tar:
            _add_entries(tar, root, markers, lowers, skip)
    except BaseException:
        if compressor is not None:
            compressor.abort()
        raise
    if compressor is not None:
        compressor.close()  # the last bytes reach ``out`` (through ``blob``) here
    return LayerResult(diff_id=tar_sink.digest, digest=blob.digest, size=blob.size)


def _add_entries(
    tar: tarfile.TarFile, root: str, markers: Markers, lowers: list[str] | None,
    skip: frozenset[str] = frozenset(),
) -> None:
    first_link: dict[tuple[int, int], str] = {}
    for rel, full, st in _walk(root):
        if rel in skip:
            continue
        parts = rel.split("/")
        if markers.is_whiteout(full, st):
            if lowers is None or _visible_below(lowers, parts, markers):
                name = "/".join([*parts[:-1], whiteouts.whiteout_for(parts[-1])])
                tar.addfile(_marker_info(name, st, 0o600))
            continue
        if stat.S_ISSOCK(st.st_mode):
            continue
        info = _info(rel, full, st)
        if info.isreg() and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in first_link:
                info.type = tarfile.LNKTYPE
                info.linkname = first_link[key]
                info.size = 0
            else:
                first_link[key] = rel
        if info.isreg():
            try:
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as data:
                    tar.addfile(info, data)
            except OSError as err:
                raise from_oserror(f"read {full}", err) from err
        else:
            tar.addfile(info)
        if (
            info.isdir() and markers.is_opaque(full)
            and (lowers is None or _names_below(lowers, parts, markers))
        ):
            tar.addfile(_marker_info(f"{rel}/{whiteouts.OPAQUE}", st, st.st_mode & 0o777))


def _marker_info(name: str, st: os.stat_result, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.REGTYPE
    info.mode = mode
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    return info


def _info(rel: str, full: str, st: os.stat_result) -> tarfile.TarInfo:
    info = file_info(rel, full, st)
    if info is None:
        raise InvalidArgument(f"write layer entry {rel}: unsupported file type "
                              f"{st.st_mode:o}")
    info.pax_headers = _xattrs(rel, full)
    return info


def file_info(name: str, full: str, st: os.stat_result) -> tarfile.TarInfo | None:
    """The tar entry ``name`` of the file at ``full`` (stat ``st``), without its xattrs;
    None for a type a tar cannot hold (a socket)."""
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)  # whole seconds, as Docker writes them
    mode = st.st_mode
    if stat.S_ISREG(mode):
        info.type = tarfile.REGTYPE
        info.size = st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        try:
            info.linkname = os.readlink(full)
        except OSError as err:
            raise from_oserror(f"read link {full}", err) from err
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        return None
    return info


def _xattrs(rel: str, full: str) -> dict[str, str]:
    try:
        names = os.listxattr(full, follow_symlinks=False)
    except OSError as err:
        if err.errno == errno.EOPNOTSUPP:  # the filesystem has no xattrs
            return {}
        raise from_oserror(f"list xattrs of {full}", err) from err
    headers: dict[str, str] = {}
    for name in sorted(names):
        if name in _UNSUPPORTED_XATTRS:
            raise Unimplemented(
                f"write layer entry {rel}: overlay {name} (redirect_dir or metacopy)"
            )
        if name.startswith(_OVERLAY_XATTR):
            continue
        try:
            value = os.getxattr(full, name, follow_symlinks=False)
        except OSError as err:
            raise from_oserror(f"read xattr {name} of {full}", err) from err
        headers[_XATTR_PAX + name] = value.decode("utf-8", "surrogateescape")
    return headers
