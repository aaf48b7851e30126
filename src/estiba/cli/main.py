"""``estiba COMMAND ...``: dispatch to the command's module."""

from __future__ import annotations

import sys

USAGE = """\
usage: estiba COMMAND [ARG...]

commands:
  ctr      the core API's client (containerd's ctr): namespaces, images, content,
           snapshots, containers, tasks, run, events, version
"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    if command == "ctr":
        from estiba.cli.ctr.main import main as ctr

        return ctr(rest)
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
