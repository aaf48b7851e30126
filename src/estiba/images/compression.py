"""Compression of layer blobs, streamed both ways: gzip, zstd or none (OCI media types
``...tar``, ``...tar+gzip``, ``...tar+zstd``). Reading chooses by name or by the magic
bytes at the start of the stream; writing by name.

Reading zstd uses the ``zstandard`` package when it is installed, else the ``zstd``
program through a pipe (a thread feeds its stdin, its stdout is read as the stream).
Writing zstd always uses the ``zstd`` program (installed by scripts/install.sh): the
caller writes into its stdin, a thread copies its stdout to the sink. Its level and
thread count are on the command line (they override ``ZSTD_CLEVEL`` and
``ZSTD_NBTHREADS``), so the same input gives the same bytes with one zstd version.
Gzip is written by Python's zlib with a fixed level, no file name and mtime 0.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import subprocess
import tempfile
import threading
import zlib
from typing import BinaryIO, Protocol

from estiba.errors import Internal, InvalidArgument, Unavailable

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COMPRESSIONS = ("auto", "gzip", "zstd", "none")
_CHUNK = 1 << 16
GZIP_LEVEL = 6  # what Docker writes (Go's DefaultCompression)
ZSTD_LEVEL = 3  # zstd's default, and containerd's


def detect(head: bytes) -> str:
    """The compression the first bytes of a blob announce: "gzip", "zstd" or "none"."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Prefixed:
    """A reader that gives back bytes already read from a stream, then the rest of it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """The underlying stream belongs to the caller: left open."""


class _ZstdProcess:
    """The stdout of ``zstd -dc`` fed with a stream by a thread; a failed or truncated
    stream shows at EOF as InvalidArgument."""

    def __init__(self, source: _Prefixed, program: str) -> None:
        self._proc = subprocess.Popen(
            [program, "-dc", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._feed_error: BaseException | None = None
        self._thread = threading.Thread(target=self._feed, args=(source,), daemon=True)
        self._thread.start()
        self._done = False

    def _feed(self, source: _Prefixed) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while chunk := source.read(_CHUNK):
                stdin.write(chunk)
        except BrokenPipeError:
            pass  # zstd stopped reading: its exit status says why
        except BaseException as err:  # reading the source failed: reported at EOF
            self._feed_error = err
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass

    def read(self, size: int = -1) -> bytes:
        assert self._proc.stdout is not None
        data = self._proc.stdout.read(size)
        if not data and not self._done and size != 0:
            self._finish()
        return data

    def readable(self) -> bool:
        return True

    def _finish(self) -> None:
        self._done = True
        self._thread.join()
        assert self._proc.stderr is not None
        err = self._proc.stderr.read().decode(errors="replace").strip().lower()
        status = self._proc.wait()
        if self._feed_error is not None:
            raise self._feed_error
        if status != 0:
            raise InvalidArgument(f"decompress zstd layer: {err or f'exit status {status}'}")

    def close(self) -> None:
        """Stop zstd and the feeder whatever their state (called on every path)."""
        if self._proc.poll() is None:
            self._proc.kill()
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()
        self._proc.wait()
        self._thread.join(timeout=5)


class _Checked:
    """Turns the decompressor's complaints about a corrupt stream into InvalidArgument."""

    def __init__(self, reader: BinaryIO, compression: str, errors: tuple[type, ...]) -> None:
        self._reader = reader
        self._compression = compression
        self._errors = errors

    def read(self, size: int = -1) -> bytes:
        try:
            return self._reader.read(size)
        except self._errors as err:
            reason = str(err).lower() or type(err).__name__
            raise InvalidArgument(f"decompress {self._compression} layer: {reason}") from err

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._reader.close()


def open_decompressed(stream: BinaryIO, compression: str = "auto") -> tuple[str, BinaryIO]:
    """(the compression in use, a reader of the decompressed bytes). The caller closes
    the reader (it may own a process)."""
    if compression not in COMPRESSIONS:
        raise InvalidArgument(
            f"layer compression {compression!r}: not one of {', '.join(COMPRESSIONS)}"
        )
    head = b""
    if compression == "auto":
        while len(head) < 4 and (more := stream.read(4 - len(head))):
            head += more
        compression = detect(head)
    source = _Prefixed(head, stream)
    if compression == "none":
        return compression, source  # type: ignore[return-value]
    if compression == "gzip":
        reader = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
        errors: tuple[type, ...] = (EOFError, zlib.error, gzip.BadGzipFile)
        return compression, _Checked(reader, compression, errors)  # type: ignore[return-value]
    try:
        import zstandard
    except ImportError:
        program = shutil.which("zstd")
        if program is None:
            raise Unavailable(
                "decompress zstd layer: neither the zstandard package nor the zstd program"
                " is installed"
            ) from None
        return compression, _ZstdProcess(source, program)  # type: ignore[return-value]
    zreader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
    return compression, _Checked(zreader, compression, (zstandard.ZstdError,))  # type: ignore


# --- writing ---------------------------------------------------------------------------


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Compressor(Protocol):
    """Compresses what is written into a sink. ``close`` ends the stream (raising if
    the compressor failed); ``abort`` drops it on a failure path."""

    def write(self, data: bytes, /) -> int: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class _GzipCompressor:
    def __init__(self, sink: Sink) -> None:
        # level fixed here so the blob's bytes do not follow a change of Python's default
        self._gz = gzip.GzipFile(  # type: ignore[call-overload]
            filename="", mode="wb", fileobj=sink, mtime=0, compresslevel=GZIP_LEVEL,
        )

    def write(self, data: bytes) -> int:
        return self._gz.write(data)

    def close(self) -> None:
        self._gz.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._gz.close()


class _ZstdCompressor:
    """``zstd -c``: written into through its stdin; a thread copies its stdout to the
    sink. A zstd that dies, or a sink that fails, surfaces as an error on the next
    ``write`` or on ``close``, never as a wait: a failing sink kills zstd, so the writer
    blocked on a full pipe gets EPIPE."""

    def __init__(self, sink: Sink, program: str) -> None:
        self._sink = sink
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _finish
        argv = [program, f"-{ZSTD_LEVEL}", "-T1", "-c", "-q"]
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            )
        except OSError as err:
            self._stderr.close()
            raise Unavailable(
                f"compress zstd layer: run {program}: {(err.strerror or str(err)).lower()}"
            ) from err
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin = self._proc.stdin
        self._stdout = self._proc.stdout
        self._drain_error: BaseException | None = None
        self._error: BaseException | None = None
        self._done = False
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while chunk := self._stdout.read1(_CHUNK):
                self._sink.write(chunk)
        except BaseException as err:  # the sink failed: reported by write or close
            self._drain_error = err
            with contextlib.suppress(OSError):
                self._proc.kill()  # else zstd, and the writer behind it, block forever

    def write(self, data: bytes) -> int:
        if self._done:  # after a failure (tarfile flushes its buffer on the way out)
            raise self._error or ValueError("compress zstd layer: stream closed")
        try:
            self._stdin.write(data)
        except BrokenPipeError:
            self._finish(broken=True)
        return len(data)

    def close(self) -> None:
        if self._done:
            if self._error is not None:
                raise self._error
            return
        try:
            self._stdin.close()
        except BrokenPipeError:
            self._finish(broken=True)
        self._finish(broken=False)

    def abort(self) -> None:
        if self._done:
            return
        with contextlib.suppress(OSError):
            self._proc.kill()
        with contextlib.suppress(Exception):
            self._finish(broken=True)

    def _finish(self, broken: bool) -> None:
        """Wait for zstd and the copier; raise what went wrong, if anything (once: the
        error is kept for later calls)."""
        self._done = True
        if broken:  # zstd stopped reading: make sure it is gone, whatever it does now
            with contextlib.suppress(OSError):
                self._stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        status = self._proc.wait()
        self._thread.join()
        self._stdout.close()
        self._stderr.seek(0)
        message = self._stderr.read(4096).decode(errors="replace").strip().lower()
        self._stderr.close()
        if self._drain_error is not None:
            self._error = self._drain_error
        elif status != 0:
            self._error = Internal(
                f"compress zstd layer: {message or f'zstd exit status {status}'}")
        elif broken:
            self._error = Internal("compress zstd layer: zstd stopped reading its input")
        if self._error is not None:
            raise self._error


def open_compressed(sink: Sink, compression: str, *, program: str | None = None
                    ) -> Compressor:
    """A compressor writing the ``compression`` ("gzip" or "zstd") of what it is given
    to ``sink``. ``program`` is the zstd program (found on PATH by default)."""
    if compression == "gzip":
        return _GzipCompressor(sink)
    if compression != "zstd":
        raise InvalidArgument(f"compress layer: unknown compression {compression!r}")
    if program is None:
        program = shutil.which("zstd")
        if program is None:
            raise Unavailable("compress zstd layer: the zstd program is not installed")
    return _ZstdCompressor(sink, program)
