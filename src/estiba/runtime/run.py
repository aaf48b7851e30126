"""``run``: create, start, and — unless ``--detach`` — wait for the container, then
delete it (unless ``--keep``), exiting with the container's status.

A container with a terminal and no ``--console-socket`` gets the runtime's own terminal,
as with runc: the runtime receives the pty master itself and relays between it and its
stdio until the container exits."""

from __future__ import annotations

import os

from estiba.errors import InvalidArgument
from estiba.runtime.create import CreateOptions, create, load_bundle
from estiba.runtime.delete import delete_container
from estiba.runtime.start import start
from estiba.runtime.wait import wait_forwarding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.kernel.linux import Linux


def run(kernel: Linux, root: str, container_id: str, opts: CreateOptions, *,
        detach: bool = False, keep: bool = False, warn: Callable[[str], None] | None = None) -> int:
    loaded = load_bundle(os.path.abspath(opts.bundle))
    own_console = None
    if loaded[1].process and loaded[1].process.terminal and not opts.console_socket:
        if detach:
            raise InvalidArgument("cannot allocate a tty for a detached container without "
                                  "a console socket (--console-socket)")
        import socket

        own_console, opts.console_fd = (s.detach() for s in socket.socketpair())
    try:
        container = create(kernel, root, container_id, opts, loaded)
    except BaseException:
        if own_console is not None:
            os.close(own_console)
        raise
    master = None
    try:
        if own_console is not None:
            from estiba.runtime.console import receive_master

            master = receive_master(own_console)
        start(container, warn=warn)
    except BaseException:
        delete_container(container, force=True)
        raise
    finally:
        if own_console is not None:
            os.close(own_console)
    if detach:
        return 0
    if master is not None:
        from estiba.runtime.console import relay

        code = relay(master, container.pid)
    else:
        code = wait_forwarding(container.pid)
    if not keep:
        delete_container(container, force=True, warn=warn)
    return code
