"""Persistent network namespaces, kept alive by a bind mount of their nsfs file.

A network namespace lives as long as something refers to it: a task in it, an open
descriptor of it, a socket made in it, or a mount of its ``/proc/<pid>/ns/net`` file.
Bind-mounting that file on an ordinary file (what ``ip netns add`` does under
/run/netns) keeps the namespace without any process, and opening the mounted file later
gives a descriptor to pass to setns(2) or to ``IFLA_NET_NS_FD``.

The network namespace belongs to a thread, not to the process: unshare(CLONE_NEWNET)
and setns(2) move only the calling thread. Every such move here happens in a thread
started for it, which ends right after, so no other thread of the caller (an event loop,
a pool worker) ever changes namespace, and a thread that entered one is never reused.
A socket keeps the namespace it was made in, so ``open_socket`` hands back a socket that
works there from any thread. Man pages: network_namespaces(7), unshare(2), setns(2).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

from estiba.errors import InvalidArgument, from_oserror
from estiba.kernel import consts as k
from estiba.kernel.linux import Linux
from estiba.kernel.netlink import Netlink

T = TypeVar("T")


def _in_thread(fn: Callable[[], T], name: str) -> T:
    """fn's result, computed in a new thread that ends afterwards; its exception is
    raised here."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller as is
            failure.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def create(path: str, *, linux: Linux | None = None) -> None:
    """A new network namespace, pinned at ``path`` (a new file), its loopback up.
    AlreadyExists when ``path`` exists; nothing is left behind on failure."""
    kernel = linux or Linux()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise from_oserror(f"create network namespace {path}", err) from err
    try:
        os.fchmod(fd, 0o644)  # whatever the umask
    finally:
        os.close(fd)

    def make() -> None:
        kernel.unshare(k.CLONE_NEWNET)
        kernel.mount("/proc/thread-self/ns/net", path, "", k.MS_BIND)
        try:
            # a new namespace's lo is down: 127.0.0.1 would not answer
            with Netlink() as netlink:
                netlink.set_link("lo", up=True)
        except BaseException:
            kernel.umount(path, k.MNT_DETACH)
            raise

    try:
        _in_thread(make, "netns-create")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def remove(path: str, *, linux: Linux | None = None) -> bool:
    """Unpin the namespace at ``path`` and delete the file; False when there is no
    such file. The namespace itself goes when its last user (a socket, a task) does."""
    if not os.path.lexists(path):
        return False
    kernel = linux or Linux()
    try:
        # MNT_DETACH: a descriptor someone still holds open does not make this fail
        kernel.umount(path, k.MNT_DETACH)
    except InvalidArgument:
        pass  # not a mount point: a file a failed create left, deleted all the same
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise from_oserror(f"remove network namespace {path}", err) from err
    return True


def run_in(path: str, fn: Callable[[], T], *, linux: Linux | None = None) -> T:
    """fn's result, with fn called in a thread that entered the namespace at ``path``
    (and ends afterwards). What fn makes there — sockets — stays in that namespace."""
    kernel = linux or Linux()

    def enter_and_call() -> T:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise from_oserror(f"open network namespace {path}", err) from err
        try:
            kernel.setns(fd, k.CLONE_NEWNET, label=f"network namespace {path}")
        finally:
            os.close(fd)
        return fn()

    return _in_thread(enter_and_call, "netns-enter")


def open_socket(path: str, family: int, type: int, proto: int = 0,  # noqa: A002
                *, linux: Linux | None = None) -> socket.socket:
    """A socket made in the namespace at ``path``; it stays in that namespace, used
    from any thread. For rtnetlink there:
    ``Netlink(open_socket(path, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE))``."""

    def make() -> socket.socket:
        try:
            return socket.socket(family, type, proto)
        except OSError as err:
            raise from_oserror(f"open socket in network namespace {path}", err) from err

    return run_in(path, make, linux=linux)
