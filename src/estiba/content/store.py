"""The local content store: content-addressed blobs on a filesystem, written through
resumable ingests (containerd's ``content/local`` role).

On disk, under the root given to the constructor (format version 1)::

    blobs/sha256/<hex>           a committed blob, read-only; its name is its digest
    ingest/<sha256 of ref>/      one in-progress write, named by the hash of its ref so
                                 that any ref (slashes, dots, NUL-free text) stays inside
                                 the root
        data                     the bytes written so far
        ref                      the caller's ref, verbatim
        total                    expected size in bytes (absent when unknown)
        expected                 expected digest (absent when unknown)
        started                  start time, nanoseconds since the epoch
        lock                     held with flock(2) by the one live writer of the ref

Trust: a blob enters ``blobs/`` only by ``Writer.commit``, after its size and digest
were checked against the bytes as they were hashed while written; publication is
fsync then rename(2), so a crash leaves either the whole blob or none. Reads are not
re-verified (hashing every read would cost as much as the read): a blob altered on disk
after commit is served as it is, until ``ContentStore.verify`` re-hashes it on demand.

Not here: labels, leases and garbage collection. They need the metadata database
(which records which blobs are referenced, by what, and under which lease), and
containerd keeps them there too; this store only holds bytes. ``delete`` removes a blob
unconditionally: deciding that nothing references it is the caller's (later, the GC's).
"""

from __future__ import annotations

import hashlib
import os
import time

from estiba.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unimplemented,
    from_oserror,
)
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

_HEX = frozenset("0123456789abcdef")
_CHUNK = 1 << 20
_COPY_CHUNK = 4 << 20


def check_digest(digest: str) -> str:
    """Validate a ``sha256:<64 lower-case hex>`` digest string; return its hex part.

    The one place content/ parses digests, so that it can switch to ``oci.digest``.
    """
    if not isinstance(digest, str):
        raise InvalidArgument(f"invalid digest {digest!r}: not a string")
    algorithm, sep, encoded = digest.partition(":")
    if not sep or not algorithm:
        raise InvalidArgument(f"invalid digest {digest!r}: no algorithm")
    if algorithm != "sha256":
        if algorithm in ("sha384", "sha512"):
            raise Unimplemented(f"digest {digest}: algorithm {algorithm} not supported")
        raise InvalidArgument(f"invalid digest {digest!r}: unknown algorithm {algorithm!r}")
    if len(encoded) != 64 or not _HEX.issuperset(encoded):
        raise InvalidArgument(f"invalid digest {digest!r}: not 64 lower-case hex digits")
    return encoded


class BlobInfo(Record):
    """A committed blob. Times are seconds since the epoch: ``created_at`` is the file's
    ctime (set by the commit's rename and chmod), ``updated_at`` its mtime (last write)."""

    digest: str
    size: int
    created_at: float
    updated_at: float


class IngestStatus(Record):
    """An in-progress write: ``offset`` bytes are in so far."""

    ref: str
    offset: int
    total: int | None = None
    expected: str | None = None
    started_at: float = 0.0
    updated_at: float = 0.0


class ContentStore:
    """Blobs under ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._blobs = os.path.join(self.root, "blobs", "sha256")
        self._ingest = os.path.join(self.root, "ingest")

    # -- paths --------------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        return os.path.join(self._blobs, check_digest(digest))

    def _ingest_dir(self, ref: str) -> str:
        if not isinstance(ref, str) or not ref:
            raise InvalidArgument(f"invalid ingest ref {ref!r}: must be a non-empty string")
        if "\0" in ref:
            raise InvalidArgument(f"invalid ingest ref {ref!r}: contains nul")
        return os.path.join(self._ingest, hashlib.sha256(ref.encode()).hexdigest())

    # -- reading ------------------------------------------------------------------

    def info(self, digest: str) -> BlobInfo:
        path = self.blob_path(digest)
        try:
            st = os.stat(path)
        except OSError as err:
            raise _blob_error("stat", digest, err) from err
        return BlobInfo(
            digest=digest, size=st.st_size, created_at=st.st_ctime, updated_at=st.st_mtime
        )

    def exists(self, digest: str) -> bool:
        return os.path.isfile(self.blob_path(digest))

    def reader(self, digest: str) -> BinaryIO:
        """An open binary file on the blob; the caller closes it. Not re-verified."""
        path = self.blob_path(digest)
        try:
            return open(path, "rb")  # noqa: SIM115 - handed to the caller
        except OSError as err:
            raise _blob_error("open", digest, err) from err

    def read(self, digest: str) -> bytes:
        """The whole blob, for small ones (manifests, configs). Not re-verified."""
        with self.reader(digest) as f:
            return f.read()

    def verify(self, digest: str) -> None:
        """Re-hash the blob; FailedPrecondition when its bytes no longer match its name."""
        h = hashlib.sha256()
        with self.reader(digest) as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        got = "sha256:" + h.hexdigest()
        if got != digest:
            raise FailedPrecondition(
                f"verify content {digest}: digest mismatch: expected {digest}, got {got}"
            )

    def list(self) -> list[BlobInfo]:
        """Every committed blob, sorted by digest."""
        try:
            names = sorted(os.listdir(self._blobs))
        except FileNotFoundError:
            return []
        except OSError as err:
            raise from_oserror(f"list content in {self._blobs}", err) from err
        out = []
        for name in names:
            if len(name) != 64 or not _HEX.issuperset(name):
                continue  # not a blob (a stray file someone left)
            try:
                out.append(self.info("sha256:" + name))
            except NotFound:
                continue  # deleted while listing
        return out

    # -- deleting -----------------------------------------------------------------

    def delete(self, digest: str) -> None:
        """Remove a blob. No reference check: that is the garbage collector's job."""
        path = self.blob_path(digest)
        try:
            os.unlink(path)
        except OSError as err:
            raise _blob_error("delete", digest, err) from err

    # -- writing ------------------------------------------------------------------

    def writer(self, ref: str, expected: str | None = None, total: int | None = None) -> Writer:
        """Open the ingest ``ref``, creating it or resuming it at its current offset.

        A live writer holds the ref's lock: a second one gets Conflict. ``expected`` of
        a blob that exists already gets AlreadyExists, as there is nothing to write.
        """
        if expected is not None:
            check_digest(expected)
            if self.exists(expected):
                raise AlreadyExists(f"content {expected}: already exists")
        if total is not None and (not isinstance(total, int) or total < 0):
            raise InvalidArgument(f"ingest {ref}: invalid total {total!r}")
        path = self._ingest_dir(ref)
        lock = _lock_ingest(path, ref, create=True)
        try:
            return Writer._open(self, ref, path, lock, expected, total)
        except BaseException:
            lock.close()
            raise

    def write_blob(self, data: bytes, expected: str | None = None) -> str:
        """Write ``data`` as a blob and return its digest. Idempotent: when the blob
        exists already its digest is returned (containerd's ``content.WriteBlob``)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected is not None and expected != digest:
            check_digest(expected)
            raise InvalidArgument(f"digest mismatch: expected {expected}, got {digest}")
        if self.exists(digest):
            return digest
        ref = f"write-blob-{digest}-{os.urandom(8).hex()}"
        w = self.writer(ref, total=len(data))
        try:
            w.write(data)
            return w.commit(len(data), digest)
        except AlreadyExists:
            return digest  # someone committed it meanwhile; our ingest is gone
        finally:
            if not w.closed:
                w.close()
                self.abort(ref)

    def status(self, ref: str) -> IngestStatus:
        """The ingest ``ref``; NotFound when there is none."""
        status = self._read_status(self._ingest_dir(ref))
        if status is None or status.ref != ref:
            raise NotFound(f"ingest {ref}: not found")
        return status

    def ingests(self) -> list[IngestStatus]:
        """Every ingest, live or abandoned, sorted by ref."""
        try:
            names = os.listdir(self._ingest)
        except FileNotFoundError:
            return []
        except OSError as err:
            raise from_oserror(f"list ingests in {self._ingest}", err) from err
        out = []
        for name in names:
            status = self._read_status(os.path.join(self._ingest, name))
            if status is not None:
                out.append(status)
        return sorted(out, key=lambda s: s.ref)

    def abort(self, ref: str) -> None:
        """Remove the ingest ``ref`` and its data. Conflict while a writer holds it."""
        path = self._ingest_dir(ref)
        lock = _lock_ingest(path, ref, create=False)
        try:
            _remove_ingest(path)
        finally:
            lock.close()

    def _read_status(self, path: str) -> IngestStatus | None:
        ref = _read_text(os.path.join(path, "ref"))
        if ref is None:
            return None  # half-created, or removed meanwhile
        try:
            st = os.stat(os.path.join(path, "data"))
        except FileNotFoundError:
            return None
        total = _read_text(os.path.join(path, "total"))
        started = _read_text(os.path.join(path, "started"))
        return IngestStatus(
            ref=ref,
            offset=st.st_size,
            total=int(total) if total else None,
            expected=_read_text(os.path.join(path, "expected")) or None,
            started_at=int(started) / 1e9 if started else 0.0,
            updated_at=st.st_mtime,
        )


class Writer:
    """The one live writer of an ingest: ``write`` appends and hashes as it goes,
    ``commit`` verifies and publishes. ``close`` without commit keeps the ingest, to be
    resumed by opening a writer on the same ref (or removed by ``abort``)."""

    def __init__(self) -> None:
        raise TypeError("use ContentStore.writer()")

    @classmethod
    def _open(
        cls,
        store: ContentStore,
        ref: str,
        path: str,
        lock: _Lock,
        expected: str | None,
        total: int | None,
    ) -> Writer:
        self = object.__new__(cls)
        self._store = store
        self._path = path
        self._lock = lock
        self.ref = ref
        stored_ref = _read_text(os.path.join(path, "ref"))
        if stored_ref is None:
            # new ingest (or one that crashed before it was complete): start afresh
            self._data = _open_data(path, truncate=True)
            started = time.time_ns()
            if total is not None:
                _write_atomic(os.path.join(path, "total"), str(total))
            if expected is not None:
                _write_atomic(os.path.join(path, "expected"), expected)
            _write_atomic(os.path.join(path, "started"), str(started))
            _write_atomic(os.path.join(path, "ref"), ref)  # last: marks the ingest whole
            self._hash = hashlib.sha256()
            self.offset = 0
        else:
            if stored_ref != ref:
                raise Conflict(f"ingest {ref}: directory holds ref {stored_ref!r}")
            total = _reconcile(path, ref, "total", total)
            expected = _reconcile(path, ref, "expected", expected)
            # resuming: re-hash what is there, then append after it
            self._data = _open_data(path, truncate=False)
            self._hash = hashlib.sha256()
            self.offset = 0
            while chunk := self._data.read(_CHUNK):
                self._hash.update(chunk)
                self.offset += len(chunk)
        self.total = int(total) if total is not None else None
        self.expected = expected
        self.closed = False
        return self

    def digest(self) -> str:
        """The digest of the bytes written so far."""
        return "sha256:" + self._hash.hexdigest()

    def status(self) -> IngestStatus:
        return self._store.status(self.ref)

    def write(self, data: bytes) -> int:
        self._check_open()
        try:
            view = memoryview(data)
            while view:
                view = view[self._data.write(view) :]  # a raw write may be short
        except OSError as err:
            raise from_oserror(f"write ingest {self.ref}", err) from err
        self._hash.update(data)
        self.offset += len(data)
        return len(data)

    def copy_from(self, fd: int, offset: int, length: int) -> int:
        """Append ``length`` bytes of the file ``fd`` from ``offset``, hashing them.

        The kernel copies (copy_file_range, else sendfile) while a second thread hashes
        the same range from the source's page cache (pread and hashlib release the
        GIL), so the bytes never pass through a Python write and the hash costs no
        extra time. On failure (a source shorter than ``length`` included) the ingest
        is put back as it was before the call. Returns ``length``."""
        import threading

        from estiba.kernel.files import copy_range

        self._check_open()
        before = self._hash.copy()
        hashed: list[int | OSError] = []
        hasher = threading.Thread(target=_hash_range, args=(self._hash, fd, offset, length,
                                                            hashed), name="ingest-hash")
        hasher.start()
        out = self._data.fileno()
        copied: OSError | None = None
        try:
            copy_range(fd, out, offset, length)
        except OSError as err:
            copied = err
        finally:
            hasher.join()
        result = hashed[0]
        if copied is None and result == length:
            self.offset += length
            return length
        try:  # back to the state before the call
            os.ftruncate(out, self.offset)
            os.lseek(out, self.offset, os.SEEK_SET)
        except OSError as err:
            self._hash = before
            raise from_oserror(f"write ingest {self.ref}", err) from err
        self._hash = before
        if isinstance(result, int) and result < length:
            raise InvalidArgument(
                f"write ingest {self.ref}: source ended {length - result} bytes early")
        error = result if isinstance(result, OSError) else copied
        assert error is not None
        raise from_oserror(f"write ingest {self.ref}", error)

    def commit(self, size: int | None = None, expected: str | None = None) -> str:
        """Verify size and digest, publish the blob, remove the ingest; return the digest.

        ``size`` and ``expected`` default to those given when the writer was opened.
        On a mismatch nothing is published and the writer stays open (write more, or
        close and abort). A blob that exists already: the ingest is discarded and
        AlreadyExists raised.
        """
        self._check_open()
        size = self.total if size is None else size
        expected = self.expected if expected is None else expected
        if size is not None and size != self.offset:
            raise InvalidArgument(
                f"commit ingest {self.ref}: size mismatch: expected {size}, got {self.offset}"
            )
        got = self.digest()
        if expected is not None:
            check_digest(expected)
            if expected != got:
                raise InvalidArgument(f"digest mismatch: expected {expected}, got {got}")
        target = self._store.blob_path(got)
        blobs = self._store._blobs
        try:
            self._data.flush()
            os.fsync(self._data.fileno())
            os.fchmod(self._data.fileno(), 0o444)  # a blob is never writable, from the start
        except OSError as err:
            raise from_oserror(f"sync ingest {self.ref}", err) from err
        if os.path.exists(target):
            # containerd's answer: the ingest is discarded, the caller told
            self._data.close()
            _remove_ingest(self._path)
            self._release()
            raise AlreadyExists(f"content {got}: already exists")
        try:
            os.makedirs(blobs, mode=0o755, exist_ok=True)
            os.rename(os.path.join(self._path, "data"), target)
        except OSError as err:
            # the ingest is kept as it was: the writer stays open, to retry or abort
            os.fchmod(self._data.fileno(), 0o644)
            raise from_oserror(f"publish content {got}", err) from err
        self._data.close()
        _remove_ingest(self._path)
        self._release()
        try:
            _fsync_dir(blobs)  # the rename itself survives a crash
        except OSError as err:
            raise from_oserror(f"sync content {got}", err) from err
        return got

    def close(self) -> None:
        """Stop writing; the ingest stays, resumable by its ref."""
        if self.closed:
            return
        try:
            self._data.close()
        finally:
            self._release()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _release(self) -> None:
        self.closed = True
        self._lock.close()

    def _check_open(self) -> None:
        if self.closed:
            raise FailedPrecondition(f"ingest {self.ref}: writer is closed")


# -- files ------------------------------------------------------------------------


def _hash_range(hasher: hashlib._Hash, fd: int, offset: int, length: int,
                out: list[int | OSError]) -> None:
    """Feed ``length`` bytes of ``fd`` from ``offset`` to ``hasher``; append the count
    hashed (less at end of file) or the error to ``out``."""
    buf = bytearray(min(length, _COPY_CHUNK) or 1)
    view = memoryview(buf)
    done = 0
    try:
        while done < length:
            got = os.preadv(fd, [view[: min(len(buf), length - done)]], offset + done)
            if got == 0:
                break
            hasher.update(view[:got])
            done += got
    except OSError as err:
        out.append(err)
        return
    out.append(done)


def commit_together(store: ContentStore, staged: list[tuple[str, Writer]]) -> None:
    """Commit the staged ingests (digest, writer) as a group: each is verified against its
    digest, one already published by someone else counts as done, and when any fails
    the ones not committed yet are aborted, so a group is never left half-ingested."""
    try:
        for digest, writer in staged:
            try:
                writer.commit(expected=digest)
            except AlreadyExists:
                pass  # published meanwhile by another writer: the same bytes
    finally:
        abort_staged(store, staged)


def abort_staged(store: ContentStore, staged: list[tuple[str, Writer]]) -> None:
    """Abort the ingests of a group that are not committed (committed ones are closed)."""
    for _, writer in staged:
        if not writer.closed:
            writer.close()
            store.abort(writer.ref)


class _Lock:
    """An exclusive flock(2) on ``<ingest>/lock``, held until ``close``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1

    __del__ = close  # a writer dropped without close (a crash, in tests) frees its ref


def _lock_ingest(path: str, ref: str, create: bool) -> _Lock:
    """Lock the ingest directory ``path``; Conflict if another writer holds it.

    flock(2) locks belong to the open file description, so two writers conflict even
    within one process (POSIX record locks would not). After locking, the lock file
    must still be the one at the path: an abort may have removed the directory while
    we waited for it, leaving us a lock on an orphan.
    """
    import fcntl

    lock_path = os.path.join(path, "lock")
    while True:
        if create:
            try:
                os.makedirs(path, mode=0o700, exist_ok=True)
            except OSError as err:
                raise from_oserror(f"create ingest {ref}", err) from err
        flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        try:
            fd = os.open(lock_path, flags, 0o600)
        except FileNotFoundError as err:
            raise NotFound(f"ingest {ref}: not found") from err
        except OSError as err:
            raise from_oserror(f"open ingest lock {ref}", err) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(fd)
            raise Conflict(f"ref {ref} is locked") from err
        except OSError as err:
            os.close(fd)
            raise from_oserror(f"lock ingest {ref}", err) from err
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return _Lock(fd)
        os.close(fd)
        if not create:
            raise NotFound(f"ingest {ref}: not found")


def _open_data(path: str, truncate: bool) -> BinaryIO:
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
    fd = os.open(os.path.join(path, "data"), flags, 0o644)
    # unbuffered: what write() returned is in the file, so the offset a crash leaves
    # (and ingests() reports) is what the writer counted
    return os.fdopen(fd, "r+b", buffering=0)


def _reconcile(path: str, ref: str, name: str, given: str | int | None) -> str | None:
    """Check a resumed ingest's stored ``total``/``expected`` against the caller's;
    store the caller's when none was stored."""
    stored = _read_text(os.path.join(path, name)) or None
    if given is None:
        return stored
    if stored is None:
        _write_atomic(os.path.join(path, name), str(given))
        return str(given)
    if stored != str(given):
        raise FailedPrecondition(f"resume ingest {ref}: {name} {given} differs from {stored}")
    return stored


def _read_text(path: str) -> str | None:
    """The file's text; None when it is missing or empty (an unsynced file a crash cut)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() or None
    except FileNotFoundError:
        return None


def _write_atomic(path: str, text: str) -> None:
    """Replace a small ingest file by rename, without fsync. An ingest is not durable
    state: after a crash an empty or missing file makes it start afresh (see
    ``_read_text``). An fsync here would also wait for the writeback of every blob
    written before it (ext4 orders data before the journal commit), which made it the
    costliest call of an import."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_ingest(path: str) -> None:
    """Remove an ingest directory (flat: files only), ignoring what is gone already."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _blob_error(verb: str, digest: str, err: OSError) -> Exception:
    if isinstance(err, FileNotFoundError):
        return NotFound(f"content {digest}: not found")
    return from_oserror(f"{verb} content {digest}", err)
