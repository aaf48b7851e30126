"""``estiba exec``: docker's ``container exec``. The exec is created after a look at
the container (so that a missing container is the error, not a leaked exec), started
attached (stdout and stderr, stdin with ``-i``) or detached (``-d``); the command's exit
status is ours. A command that cannot be run is the daemon's to report: it gives the
exec status 126 or 127 and writes why on the exec's output. As docker's CLI, the exec
is created with its terminal's size (ConsoleSize, with -t when our stdout is a terminal)
and the detach keys given (DetachKeys)."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, UsageError, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context

EXEC_FLAGS = (
    Flag("detach-keys", kind="string", help="Key sequence that detaches from the command"),
    Flag("interactive", "i", help="Keep STDIN open, attached or not"),
    Flag("tty", "t", help="Give the command a pseudo-TTY"),
    Flag("detach", "d", help="Run the command in the background"),
    Flag("user", "u", kind="string",
         help="User to run the command as: <name|uid>[:<group|gid>]"),
    Flag("privileged", help="Give the command extended privileges"),
    Flag("env", "e", repeat=True, help="Environment variables to set"),
    Flag("env-file", repeat=True, help="Read environment variables from a file"),
    Flag("workdir", "w", kind="string", help="Directory to run the command in"),
)
FLAGS_OF = {"exec_": EXEC_FLAGS}


def exec_env(env: list[str], files: list[str], environ: dict[str, str]) -> list[str]:
    """``--env-file`` lines then ``-e`` values, as docker's ReadKVEnvStrings orders them;
    ``-e NAME`` takes NAME's value from ``environ`` when it has one."""
    from estiba.cli.docker.runvalues import read_env_files

    given = []
    for value in env:
        key, eq, _ = value.partition("=")
        if not key:
            raise UsageError(f'invalid argument "{value}" for "-e, --env" flag: '
                             f"invalid environment variable: {value}")
        given.append(f"{key}={environ[key]}" if not eq and key in environ else value)
    return read_env_files(files, environ) + given


def exec_(ctx: Context, argv: list[str]) -> int:
    import os
    import sys

    from estiba.cli.docker.runopts import ConfigError
    from estiba.cli.docker.streams import relay, side_client
    from estiba.cli.docker.terminal import Detached, stream_size

    opts, args = parse(argv, EXEC_FLAGS, interspersed=False)
    count("exec", args, 2, None)
    name, cmd = args[0], args[1:]
    try:
        env = exec_env(opts["env"], opts["env_file"], dict(os.environ))  # type: ignore[arg-type]
    except ConfigError as err:
        ctx.err.write(f"{err}\n")
        return 1
    detach = bool(opts["detach"])
    tty = bool(opts["tty"])
    stdin = bool(opts["interactive"]) and not detach
    ctx.client.inspect_container(name)
    if stdin and tty and not sys.stdin.isatty():
        ctx.err.write("the input device is not a TTY\n")
        return 1
    detach_keys = str(opts["detach_keys"] or "")
    exec_id = ctx.client.exec_create(
        name, cmd, tty=tty, stdin=stdin, stdout=not detach, stderr=not detach, env=env,
        workdir=str(opts["workdir"] or ""), user=str(opts["user"] or ""),
        privileged=bool(opts["privileged"]),
        console_size=stream_size(ctx.out) if tty else None, detach_keys=detach_keys)
    if detach:
        ctx.client.exec_start(exec_id, tty=tty, detach=True)
        return 0
    conn = ctx.client.exec_start(exec_id, tty=tty)
    assert conn is not None
    resize = None
    if tty and sys.stdin.isatty():
        side = side_client(ctx)

        def resize(rows: int, columns: int) -> None:
            side.exec_resize(exec_id, rows, columns)

    try:
        relay(ctx, conn, tty=tty, stdin=stdin, detach_keys=detach_keys, resize=resize)
    except Detached as err:
        ctx.err.write(f"{err}\n")
        return 1
    return int(ctx.client.exec_inspect(exec_id).get("ExitCode") or 0)
