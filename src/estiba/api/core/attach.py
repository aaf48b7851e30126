"""The attach stream: a hijacked client connection relayed to a conmon attach socket
(``shim/conmon.py`` says what conmon sends and reads there).

On the client connection, after the ``101`` (or ``200``) head:

- client → daemon: raw bytes, the process's stdin (dropped unless the attach asked for
  stdin). The client's half-close (``shutdown(SHUT_WR)``) ends the process's stdin: the
  daemon shuts down its own write side to conmon, which then closes the stdin it holds.
  Unless the attach says so (``close_stdin`` False: Docker's rule for a terminal, or a
  container not ``StdinOnce``), the client's end ends the attach alone: a client that
  detached (``docker attach``'s ctrl-p ctrl-q) leaves the process's stdin open.
- daemon → client: for a process with a terminal, the pty's bytes as they are (one
  stream); without one, Docker's multiplexed frames: an 8-byte header ``[stream, 0, 0,
  0, size as big-endian uint32]`` (stream 1 stdout, 2 stderr) and ``size`` bytes. The
  Docker API's attach speaks the same.
- The daemon closes the connection once conmon closes its socket (the process exited
  and its output is drained); the exit status is asked for apart (``wait``).
- ``streams``: the Docker stream numbers the client asked for (the Docker API's
  ``stdout``/``stderr``); the others' packets are dropped, as dockerd sends only the
  streams an attach names (the docker CLI has no writer for the others). None: all.
"""

from __future__ import annotations

import asyncio
import socket

from estiba.api.core.http import Takeover

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from estiba.api.core.http import Request

# conmon's tags (stdpipe_t) to Docker's stream numbers
_STDOUT = 2
_STREAMS = {_STDOUT: 1, 3: 2}
CHUNK = 8192  # at most this much stdin in one packet to conmon (it reads 32 KiB - 1)


def saying(text: str = "") -> socket.socket:
    """A socket that gives one stdout packet of ``text`` (none for "") as conmon
    would, then ends: a relay over it says that and ends."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if text:
        theirs.send(bytes((_STDOUT,)) + text.encode())
    theirs.close()
    return ours


def frame(packet: bytes, tty: bool, streams: frozenset[int] | None = None) -> bytes:
    """What the client is sent for one packet of conmon's (``<tag><bytes>``): nothing
    for a stream not in ``streams`` (None: every one; pure)."""
    data = packet[1:]
    stream = _STREAMS.get(packet[0], 1)
    if not data or (streams is not None and stream not in streams):
        return b""
    if tty:
        return data
    return multiplexed(stream, data)


def multiplexed(stream: int, data: bytes) -> bytes:
    """One of Docker's frames: ``stream`` (1 stdout, 2 stderr) and ``data`` (pure)."""
    return bytes((stream, 0, 0, 0)) + len(data).to_bytes(4, "big") + data


def takeover(request: Request, conn: socket.socket, *, tty: bool,
             stdin: bool, close_stdin: bool = True,
             streams: frozenset[int] | None = None) -> Takeover:
    """The reply of an attach route: ``101 UPGRADED`` when the client asked to upgrade
    (``Connection: Upgrade``), else ``200`` with Docker's content type; then the
    relay."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await relay(conn, reader, writer, tty=tty, stdin=stdin, close_stdin=close_stdin,
                    streams=streams)

    return hijacked(request, tty, run)


def hijacked(request: Request, tty: bool,
             run: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
             ) -> Takeover:
    """A hijacked connection's reply, ``run`` after its head: ``101 UPGRADED`` when
    the client asked to upgrade, else ``200``, with Docker's content type."""
    kind = "raw-stream" if tty else "multiplexed-stream"
    content = ("Content-Type", f"application/vnd.docker.{kind}")
    if "upgrade" in request.headers.get("connection", "").lower():
        return Takeover(run, 101, (content, ("Connection", "Upgrade"), ("Upgrade", "tcp")))
    return Takeover(run, 200, (content,))


async def relay(conn: socket.socket, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter, *, tty: bool, stdin: bool,
                close_stdin: bool = True, streams: frozenset[int] | None = None) -> None:
    """Copy both ways until conmon closes the attach socket (or the client goes)."""
    loop = asyncio.get_running_loop()
    conn.setblocking(False)

    async def upstream() -> None:
        try:
            while data := await reader.read(CHUNK):
                if stdin:
                    await loop.sock_sendall(conn, data)
            if stdin and close_stdin:
                conn.shutdown(socket.SHUT_WR)  # conmon closes the process's stdin
        except (ConnectionError, OSError):
            pass

    up = asyncio.create_task(upstream())
    down = asyncio.create_task(_downstream(loop, conn, writer, tty, streams))
    try:
        await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
        if not (up.done() and stdin and not close_stdin):
            await down
        # else the end of the client's stdin ends the attach: the process keeps its own
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        conn.close()


async def _downstream(loop: asyncio.AbstractEventLoop, conn: socket.socket,
                      writer: asyncio.StreamWriter, tty: bool,
                      streams: frozenset[int] | None) -> None:
    try:
        while packet := await loop.sock_recv(conn, 65536):
            data = frame(packet, tty, streams)
            if data:
                writer.write(data)
                await writer.drain()
    except (ConnectionError, OSError):
        pass  # the client went (or conmon did)
