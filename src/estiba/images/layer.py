"""Applying a layer (OCI image spec, layer.md, "Applying Changesets") onto a directory,
normally the ``fs`` dir of a fresh snapshot whose lower layers are already in place (a
copy snapshotter) or visible through overlay.

The tar is read once, as a stream: the blob is decompressed on the fly and the
decompressed bytes are hashed as they pass to ``tarfile`` (mode ``r|``), so ``diff_id``
is the sha256 of exactly the bytes extracted, trailing padding included.

Safe extraction. Nothing an entry says can create or change a file outside ``dest``:

- Entry names are cleaned lexically. A leading ``/`` is dropped (``/etc/x`` is
  ``dest/etc/x``, as Docker and containerd do); a ``..`` that climbs above ``dest`` is
  refused with InvalidArgument.
- Every parent directory is opened one component at a time from an ``O_PATH`` handle on
  ``dest`` with ``O_NOFOLLOW``. A symlink met on the way (planted by this layer or a lower
  one) is resolved *inside* ``dest``, as the container will see it: an absolute target
  restarts at ``dest``, a ``..`` stops at ``dest``. So ``a -> /etc`` then ``a/passwd``
  writes ``dest/etc/passwd``, never ``/etc/passwd``. More than 40 symlinks on one path
  (a loop) is InvalidArgument.
- The last component is never followed: an existing entry there (a symlink included) is
  removed first, unless both are directories; files are created ``O_EXCL|O_NOFOLLOW``.
- A hard link's target goes through the same cleaning and resolution and must already
  exist in ``dest`` (in this layer or below); a missing or escaping target is
  InvalidArgument.
- Owner, mode, xattrs and times are set through ``/proc/self/fd/<parent>/<name>``
  without following the last component. ``/proc`` must be mounted.

Failure leaves the layer half applied *inside* ``dest``: the entries before the bad one
are there, nothing outside was touched. The caller (the unpacker) extracts into a fresh
active snapshot and removes that snapshot when ``apply_layer`` raises; ``dest`` is never
a committed layer.

Devices need root (mknod, through the kernel boundary); an applier for rootless use
(skipping devices, mapping ids) is not written yet.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
from typing import BinaryIO

from estiba.errors import EstibaError, InvalidArgument, NotFound, from_oserror
from estiba.images import whiteouts
from estiba.images.compression import detect, open_decompressed
from estiba.kernel.files import copy_range, seekable_file
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from estiba.kernel.linux import Linux

    class Writable(Protocol):
        def write(self, data: bytes, /) -> int: ...

_CHUNK = 1 << 20
_HASH_CHUNK = 4 << 20
_MAX_LINKS = 40
_XATTR_PAX = "SCHILY.xattr."
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ApplyResult(Record):
    """What applying a layer produced: ``diff_id`` is ``sha256:<hex>`` of the
    uncompressed tar, ``size`` its length in bytes."""

    diff_id: str
    size: int


def entry_path(name: str) -> tuple[str, ...]:
    """The components of a tar entry name relative to the destination: ``.`` and empty
    components dropped, a leading ``/`` ignored, ``..`` applied lexically.

    Raises InvalidArgument when ``..`` climbs above the destination.
    """
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise InvalidArgument(f"layer entry {name!r}: path escapes the destination")
            parts.pop()
        else:
            parts.append(comp)
    return tuple(parts)


class HashingReader:
    """Passes the bytes of a stream through, hashing and counting them, and copying
    them to ``sink`` (an ingest writer, say) when one is given."""

    def __init__(self, source: BinaryIO, sink: Writable | None = None) -> None:
        self._source = source
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if data:
            self._hash.update(data)
            if self._sink is not None:
                self._sink.write(data)
            self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def apply_layer(
    stream: BinaryIO, dest_dir: str | os.PathLike[str], *, compression: str = "auto",
    kernel: Linux | None = None,
) -> ApplyResult:
    """Extract the layer tar read from ``stream`` onto the existing directory
    ``dest_dir``, honouring whiteouts, and return its diff_id and uncompressed size.

    ``compression`` is "auto" (by magic bytes), "gzip", "zstd" or "none". ``kernel``
    makes the privileged calls (mknod, chown); a ``Linux()`` by default.
    """
    if kernel is None:
        from estiba.kernel.linux import Linux

        kernel = Linux()
    if compression in ("auto", "none") and seekable_file(stream):
        head = os.pread(stream.fileno(), 6, stream.tell())
        if detect(head) == "none":
            return _apply_in_place(stream, os.fspath(dest_dir), kernel)
    _, decompressed = open_decompressed(stream, compression)
    try:
        hashing = HashingReader(decompressed)
        applier = _Applier(os.fspath(dest_dir), kernel)
        try:
            _apply_members(applier, hashing, "r|")
            hashing.drain()  # the end-of-archive blocks and padding count in the diff_id
            applier.finish()
        finally:
            applier.close()
    finally:
        decompressed.close()
    return ApplyResult(diff_id=hashing.digest, size=hashing.size)


def _apply_in_place(stream: BinaryIO, dest: str, kernel: Linux) -> ApplyResult:
    """The fast path for an uncompressed tar in a regular file (a blob of the content
    store): ``tarfile`` reads the headers only, each file's data is copied by the
    kernel from its offset in the tar, and a second thread hashes the whole tar at the
    same time (hashlib and pread release the GIL), for the same diff_id as a stream."""
    import threading

    fd = stream.fileno()
    start = stream.tell()
    hashed: list[tuple[str, int] | OSError] = []
    hasher = threading.Thread(target=_hash_file, args=(fd, start, hashed),
                              name="layer-diff-id", daemon=True)
    hasher.start()
    applier = _Applier(dest, kernel, source_fd=fd)
    try:
        _apply_members(applier, stream, "r:")
        applier.finish()
    finally:
        applier.close()
        hasher.join()
    result = hashed[0]
    if isinstance(result, OSError):
        raise from_oserror("read layer tar", result)
    return ApplyResult(diff_id=result[0], size=result[1])


def _apply_members(applier: _Applier, source: object, mode: str) -> None:
    """Apply every member of the tar read from ``source``: as a stream (``r|``) or by
    seeking over the data (``r:``)."""
    try:
        with tarfile.open(fileobj=source, mode=mode) as tar:  # type: ignore[call-overload]
            for member in tar:
                applier.apply(member, tar)
    except tarfile.TarError as err:
        raise InvalidArgument(f"read layer tar: {str(err).lower()}") from err


def _hash_file(fd: int, offset: int, out: list[tuple[str, int] | OSError]) -> None:
    h = hashlib.sha256()
    buf = bytearray(_HASH_CHUNK)
    view = memoryview(buf)
    size = 0
    try:
        while got := os.preadv(fd, [buf], offset + size):
            h.update(view[:got])
            size += got
    except OSError as err:
        out.append(err)
        return
    out.append(("sha256:" + h.hexdigest(), size))


class _Applier:
    """Applies tar members one by one onto a directory held open as ``O_PATH``.
    ``source_fd``, when given, is the file the tar is read from: file data is copied
    from there by offset instead of through ``tarfile``."""

    def __init__(self, dest: str, kernel: Linux, source_fd: int | None = None) -> None:
        self._dest = dest
        self._kernel = kernel
        self._source_fd = source_fd
        try:
            self._root = os.open(dest, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as err:
            raise from_oserror(f"open layer destination {dest}", err) from err
        self._written: set[tuple[str, ...]] = set()  # resolved paths this layer made
        self._dir_times: list[tuple[tuple[str, ...], int, int]] = []

    def close(self) -> None:
        os.close(self._root)

    # --- entries --------------------------------------------------------------------

    def apply(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        what = f"layer entry {member.name!r}"
        parts = entry_path(member.name)
        if not parts:
            if not member.isdir():
                raise InvalidArgument(f"{what}: the layer root must be a directory")
            self._set_metadata(self._root, ".", member, what)
            self._dir_times.append(((), *_times(member)))
            return
        base = parts[-1]
        if whiteouts.is_whiteout(base):
            self._whiteout(parts, what)
            return
        try:
            dirfd, resolved = self._open_dir(parts[:-1], create=True, what=what)
        except OSError as err:
            raise from_oserror(f"open parent of {what} in {self._dest}", err) from err
        try:
            self._create(dirfd, base, member, tar, what)
            if not member.islnk():
                self._set_metadata(dirfd, base, member, what)
        except OSError as err:
            raise from_oserror(f"extract {what} in {self._dest}", err) from err
        finally:
            os.close(dirfd)
        path = resolved + (base,)
        self._written.add(path)
        if member.isdir():
            self._dir_times.append((path, *_times(member)))

    def _create(
        self, dirfd: int, name: str, member: tarfile.TarInfo, tar: tarfile.TarFile, what: str
    ) -> None:
        if member.islnk():
            self._hard_link(dirfd, name, member, what)
            return
        existing = _lstat(dirfd, name)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            _remove(dirfd, name)
        if member.isreg():
            fd = os.open(
                name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600, dir_fd=dirfd,
            )
            with os.fdopen(fd, "wb") as out:
                if self._source_fd is not None and not member.issparse():
                    copy_range(self._source_fd, out.fileno(), member.offset_data, member.size)
                    return
                source = tar.extractfile(member)
                if source is not None:
                    shutil.copyfileobj(source, out, _CHUNK)
        elif member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(name, 0o700, dir_fd=dirfd)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=dirfd)
        elif member.isfifo():
            os.mkfifo(name, 0o600, dir_fd=dirfd)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            self._kernel.mknod(
                _at(dirfd, name), kind | (member.mode & 0o7777), member.devmajor,
                member.devminor,
            )
        else:
            raise InvalidArgument(f"{what}: unsupported tar entry type {member.type!r}")

    def _hard_link(self, dirfd: int, name: str, member: tarfile.TarInfo, what: str) -> None:
        try:
            target = entry_path(member.linkname)
        except InvalidArgument as err:
            raise InvalidArgument(
                f"{what}: hard link target {member.linkname!r} escapes the destination"
            ) from err
        if not target:
            raise InvalidArgument(f"{what}: hard link to the layer root")
        missing = InvalidArgument(
            f"{what}: hard link target {member.linkname!r} is not in the layer or below it"
        )
        try:
            tdir, _ = self._open_dir(target[:-1], create=False, what=what)
        except (NotFound, FileNotFoundError, NotADirectoryError):
            raise missing from None
        try:
            tstat = _lstat(tdir, target[-1])
            if tstat is None:
                raise missing
            if stat.S_ISDIR(tstat.st_mode):
                raise InvalidArgument(f"{what}: hard link to directory {member.linkname!r}")
            existing = _lstat(dirfd, name)
            if existing is not None:
                if (existing.st_dev, existing.st_ino) == (tstat.st_dev, tstat.st_ino):
                    return
                _remove(dirfd, name)
            os.link(target[-1], name, src_dir_fd=tdir, dst_dir_fd=dirfd, follow_symlinks=False)
        finally:
            os.close(tdir)

    def _set_metadata(self, dirfd: int, name: str, member: tarfile.TarInfo, what: str) -> None:
        """Owner, then mode (chown clears setuid and file capabilities), then xattrs,
        then times (directories' at the end, once their contents are in)."""
        path = _at(dirfd, name)
        self._kernel.chown(path, member.uid, member.gid)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)  # not a symlink: we just made it
        for key, value in member.pax_headers.items():
            if not key.startswith(_XATTR_PAX):
                continue
            xname = key[len(_XATTR_PAX):]
            data = value.encode("utf-8", "surrogateescape")
            try:
                os.setxattr(path, xname, data, follow_symlinks=False)
            except OSError as err:
                if xname.startswith("security.") and xname != "security.capability":
                    continue  # e.g. security.selinux labels this kernel refuses
                raise from_oserror(f"set xattr {xname} of {what}", err) from err
        if not member.isdir():
            atime, mtime = _times(member)
            os.utime(name, ns=(atime, mtime), dir_fd=dirfd, follow_symlinks=False)

    # --- whiteouts ------------------------------------------------------------------

    def _whiteout(self, parts: tuple[str, ...], what: str) -> None:
        base = parts[-1]
        if whiteouts.is_meta(base) and not whiteouts.is_opaque(base):
            return  # AUFS bookkeeping: nothing to apply
        removed = None if whiteouts.is_opaque(base) else whiteouts.target(base)
        try:
            dirfd, resolved = self._open_dir(parts[:-1], create=False, what=what)
        except (NotFound, FileNotFoundError, NotADirectoryError):
            return  # the directory is not there: nothing below to hide
        except OSError as err:
            raise from_oserror(f"open parent of {what} in {self._dest}", err) from err
        try:
            if removed is None:
                ancestors = {p[:i] for p in self._written for i in range(len(p))}
                self._clear_lower(dirfd, resolved, ancestors)
            elif _lstat(dirfd, removed) is not None:
                _remove(dirfd, removed)
        except OSError as err:
            raise from_oserror(f"apply whiteout {what} in {self._dest}", err) from err
        finally:
            os.close(dirfd)

    def _clear_lower(
        self, dirfd: int, path: tuple[str, ...], ancestors: set[tuple[str, ...]]
    ) -> None:
        """Remove what lower layers put under a directory (opaque whiteout), keeping
        every entry this layer wrote and the directories leading to them."""
        rfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dirfd)
        try:
            for name in os.listdir(rfd):
                child = path + (name,)
                if child not in self._written and child not in ancestors:
                    _remove(rfd, name)
                    continue
                st = _lstat(rfd, name)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    sub = os.open(name, _DIR_FLAGS, dir_fd=rfd)
                    try:
                        self._clear_lower(sub, child, ancestors)
                    finally:
                        os.close(sub)
        finally:
            os.close(rfd)

    # --- resolution inside dest -----------------------------------------------------

    def _open_dir(
        self, parts: tuple[str, ...], *, create: bool, what: str
    ) -> tuple[int, tuple[str, ...]]:
        """An ``O_PATH`` fd on the directory ``parts`` names inside dest, and its path
        with every symlink resolved; symlinks resolve as if dest were ``/``. Missing
        directories are made (0755, root-owned, as Docker does) when ``create``."""
        fd = os.dup(self._root)
        resolved: list[str] = []
        pending = list(parts)
        links = 0
        try:
            while pending:
                comp = pending.pop(0)
                if comp in ("", "."):
                    continue
                if comp == "..":
                    if resolved:  # above dest is dest, as above / is /
                        fd = _step(fd, "..")
                        resolved.pop()
                    continue
                st = _lstat(fd, comp)
                if st is None:
                    if not create:
                        raise NotFound(f"{what}: {'/'.join([*resolved, comp])} not found")
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    links += 1
                    if links > _MAX_LINKS:
                        raise InvalidArgument(f"{what}: too many levels of symbolic links")
                    link = os.readlink(comp, dir_fd=fd)
                    if link.startswith("/"):
                        os.close(fd)
                        fd = os.dup(self._root)
                        resolved = []
                    pending[:0] = link.split("/")
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    raise InvalidArgument(
                        f"{what}: {'/'.join([*resolved, comp])} is not a directory"
                    )
                fd = _step(fd, comp)
                resolved.append(comp)
        except BaseException:
            os.close(fd)
            raise
        return fd, tuple(resolved)

    def finish(self) -> None:
        """Set the times of the directories this layer holds, now that nothing more
        will be written into them."""
        for path, atime, mtime in self._dir_times:
            try:
                dirfd, _ = self._open_dir(path[:-1], create=False, what="directory times")
            except (EstibaError, OSError):
                continue  # removed by a later entry of the layer
            try:
                name = path[-1] if path else "."
                os.utime(name, ns=(atime, mtime), dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            except OSError as err:
                raise from_oserror(f"set times of {'/'.join(path) or '.'}", err) from err
            finally:
                os.close(dirfd)


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    mtime = int(float(member.mtime) * 1e9)
    atime = member.pax_headers.get("atime")
    return (int(float(atime) * 1e9) if atime else mtime), mtime


def _at(dirfd: int, name: str) -> str:
    """A path naming ``name`` in the directory ``dirfd`` for calls without ``dir_fd``:
    the kernel resolves the fd link to the directory itself, never through a name."""
    return f"/proc/self/fd/{dirfd}/{name}"


def _step(fd: int, name: str) -> int:
    """Move a directory fd one component down (or up), closing the old one on success:
    on failure the caller still owns ``fd``."""
    new = os.open(name, _DIR_FLAGS, dir_fd=fd)
    os.close(fd)
    return new


def _lstat(dirfd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove(dirfd: int, name: str) -> None:
    """Remove an entry, a whole tree for a directory, never following a symlink."""
    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dirfd)
    else:
        os.unlink(name, dir_fd=dirfd)
