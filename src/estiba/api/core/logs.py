"""Reading a task's log, the CRI format the shim writes (one line per write or line:
``<RFC 3339 time> <stdout|stderr> <P|F> <text>``; ``P`` marks a partial line, continued
by the next entry of the same stream, ``F`` a full one), as the entries of the ``logs``
routes: ``{"time", "stream", "log"}`` with the partial lines joined and the newline kept
(a partial line left at the end, a write without its newline, comes without one).

The last ``tail`` entries are found by reading the file backwards from its end, so that
a short tail of a big log costs a few blocks; ``since`` and ``until`` (nanoseconds since
the epoch, 0 = unset) keep the entries in that span, as Docker's ``logs`` does.
"""

from __future__ import annotations

import collections
import time

from estiba import errors
from estiba.oci.state import parse_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, BinaryIO

# how often a follower looks for more of the file
_TICK = 0.05
_BLOCK = 65536


def parse_line(line: str) -> tuple[str, str, bool, str] | None:
    """(time, stream, full, text) of one CRI log line (without its newline), None if it
    is not one."""
    parts = line.split(" ", 3)
    if len(parts) < 3 or parts[1] not in ("stdout", "stderr") or parts[2] not in ("P", "F"):
        return None
    return parts[0], parts[1], parts[2] == "F", parts[3] if len(parts) == 4 else ""


def unix_nanos(text: str, what: str = "time") -> int:
    """Nanoseconds of Docker's ``since``/``until`` argument: Unix seconds with an
    optional fraction (``1700000000.5``); 0 for ""."""
    if not text:
        return 0
    seconds, dot, fraction = text.partition(".")
    try:
        if not seconds.lstrip("-").isdigit() or (dot and not fraction.isdigit()):
            raise ValueError(text)
        return int(seconds) * 1_000_000_000 + int(fraction[:9].ljust(9, "0") if dot else 0)
    except ValueError as err:
        raise errors.InvalidArgument(f"invalid value for {what}: {text!r}: Unix seconds "
                                     "with an optional fraction") from err


class Joiner:
    """Joins partial lines, per stream."""

    def __init__(self) -> None:
        self._partial: dict[str, tuple[str, str]] = {}  # stream -> (time, text so far)

    def feed(self, line: str) -> dict | None:
        parsed = parse_line(line)
        if parsed is None:
            return None
        stamp, stream, full, text = parsed
        text = self._partial.pop(stream, ("", ""))[1] + text
        if not full:
            self._partial[stream] = (stamp, text)
            return None
        return {"time": stamp, "stream": stream, "log": text + "\n"}

    def flush(self) -> list[dict]:
        """The partial lines left, as entries without a newline (the log's end)."""
        left = [{"time": stamp, "stream": stream, "log": text}
                for stream, (stamp, text) in self._partial.items()]
        self._partial.clear()
        return sorted(left, key=lambda e: e["time"])


def _lines_backward(f: BinaryIO, end: int, block: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of the lines that end before ``end`` (which follows a newline),
    the last first."""
    pos = end
    rest = b""
    while pos > 0:
        size = min(block, pos)
        pos -= size
        f.seek(pos)
        chunk = f.read(size) + rest
        pieces = chunk.split(b"\n")
        if rest == b"" and pos + size == end:
            pieces.pop()  # what follows the last newline: b""
        starts = []
        offset = pos
        for piece in pieces:
            starts.append(offset)
            offset += len(piece) + 1
        # the first piece may have begun before this block: kept for the next one
        first = 0 if pos == 0 else 1
        for index in range(len(pieces) - 1, first - 1, -1):
            yield starts[index], pieces[index]
        rest = pieces[0] if pos > 0 else b""


def tail_offset(f: BinaryIO, count: int, block: int = _BLOCK) -> int:
    """Where the last ``count`` entries of the log begin: reading from there yields
    them, after at most a few older lines (the end of entries of other streams that
    ``entries`` drops by keeping the last ``count``)."""
    f.seek(0, 2)
    # a line still being written is left to the reader that follows
    end = _last_newline(f, f.tell(), block)
    if count <= 0:
        return end
    found = 0
    start = end
    open_streams: set[str] = set()  # streams whose entry begins further back
    closed: set[str] = set()
    for offset, raw in _lines_backward(f, end, block):
        parsed = parse_line(raw.decode("utf-8", "replace"))
        if parsed is None:
            continue
        _, stream, full, _ = parsed
        if stream in closed:
            continue
        if full:
            open_streams.discard(stream)  # an entry of it ends here: the next begins
        if full or stream not in open_streams:
            # the last line of an entry (or a partial one at the end)
            if found >= count:
                closed.add(stream)
                if not open_streams:
                    break
                continue
            found += 1
            open_streams.add(stream)
        start = offset
    return start


def _last_newline(f: BinaryIO, before: int, block: int) -> int:
    """The offset after the last newline before ``before``; 0 if none."""
    pos = before
    while pos > 0:
        size = min(block, pos)
        pos -= size
        f.seek(pos)
        chunk = f.read(size)
        if b"\n" in chunk:
            return pos + chunk.rfind(b"\n") + 1
    return 0


def _in_span(entry: dict, since: int, until: int) -> int:
    """-1 before ``since``, 1 past ``until``, 0 within (an entry of no readable time
    is within)."""
    if not since and not until:
        return 0
    stamp = parse_timestamp(entry["time"])
    if stamp is None:
        return 0
    if since and stamp < since:
        return -1
    if until and stamp > until:
        return 1
    return 0


def entries(path: str, *, follow: bool, exited: Callable[[float], Any],
            poll: float = 0.5, tail: int | None = None, since: int = 0,
            until: int = 0) -> Iterator[dict | None]:
    """The entries of the log at ``path`` (the last ``tail`` of them if it is not None,
    those from ``since`` to ``until``, nanoseconds, 0 = unset); when following, then the
    ones written until ``exited(timeout)`` (which waits up to ``timeout`` seconds)
    returns the stopped task, and last ``{"exit_status"}``, or until ``until`` passes.
    None is yielded at least every ``poll`` seconds while nothing new comes (the
    server's chance to see a client gone)."""
    for entry in _entries(path, follow, exited, poll, tail, until):
        if entry is None or "exit_status" in entry:
            yield entry
            continue
        where = _in_span(entry, since, until)
        if where > 0:
            return
        if where == 0:
            yield entry


def _entries(path: str, follow: bool, exited: Callable[[float], Any], poll: float,
             tail: int | None, until: int) -> Iterator[dict | None]:
    if not path:
        raise errors.FailedPrecondition("the task has no log")
    joiner = Joiner()
    f = None
    try:
        while f is None:
            try:
                # closed in the finally below: the file outlives one yield
                f = open(path, "rb")  # noqa: SIM115
            except FileNotFoundError as err:
                if not follow:
                    raise errors.NotFound(f"log {path}: no such file") from err
                task = exited(_TICK)
                if task is not None:
                    yield {"exit_status": task.exit_status}
                    return
                yield None
        buffer = b""
        if tail is not None and tail >= 0:
            f.seek(tail_offset(f, tail))
            last: collections.deque[dict] = collections.deque(maxlen=max(tail, 1))
            while data := f.read(_BLOCK):
                buffer = _feed(joiner, buffer + data, last.append)
            if not follow:
                last.extend(joiner.flush())
            yield from (list(last)[-tail:] if tail else [])
        idle = 0.0
        while True:
            data = f.read(_BLOCK)
            if data:
                idle = 0.0
                found: list[dict] = []
                buffer = _feed(joiner, buffer + data, found.append)
                yield from found
                continue
            if not follow:
                yield from joiner.flush()
                return
            if until and time.time_ns() > until:
                return
            # waiting for the exit is the pause between reads: an exit ends it at once
            task = exited(_TICK)
            if task is not None:
                # the shim writes before it records the exit: what is left is complete
                found = []
                _feed(joiner, buffer + f.read() + b"\n", found.append)
                yield from found
                yield from joiner.flush()
                yield {"exit_status": task.exit_status}
                return
            idle += _TICK
            if idle >= poll:
                idle = 0.0
                yield None
    finally:
        if f is not None:
            f.close()


def _feed(joiner: Joiner, data: bytes, put: Callable[[dict], object]) -> bytes:
    """Feed the whole lines of ``data``; what follows the last newline is returned."""
    *lines, rest = data.split(b"\n")
    for line in lines:
        entry = joiner.feed(line.decode("utf-8", "replace"))
        if entry is not None:
            put(entry)
    return rest
