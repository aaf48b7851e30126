"""``estiba ctr [-a ADDRESS] [-n NAMESPACE] NOUN VERB [ARG...]``."""

from __future__ import annotations

import os
import sys

from estiba.cli.args import Option, UsageError, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from estiba.client.core import CoreClient

DEFAULT_ADDRESS = "/run/estiba/core.sock"

# noun and its aliases -> module of estiba.cli.ctr
NOUNS = {
    "version": "version",
    "namespaces": "namespaces", "namespace": "namespaces", "ns": "namespaces",
    "images": "images", "image": "images", "i": "images",
    "content": "content",
    "snapshots": "snapshots", "snapshot": "snapshots",
    "containers": "containers", "container": "containers", "c": "containers",
    "tasks": "tasks", "task": "tasks", "t": "tasks",
    "run": "run",
    "events": "events", "event": "events",
}

USAGE = """\
usage: estiba ctr [-a ADDRESS] [-n NAMESPACE] COMMAND [ARG...]

commands:
  version                              client and server versions
  namespaces ls|create NAME [K=V...]|rm NAME...
  images ls|import [--tag T] [--no-unpack] FILE|export FILE NAME...|tag SRC DST|rm NAME...
  content ls
  snapshots ls|info KEY|usage [KEY]|tree
  containers ls|create [--runtime R] [-t] IMAGE ID [CMD...]|info ID|rm ID...
  tasks ls|start ID|kill [-s SIG] [-a] ID|ps ID|pause ID|resume ID|metrics ID
        |exec [-t] --exec-id E ID CMD...|attach ID|rm [-f] ID
  run [--rm] [-t] [-d] [--runtime R] IMAGE ID [CMD...]
  events
"""

GLOBAL = (Option("-a", "--address", value=True), Option("-n", "--namespace", value=True),
          Option("-h", "--help"))


class Context:
    """What a verb needs: the client (made on first use) and the output."""

    def __init__(self, address: str, namespace: str, out: TextIO | None = None,
                 err: TextIO | None = None, stdin_fd: int | None = 0) -> None:
        self.address = address
        self.namespace = namespace
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        # the stdin a task may read (run, attach, exec); None: none, as with run -d
        self.stdin_fd = stdin_fd
        self._client: CoreClient | None = None

    @property
    def client(self) -> CoreClient:
        if self._client is None:
            from estiba.client.core import CoreClient

            self._client = CoreClient(self.address, self.namespace)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def dispatch(ctx: Context, argv: list[str]) -> int:
    """Run ``NOUN [VERB] ARG...``; the exit status. Errors propagate."""
    if not argv:
        raise UsageError(USAGE.rstrip())
    noun = NOUNS.get(argv[0])
    if noun is None:
        raise UsageError(f"no such command {argv[0]!r}\n{USAGE.rstrip()}")
    import importlib

    module = importlib.import_module(f"estiba.cli.ctr.{noun}")
    return module.main(ctx, argv[1:]) or 0


def verb(verbs: dict, argv: list[str], noun: str) -> tuple[object, list[str]]:
    """The function of ``argv[0]`` in ``verbs`` (aliases as keys) and the rest."""
    if not argv or argv[0] not in verbs:
        names = sorted({f.__name__.rstrip("_") for f in verbs.values()})
        given = f"no such {noun} command {argv[0]!r}; " if argv else ""
        raise UsageError(f"{given}{noun} commands: {', '.join(names)}")
    return verbs[argv[0]], argv[1:]


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None,
         stdin_fd: int | None = 0) -> int:
    err = err if err is not None else sys.stderr
    from estiba import errors

    try:
        opts, rest = parse(argv, GLOBAL, interleave=False)
        if opts["help"]:
            (out or sys.stdout).write(USAGE)
            return 0
        ctx = Context(str(opts["address"] or os.environ.get("ESTIBA_ADDRESS")
                          or DEFAULT_ADDRESS),
                      str(opts["namespace"] or os.environ.get("ESTIBA_NAMESPACE")
                          or "default"), out, err, stdin_fd)
        try:
            return dispatch(ctx, rest)
        finally:
            ctx.close()
    except (UsageError, errors.EstibaError) as exc:
        err.write(f"ctr: {exc}\n")
        return 1
    except BrokenPipeError:
        return 1
