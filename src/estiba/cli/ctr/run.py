"""``ctr run [--rm] [-t] [--runtime R] IMAGE ID [CMD...]``: create the container and
its task, start it, copy its log to stdout and stderr until it exits, exit with its
status; ``--rm`` deletes the task and the container afterwards. SIGINT and SIGTERM
are passed on to the task."""

from __future__ import annotations

from estiba.cli.args import Option, count, parse
from estiba.cli.ctr.containers import CREATE_OPTIONS, create_from


def main(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (*CREATE_OPTIONS, Option("--rm"), Option("-d", "--detach")),
                             interleave=False)
    count(positional, 2, None, "ctr run [--rm] [-t] [--runtime R] IMAGE ID [CMD...]")
    client = ctx.client
    container = create_from(ctx, opts, positional)
    cid = container["id"]
    try:
        client.create_task(cid, terminal=bool(opts["tty"]))
        if opts["detach"]:
            client.start_task(cid)
            return 0
        restore = _forward_signals(ctx, cid)
        try:
            client.start_task(cid)
            status = follow(ctx, cid)
        finally:
            restore()
        return status
    finally:
        if opts["rm"] and not opts["detach"]:
            _remove(ctx, cid)


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
