"""``estiba COMMAND ...``: dispatch to the command's module."""

from __future__ import annotations

import sys

USAGE = """\
usage: estiba [-H HOST] COMMAND [ARG...]

docker-compatible commands (the daemon: -H/--host, $ESTIBA_HOST, $DOCKER_HOST, else
unix:///run/estiba/estiba.sock):
  ps       list containers (-a, -q, -n N, -l, --no-trunc, -s, -f K=V, --format F)
  images   list images (-a, -q, --no-trunc, --digests, -f K=V, --format F)
  inspect  objects as JSON (--type T, -f FORMAT)
  rm       remove containers (-f, -v)
  version  client and daemon versions (--format F)

other commands:
  ctr      the core API's client (containerd's ctr): namespaces, images, content,
           snapshots, containers, tasks, run, events, version
"""

# command -> (module of estiba.cli.docker, function, usage line)
DOCKER_COMMANDS = {
    "ps": ("containers", "ps", "ps [OPTIONS]"),
    "rm": ("containers", "rm", "rm [OPTIONS] CONTAINER [CONTAINER...]"),
    "images": ("images", "main", "images [OPTIONS] [REPOSITORY[:TAG]]"),
    "inspect": ("inspect", "main", "inspect [OPTIONS] NAME|ID [NAME|ID...]"),
    "version": ("version", "main", "version [OPTIONS]"),
}


def _global_host(argv: list[str]) -> tuple[str | None, list[str]]:
    """``-H HOST`` / ``--host[=]HOST`` before the command; the rest of argv."""
    host = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-H", "--host") and i + 1 < len(argv):
            host, i = argv[i + 1], i + 2
        elif arg.startswith("--host="):
            host, i = arg[len("--host="):], i + 1
        elif arg.startswith("-H") and len(arg) > 2:
            host, i = arg[2:], i + 1
        else:
            break
    return host, argv[i:]


def main(argv: list[str]) -> int:
    host, argv = _global_host(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    if command == "ctr":
        from estiba.cli.ctr.main import main as ctr

        return ctr(rest)
    if command in DOCKER_COMMANDS:
        from estiba.cli.docker.context import run

        module, function, usage = DOCKER_COMMANDS[command]
        # __import__ rather than importlib.import_module: importlib's import costs more
        # than the command module
        body = getattr(__import__(f"estiba.cli.docker.{module}", fromlist=[function]),
                       function)
        return run(command, usage, body, rest, host)
    sys.stderr.write(f"estiba: unknown command {command!r}\n{USAGE}")
    return 1


def run_main() -> None:
    try:
        status = main(sys.argv[1:])
    except KeyboardInterrupt:
        status = 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(status)
