"""HTTP/1.1 on asyncio streams, written by hand (RFC 9112): request heads, bodies with
Content-Length or chunked, keep-alive, chunked responses and connections a handler takes
over (the Docker API's attach and exec hijack them).

Why by hand rather than h11 (measured on this VM, Python 3.11, ``python -S``):

- import: asyncio alone (``ssl`` blocked, see ``estiba.daemon``) is 12.6 MiB PSS and
  ~30 ms; h11 adds 0.6 MiB PSS, 13 modules and ~6.3 ms; this module adds nothing the
  daemon does not load anyway.
- per request: parse a head and frame a small JSON reply, 32 us with h11's state
  machine against ~1 us with ``partition``/``split``.
- end to end: a kept-alive request through ``client/core.py`` to the server with the
  fake core (thread-pool hop included) takes ~250 us (version, namespaces, images).
The protocol we need is small: no pipelining beyond reading requests in order, no
trailers, no ``Expect: 100-continue`` (answered, not negotiated), no upgrades but the
raw takeover.

Blocking work runs in a thread pool; ``BlockingBody`` and ``ChunkedWriter`` let a
function running in that pool read a request body or write a response body through the
event loop, so large archives stream in both directions without being held in memory.
"""

from __future__ import annotations

import asyncio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

MAX_HEAD = 64 * 1024  # a request head longer than this is refused (431)
REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    204: "No Content", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
    412: "Precondition Failed", 413: "Content Too Large", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
}


class HTTPError(Exception):
    """A request the server cannot read: answered with ``status`` and the connection
    closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Request:
    """One request: ``path`` is the raw (still quoted) path, ``query`` maps each name to
    its values in order, ``headers`` are keyed in lower case."""

    __slots__ = ("method", "target", "path", "query", "headers", "body", "reader", "writer",
                 "loop", "version")

    def __init__(self, method: str, target: str, version: str,
                 headers: dict[str, str]) -> None:
        from urllib.parse import unquote_plus

        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        path, _, qs = target.partition("?")
        self.path = path
        self.query: dict[str, list[str]] = {}
        for pair in qs.split("&") if qs else ():
            name, _, value = pair.partition("=")
            self.query.setdefault(unquote_plus(name), []).append(unquote_plus(value))
        self.body = b""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return self.arg(name, "0").lower() in ("1", "true", "yes")

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"

    @property
    def has_body(self) -> bool:
        return "content-length" in self.headers or "transfer-encoding" in self.headers


def parse_head(head: bytes) -> Request:
    """The request line and headers (without the blank line ending them)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as err:  # pragma: no cover - latin-1 decodes anything
        raise HTTPError(400, "request head is not latin-1") from err
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HTTPError(400, f"malformed request line: {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HTTPError(400, f"malformed header line: {line[:100]!r}")
        key = name.lower()
        value = value.strip(" \t")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    method, target, version = parts
    if not target.startswith("/"):
        raise HTTPError(400, f"request target must be a path: {target[:100]!r}")
    return Request(method, target, version, headers)


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_body(reader: asyncio.StreamReader, request: Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes (413 past it; at once when the
    Content-Length announces more)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise HTTPError(413, f"request body larger than {limit} bytes")
    chunks = []
    size = 0
    async for chunk in body_chunks(reader, request):
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def body_chunks(reader: asyncio.StreamReader, request: Request,
                      size: int = 65536):
    """The body's bytes as they arrive, de-chunked."""
    encoding = request.headers.get("transfer-encoding", "").lower()
    if encoding:
        if encoding != "chunked":
            raise HTTPError(501, f"transfer-encoding {encoding!r} is not supported")
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                n = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as err:
                raise HTTPError(400, f"malformed chunk size line: {line[:40]!r}") from err
            if n == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers, ignored
                return
            while n:
                chunk = await reader.read(min(n, size))
                if not chunk:
                    raise asyncio.IncompleteReadError(b"", n)
                n -= len(chunk)
                yield chunk
            if await reader.readexactly(2) != b"\r\n":
                raise HTTPError(400, "chunk not followed by CRLF")
    length_text = request.headers.get("content-length")
    if length_text is None:
        return
    try:
        length = int(length_text)
        if length < 0:
            raise ValueError(length_text)
    except ValueError as err:
        raise HTTPError(400, f"malformed content-length: {length_text!r}") from err
    while length:
        chunk = await reader.read(min(length, size))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", length)
        length -= len(chunk)
        yield chunk


class BlockingBody:
    """A request body as a blocking file (``read``), for a function running in the thread
    pool: each read waits for the event loop to deliver the bytes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader,
                 request: Request) -> None:
        self._loop = loop
        self._chunks = body_chunks(reader, request)
        self._buffer = b""
        self._done = False

    def _next(self) -> bytes:
        if self._done:
            return b""
        future = asyncio.run_coroutine_threadsafe(self._chunks.__anext__(), self._loop)
        try:
            return future.result()
        except StopAsyncIteration:
            self._done = True
            return b""

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._buffer]
            while chunk := self._next():
                parts.append(chunk)
            self._buffer = b""
            return b"".join(parts)
        while not self._buffer and not self._done:
            self._buffer = self._next()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def readable(self) -> bool:
        return True

    def drain(self, limit: int | None = None) -> bool:
        """Read what the handler left, so the connection can serve the next request;
        with ``limit``, at most that many bytes. Whether the body was read to its end."""
        read = len(self._buffer)
        self._buffer = b""
        while chunk := self._next():
            read += len(chunk)
            if limit is not None and read > limit:
                return False
        return True


class ChunkedWriter:
    """A chunked response body as a blocking file (``write``), for a function running in
    the thread pool. The head goes out with the first write (or at ``close``), so that an
    error raised before any output still becomes an error response."""

    def __init__(self, loop: asyncio.AbstractEventLoop, writer: asyncio.StreamWriter,
                 content_type: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._loop = loop
        self._writer = writer
        self._content_type = content_type
        self._headers = headers
        self.started = False

    async def _send(self, data: bytes) -> None:
        if not self.started:
            self.started = True
            self._writer.write(response_head(200, [
                ("Content-Type", self._content_type), ("Transfer-Encoding", "chunked"),
                *self._headers]))
        if data:
            self._writer.write(b"%x\r\n%b\r\n" % (len(data), data))
        await self._writer.drain()

    def write(self, data: bytes) -> int:
        if data:
            asyncio.run_coroutine_threadsafe(self._send(bytes(data)), self._loop).result()
        return len(data)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    async def finish(self) -> None:
        await self._send(b"")
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()


class Reply:
    """A complete response."""

    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, status: int, body: bytes = b"",
                 content_type: str = "application/json",
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers  # sent besides Content-Type and Content-Length


class Stream:
    """A chunked response pulled from a blocking iterator (run in the thread pool, one
    ``next`` at a time). Each item is bytes to send, or None for "nothing yet": then the
    server checks that the client is still there and that it is not shutting down. The
    first item is pulled before the head is sent, so an error raised at once is answered
    with its status."""

    __slots__ = ("items", "content_type")

    def __init__(self, items: Iterator[bytes | None],
                 content_type: str = "application/x-ndjson") -> None:
        self.items = items
        self.content_type = content_type


class Download:
    """A chunked response written by a blocking function ``write(out)``, with
    ``headers`` in its head."""

    __slots__ = ("write", "content_type", "headers")

    def __init__(self, write: Callable[[ChunkedWriter], object],
                 content_type: str = "application/x-tar",
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.write = write
        self.content_type = content_type
        self.headers = headers


class Takeover:
    """The connection handed to ``run(reader, writer)`` once the head ``status`` (with
    ``headers``) is sent; the server closes the connection when ``run`` returns. This is
    the Docker API's hijack (attach, exec start)."""

    __slots__ = ("run", "status", "headers")

    def __init__(self, run: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                     Awaitable[None]],
                 status: int = 101,
                 headers: tuple[tuple[str, str], ...] = (
                     ("Connection", "Upgrade"), ("Upgrade", "tcp"))) -> None:
        self.run = run
        self.status = status
        self.headers = headers
