"""How long work is shown: the daemon's JSON progress streams (``load``, ``import``,
``pull``; ``push`` and ``build`` will use it too) and the bytes of a transfer (the
archive ``load`` and ``import`` send, the one ``save -o`` writes).

Not on a terminal, a stream is printed as the docker CLI prints it there (its
jsonmessage display): ``stream`` text as it comes, a ``status`` line per object, the
objects that carry a progress count left out, an ``errorDetail`` ending the command
with its message. On a terminal the counts are drawn as bars with rich, which is
imported only then: ``estiba`` starts Python without ``site`` (``-S``, to start fast),
so the virtual environment's packages are put on the path at that moment. Without
rich, the terminal gets the plain lines.
"""

from __future__ import annotations

from estiba.errors import EstibaError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, BinaryIO, TextIO

_GO_NANO = "%Y-%m-%dT%H:%M:%S"


class StreamError(EstibaError):
    """The stream reported an error; ``str()`` is what docker prints for it."""


def error_of(message: Mapping[str, Any]) -> str:
    """The error a progress object reports (``""``: none): ``errorDetail``'s message,
    else the older ``error`` field; code 401 is reported as docker words it."""
    detail = message.get("errorDetail")
    if isinstance(detail, dict):
        if detail.get("code") == 401:
            return "authentication is required"
        return str(detail.get("message") or message.get("error") or "")
    return str(message.get("error") or "")


def _counts(detail: object) -> tuple[int, int]:
    if not isinstance(detail, dict):
        return 0, 0
    return int(detail.get("current") or 0), int(detail.get("total") or 0)


def _stamp(message: Mapping[str, Any]) -> str:
    import time

    nano = int(message.get("timeNano") or 0) or int(message.get("time") or 0) * 10**9
    if not nano:
        return ""
    seconds, fraction = divmod(nano, 10**9)
    local = time.localtime(seconds)
    offset = local.tm_gmtoff or 0
    zone = "Z" if offset == 0 else \
        f"{'+' if offset > 0 else '-'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return f"{time.strftime(_GO_NANO, local)}.{fraction:09d}{zone} "


def plain_text(message: Mapping[str, Any]) -> str:
    """What docker prints for one progress object when its output is no terminal
    (``""``: nothing). The error of an object is the caller's (``error_of``)."""
    detail = message.get("progressDetail")
    if detail is not None and any(_counts(detail)):
        return ""  # a bar's step: drawn on terminals only
    head = _stamp(message)
    if message.get("id"):
        head += f"{message['id']}: "
    if message.get("from"):
        head += f"(from {message['from']}) "
    status = str(message.get("status") or "")
    if message.get("progress"):
        return f"{head}{status} {message['progress']}"
    if message.get("stream"):
        return head + str(message["stream"])
    return f"{head}{status}\n"


def show(messages: Iterable[Mapping[str, Any]], out: TextIO, bars: Bars | None = None
         ) -> None:
    """Display a progress stream on ``bars`` if given, else as docker's lines on
    ``out``; ``StreamError`` for an object that reports an error."""
    try:
        for message in messages:
            if message.get("aux") is not None:
                continue  # out-of-band data (an image id after a build), not shown
            error = error_of(message)
            if error:
                raise StreamError(error)
            if bars is not None:
                bars.message(message)
            else:
                out.write(plain_text(message))
                out.flush()
    finally:
        if bars is not None:
            bars.stop()


def is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _rich_progress() -> Any:
    """rich's ``progress`` module, None if it is not installed."""
    try:
        import rich.progress
    except ImportError:
        import site

        # python -S left out site-packages (and the venv's); add them now, once
        site.main()
        try:
            import rich.progress
        except ImportError:
            return None
    return rich.progress


def terminal_bars(stream: TextIO) -> Bars | None:
    """Bars drawn on ``stream`` if it is a terminal and rich is there; else None."""
    if not is_terminal(stream):
        return None
    module = _rich_progress()
    return None if module is None else Bars(stream, module)


class Bars:
    """Progress bars on a terminal: one per transfer and one per ``id`` of the
    daemon's progress objects. A line of text ends the bars shown so far (they stay
    on the screen as they are) and is printed below them; later counts start new
    bars, as docker starts a new group of lines."""

    def __init__(self, stream: TextIO, module: Any) -> None:
        self._stream = stream
        self._rp = module
        self._progress: Any = None
        self._tasks: dict[str, tuple[Any, int]] = {}

    def _live(self) -> Any:
        if self._progress is None:
            from rich.console import Console

            rp = self._rp
            self._progress = rp.Progress(
                rp.TextColumn("{task.description}"), rp.BarColumn(),
                rp.DownloadColumn(), rp.TransferSpeedColumn(), rp.TimeRemainingColumn(),
                console=Console(file=self._stream), transient=False)
            self._progress.start()
            self._tasks = {}
        return self._progress

    def transfer(self, what: str, total: int | None) -> Callable[[int], None]:
        """A bar for ``total`` bytes (None: unknown); the function that advances it."""
        progress = self._live()
        task = progress.add_task(what, total=total)
        return lambda size: progress.advance(task, size)

    def message(self, message: Mapping[str, Any]) -> None:
        """One of the daemon's progress objects."""
        key = str(message.get("id") or "")
        detail = message.get("progressDetail")
        if not key or (detail is None and not message.get("progress")):
            self.line(plain_text(message))
            return
        progress = self._live()
        status = str(message.get("status") or "")
        current, total = _counts(detail)
        task, known = self._tasks.get(key) or (None, 0)
        if task is None:
            task = progress.add_task(f"{key}: {status}", total=total or None)
        known = total or known
        self._tasks[key] = (task, known)
        if total:
            progress.update(task, description=f"{key}: {status}", total=total,
                            completed=current)
        else:
            # a status without counts (``Pull complete``) ends the id's bar
            progress.update(task, description=f"{key}: {status}",
                            completed=current or known)

    def line(self, text: str) -> None:
        self.stop()
        self._stream.write(text)
        self._stream.flush()

    def stop(self) -> None:
        """Leave the bars drawn as they are and stop redrawing them."""
        if self._progress is not None:
            for task in self._progress.tasks:
                if task.total is None:  # an unknown size, now known
                    self._progress.update(task.id, total=task.completed)
            self._progress.stop()
            self._progress = None


class Counted:
    """A binary file read through, each read's size reported to ``seen``."""

    def __init__(self, file: BinaryIO, seen: Callable[[int], None]) -> None:
        self._file = file
        self._seen = seen

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        if data:
            self._seen(len(data))
        return data
