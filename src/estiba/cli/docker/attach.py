"""``estiba start`` and ``estiba attach``: docker's ``container start`` and ``container
attach``.

``start -a``/``-i`` attaches before it starts (so that no output is lost), waits for
the exit from before the start (so that a quick exit is seen), forwards the signals it
gets when the container has no terminal, and exits with the container's status.
``attach`` joins a running container's streams and exits with its status once it
stops; the detach keys (ctrl-p ctrl-q by default) leave it running.
"""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, UsageError, count, exact, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.cli.docker.context import Context
    from estiba.client.docker import APIClient

START_FLAGS = (
    Flag("attach", "a", help="Stream STDOUT/STDERR and pass signals on"),
    Flag("interactive", "i", help="Connect the container's STDIN too"),
    Flag("detach-keys", kind="string", help="Key sequence that detaches from the container"),
    Flag("checkpoint", kind="string", help="Checkpoint to restore from"),
    Flag("checkpoint-dir", kind="string", help="Directory of the checkpoints"),
)
ATTACH_FLAGS = (
    Flag("no-stdin", help="Leave STDIN unattached"),
    Flag("sig-proxy", default=True, help="Forward every signal it receives to the process"),
    Flag("detach-keys", kind="string", help="Key sequence that detaches from the container"),
)
FLAGS_OF = {"start": START_FLAGS, "attach": ATTACH_FLAGS}


def state_error(state: dict) -> str | None:
    """Why ``attach`` refuses a container in ``state`` (docker's words); None if it
    does not."""
    if not state.get("Running"):
        return "You cannot attach to a stopped container, start it first"
    if state.get("Paused"):
        return "You cannot attach to a paused container, unpause it first"
    if state.get("Restarting"):
        return "You cannot attach to a restarting container, wait until it is running"
    return None


def wait_status(result: dict) -> int:
    """The exit status a wait's answer means: the container's, or 125 (docker's) when
    the daemon could not tell."""
    if (result.get("Error") or {}).get("Message"):
        return 125
    return int(result.get("StatusCode") or 0)


def forward_to(client: APIClient, cid: str) -> Callable[[str], object]:
    def send(signal: str) -> None:
        client.kill(cid, signal)

    return send


def resize_of(client: APIClient, cid: str) -> Callable[[int, int], object]:
    def send(rows: int, columns: int) -> None:
        client.resize(cid, rows, columns)

    return send


def _stdout_is_terminal(ctx: Context) -> bool:
    try:
        return bool(ctx.out.isatty())
    except (AttributeError, ValueError):
        return False


def start(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    opts, names = parse(argv, START_FLAGS)
    count("start", names, 1, None)
    if opts["attach"] or opts["interactive"]:
        if len(names) > 1:
            ctx.err.write("you cannot start and attach multiple containers at once\n")
            return 1
        return _start_attached(ctx, names[0], bool(opts["interactive"]),
                               str(opts["detach_keys"] or ""))
    if opts["checkpoint"]:
        raise UsageError("checkpoints are not supported by Estiba")
    failed = []
    for name in names:
        try:
            ctx.client.start(name)
        except DockerError as err:
            ctx.err.write(f"Error response from daemon: {err.message}\n")
            failed.append(name)
            continue
        ctx.out.write(name + "\n")
    if failed:
        ctx.err.write(f"Error: failed to start containers: {', '.join(failed)}\n")
        return 1
    return 0


def _start_attached(ctx: Context, name: str, interactive: bool, detach_keys: str) -> int:
    from estiba.cli.docker.streams import relay, side_client
    from estiba.cli.docker.terminal import Detached, SignalProxy

    c = ctx.client.inspect_container(name)
    cid = c["Id"]
    tty = bool(c["Config"].get("Tty"))
    auto_remove = bool(c["HostConfig"].get("AutoRemove"))
    side = side_client(ctx)
    proxy = SignalProxy(None if tty else forward_to(side, cid))
    stdin = interactive and bool(c["Config"].get("OpenStdin"))
    with proxy:
        conn = ctx.client.attach(cid, stdin=stdin, stdout=True, stderr=True,
                                 detach_keys=detach_keys)
        waited = ctx.client.wait_begun(cid, "removed" if auto_remove else "next-exit")
        try:
            ctx.client.start(cid)
        except BaseException:
            conn.close()
            if auto_remove:
                waited()
            raise
        resize = resize_of(side, cid) if tty and _stdout_is_terminal(ctx) else None
        try:
            relay(ctx, conn, tty=tty, stdin=stdin, detach_keys=detach_keys, resize=resize)
        except Detached:
            return 0
        return wait_status(waited())


def attach(ctx: Context, argv: list[str]) -> int:
    import sys

    from estiba.cli.docker.streams import relay, side_client
    from estiba.cli.docker.terminal import Detached, SignalProxy, terminal_size

    opts, names = parse(argv, ATTACH_FLAGS)
    exact("attach", names, 1)
    sig_proxy = bool(opts["sig_proxy"])
    detach_keys = str(opts["detach_keys"] or "")
    c = ctx.client.inspect_container(names[0])
    refused = state_error(c["State"])
    if refused:
        ctx.err.write(refused + "\n")
        return 1
    cid = c["Id"]
    tty = bool(c["Config"].get("Tty"))
    if tty and not opts["no_stdin"] and not sys.stdin.isatty():
        ctx.err.write("the input device is not a TTY\n")
        return 1
    stdin = not opts["no_stdin"] and bool(c["Config"].get("OpenStdin"))
    waited = ctx.client.wait_begun(cid)
    side = side_client(ctx)
    proxy = SignalProxy(forward_to(side, cid) if sig_proxy and not tty else None)
    with proxy:
        conn = ctx.client.attach(cid, stdin=stdin, stdout=True, stderr=True,
                                 detach_keys=detach_keys)
        resize = None
        if tty and _stdout_is_terminal(ctx):
            resize = resize_of(side, cid)
            size = terminal_size(ctx.out.fileno())
            if size is not None:
                # a size that differs from the last one makes the shell draw its
                # prompt again; the real size follows at once
                try:
                    resize(size[0] + 1, size[1] + 1)
                except Exception:  # noqa: BLE001, S110 - docker ignores it too
                    pass
        try:
            relay(ctx, conn, tty=tty, stdin=stdin, detach_keys=detach_keys, resize=resize)
        except Detached as err:
            ctx.err.write(f"{err}\n")
            return 1
    result = waited()
    message = (result.get("Error") or {}).get("Message")
    if message:
        ctx.err.write(f"{message}\n")
        return 1
    return int(result.get("StatusCode") or 0)
