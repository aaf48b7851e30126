"""A kernel that records instead of acting, for unit tests.

``RecordingKernel`` has every operation of ``linux.Linux`` with the same signature; each
call is appended to ``calls`` as a ``Call`` and changes nothing on the host. Unit tests
build the real executors (the init's mount steps, the process set-up) with it and assert
on the calls they made, in order. ``execve`` ends the flow as a real one would, by not
returning: it raises ``Executed``.
"""

from __future__ import annotations

import os

from estiba.errors import from_oserror
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Call(Record):
    name: str
    args: tuple


class Executed(Exception):  # noqa: N818 - it is not an error: the exec "happened"
    """Raised by ``RecordingKernel.execve``: the program would run from here on."""

    def __init__(self, path: str, args: list[str], env: Any) -> None:
        super().__init__(path)
        self.path = path
        self.argv = args
        self.env = env


class CompiledFilterStandIn:
    """What ``compile_seccomp`` returns: the profile it was given."""

    def __init__(self, seccomp: Any) -> None:
        self.seccomp = seccomp


class RecordingKernel:
    """``fail(name, errno, when)`` makes later calls of ``name`` whose recorded
    arguments satisfy ``when`` raise as the real kernel would (after being recorded).
    Calls that make descriptors (fsopen, fsmount, open_tree, open_path) return fresh
    numbers from 1000 up, which are not open in this process."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._failures: list[tuple[str, int, Callable[..., bool]]] = []
        self._next_fd = 1000

    def fail(self, name: str, errno: int, when: Callable[..., bool] | None = None) -> None:
        self._failures.append((name, errno, when or (lambda *args: True)))

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append(Call(name=name, args=args))
        for failing, errno, when in self._failures:
            if failing == name and when(*args):
                raise from_oserror(name, OSError(errno, os.strerror(errno)))

    def _fd(self) -> int:
        self._next_fd += 1
        return self._next_fd

    def names(self) -> list[str]:
        """The names of the calls made, in order."""
        return [call.name for call in self.calls]

    def called(self, name: str) -> list[tuple]:
        """The arguments of every call of ``name``."""
        return [call.args for call in self.calls if call.name == name]

    def preload(self) -> None:
        self._record("preload")

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str = "",
              label: str | None = None) -> None:
        self._record("mount", source, target, fstype, flags, data, label)

    def umount(self, target: str, flags: int = 0) -> None:
        self._record("umount", target, flags)

    def fsopen(self, fstype: str) -> int:
        self._record("fsopen", fstype)
        return self._fd()

    def fsconfig(self, fd: int, cmd: int, key: str | None = None,
                 value: str | None = None, aux: int = 0, label: str = "") -> None:
        self._record("fsconfig", fd, cmd, key, value, aux)

    def fsmount(self, fd: int, attr_flags: int = 0, label: str = "") -> int:
        self._record("fsmount", fd, attr_flags)
        return self._fd()

    def move_mount(self, fd: int, target: str, label: str = "") -> None:
        self._record("move_mount", fd, target)

    def open_tree(self, path: str, recursive: bool = True) -> int:
        self._record("open_tree", path, recursive)
        return self._fd()

    def mount_setattr(self, fd: int, attr_set: int, attr_clr: int = 0,
                      recursive: bool = True, label: str = "") -> None:
        self._record("mount_setattr", fd, attr_set, attr_clr, recursive)

    def mount_in(self, cwd: str, source: str, target: str, fstype: str, flags: int,
                 data: str = "") -> None:
        self._record("mount_in", cwd, source, target, fstype, flags, data)

    def open_path(self, path: str) -> int:
        self._record("open_path", path)
        return self._fd()

    def close(self, fd: int) -> None:
        self._record("close", fd)

    def pivot_root_into(self, rootfs: str) -> None:
        self._record("pivot_root_into", rootfs)

    def move_root_into(self, rootfs: str) -> None:
        self._record("move_root_into", rootfs)

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags)

    def setns(self, fd: int, nstype: int, label: str = "") -> None:
        self._record("setns", label or fd, nstype)

    def sethostname(self, name: str) -> None:
        self._record("sethostname", name)

    def setdomainname(self, name: str) -> None:
        self._record("setdomainname", name)

    def mknod(self, path: str, mode: int, major: int, minor: int) -> None:
        self._record("mknod", path, mode, major, minor)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._record("chown", path, uid, gid)

    def give_stdio_to(self, uid: int) -> None:
        self._record("give_stdio_to", uid)

    def write_file(self, path: str, data: str) -> None:
        self._record("write_file", path, data)

    def drop_bounding(self, keep: int, last: int) -> None:
        self._record("drop_bounding", keep, last)

    def set_keepcaps(self, keep: bool) -> None:
        self._record("set_keepcaps", keep)

    def set_ids(self, uid: int, gid: int, groups: tuple[int, ...] | list[int]) -> None:
        self._record("set_ids", uid, gid, tuple(groups))

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._record("capset", effective, permitted, inheritable)

    def raise_ambient(self, caps: int, last: int) -> None:
        self._record("raise_ambient", caps, last)

    def set_no_new_privs(self) -> None:
        self._record("set_no_new_privs")

    def join_session_keyring(self, name: str) -> None:
        self._record("join_session_keyring", name)

    def open_beneath(self, dir_fd: int, path: str, flags: int) -> int:
        # the real call on the real files the tests make, without openat2's checks
        self._record("open_beneath", path, flags)
        return os.open(path or ".", flags, dir_fd=dir_fd)

    def set_child_subreaper(self) -> None:
        self._record("set_child_subreaper")

    def set_dumpable(self, dumpable: bool) -> None:
        self._record("set_dumpable", dumpable)

    def set_rlimit(self, name: str, soft: int, hard: int) -> None:
        self._record("set_rlimit", name, soft, hard)

    def set_io_priority(self, io_class: int, level: int) -> None:
        self._record("set_io_priority", io_class, level)

    def set_personality(self, persona: int) -> None:
        self._record("set_personality", persona)

    def set_memory_policy(self, mode: int, nodes: tuple[int, ...]) -> None:
        self._record("set_memory_policy", mode, tuple(nodes))

    def set_scheduler(self, policy: int, priority: int, nice: int) -> None:
        self._record("set_scheduler", policy, priority, nice)

    def compile_seccomp(self, seccomp: Any) -> CompiledFilterStandIn:
        self._record("compile_seccomp", seccomp)
        return CompiledFilterStandIn(seccomp)

    def load_seccomp(self, compiled: Any) -> None:
        self._record("load_seccomp", compiled)

    def set_controlling_tty(self, fd: int) -> None:
        self._record("set_controlling_tty", fd)

    def set_window_size(self, fd: int, rows: int, cols: int) -> None:
        self._record("set_window_size", fd, rows, cols)

    def cloexec_from(self, first: int) -> None:
        self._record("cloexec_from", first)

    def execve(self, path: str, args: list[str], env: Any) -> None:
        self._record("execve", path, tuple(args))
        raise Executed(path, args, env)
