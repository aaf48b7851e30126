"""Reaping the containers the tests start.

A container's init outlives the runtime call that created it and is reparented to the
nearest subreaper. On these machines pid 1 does not reap, so without one every stopped
container would stay a zombie — in another pid namespace, where the leak check sees it.
The test session makes itself the subreaper (as containerd's shim is) and reaps, after
each test, the zombies among its children that live in another pid namespace: its own
subprocesses (a dockerd, say) are never touched.
"""

from __future__ import annotations

import os
import time

from estiba.kernel.linux import Linux

_PF_EXITING = 0x4  # in the flags of /proc/<pid>/stat


def become_subreaper() -> None:
    Linux().set_child_subreaper()


def reap_containers(timeout: float = 10.0) -> list[int]:
    """Reap this session's zombie children that live in another pid namespace; return
    their pids.

    Reaping one may make another: a pid namespace's init stays exiting, not yet a
    zombie, until every other process of its namespace has been reaped, and those that
    a runtime call started (an exec'd process) are this session's children too. So it
    goes on while a child in another pid namespace is exiting, for up to ``timeout``
    seconds; children that run (a container still up) are left alone.
    """
    reaped: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        zombies, exiting = _children_elsewhere()
        for pid in zombies:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            reaped.append(pid)
        if not exiting or time.monotonic() >= deadline:
            return reaped
        if not zombies:
            time.sleep(0.005)


def _children_elsewhere() -> tuple[list[int], list[int]]:
    """This session's children in other pid namespaces: (zombies, exiting ones)."""
    me = os.getpid()
    own_ns = os.readlink("/proc/self/ns/pid")
    zombies, exiting = [], []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[1]) != me:
                continue
            if os.readlink(f"/proc/{name}/ns/pid") == own_ns:
                continue
            if fields[0] == b"Z":
                zombies.append(int(name))
            elif int(fields[6]) & _PF_EXITING:
                exiting.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return zombies, exiting


def zombie_children(comm: str) -> list[int]:
    """This session's zombie children named ``comm`` (``conmon``: shims that a service
    or a daemon's restart left to this session, their subreaper)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                found_comm, _, rest = f.read().partition(" (")[2].rpartition(") ")
        except OSError:
            continue
        fields = rest.split()
        if found_comm == comm and fields[0] == "Z" and int(fields[1]) == os.getpid():
            found.append(int(name))
    return found
