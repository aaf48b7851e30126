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

from estiba.kernel.linux import Linux


def become_subreaper() -> None:
    Linux().set_child_subreaper()


def reap_containers() -> list[int]:
    me = os.getpid()
    own_ns = os.readlink("/proc/self/ns/pid")
    reaped = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] != b"Z" or int(fields[1]) != me:
                continue
            if os.readlink(f"/proc/{name}/ns/pid") == own_ns:
                continue
            os.waitpid(int(name), os.WNOHANG)
            reaped.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return reaped
