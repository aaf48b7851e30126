"""Waiting for a process the runtime forked (``run`` and ``exec`` without ``-d``),
forwarding the signals the runtime receives to it, as runc does."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Signals a foreground runtime passes on; SIGCHLD and the stop signals stay its own.
_FORWARDED = (1, 2, 3, 10, 12, 14, 15, 28)  # HUP INT QUIT USR1 USR2 ALRM TERM WINCH


def wait_forwarding(pid: int) -> int:
    """The process's exit status, 128 + the signal when a signal ended it."""
    restore = forward_signals(pid)
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        restore()
    return exit_code(status)


def forward_signals(pid: int, keep: tuple[int, ...] = ()) -> Callable[[], None]:
    """Pass the signals the runtime receives on to ``pid`` (but those in ``keep``, which
    the caller handles); returns the function that puts the old handlers back."""
    import _signal

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {sig: _signal.signal(sig, forward) for sig in _FORWARDED if sig not in keep}

    def restore() -> None:
        for sig, handler in previous.items():
            _signal.signal(sig, handler)

    return restore


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit status, or 128 + the signal."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
