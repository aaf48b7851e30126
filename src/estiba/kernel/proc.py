"""Readers of /proc: what the kernel says about a process, and the mounts."""

from __future__ import annotations

import os
import re

from estiba.errors import from_oserror

# namespaces(7): the types /proc/<pid>/ns names (pid_for_children, time_for_children
# left out: they are the next children's)
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


class ProcessStat:
    """The fields of /proc/<pid>/stat the runtime needs."""

    __slots__ = ("pid", "state", "ppid", "flags", "start_time")

    def __init__(self, pid: int, state: str, ppid: int, flags: int, start_time: int) -> None:
        self.pid = pid
        self.state = state
        self.ppid = ppid
        self.flags = flags
        self.start_time = start_time

    @property
    def exiting(self) -> bool:
        """PF_EXITING: the process has begun to exit. A pid namespace's init stays in
        this state, not yet a zombie, until every other process of its namespace has
        been reaped — by parents that may be outside it."""
        return bool(self.flags & 0x4)


def stat(pid: int, proc: str = "/proc") -> ProcessStat | None:
    """The process's stat line, or None when there is no such process."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: the fields start after the last ')'.
    rest = data[data.rindex(")") + 2:].split()
    return ProcessStat(pid=pid, state=rest[0], ppid=int(rest[1]), flags=int(rest[6]),
                       start_time=int(rest[19]))


def alive(pid: int, start_time: int | None = None, proc: str = "/proc") -> bool:
    """True when ``pid`` runs (neither exiting nor a zombie) and, if given, started at
    ``start_time``, so that a recycled pid is not mistaken for the container's process."""
    st = stat(pid, proc)
    if st is None or st.state in ("Z", "X") or st.exiting:
        return False
    return start_time is None or st.start_time == start_time


def mounted_under(path: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points at or below ``path`` (a bind mount of a directory of the same
    filesystem shows in no st_dev: mountinfo is asked)."""
    prefix = path.rstrip("/") + "/"
    found = []
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                fields = line.split(" ", 5)
                if len(fields) < 5:
                    continue
                target = fields[4]
                if "\\" in target:  # octal escapes (of spaces ...): rare, so decoded only then
                    target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                                    target)
                if target == path or target.startswith(prefix):
                    found.append(target)
    except OSError as err:
        raise from_oserror(f"read {mountinfo}", err) from err
    return found


def namespaces(pid: int | str, proc: str = "/proc") -> dict[str, str]:
    """The namespaces of process ``pid`` (``"self"``: this one), type -> the kernel's
    name of it (``net:[4026531840]``: its inode in brackets); {} when the process is
    gone, a type the kernel lacks left out."""
    found = {}
    for kind in NAMESPACES:
        try:
            found[kind] = os.readlink(f"{proc}/{pid}/ns/{kind}")
        except FileNotFoundError:
            continue
        except OSError as err:
            raise from_oserror(f"read {proc}/{pid}/ns/{kind}", err) from err
    return found
