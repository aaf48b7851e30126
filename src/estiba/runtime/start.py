"""``start``: let a created container's init exec the user program (runtime.md,
"start"), then run the poststart hooks."""

from __future__ import annotations

import os
import select
import time

from estiba.errors import FailedPrecondition, Internal
from estiba.oci import state as oci_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.runtime.container import Container

# The init is blocked opening the fifo before `start` can ever run, so the byte comes
# at once; the deadline only guards against an init that died meanwhile.
_DEADLINE = 10.0


def start(container: Container, warn: Callable[[str], None] | None = None) -> None:
    status = container.status()
    if status == oci_state.STOPPED:
        raise FailedPrecondition(f"cannot start container {container.id}: it has stopped")
    if status != oci_state.CREATED:
        raise FailedPrecondition(f"cannot start container {container.id}: it is {status}")
    release(container)
    hooks = container.hooks("poststart")
    if hooks:  # the spec: a failed poststart hook is only a warning
        from estiba.runtime.hooks import run_hooks

        run_hooks("poststart", hooks, container.state(), warn=warn or (lambda message: None))


def release(container: Container) -> None:
    """Let the init go on, and return once it has exec'd the user program (or died).

    The init writes one byte into the fifo when ``start`` opens it, then runs the
    startContainer hooks and execs, holding its end of the fifo open (close-on-exec)
    until then: the end of file says the program runs, as runc's ``start`` reads it.
    Only then may the poststart hooks run (the spec: "after the user-specified process
    is executed"), and may the caller find the program in place of the init.
    """
    fd = os.open(container.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + _DEADLINE
        while True:
            if poller.poll(100) and os.read(fd, 1):
                break
            if not container.alive():
                raise FailedPrecondition(f"cannot start container {container.id}: "
                                         "its init exited")
            if time.monotonic() > deadline:
                raise Internal(f"start container {container.id}: the init did not answer")
        # Started: from here the container is running, whatever comes next.
        os.unlink(container.fifo)
        # No deadline here: the startContainer hooks take what their own timeouts allow.
        # The init's end closes when it execs or dies, and a dead init is seen anyway.
        while container.alive():
            if poller.poll(100) and not os.read(fd, 1):
                break  # end of file: the program runs
    finally:
        os.close(fd)
