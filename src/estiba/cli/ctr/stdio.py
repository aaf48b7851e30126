"""The local end of an attach (``ctr run -t``, ``tasks attach``, ``tasks exec``): our
stdin to the task, its output to our stdout and stderr, until it ends.

With a terminal on both sides, the local one is put in raw mode (every key, ^C and ^D
too, goes to the task's pty, which does the echo and the line editing) and restored
on the way out, errors included; its size is sent at once and again on each SIGWINCH.
Our stdin's end half-closes the connection: the task's stdin ends (conmon closes it).
The terminal's handling and the output writers are the docker-compatible commands'
(``cli/docker/terminal.py``, ``streams.writer``).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.client.connection import Hijacked


def _is_tty(fd: int | None) -> bool:
    return fd is not None and os.isatty(fd)


def relay(conn: Hijacked, *, tty: bool, stdin_fd: int | None, out: Callable[[bytes], object],
          err: Callable[[bytes], object]) -> None:
    """Copy ``stdin_fd`` (None: nothing) to ``conn`` and ``conn``'s output to ``out`` and
    ``err`` (``tty``: raw bytes, all to ``out``; else multiplexed frames) until ``conn``
    ends."""
    import select

    from estiba.client.streams import STDERR, Demux

    demux = None if tty else Demux()
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    reading = stdin_fd is not None
    if reading:
        poller.register(stdin_fd, select.POLLIN)
    while True:
        events = [(conn.fileno(), select.POLLIN)] if conn.pending else poller.poll()
        for fd, _ in events:
            if fd == conn.fileno():
                data = conn.recv(65536)
                if not data:
                    return
                if demux is None:
                    out(data)
                    continue
                for stream, chunk in demux.feed(data):
                    (err if stream == STDERR else out)(chunk)
            elif reading:
                data = os.read(stdin_fd, 65536)
                if data:
                    conn.sendall(data)
                    continue
                poller.unregister(stdin_fd)
                reading = False
                conn.close_write()


def attached(ctx, conn: Hijacked, *, tty: bool, stdin: bool,
             resize: Callable[[int, int], object] | None, start: Callable[[], object]
             ) -> None:
    """Run ``start()`` then relay, the terminal raw and sized for a tty."""
    stdin_fd = ctx.stdin_fd if stdin else None
    from estiba.cli.docker.streams import writer
    from estiba.cli.docker.terminal import RawMode, WindowSize

    with conn, RawMode(stdin_fd if tty else None), \
            WindowSize(_local_tty(ctx) if tty and resize else None, resize or _ignore):
        start()
        relay(conn, tty=tty, stdin_fd=stdin_fd, out=writer(ctx.out), err=writer(ctx.err))


def resize_via(ctx, cid: str, exec_id: str = "") -> Callable[[int, int], None]:
    """Resize the pty of ``cid`` (or of its exec) through a client of its own: a
    SIGWINCH handler may run while the context's client is mid-request."""

    def send(height: int, width: int) -> None:
        from estiba.client.core import CoreClient

        with CoreClient(ctx.address, ctx.namespace) as client:
            client.resize(cid, height, width, exec_id)

    return send


def _local_tty(ctx) -> int | None:
    for fd in (ctx.stdin_fd, 1):
        if _is_tty(fd):
            return fd
    return None


def _ignore(height: int, width: int) -> None:
    pass
