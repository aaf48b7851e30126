"""The messages between the runtime and the process it forked, over a pair of pipes.

Messages are single lines: ``go`` (runtime → child: carry on), ``hooks`` (child →
runtime: the environment exists, run the prestart and createRuntime hooks now),
``ready`` (child → runtime: set up, waiting for ``start``), ``error <message>``. The
child's end is close-on-exec, so when the user program starts the runtime reads EOF.
"""

from __future__ import annotations

import os

from estiba.errors import EstibaError, Internal

GO = "go"
HOOKS = "hooks"
READY = "ready"
ERROR = "error"


def failure_message(err: BaseException) -> str:
    """What a forked child reports when a step fails: the taxonomy's own message, an
    OSError's reason (and file), or the exception's type and text."""
    if isinstance(err, EstibaError):
        return str(err)
    if isinstance(err, OSError):
        return f"{err.strerror or err}".lower() + (f": {err.filename}" if err.filename else "")
    return f"{type(err).__name__}: {err}"


class ChildFailed(Internal):
    """The child reported an error: its message, as it wrote it."""


class Channel:
    """One side of the two pipes: reads from ``rfd``, writes to ``wfd``."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self._buf = b""

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        """(runtime side, child side)."""
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        return cls(up_r, down_w), cls(down_r, up_w)

    def send(self, message: str) -> None:
        data = (message.replace("\n", " ") + "\n").encode()
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]

    def error(self, message: str) -> None:
        self.send(f"{ERROR} {message}")

    def receive(self) -> str | None:
        """The next message, or None at EOF."""
        while b"\n" not in self._buf:
            chunk = os.read(self.rfd, 4096)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        message = line.decode(errors="replace")
        if message.startswith(ERROR + " "):
            raise ChildFailed(message[len(ERROR) + 1:])
        return message

    def expect(self, wanted: str) -> None:
        message = self.receive()
        if message != wanted:
            raise ChildFailed(f"expected {wanted!r} from the other side, got {message!r}")

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass
