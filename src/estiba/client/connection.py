"""A small synchronous HTTP/1.1 client over a unix socket or TCP, for the command lines.

Why not ``http.client``: importing it costs ~32 ms (``email``, ``ssl``, ``socket``'s
``enum`` and ``selectors``), more than half of the 60 ms budget of ``estiba ctr
version``; this module uses the ``_socket`` C module directly and imports nothing else
(measured ~1 ms, see ``client/core.py``). What it speaks: one request at a time on a
kept-alive connection, bodies as bytes or streamed from a file (chunked), responses
with Content-Length, chunked or read to the close. Where: a unix socket's path, or a
TCP (host, port) — plain HTTP, no TLS (``parse_tcp`` reads Docker's ``tcp://`` form).
"""

from __future__ import annotations

import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
DEFAULT_TCP_PORT = 2375  # Docker's port for its API without TLS (2376 is with TLS)
DEFAULT_TCP_HOST = "localhost"  # what ``tcp://`` and ``tcp://:PORT`` mean, as in Docker


def parse_tcp(authority: str) -> tuple[str, int]:
    """(host, port) of the part of a ``tcp://`` address after the scheme: ``host``,
    ``host:port``, ``[ipv6]:port``, ``:port`` or nothing, with one optional trailing
    ``/``; the host defaults to localhost and the port to 2375, as Docker's do.
    ``ValueError`` says what is wrong (the caller names the address)."""
    authority, _, path = authority.partition("/")
    if path:
        raise ValueError(f"a path ({'/' + path}) after the address is not supported")
    if authority.startswith("["):
        host, bracket, after = authority[1:].partition("]")
        if not bracket or not host:
            raise ValueError("an IPv6 address goes in brackets: tcp://[::1]:2375")
        if after and not after.startswith(":"):
            raise ValueError(f"{after!r} after the IPv6 address: expected :PORT")
        port = after[1:]
    else:
        host, _, port = authority.rpartition(":") if ":" in authority else (
            authority, "", "")
        if ":" in host:
            raise ValueError("an IPv6 address goes in brackets: tcp://[::1]:2375")
    if "@" in host:
        raise ValueError("a user name is not supported")
    if not port:
        return host or DEFAULT_TCP_HOST, DEFAULT_TCP_PORT
    # isascii: isdigit alone takes superscripts and other scripts' digits
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"invalid port {port!r}: expected 1 to 65535")
    return host or DEFAULT_TCP_HOST, int(port)


def authority(address: str | tuple[str, int]) -> str:
    """How an address is written in a URL: ``unix://PATH``, ``tcp://HOST:PORT`` (an IPv6
    host in brackets)."""
    if isinstance(address, str):
        return f"unix://{address}"
    host, port = address
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def quote(text: str) -> str:
    """Percent-encode everything but the unreserved characters (RFC 3986), ``/`` too:
    an image name is one path segment."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode())


class ConnectError(OSError):
    """The socket could not be reached (no daemon, no permission)."""


class Response:
    """The status, the headers (lower-case keys) and the body, read on demand."""

    def __init__(self, conn: Connection, status: int, headers: dict[str, str],
                 head_only: bool) -> None:
        self._conn = conn
        self.status = status
        self.headers = headers
        self._left: int | None = None  # bytes left of a Content-Length body
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        self._done = head_only or status in (204, 304) or 100 <= status < 200
        if not self._done and not self._chunked:
            length = headers.get("content-length")
            self._left = int(length) if length is not None else None
            if self._left == 0:
                self._done = True
        self.will_close = headers.get("connection", "").lower() == "close" or (
            not self._chunked and self._left is None and not self._done)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives."""
        conn = self._conn
        while not self._done:
            if self._chunked:
                line = conn.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while conn.readline() not in (b"\r\n", b""):
                        pass
                    self._done = True
                    break
                data = conn.read_exact(size)
                conn.read_exact(2)
                yield data
            elif self._left is not None:
                data = conn.read_some(min(self._left, 65536))
                if not data:
                    raise ConnectionError("connection closed in the middle of a response")
                self._left -= len(data)
                if self._left == 0:
                    self._done = True
                yield data
            else:
                data = conn.read_some(65536)
                if not data:
                    self._done = True
                    break
                yield data
        if self.will_close:
            conn.close()

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def lines(self) -> Iterator[bytes]:
        """The body's lines (newline-delimited JSON streams), without the newline."""
        rest = b""
        for chunk in self.chunks():
            rest += chunk
            *complete, rest = rest.split(b"\n")
            yield from (line for line in complete if line)
        if rest:
            yield rest

    def close(self) -> None:
        """Give up the rest of the body: the connection cannot serve another request."""
        if not self._done:
            self._conn.close()
            self._done = True


class Hijacked:
    """A connection taken over after its response head (an attach): raw bytes both
    ways. ``recv`` hands out what was read past the head first."""

    def __init__(self, sock: _socket.socket, pending: bytes) -> None:
        self.sock = sock
        self._pending = pending

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def pending(self) -> bool:
        """Bytes are buffered here already (poll would not tell)."""
        return bool(self._pending)

    def recv(self, n: int = 65536) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:n], self._pending[n:]
            return data
        return self.sock.recv(n)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: the far end reads EOF (the process's stdin ends)."""
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Hijacked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Connection:
    """One kept-alive connection to ``address``: a unix socket's path, or the (host,
    port) of a TCP listener (a name, an IPv4 address or an IPv6 one)."""

    def __init__(self, address: str | tuple[str, int], timeout: float | None = None
                 ) -> None:
        self.address = address
        self.timeout = timeout
        # a unix socket has no authority to name; over TCP, HTTP/1.1's Host is it
        self._host = "estiba" if isinstance(address, str) else \
            authority(address).removeprefix("tcp://")
        self._sock: _socket.socket | None = None
        self._buf = b""

    def _connect(self) -> _socket.socket:
        if self._sock is None:
            if isinstance(self.address, str):
                self._sock = _open_unix(self.address, self.timeout)
            else:
                self._sock = _open_tcp(*self.address, self.timeout)
            self._buf = b""
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buf = b""

    def detach(self) -> Hijacked:
        """Give the socket up (after the head of an upgrade's response): the next request
        opens a new connection."""
        if self._sock is None:
            raise ConnectionError("no connection to take over")
        taken = Hijacked(self._sock, self._buf)
        self._sock = None
        self._buf = b""
        return taken

    # --- reading ---------------------------------------------------------------------

    def _fill(self) -> bool:
        data = self._sock.recv(65536) if self._sock is not None else b""
        self._buf += data
        return bool(data)

    def readline(self) -> bytes:
        while b"\n" not in self._buf:
            if not self._fill():
                line, self._buf = self._buf, b""
                return line
        line, _, self._buf = self._buf.partition(b"\n")
        return line + b"\n"

    def read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise ConnectionError("connection closed in the middle of a response")
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def read_some(self, n: int) -> bytes:
        if not self._buf:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    # --- a request -------------------------------------------------------------------

    def request(self, method: str, target: str, headers: dict[str, str] | None = None,
                body: bytes | BinaryIO | None = None) -> Response:
        """Send one request, read the head of its response. A kept-alive connection the
        daemon closed meanwhile is opened again once (only for a bytes body, which can be
        sent again)."""
        for attempt in (0, 1):
            reused = self._sock is not None
            sock = self._connect()
            try:
                self._send(sock, method, target, headers or {}, body)
                return self._head(method)
            except (BrokenPipeError, ConnectionResetError, _EmptyResponse):
                self.close()
                if not reused or attempt or not (body is None or isinstance(body, bytes)):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, sock: _socket.socket, method: str, target: str,
              headers: dict[str, str], body: bytes | BinaryIO | None) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host}"]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if body is None or isinstance(body, bytes):
            data = body or b""
            if body is not None or method in ("POST", "PUT"):
                lines.append(f"Content-Length: {len(data)}")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
            return
        lines.append("Transfer-Encoding: chunked")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            while chunk := body.read(65536):
                sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # the daemon answered before reading the whole body (an error found early)
            # and closed: its answer is still there to read
            pass

    def _head(self, method: str) -> Response:
        while True:
            status_line = self.readline()
            if not status_line:
                raise _EmptyResponse("connection closed before a response")
            parts = status_line.decode("latin-1").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise ConnectionError(f"malformed status line {status_line[:80]!r}")
            status = int(parts[1])
            headers: dict[str, str] = {}
            while (line := self.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if status != 100:
                return Response(self, status, headers, method == "HEAD")


class _EmptyResponse(ConnectionError):
    pass


def _open_unix(path: str, timeout: float | None) -> _socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise ConnectError(err.errno, err.strerror) from err
    return sock


def _open_tcp(host: str, port: int, timeout: float | None) -> _socket.socket:
    """A connection to the first of ``host``'s addresses that accepts, in the resolver's
    order (``localhost``: ::1, then 127.0.0.1), as ``socket.create_connection`` does."""
    # an ASCII name as bytes: given a str, the resolver encodes it with the idna codec,
    # whose import (re, stringprep, unicodedata) costs more than this whole client
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    try:
        found = _socket.getaddrinfo(name, port, _socket.AF_UNSPEC, _socket.SOCK_STREAM)
    except _socket.gaierror as err:
        raise ConnectError(err.errno, f"resolve {host}: {err.strerror}") from err
    failed: OSError = ConnectError(0, f"{host} has no address")
    for family, kind, proto, _, sockaddr in found:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as err:
            sock.close()
            failed = err
            continue
        # without it, Nagle's algorithm holds a chunk of a streamed body, or a key
        # typed into an attach, until the daemon acknowledges the previous segment
        # (up to its delayed-ACK time, 40 ms on Linux)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise ConnectError(failed.errno, failed.strerror) from failed
