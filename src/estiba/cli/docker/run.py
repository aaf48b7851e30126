"""``estiba run``: docker's ``container run``. The order is docker's: create (pulling
a missing image), attach to the streams asked for (stdout and stderr by default, stdin
with ``-i``), begin the wait for the exit (``removed`` with ``--rm``), start, relay
until the streams end, exit with the container's status. ``-d`` prints the id instead.

Exit statuses, as docker's: the container's; 125 when the container cannot be made
or started; 127 when its command is not found, 126 when it cannot be executed.
Without a terminal the signals ``estiba run`` gets go on to the container
(``--sig-proxy``); with ``-it`` the local terminal is raw and sized, and the detach
keys (ctrl-p ctrl-q) leave the container running.
"""

from __future__ import annotations

from estiba.cli.docker.runopts import RUN_FLAGS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context

FLAGS_OF = {"run": RUN_FLAGS}

_NOT_FOUND = ("executable file not found", "no such file or directory",
              "system cannot find the file specified")
_CANNOT_EXECUTE = ("permission denied", "is a directory")


def failure_status(message: str) -> int:
    """docker's status for a container that could not be created or started: 127
    when the command is missing, 126 when it cannot be executed, else 125."""
    if any(text in message for text in _NOT_FOUND):
        return 127
    if any(text in message for text in _CANNOT_EXECUTE):
        return 126
    return 125


def failure_text(message: str) -> str:
    """How docker's CLI reports such a failure."""
    return f"estiba: {message}\n\nRun 'estiba run --help' for more information\n"


def _message(err: Exception) -> str:
    from estiba.client.docker import DockerError

    if isinstance(err, DockerError):
        return f"Error response from daemon: {err.message}"
    return str(err)


def run(ctx: Context, argv: list[str]) -> int:
    import sys

    from estiba import errors
    from estiba.cli.docker.attach import forward_to, resize_of, wait_status
    from estiba.cli.docker.create import create_container
    from estiba.cli.docker.runopts import ConfigError, parse_run
    from estiba.cli.docker.streams import relay, side_client
    from estiba.cli.docker.terminal import Detached, SignalProxy
    from estiba.client.docker import DockerError

    try:
        opts = parse_run(argv, run=True)
    except ConfigError as err:
        ctx.err.write(err.text("run"))
        return err.status
    config = opts.config
    tty = bool(config.get("Tty"))
    stdin = bool(config.get("AttachStdin"))
    stdout = bool(config.get("AttachStdout"))
    stderr = bool(config.get("AttachStderr"))
    if not opts.detach and stdin and tty and not sys.stdin.isatty():
        ctx.err.write("the input device is not a TTY\n")
        return 1
    try:
        cid = create_container(ctx, opts)
    except (DockerError, errors.EstibaError) as err:
        if isinstance(err, errors.Unavailable):
            raise
        ctx.err.write(failure_text(_message(err)))
        return failure_status(_message(err))
    side = side_client(ctx)
    with SignalProxy(forward_to(side, cid) if opts.sig_proxy and not tty else None):
        if not stdout and not stderr:
            ctx.out.write(cid + "\n")
            ctx.out.flush()
        conn = None
        if stdin or stdout or stderr:
            conn = ctx.client.attach(cid, stdin=stdin, stdout=stdout, stderr=stderr,
                                     detach_keys=opts.detach_keys)
        waited = ctx.client.wait_begun(cid, "removed" if opts.auto_remove else "next-exit")
        try:
            ctx.client.start(cid)
        except DockerError as err:
            if conn is not None:
                conn.close()
            ctx.err.write(failure_text(_message(err)))
            if opts.auto_remove:
                waited()
            if opts.explain:
                _explain(ctx, cid)
            return failure_status(_message(err))
        if conn is not None:
            resize = None
            if tty and _is_terminal(ctx.out):
                resize = resize_of(side, cid)
            try:
                relay(ctx, conn, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr,
                      detach_keys=opts.detach_keys, resize=resize)
            except Detached:
                return 0
        if not stdout and not stderr:
            return 0
        status = wait_status(waited())
    if opts.explain:
        _explain(ctx, cid)
    return status


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _explain(ctx: Context, cid: str) -> None:
    """What the daemon did for the container, once it has ended (``--explain``)."""
    try:
        from estiba.cli.docker.explain import report
    except ImportError:
        ctx.err.write("estiba: --explain: the report is not available in this build\n")
        return
    ctx.err.write(report(ctx.client, cid))
