"""Reading a task's log, the CRI format the shim writes (one line per write or line:
``<RFC 3339 time> <stdout|stderr> <P|F> <text>``; ``P`` marks a partial line, continued
by the next entry of the same stream, ``F`` a full one), as the entries of the ``logs``
route: ``{"time", "stream", "log"}`` with the partial lines joined and the newline kept.
"""

from __future__ import annotations

from estiba import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

# how often a follower looks for more of the file
_TICK = 0.05


def parse_line(line: str) -> tuple[str, str, bool, str] | None:
    """(time, stream, full, text) of one CRI log line (without its newline), None if it
    is not one."""
    parts = line.split(" ", 3)
    if len(parts) < 3 or parts[1] not in ("stdout", "stderr") or parts[2] not in ("P", "F"):
        return None
    return parts[0], parts[1], parts[2] == "F", parts[3] if len(parts) == 4 else ""


class Joiner:
    """Joins partial lines, per stream."""

    def __init__(self) -> None:
        self._partial: dict[str, str] = {}

    def feed(self, line: str) -> dict | None:
        parsed = parse_line(line)
        if parsed is None:
            return None
        stamp, stream, full, text = parsed
        text = self._partial.pop(stream, "") + text
        if not full:
            self._partial[stream] = text
            return None
        return {"time": stamp, "stream": stream, "log": text + "\n"}


def entries(path: str, *, follow: bool, exited: Callable[[float], Any],
            poll: float = 0.5) -> Iterator[dict | None]:
    """The entries of the log at ``path``; when following, then the ones written until
    ``exited(timeout)`` (which waits up to ``timeout`` seconds) returns the stopped
    task, and last ``{"exit_status"}``. None is yielded
    at least every ``poll`` seconds while nothing new comes (the server's chance to see a
    client gone)."""
    if not path:
        raise errors.FailedPrecondition("the task has no log")
    joiner = Joiner()
    f = None
    try:
        while f is None:
            try:
                # closed in the finally below: the file outlives one yield
                f = open(path, encoding="utf-8", errors="replace", newline="\n")  # noqa: SIM115
            except FileNotFoundError as err:
                if not follow:
                    raise errors.NotFound(f"log {path}: no such file") from err
                task = exited(_TICK)
                if task is not None:
                    yield {"exit_status": task.exit_status}
                    return
                yield None
        buffer = ""
        idle = 0.0
        while True:
            data = f.read(65536)
            if data:
                idle = 0.0
                buffer += data
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    entry = joiner.feed(line)
                    if entry is not None:
                        yield entry
                continue
            if not follow:
                return
            # waiting for the exit is the pause between reads: an exit ends it at once
            task = exited(_TICK)
            if task is not None:
                # the shim writes before it records the exit: what is left is complete
                for line in (buffer + f.read()).split("\n"):
                    entry = joiner.feed(line)
                    if entry is not None:
                        yield entry
                yield {"exit_status": task.exit_status}
                return
            idle += _TICK
            if idle >= poll:
                idle = 0.0
                yield None
    finally:
        if f is not None:
            f.close()
