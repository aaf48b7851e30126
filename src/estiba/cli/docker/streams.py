"""The local end of a hijacked connection (``APIClient.attach``, ``exec_start``), as
docker's CLI pumps it: our stdin to the connection, half-closed when stdin ends (the
process reads EOF); the connection's output to our stdout and stderr, demultiplexed
from docker's frames when there is no terminal, raw bytes (all to stdout) with one.

The pump ends when the output ends; with no output asked for, when the input ends. The
detach keys, watched in the input with a terminal (``terminal.EscapeProxy``), end it
with ``terminal.Detached`` (docker's ``read escape sequence``).
"""

from __future__ import annotations

# posix rather than os: os costs ~1 ms to import without site (-S)
import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.cli.docker.context import Context
    from estiba.cli.docker.terminal import EscapeProxy
    from estiba.client.connection import Hijacked
    from estiba.client.docker import APIClient


class Output:
    """Where the connection's bytes go: ``tty``: all of them to ``out``; else docker's
    frames, stream 2 to ``err`` and the others to ``out``. A stream not asked for
    (None) is dropped, should a daemon send it anyway."""

    def __init__(self, tty: bool, out: Callable[[bytes], object] | None,
                 err: Callable[[bytes], object] | None) -> None:
        from estiba.client.streams import Demux

        self.out = out
        self.err = err
        self._demux = None if tty else Demux()

    def feed(self, data: bytes) -> None:
        if self._demux is None:
            if self.out is not None:
                self.out(data)
            return
        for stream, chunk in self._demux.feed(data):
            write = self.err if stream == 2 else self.out
            if write is not None:
                write(chunk)


def pump(conn: Hijacked, output: Output | None, stdin_fd: int | None,
         escape: EscapeProxy | None = None,
         output_ended: Callable[[], object] | None = None) -> None:
    """Copy ``stdin_fd`` (None: no input) to ``conn`` (through ``escape`` when given)
    and ``conn``'s bytes to ``output`` (None: none asked for) until the output ends
    (then ``output_ended()``, which restores the terminal at once) or, without
    output, the input ends. Detached when the detach keys are typed."""
    import select

    poller = select.poll()
    sock = conn.fileno()
    poller.register(sock, select.POLLIN)
    reading = stdin_fd is not None
    if reading:
        poller.register(stdin_fd, select.POLLIN)
    while True:
        events = [(sock, select.POLLIN)] if conn.pending else poller.poll()
        # the keys first: what the output makes a terminal answer must not join a
        # key still unread (a detach key is seen only in a read of its own)
        for fd, _ in sorted(events, key=lambda event: event[0] == sock):
            if fd == sock:
                try:
                    data = conn.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    if output_ended is not None:
                        output_ended()
                    if output is not None or not reading:
                        return
                    poller.unregister(sock)
                    continue
                if output is not None:
                    output.feed(data)
            elif reading:
                try:
                    data = posix.read(stdin_fd, 65536)  # type: ignore[arg-type]
                except OSError:
                    data = b""  # a terminal hung up: as its end
                if data:
                    sent = escape.feed(data) if escape is not None else data
                    if sent:
                        try:
                            conn.sendall(sent)
                        except (BrokenPipeError, ConnectionResetError):
                            pass  # the far end is gone: its output ends next
                    continue
                poller.unregister(stdin_fd)  # type: ignore[arg-type]
                reading = False
                conn.close_write()
                if output is None:
                    return


def writer(stream: object) -> Callable[[bytes], object]:
    """A bytes writer for a text stream (its binary buffer when it has one), each
    write flushed: the container's output appears as it comes."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()  # type: ignore[attr-defined]

        def write(data: bytes) -> None:
            try:
                buffer.write(data)
                buffer.flush()
            except BrokenPipeError:
                pass

        return write

    def write_text(data: bytes) -> None:
        stream.write(data.decode("utf-8", "replace"))  # type: ignore[attr-defined]
        stream.flush()  # type: ignore[attr-defined]

    return write_text


def _fd(stream: object) -> int | None:
    try:
        return stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def relay(ctx: Context, conn: Hijacked, *, tty: bool, stdin: bool, stdout: bool = True,
          stderr: bool = True, detach_keys: str = "",
          resize: Callable[[int, int], object] | None = None) -> None:
    """docker's hijacked streamer once the process runs: our stdin (``stdin``) to it,
    its stdout and stderr to ours (with a terminal both to our stdout); with a
    terminal and our stdin attached, the terminal raw and watched for the detach
    keys; ``resize(rows, columns)`` given, the process's terminal follows the size of
    ours (our stdout's). Closes ``conn``; Detached when the keys are typed."""
    import sys

    from estiba.cli.docker import terminal

    stdin_fd = _fd(sys.stdin) if stdin else None
    interactive = tty and stdin_fd is not None
    escape = None
    if interactive:
        escape = terminal.EscapeProxy(terminal.detach_keys_or_default(detach_keys))
    output = None
    if stdout or stderr:
        output = Output(tty, writer(ctx.out) if stdout or tty else None,
                        writer(ctx.err) if stderr and not tty else None)
    raw = terminal.RawMode(stdin_fd if interactive else None)
    sized = _fd(ctx.out) if tty and resize is not None else None
    with conn, raw, terminal.WindowSize(sized, resize or _ignore):
        pump(conn, output, stdin_fd, escape, output_ended=raw.restore)


def _ignore(rows: int, columns: int) -> None:
    pass


def side_client(ctx: Context) -> APIClient:
    """A client of its own for what a signal handler sends (a resize, a forwarded
    signal): the handler may run while the context's client is mid-request."""
    from estiba.client.docker import APIClient

    return APIClient(ctx.host, version=ctx.client.api_version)
