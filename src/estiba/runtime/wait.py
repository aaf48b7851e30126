"""Waiting for a process the runtime forked (``run`` and ``exec`` without ``-d``),
forwarding the signals the runtime receives to it, as runc does."""

from __future__ import annotations

import os

# Signals a foreground runtime passes on; SIGCHLD and the stop signals stay its own.
_FORWARDED = (1, 2, 3, 10, 12, 14, 15, 28)  # HUP INT QUIT USR1 USR2 ALRM TERM WINCH


def wait_forwarding(pid: int) -> int:
    """The process's exit status, 128 + the signal when a signal ended it."""
    import _signal

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {sig: _signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        for sig, handler in previous.items():
            _signal.signal(sig, handler)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
