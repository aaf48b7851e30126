"""``ctr run [--rm] [-t] [-d] [--runtime R] IMAGE ID [CMD...]``: create the container
and its task, start it, relay its stdio until it exits, exit with its status; ``--rm``
deletes the task and the container afterwards. SIGINT and SIGTERM are passed on to the
task (with ``-t`` on a terminal, ^C is a key for the task's pty instead).

Stdio, as ctr does it: with ``-t``, the task gets a pty and our stdin and output go
through an attach (``stdio.py``: raw mode, window size). Without ``-t``, when our stdin
is not a terminal (a pipe, a file, /dev/null) it is the task's stdin, and its output
comes through the attach too (``echo hi | estiba ctr run --rm busybox x cat``); when
it is a terminal, the task gets no stdin and its log is followed, as before attach
existed (a terminal's stdin without ``-t`` would be read line by line, and held from
the shell, for a task that most often reads nothing). ``-d``: no stdio at all."""

from __future__ import annotations

import os

from estiba.cli.args import Option, count, parse
from estiba.cli.ctr.containers import CREATE_OPTIONS, create_from


def main(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (*CREATE_OPTIONS, Option("--rm"), Option("-d", "--detach")),
                             interleave=False)
    count(positional, 2, None, "ctr run [--rm] [-t] [-d] [--runtime R] IMAGE ID [CMD...]")
    client = ctx.client
    tty = bool(opts["tty"])
    detach = bool(opts["detach"])
    stdin = not detach and ctx.stdin_fd is not None and (
        tty or not os.isatty(ctx.stdin_fd))
    container = create_from(ctx, opts, positional)
    cid = container["id"]
    try:
        client.create_task(cid, terminal=tty, stdin=stdin)
        if detach:
            client.start_task(cid)
            return 0
        restore = _forward_signals(ctx, cid)
        try:
            if tty or stdin:
                return attach_and_start(ctx, cid, tty=tty, stdin=stdin)
            client.start_task(cid)
            status = follow(ctx, cid)
        finally:
            restore()
        return status
    finally:
        if opts["rm"] and not detach:
            _remove(ctx, cid)


def attach_and_start(ctx, cid: str, *, tty: bool, stdin: bool) -> int:
    """Attach to the created task, start it, relay until it ends; its status."""
    from estiba.cli.ctr import stdio

    client = ctx.client
    conn = client.attach(cid, stdin=stdin)
    stdio.attached(ctx, conn, tty=tty, stdin=stdin,
                   resize=stdio.resize_via(ctx, cid),
                   start=lambda: client.start_task(cid))
    status = client.wait_task(cid).get("exit_status")
    return int(status) if status is not None else 0


def follow(ctx, cid: str) -> int:
    """Copy the task's log to our stdout/stderr; its exit status."""
    status = None
    out = ctx.out
    for entry in ctx.client.logs(cid, follow=True):
        if "exit_status" in entry:
            status = entry["exit_status"]
            break
        stream = ctx.err if entry.get("stream") == "stderr" else out
        stream.write(entry.get("log", ""))
        stream.flush()
    if status is None:
        status = ctx.client.wait_task(cid).get("exit_status")
    return int(status) if status is not None else 0


def _forward_signals(ctx, cid: str):
    # _signal, not signal: the latter imports enum (about 6 ms of every run)
    import _signal as signal

    from estiba import errors

    def forward(signum: int, frame: object) -> None:
        from estiba.client.core import CoreClient

        try:
            with CoreClient(ctx.address, ctx.namespace) as c:
                c.kill_task(cid, signum)
        except errors.EstibaError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, handler in previous.items():
            signal.signal(s, handler)

    return restore


def _remove(ctx, cid: str) -> None:
    from estiba import errors
    from estiba.client.core import CoreClient

    with CoreClient(ctx.address, ctx.namespace) as c:
        try:
            c.delete_task(cid, force=True)
        except errors.NotFound:
            pass
        c.delete_container(cid)
