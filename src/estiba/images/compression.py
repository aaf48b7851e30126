"""Decompression of layer blobs, streamed: gzip, zstd or none, chosen by name or by
the magic bytes at the start of the stream (OCI media types ``...tar``, ``...tar+gzip``,
``...tar+zstd``).

zstd comes from the ``zstandard`` package when it is installed, else from the ``zstd``
program through a pipe (a thread feeds its stdin, its stdout is read as the stream).
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import threading
import zlib
from typing import BinaryIO

from estiba.errors import InvalidArgument, Unavailable

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COMPRESSIONS = ("auto", "gzip", "zstd", "none")
_CHUNK = 1 << 16


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
